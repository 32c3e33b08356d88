package replay

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"time"

	"github.com/nonrep/nonrep/jose"
)

// The codes a Store returns. They are jose.Code values so that one table of
// stable codes covers the whole product; errors.Is(err, replay.Detected)
// works on every error a Store returns.
const (
	// Detected: the id is already held by an earlier, unexpired claim. The
	// request is a replay and must not execute.
	Detected jose.Code = "replay_detected"
	// Unavailable: the store could not decide (backend error or timeout,
	// canceled context, store full of live entries, store closed). The
	// request must fail closed: reject it (503), never execute it.
	Unavailable jose.Code = "replay_unavailable"
	// Invalid: the caller passed an unusable id or ttl, or a backend was
	// misconfigured. A programming or configuration error, never caused by
	// the message itself.
	Invalid jose.Code = "replay_invalid"
)

// Codes returns every code the package defines, in a stable order.
func Codes() []jose.Code { return []jose.Code{Detected, Unavailable, Invalid} }

// MaxIDLen is the longest id, in bytes, that a Store accepts.
const MaxIDLen = 512

// Store records replay ids. Implementations are safe for concurrent use by
// multiple goroutines and, for shared backends, by multiple processes.
type Store interface {
	// Claim atomically records id for ttl. It returns nil only if no
	// unexpired claim of id existed, in which case the caller owns the id
	// until ttl has passed: of any number of concurrent Claims of one id,
	// across every process sharing the backend, at most one returns nil.
	//
	// Otherwise it returns a *jose.Error whose Code is Detected (id is
	// held), Unavailable (the store could not decide; the cause, if any, is
	// wrapped) or Invalid (see ValidateClaim). Callers must treat every
	// non-nil error as "do not execute".
	Claim(ctx context.Context, id string, ttl time.Duration) error
}

// ValidateClaim reports whether id and ttl are acceptable to Claim: id is
// non-empty and at most MaxIDLen bytes, ttl is positive. It returns nil or
// an error with code Invalid. Every backend calls it first; it is exported
// so that new backends apply the same rules.
func ValidateClaim(id string, ttl time.Duration) error {
	switch {
	case id == "":
		return errorf(Invalid, "empty id")
	case len(id) > MaxIDLen:
		return errorf(Invalid, "id is %d bytes, longer than %d", len(id), MaxIDLen)
	case ttl <= 0:
		return errorf(Invalid, "ttl %v is not positive", ttl)
	}
	return nil
}

// SignatureID returns the replay id for a message that carries no jti: the
// SHA-256 of its signature value, base64url-encoded without padding and
// prefixed with "sig-sha256:" so that it cannot collide with a jti of the
// usual shape. Every gateway instance must derive ids the same way, or two
// instances would record one request under two ids.
func SignatureID(signature []byte) string {
	sum := sha256.Sum256(signature)
	return "sig-sha256:" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// DetectedError returns the error a backend returns when id is held.
func DetectedError(id string) error {
	return &jose.Error{Code: Detected, Detail: "id " + quote(id) + " already claimed"}
}

// UnavailableError returns the error a backend returns when it cannot
// decide; cause may be nil.
func UnavailableError(cause error, detail string) error {
	return &jose.Error{Code: Unavailable, Detail: detail, Err: cause}
}

func errorf(c jose.Code, format string, args ...any) *jose.Error {
	return &jose.Error{Code: c, Detail: fmt.Sprintf(format, args...)}
}

// quote renders an untrusted id for an error detail: quoted, and cut to 64
// bytes so that a hostile jti cannot flood a log line.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}
