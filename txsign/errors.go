package txsign

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/problem"
	"github.com/nonrep/nonrep/replay"
)

// The codes this package adds to jose's. Like every nonrep code they are
// wire API: never renamed, never reused. Tests assert codes, never message
// text.
const (
	// TxHashMismatch: a tx_hash (signed by a device, or carried by a
	// transaction token) is not the SHA-256 of the canonical
	// authorization_details it is checked against.
	TxHashMismatch jose.Code = "tx_hash_mismatch"
	// DisplayHashMismatch: the display_hash a device signed is not the hash
	// of the display text the service rendered for the request.
	DisplayHashMismatch jose.Code = "display_hash_mismatch"
	// NonceMismatch: the decision's nonce is not the request's.
	NonceMismatch jose.Code = "nonce_mismatch"
	// AlreadyDecided: the request already has a decision; only the first
	// counts.
	AlreadyDecided jose.Code = "already_decided"
	// TokenUsed: the transaction token's jti was already consumed.
	TokenUsed jose.Code = "token_used"
	// DeviceRevoked: the device (or the key) was revoked.
	DeviceRevoked jose.Code = "device_revoked"
	// DeviceUnknown: no enrolled device has this id or key, or it is not
	// the user's (existence is not revealed across users).
	DeviceUnknown jose.Code = "device_unknown"
	// DeviceExists: the device id belongs to another user, or the key is
	// already enrolled.
	DeviceExists jose.Code = "device_exists"
	// ChallengeInvalid: the enrolment challenge is unknown, used, expired,
	// or another user's.
	ChallengeInvalid jose.Code = "challenge_invalid"
	// PINRequired: the request demands the transaction PIN and none was
	// given with an approval.
	PINRequired jose.Code = "pin_required"
	// PINInvalid: the transaction PIN is wrong (the attempt is counted).
	PINInvalid jose.Code = "pin_invalid"
	// PINLocked: too many wrong PINs; the user must set a new PIN.
	PINLocked jose.Code = "pin_locked"
	// PINNotSet: the request demands a PIN but the user has none.
	PINNotSet jose.Code = "pin_not_set"
	// RequestUnknown: no signing request has this auth_req_id.
	RequestUnknown jose.Code = "request_unknown"
	// RequestInvalid: the body is not what the endpoint takes (JSON shape,
	// unknown or case-variant members, values out of range).
	RequestInvalid jose.Code = "request_invalid"
	// DetailsInvalid: authorization_details is not acceptable (RFC 9396
	// shape, a non-decimal amount, control characters that could spoof the
	// display, size).
	DetailsInvalid jose.Code = "authorization_details_invalid"
	// IdempotencyKeyReused: an Idempotency-Key was reused with a different
	// request.
	IdempotencyKeyReused jose.Code = "idempotency_key_reused"
	// Unauthenticated: the caller (user or relying app) is not
	// authenticated.
	Unauthenticated jose.Code = "unauthenticated"
	// StoreUnavailable: the txsign store could not answer; nothing was
	// decided (fail closed).
	StoreUnavailable jose.Code = "store_unavailable"
	// SignerUnavailable: the service's signing key could not be obtained.
	SignerUnavailable jose.Code = "signer_unavailable"

	// The CIBA / OAuth 2.0 errors of the token endpoint (OpenID CIBA Core
	// §11, RFC 6749 §5.2). The token endpoint answers them in the OAuth
	// shape {"error": CODE}; elsewhere they are problem+json codes.

	// AuthorizationPending: the user has not decided yet.
	AuthorizationPending jose.Code = "authorization_pending"
	// SlowDown: polled before the interval passed; the interval grew by
	// 5 s.
	SlowDown jose.Code = "slow_down"
	// ExpiredToken: the signing request (auth_req_id) has expired.
	ExpiredToken jose.Code = "expired_token"
	// AccessDenied: the user denied the request.
	AccessDenied jose.Code = "access_denied"
	// InvalidGrant: the auth_req_id is not this client's, or its token was
	// already issued.
	InvalidGrant jose.Code = "invalid_grant"
	// InvalidClient: client authentication failed at the token endpoint.
	InvalidClient jose.Code = "invalid_client"
	// InvalidRequest: the token request is malformed.
	InvalidRequest jose.Code = "invalid_request"
	// UnsupportedGrantType: grant_type is not the CIBA grant.
	UnsupportedGrantType jose.Code = "unsupported_grant_type"
)

