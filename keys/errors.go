package keys

import (
	"fmt"

	"github.com/nonrep/nonrep/jose"
)

// The codes the registry adds to jose's. Like jose's, they are API. Every
// error the package returns is a *jose.Error carrying one of these codes or
// one of jose's (KeyRejected for an unusable key, SignerFailed for a
// private key that cannot be opened).
const (
	// KeyNotFound: no key with that kid in the registry (HTTP 404).
	KeyNotFound jose.Code = "key_not_found"
	// KeyExists: a key with that kid, or the same public key, is already
	// registered (HTTP 409).
	KeyExists jose.Code = "key_exists"
	// TransitionInvalid: the lifecycle does not allow the change from the
	// key's current state, or the state changed concurrently, or another
	// key is already active for the purpose (HTTP 409).
	TransitionInvalid jose.Code = "transition_invalid"
	// TooEarly: the transition is allowed but not yet: the detail names the
	// earliest allowed time (HTTP 409).
	TooEarly jose.Code = "too_early"
	// PartnerNotFound: no partner with that name (HTTP 404).
	PartnerNotFound jose.Code = "partner_not_found"
	// PartnerInvalid: a partner's configuration is not usable (HTTP 400).
	PartnerInvalid jose.Code = "partner_invalid"
	// StoreUnavailable: the key store could not answer; fail closed
	// (HTTP 503).
	StoreUnavailable jose.Code = "store_unavailable"
)

// Codes returns every code the package defines, in a stable order.
func Codes() []jose.Code {
	return []jose.Code{KeyNotFound, KeyExists, TransitionInvalid, TooEarly, PartnerNotFound, PartnerInvalid, StoreUnavailable}
}

func errorf(c jose.Code, format string, args ...any) *jose.Error {
	return &jose.Error{Code: c, Detail: fmt.Sprintf(format, args...)}
}

// Unavailable wraps a backend failure as StoreUnavailable. Stores use it
// for every error that is not a verdict (not found, exists, conflict).
func Unavailable(err error, what string) error {
	return &jose.Error{Code: StoreUnavailable, Detail: "keys: " + what, Err: err}
}

// quote renders an untrusted or user-given string for an error detail.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q…", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
