package txsign

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// Authenticator says who is calling: the user (for enrolment, device
// management, the inbox and the PIN) or the relying app (for signing
// requests and the token endpoint). It returns the subject (user id or
// client_id) or an error; any error answers 401. Implementations are safe
// for concurrent use; an OAuth access-token validator or an mTLS check
// plugs in here.
type Authenticator interface {
	Authenticate(r *http.Request) (subject string, err error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(r *http.Request) (string, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(r *http.Request) (string, error) { return f(r) }

// BearerTokens authenticates "Authorization: Bearer TOKEN" against a fixed
// table of tokens, compared by SHA-256 in constant time per entry. It is
// for tests, demos and service-to-service secrets; build it with
// NewBearerTokens. Safe for concurrent use once built.
type BearerTokens struct {
	entries []bearerEntry
}

type bearerEntry struct {
	sum     [32]byte
	subject string
}

// NewBearerTokens builds the table from token → subject.
func NewBearerTokens(tokens map[string]string) *BearerTokens {
	b := &BearerTokens{}
	for tok, sub := range tokens {
		b.entries = append(b.entries, bearerEntry{sha256.Sum256([]byte(tok)), sub})
	}
	return b
}

// Authenticate implements Authenticator.
func (b *BearerTokens) Authenticate(r *http.Request) (string, error) {
	tok, ok := bearer(r)
	if !ok {
		return "", errorf(Unauthenticated, "a bearer token is required")
	}
	sum := sha256.Sum256([]byte(tok))
	found := ""
	for i := range b.entries {
		if subtle.ConstantTimeCompare(sum[:], b.entries[i].sum[:]) == 1 {
			found = b.entries[i].subject
		}
	}
	if found == "" {
		return "", errorf(Unauthenticated, "unknown bearer token")
	}
	return found, nil
}

// bearer returns the token of the one Authorization: Bearer header.
func bearer(r *http.Request) (string, bool) {
	v := r.Header.Values("Authorization")
	if len(v) != 1 {
		return "", false
	}
	scheme, tok, ok := strings.Cut(v[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || strings.ContainsAny(tok, " \t") {
		return "", false
	}
	return tok, true
}
