package jose

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable reason for a rejection. Codes are wire
// API: they appear in problem+json responses, CLI output and evidence
// records, so a code is never renamed or reused. The full list is in
// testdata/codes.golden and is returned by [Codes].
//
// Code implements error so that callers can write
// errors.Is(err, jose.SignatureInvalid).
type Code string

// The codes the JOSE core returns.
const (
	// Malformed: the input is not a well-formed JWS, JWK or JSON document
	// (segment count, base64url, JSON syntax, duplicate or case-variant
	// member names, wrong JSON type of a registered parameter).
	Malformed Code = "malformed"
	// TooLarge: a size cap was exceeded before any parsing was attempted.
	TooLarge Code = "too_large"
	// AlgNotAllowed: the alg is not in the verifier's allow-list, is "none",
	// or is unknown.
	AlgNotAllowed Code = "alg_not_allowed"
	// CritUnsupported: the crit parameter names something not understood,
	// names a registered parameter, is empty, has duplicates, or is missing
	// a member it lists.
	CritUnsupported Code = "crit_unsupported"
	// HeaderInvalid: a header parameter is well formed JSON but not
	// acceptable (b64 without crit, a security parameter in the unprotected
	// header, overlapping protected and unprotected names, x5t mismatch).
	HeaderInvalid Code = "header_invalid"
	// KeyUnknown: no configured key matches the message's kid (or, without
	// kid, no configured key fits the algorithm).
	KeyUnknown Code = "key_unknown"
	// KeyRejected: a key exists but may not be used here: wrong type for
	// the algorithm, alg/use/key_ops mismatch, too small, bad exponent,
	// point not on the curve, private members in a verification set.
	KeyRejected Code = "key_rejected"
	// KeyUnavailable: the key resolver could not answer (store or network
	// failure). The request must fail closed.
	KeyUnavailable Code = "key_unavailable"
	// SignatureInvalid: the signature does not verify, or has the wrong
	// length or encoding for the algorithm.
	SignatureInvalid Code = "signature_invalid"
	// X5CInvalid: the x5c chain does not validate to the configured roots,
	// or x5c was supplied where no roots are configured and no other key
	// is available.
	X5CInvalid Code = "x5c_invalid"
	// PayloadMismatch: a detached JWS was given without its payload, or a
	// payload was given for a JWS that already carries one.
	PayloadMismatch Code = "payload_mismatch"
	// ClaimsInvalid: the JWT claims set is not a JSON object, or a
	// registered claim has the wrong JSON type or an out-of-range value.
	ClaimsInvalid Code = "claims_invalid"
	// ClaimMissing: a claim the policy requires is absent.
	ClaimMissing Code = "claim_missing"
	// Expired: now is at or after exp + skew.
	Expired Code = "expired"
	// NotYetValid: now is before nbf - skew.
	NotYetValid Code = "not_yet_valid"
	// IssuedInFuture: iat is after now + skew.
	IssuedInFuture Code = "iat_in_future"
	// LifetimeExceeded: exp - iat is longer than the policy's maximum.
	LifetimeExceeded Code = "lifetime_exceeded"
	// AudienceMismatch: aud does not contain an expected audience.
	AudienceMismatch Code = "audience_mismatch"
	// IssuerMismatch: iss is not the expected issuer.
	IssuerMismatch Code = "issuer_mismatch"
	// SubjectMismatch: sub is not the expected subject.
	SubjectMismatch Code = "subject_mismatch"
	// TypMismatch: the typ header is not the one the policy requires.
	TypMismatch Code = "typ_mismatch"
	// PolicyInvalid: the caller's Policy or signing options are not usable
	// (a programming or configuration error, never caused by the message).
	PolicyInvalid Code = "policy_invalid"
	// SignerFailed: the crypto.Signer returned an error or a signature of
	// the wrong shape.
	SignerFailed Code = "signer_failed"
)

// Codes returns every code the package defines, in a stable order.
func Codes() []Code {
	return []Code{
		Malformed, TooLarge, AlgNotAllowed, CritUnsupported, HeaderInvalid,
		KeyUnknown, KeyRejected, KeyUnavailable, SignatureInvalid, X5CInvalid,
		PayloadMismatch, ClaimsInvalid, ClaimMissing, Expired, NotYetValid,
		IssuedInFuture, LifetimeExceeded, AudienceMismatch, IssuerMismatch,
		SubjectMismatch, TypMismatch, PolicyInvalid, SignerFailed,
	}
}

// Error implements error; the message is the code itself.
func (c Code) Error() string { return "jose: " + string(c) }

// Error is the only error type the package returns. Code is stable; Detail
// is a human-readable explanation that never contains key material or
// payload bytes (untrusted values are quoted and truncated); Err, when set,
// is an underlying cause for logs.
type Error struct {
	Code   Code
	Detail string
	Err    error
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return "jose: " + string(e.Code)
	}
	return "jose: " + string(e.Code) + ": " + e.Detail
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's Code, or an *Error with the same Code.
func (e *Error) Is(target error) bool {
	switch t := target.(type) {
	case Code:
		return t == e.Code
	case *Error:
		return t.Code == e.Code
	}
	return false
}

// CodeOf returns the Code carried by err, or "" if err carries none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var c Code
	if errors.As(err, &c) {
		return c
	}
	return ""
}

func errorf(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Detail: fmt.Sprintf(format, args...)}
}

func wrapf(c Code, err error, format string, args ...any) *Error {
	return &Error{Code: c, Detail: fmt.Sprintf(format, args...), Err: err}
}

// quote renders untrusted input for an error detail: quoted, and cut to 64
// bytes so that a hostile header cannot flood a log line.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q…", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