// Codes returns every code the package defines, in a stable order.
func Codes() []jose.Code {
	return []jose.Code{
		TxHashMismatch, DisplayHashMismatch, NonceMismatch, AlreadyDecided,
		TokenUsed, DeviceRevoked, DeviceUnknown, DeviceExists,
		ChallengeInvalid, PINRequired, PINInvalid, PINLocked, PINNotSet,
		RequestUnknown, RequestInvalid, DetailsInvalid, IdempotencyKeyReused,
		Unauthenticated, StoreUnavailable, SignerUnavailable,
		AuthorizationPending, SlowDown, ExpiredToken, AccessDenied,
		InvalidGrant, InvalidClient, InvalidRequest, UnsupportedGrantType,
	}
}

// statuses is the HTTP status of each code for problem+json answers. The
// token endpoint's OAuth errors use RFC 6749's statuses instead (400, and
// 401 for invalid_client).
var statuses = map[jose.Code]int{
	TxHashMismatch:       http.StatusForbidden,
	DisplayHashMismatch:  http.StatusForbidden,
	NonceMismatch:        http.StatusForbidden,
	AlreadyDecided:       http.StatusConflict,
	TokenUsed:            http.StatusConflict,
	DeviceRevoked:        http.StatusForbidden,
	DeviceUnknown:        http.StatusNotFound,
	DeviceExists:         http.StatusConflict,
	ChallengeInvalid:     http.StatusBadRequest,
	PINRequired:          http.StatusForbidden,
	PINInvalid:           http.StatusForbidden,
	PINLocked:            http.StatusLocked,
	PINNotSet:            http.StatusConflict,
	RequestUnknown:       http.StatusNotFound,
	RequestInvalid:       http.StatusBadRequest,
	DetailsInvalid:       http.StatusBadRequest,
	IdempotencyKeyReused: http.StatusUnprocessableEntity,
	Unauthenticated:      http.StatusUnauthorized,
	StoreUnavailable:     http.StatusServiceUnavailable,
	SignerUnavailable:    http.StatusServiceUnavailable,
	AuthorizationPending: http.StatusBadRequest,
	SlowDown:             http.StatusBadRequest,
	ExpiredToken:         http.StatusGone,
	AccessDenied:         http.StatusForbidden,
	InvalidGrant:         http.StatusBadRequest,
	InvalidClient:        http.StatusUnauthorized,
	InvalidRequest:       http.StatusBadRequest,
	UnsupportedGrantType: http.StatusBadRequest,
	// Codes of other packages that this package answers with.
	replay.Detected: http.StatusConflict,
}

// Status returns the HTTP status of code for a problem+json answer: this
// package's table first, then package problem's (500 for unknown codes).
func Status(code jose.Code) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return problem.Status(code)
}

// writeProblem answers err as RFC 9457 problem+json with its code and the
// status from Status. Errors without a code are 500 with no detail.
func writeProblem(w http.ResponseWriter, err error) {
	p := problem.From(err)
	st := Status(jose.Code(p.Code))
	p.Status, p.Title = st, http.StatusText(st)
	retry := 0
	if st == http.StatusServiceUnavailable {
		retry = 1
	}
	problem.Write(w, p, retry)
}

func errorf(c jose.Code, format string, args ...any) *jose.Error {
	return &jose.Error{Code: c, Detail: fmt.Sprintf(format, args...)}
}

func wrapf(c jose.Code, err error, format string, args ...any) *jose.Error {
	return &jose.Error{Code: c, Detail: fmt.Sprintf(format, args...), Err: err}
}

// Unavailable wraps a store failure as StoreUnavailable. Backends use it
// for every error that is not a decision (driver, network, timeout).
func Unavailable(err error, detail string) error {
	return &jose.Error{Code: StoreUnavailable, Detail: detail, Err: err}
}

// quote renders untrusted input for an error detail: quoted, cut to 64
// bytes.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}
