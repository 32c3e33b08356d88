package profile

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/nonrep/nonrep/jose"
)

// Codes the profiles add to the JOSE core's. Like jose's, they are API.
const (
	// HeaderMissing: a header the scheme requires is absent, repeated or
	// empty (HTTP 400).
	HeaderMissing jose.Code = "header_missing"
	// RequestMismatch: the signature verified, but the request parts it
	// covers (method, path, query, audience) are not this request's (401).
	RequestMismatch jose.Code = "request_mismatch"
	// DigestMismatch: a body digest claim does not match the body (401).
	DigestMismatch jose.Code = "digest_mismatch"
)

// Codes returns the codes this package defines, in a stable order.
func Codes() []jose.Code { return []jose.Code{HeaderMissing, RequestMismatch, DigestMismatch} }

// Message is the part of an HTTP request that a profile signs or verifies.
// Body holds the exact bytes as sent on the wire; profiles never
// re-serialize it.
type Message struct {
	Method string
	// Host is the request's host as sent (r.Host), with a port if one was
	// given. Swift's aud is built from it.
	Host string
	// Path is the raw path exactly as sent (r.URL.EscapedPath()).
	Path string
	// RawQuery is the query as sent, without '?'.
	RawQuery string
	Header   http.Header
	Body     []byte
}

// FromRequest returns the Message for r with the given body bytes. It does
// not read r.Body. On a server request the path is taken from
// r.RequestURI, exactly as received: r.URL.EscapedPath re-encodes
// characters such as '{', '|', '^' or raw UTF-8 that a client may send
// unencoded, and the signer signed what it sent.
func FromRequest(r *http.Request, body []byte) *Message {
	path := r.URL.EscapedPath()
	if p, _, _ := strings.Cut(r.RequestURI, "?"); strings.HasPrefix(p, "/") {
		path = p
	}
	return &Message{
		Method:   r.Method,
		Host:     r.Host,
		Path:     path,
		RawQuery: r.URL.RawQuery,
		Header:   r.Header,
		Body:     body,
	}
}

// Signer is what a profile signs with.
type Signer struct {
	// Key signs; its Signer may be a file key, an HSM or a KMS.
	Key *jose.SigningKey
	// Chain is the certificate chain sent in x5c (DER, leaf first). Swift
	// requires it; other profiles ignore it.
	Chain [][]byte
	// Clock gives iat (default time.Now).
	Clock func() time.Time
	// Rand supplies jti values (default crypto/rand).
	Rand io.Reader
}

func (s *Signer) now() time.Time {
	if s.Clock != nil {
		return s.Clock()
	}
	return time.Now()
}

