package keys

import (
	"regexp"
	"time"

	"github.com/nonrep/nonrep/jose"
)

// State is a lifecycle state of one of our signing keys. States are stored
// and printed by name, so the names are API.
type State string

// The lifecycle states, in order.
const (
	// Pending: published, not used to sign.
	Pending State = "pending"
	// Active: signs; at most one per purpose.
	Active State = "active"
	// Retiring: verify-only, still published.
	Retiring State = "retiring"
	// Retired: unpublished, kept for evidence re-verification.
	Retired State = "retired"
	// Revoked: terminal; never accepted again.
	Revoked State = "revoked"
)

// States returns every state in lifecycle order.
func States() []State { return []State{Pending, Active, Retiring, Retired, Revoked} }

// Valid reports whether s is one of the defined states.
func (s State) Valid() bool {
	switch s {
	case Pending, Active, Retiring, Retired, Revoked:
		return true
	}
	return false
}

// Published reports whether keys in state s appear in our JWKS.
func (s State) Published() bool { return s == Pending || s == Active || s == Retiring }

// CanBecome reports whether the lifecycle allows s → to (timing aside).
func (s State) CanBecome(to State) bool {
	switch to {
	case Revoked:
		return s.Valid() && s != Revoked
	case Active:
		return s == Pending || s == Retiring
	case Retiring:
		return s == Active
	case Retired:
		return s == Pending || s == Retiring
	}
	return false
}

// DefaultPurpose is the purpose of a key added without one.
const DefaultPurpose = "sign"

// Key is one of our signing keys as the registry records it. It never holds
// private key material: Public is the public JWK as published, and
// SignerRef tells a SignerOpener where the private half lives.
//
// A Key returned by the registry is a copy: changing it changes nothing
// stored.
type Key struct {
	// Kid is the key's id, unique in the registry and never reused.
	Kid string
	// Purpose groups keys that replace one another ("sign", "receipts",
	// "txtoken"): at most one key per purpose is active.
	Purpose string
	// Alg is the one algorithm the key signs with.
	Alg jose.Alg
	// Public is the public JWK as published: kid, use "sig" and alg set.
	Public *jose.JWK
	// SignerRef locates the private half for a SignerOpener, for example
	// "file:/etc/nonrep/keys/k2.jwk" or "pkcs11:token=gw;object=k2". It is
	// a reference, never key material.
	SignerRef string
	// State is the current lifecycle state.
	State State
	// Published is when the key was added (and so published, as pending).
	// Activated, RetiringSince, Retired and Revoked are when it last
	// entered that state; zero if it never did.
	Published     time.Time
	Activated     time.Time
	RetiringSince time.Time
	Retired       time.Time
	Revoked       time.Time
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of the public key.
func (k *Key) Thumbprint() string { return k.Public.Thumbprint() }

// Since returns when the key entered state s (zero if it never did).
func (k *Key) Since(s State) time.Time {
	switch s {
	case Pending:
		return k.Published
	case Active:
		return k.Activated
	case Retiring:
		return k.RetiringSince
	case Retired:
		return k.Retired
	case Revoked:
		return k.Revoked
	}
	return time.Time{}
}

// SetSince records that the key entered state s at t. Stores use it when
// applying a Transition.
func (k *Key) SetSince(s State, t time.Time) {
	switch s {
	case Pending:
		k.Published = t
	case Active:
		k.Activated = t
	case Retiring:
		k.RetiringSince = t
	case Retired:
		k.Retired = t
	case Revoked:
		k.Revoked = t
	}
}

// Clone returns a copy of k (Public is immutable and shared).
func (k *Key) Clone() *Key {
	c := *k
	return &c
}

// Transition is one recorded lifecycle change. From is "" for the
// creation of a key (→ pending).
type Transition struct {
	Kid    string
	From   State
	To     State
	At     time.Time
	Actor  string
	Reason string
}

var (
	kidRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
	purposeRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
)

// ValidKid reports whether kid is acceptable for one of our keys: 1–128
// characters of letters, digits, '.', '_', ':' and '-', not starting with
// punctuation. Base64url thumbprints qualify.
func ValidKid(kid string) bool { return kidRE.MatchString(kid) }

// ValidPurpose reports whether p is a purpose name: 1–64 lower-case
// letters, digits, '.', '_' and '-'.
func ValidPurpose(p string) bool { return purposeRE.MatchString(p) }

// ValidateKey checks what every store requires of a key it creates: a
// valid kid and purpose, a supported alg, a public (never private) JWK
// whose kid and alg match, a valid state, and a publication time. Stores
// call it in CreateKey; the registry calls it first for a better message.
func ValidateKey(k *Key) error {
	switch {
	case k == nil:
		return errorf(jose.KeyRejected, "nil key")
	case !ValidKid(k.Kid):
		return errorf(jose.KeyRejected, "kid %s is not acceptable: use 1-128 letters, digits, '.', '_', ':' or '-'", quote(k.Kid))
	case !ValidPurpose(k.Purpose):
		return errorf(jose.KeyRejected, "purpose %s is not acceptable: use 1-64 lower-case letters, digits, '.', '_' or '-'", quote(k.Purpose))
	case !k.Alg.Supported() || k.Alg == jose.HS256 || k.Alg == jose.HS384 || k.Alg == jose.HS512:
		return errorf(jose.KeyRejected, "alg %s is not an asymmetric signature algorithm", quote(string(k.Alg)))
	case k.Public == nil:
		return errorf(jose.KeyRejected, "key %s has no public JWK", quote(k.Kid))
	case k.Public.IsPrivate():
		return errorf(jose.KeyRejected, "key %s: the registry stores public keys only", quote(k.Kid))
	case k.Public.Kid != k.Kid || k.Public.Alg != k.Alg:
		return errorf(jose.KeyRejected, "key %s: the public JWK's kid and alg must be the key's", quote(k.Kid))
	case !k.State.Valid():
		return errorf(jose.KeyRejected, "key %s: unknown state %s", quote(k.Kid), quote(string(k.State)))
	case k.Published.IsZero():
		return errorf(jose.KeyRejected, "key %s has no publication time", quote(k.Kid))
	}
	return nil
}
