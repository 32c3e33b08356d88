package evidence

import (
	"crypto/sha256"
	"crypto/x509"
	"time"

	"github.com/nonrep/nonrep/jose"
)

// Direction says which way a signed exchange went.
type Direction string

const (
	// Inbound: a partner called us.
	Inbound Direction = "inbound"
	// Outbound: we called a partner.
	Outbound Direction = "outbound"
)

// Kind says what a record holds.
type Kind string

const (
	// KindRequest records a request: what was received or sent, its
	// signature, the verdict, and for outbound requests the response
	// status.
	KindRequest Kind = "request"
	// KindResponse records the answer to an earlier request record
	// (ResponseTo): the status and, where one was made, the response
	// signature. An inbound request's record is written before the handler
	// runs, so its response can only be a record of its own.
	KindResponse Kind = "response"
)

// Verdict is what was decided about a record's signature.
type Verdict string

const (
	// Accepted: the signature verified and the request was let through.
	Accepted Verdict = "accepted"
	// Rejected: the request was refused; Code says why.
	Rejected Verdict = "rejected"
	// Detected: the signature failed (Code) but the partner is in detection
	// mode, so the request was let through.
	Detected Verdict = "detected"
	// Signed: we signed and sent the message (outbound requests, signed
	// responses).
	Signed Verdict = "signed"
)

// Record is one signed exchange. Everything that was signed is kept
// exactly as it travelled: Signature, Body and ResponseSignature are the
// bytes on the wire, never a re-serialization.
//
// A Record is a value: Append copies what it needs and never keeps or
// modifies the caller's Record.
type Record struct {
	// Received is when the request arrived (inbound) or was sent
	// (outbound). It is stored in UTC with nanoseconds and is the time at
	// which the signature is re-verified.
	Received  time.Time
	Direction Direction
	// Kind is KindRequest (the default when empty) or KindResponse.
	Kind Kind
	// ResponseTo is, for KindResponse, the index of the request record it
	// answers; it must be zero otherwise.
	ResponseTo int64

	Partner string
	// Profile is the scheme (profile.Profile.Name()).
	Profile string
	// PolicyVersion names the verification policy in force (a
	// configuration version, free text).
	PolicyVersion string
	// Lenient records that the partner's profile.Trust was lenient, so
	// that re-verification applies the same reading.
	Lenient bool

	Method string
	// Host is the request's host as sent (Swift binds it).
	Host string
	// Path is the raw path as sent; Query the raw query, without '?'.
	Path  string
	Query string
	// ContentType is the request's Content-Type header, if any.
	ContentType string

	// SignatureHeader names the header that carried the signature ("" when
	// the body is the JWS); Signature is its value, verbatim.
	SignatureHeader string
	Signature       []byte
	// Body is the request body, verbatim. The log's leaf commits to its
	// SHA-256; the bytes are stored beside the leaf.
	Body []byte

	// Kid is the protected header's kid ("" for x5c-only schemes).
	Kid string
	// Key is the public key that verified (or, outbound, made) the
	// signature; a private key is reduced to its public part. Its RFC 7638
	// thumbprint is stored with it. An HMAC ("oct") key is a secret and is
	// never stored: only Kid is.
	Key *jose.JWK
	// Chain is the certificate chain, DER, leaf first (x5c schemes: the
	// validated chain ending at the trust anchor).
	Chain [][]byte

	Verdict Verdict
	// Code is the rejection's stable code (empty when accepted).
	Code jose.Code
	// ReplayID is the scheme's replay key.
	ReplayID string

	// ResponseStatus is the HTTP status answered (0 when not known).
	ResponseStatus int
	// ResponseSignatureHeader and ResponseSignature are the response's
	// signature header and its exact value, where one was made.
	ResponseSignatureHeader string
	ResponseSignature       []byte

	// keyRaw is the key's JSON exactly as stored, kept when a record is
	// read back so that re-encoding gives the same bytes.
	keyRaw []byte
}

// Thumbprint returns the RFC 7638 thumbprint of r.Key, or "".
func (r *Record) Thumbprint() string {
	if r.Key == nil {
		return ""
	}
	return r.Key.Thumbprint()
}

// BodySHA256 returns the SHA-256 of r.Body.
func (r *Record) BodySHA256() [32]byte { return sha256.Sum256(r.Body) }

// Certificates parses r.Chain.
func (r *Record) Certificates() ([]*x509.Certificate, error) {
	out := make([]*x509.Certificate, len(r.Chain))
	for i, der := range r.Chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, wrapf(jose.Malformed, err, "certificate %d of the chain does not parse", i)
		}
		out[i] = c
	}
	return out, nil
}

func (r *Record) kind() Kind {
	if r.Kind == "" {
		return KindRequest
	}
	return r.Kind
}

// Validate reports whether r can be stored; the error's code is
// RecordInvalid.
func (r *Record) Validate() error {
	switch {
	case r.Received.IsZero():
		return errorf(RecordInvalid, "Received is not set")
	case r.Received.Year() < 1970 || r.Received.Year() > 9999:
		return errorf(RecordInvalid, "Received %s is out of range", r.Received)
	case r.Direction != Inbound && r.Direction != Outbound:
		return errorf(RecordInvalid, "Direction %s is neither inbound nor outbound", quote(string(r.Direction)))
	case r.Partner == "":
		return errorf(RecordInvalid, "Partner is empty")
	case r.Profile == "":
		return errorf(RecordInvalid, "Profile is empty")
	case r.ResponseStatus < 0 || r.ResponseStatus > 999:
		return errorf(RecordInvalid, "ResponseStatus %d is out of range", r.ResponseStatus)
	}
	switch r.kind() {
	case KindRequest:
		if r.ResponseTo != 0 {
			return errorf(RecordInvalid, "ResponseTo is only for response records")
		}
		switch r.Verdict {
		case Accepted, Rejected, Detected, Signed:
		default:
			return errorf(RecordInvalid, "Verdict %s is not one of accepted, rejected, detected, signed", quote(string(r.Verdict)))
		}
		if r.Method == "" {
			return errorf(RecordInvalid, "Method is empty")
		}
	case KindResponse:
		if r.ResponseTo < 0 {
			return errorf(RecordInvalid, "ResponseTo %d is negative", r.ResponseTo)
		}
		switch r.Verdict {
		case "", Accepted, Rejected, Detected, Signed:
		default:
			return errorf(RecordInvalid, "Verdict %s is not one of accepted, rejected, detected, signed", quote(string(r.Verdict)))
		}
	default:
		return errorf(RecordInvalid, "Kind %s is neither request nor response", quote(string(r.Kind)))
	}
	if (r.Verdict == Accepted || r.Verdict == Signed) && r.Code != "" {
		return errorf(RecordInvalid, "an %s record carries code %s", r.Verdict, quote(string(r.Code)))
	}
	if (r.Verdict == Rejected || r.Verdict == Detected) && r.Code == "" {
		return errorf(RecordInvalid, "a %s record needs its Code", r.Verdict)
	}
	return nil
}