// jti returns a random 128-bit identifier in the base64url alphabet.
func (s *Signer) jti() (string, error) {
	r := s.Rand
	if r == nil {
		r = rand.Reader
	}
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", &jose.Error{Code: jose.SignerFailed, Detail: "reading randomness for jti", Err: err}
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Signature is what Sign adds to a request.
type Signature struct {
	// Header holds the headers to set (replacing any of the same name).
	Header http.Header
	// Body, when non-nil, replaces the request body (Generic flattened mode,
	// where the body is the JWS).
	Body []byte
}

// Trust is one partner's verification settings. Its zero value is not
// usable on its own: Keys (or, for Swift, Roots) must be set; every other
// zero field means the documented default.
type Trust struct {
	// Keys resolves the partner's verification keys.
	Keys jose.KeyResolver
	// Roots are the trust anchors for x5c chains (Swift).
	Roots *x509.CertPool
	// Algs overrides the profile's algorithm allow-list where the profile
	// permits a choice (Generic); ignored by fixed-algorithm schemes.
	Algs []jose.Alg
	// Skew is the clock tolerance (default 60 s).
	Skew time.Duration
	// MaxLifetime bounds exp − iat, and the age of an iat-only message
	// (default: the profile's, 5 min; Swift 15 min).
	MaxLifetime time.Duration
	// ReplayWindow is how long a signature value is remembered for schemes
	// that carry no time at all (EBANX; default 24 h).
	ReplayWindow time.Duration
	// Lenient accepts what the scheme's strict reading refuses but some
	// partners send: InComm without iat/exp, Swift without nbf.
	Lenient bool
	// Audience is what Swift response integrity tokens must carry as aud
	// (the client's certificate DN) and, when set, what Generic tokens'
	// aud must contain; ignored elsewhere.
	Audience string
	// Limits caps sizes (defaults: jose's).
	Limits jose.Limits
	// Clock is the verification time (default time.Now); evidence
	// re-verification passes the recorded time.
	Clock func() time.Time
}

func (t *Trust) skew() time.Duration {
	if t.Skew > 0 {
		return t.Skew
	}
	return 60 * time.Second
}

func (t *Trust) lifetime(def time.Duration) time.Duration {
	if t.MaxLifetime > 0 {
		return t.MaxLifetime
	}
	return def
}

func (t *Trust) replayWindow() time.Duration {
	if t.ReplayWindow > 0 {
		return t.ReplayWindow
	}
	return 24 * time.Hour
}

func (t *Trust) clock() func() time.Time {
	if t.Clock != nil {
		return t.Clock
	}
	return time.Now
}

// Profile is one signature scheme.
type Profile interface {
	// Name is the profile's stable name ("incomm", "ebanx", "swift",
	// "openbanking", "generic").
	Name() string
	// Sign returns the headers (and, for some schemes, the body) that make
	// m a signed request. It does not modify m.
	Sign(m *Message, s *Signer) (*Signature, error)
	// NewVerifier returns a verifier of this scheme for one partner.
	NewVerifier(t Trust) (Verifier, error)
}

// Verifier verifies one partner's requests in two steps so that a caller
// can run its cheap gates between them.
type Verifier interface {
	// Parse checks that the scheme's headers are present and well formed
	// and parses the JWS strictly. No key lookup, no crypto.
	Parse(m *Message) (*Parsed, error)
	// Verify resolves the key, checks the signature over the exact bytes,
	// the parts of the request the scheme covers, and the time policy.
	Verify(ctx context.Context, p *Parsed) (*Result, error)
}

// Parsed is a request whose signature is well formed but not yet verified.
type Parsed struct {
	Message *Message
	// JWS is the parsed signature; its header is NOT yet trusted.
	JWS *jose.JWS
	// SignatureHeader names the header the signature came from ("" when
	// the body is the JWS), and SignatureValue is its exact value.
	SignatureHeader string
	SignatureValue  string
	payload         []byte // detached payload, or nil when attached
	detached        bool
}

// Header returns the (unverified) protected header.
func (p *Parsed) Header() *jose.Header { return p.JWS.Header(0) }

// Result is a verified request.
type Result struct {
	Profile string
	// Kid is the protected kid ("" for Swift, which names its key by x5c).
	Kid string
	// Key verified the signature; Thumbprint is its RFC 7638 thumbprint.
	Key        *jose.JWK
	Thumbprint string
	// Chain is the validated x5c chain (Swift), leaf first.
	Chain []*x509.Certificate
	// Subject identifies the signer within the partner: the leaf
	// certificate's DN for Swift, the claim iss / Open Banking iss where the
	// scheme has one, else the kid.
	Subject string
	// Header is the verified protected header; Header.Raw holds its bytes.
	Header *jose.Header
	// Claims is the verified JWT claims set (Swift, Generic).
	Claims *jose.Claims
	// Payload is the exact bytes that were signed: the body for detached
	// schemes, the JWS payload for Generic flattened.
	Payload []byte
	// SignatureHeader and SignatureValue are the signature as received,
	// verbatim (for evidence).
	SignatureHeader string
	SignatureValue  string
	// ReplayID is the scheme's replay key (jti, or the hex SHA-256 of the
	// signature value) and ReplayUntil how long it must be remembered.
	ReplayID    string
	ReplayUntil time.Time
	// IssuedAt is the signer's iat when the scheme carries one.
	IssuedAt time.Time
}

func errorf(code jose.Code, format string, args ...any) error {
	return &jose.Error{Code: code, Detail: sprintf(format, args...)}
}

// signatureReplayID is the replay key of schemes without jti: the hex
// SHA-256 of the signature value as received.
func signatureReplayID(value string) string {
	h := sha256.Sum256([]byte(value))
	return "sig:" + hex.EncodeToString(h[:])
}

// oneHeader returns the single value of a required header.
func oneHeader(h http.Header, name string) (string, error) {
	v := h.Values(name)
	switch {
	case len(v) == 0:
		return "", errorf(HeaderMissing, "the %s header is missing", name)
	case len(v) > 1:
		return "", errorf(HeaderMissing, "the %s header is repeated", name)
	case v[0] == "":
		return "", errorf(HeaderMissing, "the %s header is empty", name)
	}
	return v[0], nil
}

// ByName returns the profile with the given name, configured with its
// defaults (Open Banking 3.1.4 and later).
func ByName(name string) (Profile, bool) {
	switch name {
	case "incomm":
		return InComm{}, true
	case "ebanx":
		return EBANX{}, true
	case "swift":
		return Swift{}, true
	case "openbanking":
		return OpenBanking{}, true
	case "openbanking-3.1.3":
		return OpenBanking{Version: "3.1.3"}, true
	case "generic":
		return Generic{}, true
	}
	return nil, false
}

// Names lists the names ByName knows.
func Names() []string {
	return []string{"incomm", "ebanx", "swift", "openbanking", "openbanking-3.1.3", "generic"}
}
