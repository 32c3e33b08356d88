package keys

import (
	"bytes"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/nonrep/nonrep/jose"
)

// Partner is one tenant whose requests we verify: its scheme, its keys and
// its policy. Keys come inline (JWK, PEM or X.509, imported once) or from
// a JWKS URL that jwkscache follows, or both.
type Partner struct {
	// Name identifies the partner everywhere (evidence, metrics, replay
	// namespace, revocations).
	Name string
	// Profile is the partner's scheme by name ("incomm", "ebanx", "swift",
	// "openbanking", "generic").
	Profile string
	// Algs narrows the algorithms accepted from the partner where the
	// profile lets it choose; empty means the profile's default.
	Algs []jose.Alg
	// Policy holds the partner's time and detection settings.
	Policy PartnerPolicy
	// Keys are the partner's inline public keys.
	Keys []*jose.JWK
	// JWKSURL, when set, is the partner's JWKS endpoint: HTTPS, configured
	// here and nowhere else (never taken from a message's jku).
	JWKSURL string
	// Created and Updated are set by the registry.
	Created, Updated time.Time
}

// PartnerPolicy is a partner's verification policy. Zero fields mean the
// profile's defaults.
type PartnerPolicy struct {
	// Skew is the clock tolerance.
	Skew time.Duration `json:"skew,omitempty"`
	// MaxLifetime bounds exp − iat.
	MaxLifetime time.Duration `json:"max_lifetime,omitempty"`
	// Detect verifies and records but never blocks (migrations).
	Detect bool `json:"detect,omitempty"`
	// MinRSABits raises the minimum RSA modulus size.
	MinRSABits int `json:"min_rsa_bits,omitempty"`
}

var partnerRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ValidPartnerName reports whether name is a partner name: 1–64 lower-case
// letters, digits, '.', '_' and '-'.
func ValidPartnerName(name string) bool { return partnerRE.MatchString(name) }

// ValidateJWKSURL checks a configured JWKS URL: absolute https, a host, no
// user information and no fragment. Errors carry PartnerInvalid.
func ValidateJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errorf(PartnerInvalid, "JWKS URL %s does not parse", quote(raw))
	}
	switch {
	case u.Scheme != "https":
		return errorf(PartnerInvalid, "JWKS URL %s is not https: keys are only fetched over TLS with normal certificate checks", quote(raw))
	case u.Host == "":
		return errorf(PartnerInvalid, "JWKS URL %s has no host", quote(raw))
	case u.User != nil:
		return errorf(PartnerInvalid, "JWKS URL %s carries user information", quote(u.Redacted()))
	case u.Fragment != "":
		return errorf(PartnerInvalid, "JWKS URL %s has a fragment", quote(raw))
	}
	return nil
}

// ValidatePartner checks a partner's configuration: name, profile, algs,
// public keys only with unique kids, and a valid JWKS URL. At least one key
// or a JWKS URL is required.
func ValidatePartner(p *Partner) error {
	switch {
	case p == nil:
		return errorf(PartnerInvalid, "nil partner")
	case !ValidPartnerName(p.Name):
		return errorf(PartnerInvalid, "partner name %s is not acceptable: use 1-64 lower-case letters, digits, '.', '_' or '-'", quote(p.Name))
	case p.Profile == "":
		return errorf(PartnerInvalid, "partner %s has no profile", quote(p.Name))
	case len(p.Keys) == 0 && p.JWKSURL == "":
		return errorf(PartnerInvalid, "partner %s has neither keys nor a JWKS URL", quote(p.Name))
	case p.Policy.Skew < 0 || p.Policy.MaxLifetime < 0 || p.Policy.MinRSABits < 0:
		return errorf(PartnerInvalid, "partner %s: negative policy value", quote(p.Name))
	}
	for _, a := range p.Algs {
		if !a.Supported() {
			return errorf(PartnerInvalid, "partner %s: unsupported alg %s", quote(p.Name), quote(string(a)))
		}
	}
	if _, err := jose.NewKeySet(p.Keys...); err != nil {
		return &jose.Error{Code: PartnerInvalid, Detail: fmt.Sprintf("partner %s: %v", quote(p.Name), err), Err: err}
	}
	for i, k := range p.Keys {
		if k.Kty == "oct" {
			return errorf(PartnerInvalid, "partner %s: key %d is a shared secret; the registry holds public keys only", quote(p.Name), i)
		}
	}
	if p.JWKSURL != "" {
		if err := ValidateJWKSURL(p.JWKSURL); err != nil {
			return err
		}
	}
	return nil
}

// ParsePartnerKeys imports a partner's public keys from a JWK, a JWK Set,
// or PEM (public keys and X.509 certificates; a certificate chain stays
// with its leaf's key). Private keys are refused: a partner never gives us
// its private key, and holding one would be a liability. PEM keys get
// their RFC 7638 thumbprint as kid unless kid is set (one key only).
func ParsePartnerKeys(data []byte, kid string) ([]*jose.JWK, error) {
	var keys []*jose.JWK
	switch {
	case bytes.Contains(data, []byte("-----BEGIN ")):
		ks, err := jose.ParsePEM(data)
		if err != nil {
			return nil, err
		}
		for _, k := range ks {
			if k.Kid == "" {
				k = k.WithKid(k.Thumbprint())
			}
			keys = append(keys, k)
		}
	case bytes.Contains(data, []byte(`"keys"`)):
		set, err := jose.ParseJWKS(data)
		if err != nil {
			return nil, err
		}
		keys = set.Keys()
	default:
		k, err := jose.ParseJWK(data)
		if err != nil {
			return nil, err
		}
		keys = []*jose.JWK{k}
	}
	if kid != "" {
		if len(keys) != 1 {
			return nil, errorf(PartnerInvalid, "a kid can be given for one key only; the input holds %d", len(keys))
		}
		keys[0] = keys[0].WithKid(kid)
	}
	for i, k := range keys {
		if k.IsPrivate() {
			return nil, errorf(jose.KeyRejected, "key %d is private: import the partner's public key only", i)
		}
	}
	return keys, nil
}

// Revocation withdraws one partner key: by kid, by RFC 7638 thumbprint, or
// both (then both must match). A revocation wins over every cache, fresh or
// stale, and over the partner's inline keys.
type Revocation struct {
	Partner    string
	Kid        string
	Thumbprint string
	At         time.Time
	Actor      string
	Reason     string
}

// Matches reports whether the revocation withdraws key k of its partner.
func (r *Revocation) Matches(k *jose.JWK) bool {
	if r.Kid != "" && r.Kid != k.Kid {
		return false
	}
	if r.Thumbprint != "" && r.Thumbprint != k.Thumbprint() {
		return false
	}
	return r.Kid != "" || r.Thumbprint != ""
}

// ValidateRevocation checks that r names a partner and a key.
func ValidateRevocation(r *Revocation) error {
	switch {
	case !ValidPartnerName(r.Partner):
		return errorf(PartnerInvalid, "revocation: partner name %s is not acceptable", quote(r.Partner))
	case r.Kid == "" && r.Thumbprint == "":
		return errorf(PartnerInvalid, "revocation of %s names no kid and no thumbprint", quote(r.Partner))
	case r.Actor == "" || r.Reason == "":
		return errorf(PartnerInvalid, "revocation of %s: say who and why (actor and reason)", quote(r.Partner))
	}
	return nil
}

// Event is an operator action on partner keys, recorded for audit: an
// emergency purge, a revocation, a partner change.
type Event struct {
	At      time.Time
	Actor   string
	Action  string // "purge", "revoke", "partner_put", "partner_delete", …
	Partner string
	Kid     string
	Reason  string
}
