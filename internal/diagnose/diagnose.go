// Package diagnose explains why a signed HTTP request was rejected.
//
// Run verifies the request exactly as the profile's verifier does. When
// that fails, it tests the usual causes one by one — a body changed in
// transit, a b64 mix-up, a wrong or rotated key, a path or query normalized
// differently, the method's case, clock skew, a DER-encoded ECDSA
// signature, an RSA-PSS salt length, a Swift digest encoding — and names
// the first one that explains the failure. A cause is only named when it
// is confirmed: verification is re-run on the input with that one fault
// undone (or, for faults inside the signature bytes, the raw signature is
// checked with the candidate key) and succeeds.
//
// Nothing here is a verification: a diagnosis never makes a request
// acceptable.
package diagnose

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/profile"
)

// Cause ids. They are API: scripts and dashboards branch on them.
const (
	// BodyTrailingNewline: a trailing newline was added or removed after
	// signing.
	BodyTrailingNewline = "body_trailing_newline"
	// BodyLineEndings: LF and CRLF line endings were converted.
	BodyLineEndings = "body_line_endings"
	// BodyWhitespace: leading or trailing whitespace was added or removed.
	BodyWhitespace = "body_whitespace"
	// BodyReserializedJSON: the JSON body was re-serialized (whitespace,
	// member order, string escapes).
	BodyReserializedJSON = "body_reserialized_json"
	// BodyCharset: the body was re-encoded (UTF-8 / Latin-1, byte order
	// mark).
	BodyCharset = "body_charset"
	// B64Mismatch: the signer signed BASE64URL(payload) while the header
	// says "b64": false, or the raw payload while it does not.
	B64Mismatch = "b64_mismatch"
	// KidUnknown: the header's kid is not in the key set and no key of the
	// set verifies the signature.
	KidUnknown = "kid_unknown"
	// KeyRotated: the signature verifies with a key of the set that is
	// published under another kid.
	KeyRotated = "key_rotated"
	// QueryNormalization: the query was normalized or re-encoded
	// differently by the signer or in transit.
	QueryNormalization = "query_normalization"
	// PathNormalization: the path was normalized or re-encoded differently.
	PathNormalization = "path_normalization"
	// MethodCase: the method differs only in letter case.
	MethodCase = "method_case"
	// RequestTarget: the signature is for another method, host, path or
	// query (a misrouted, rewritten or replayed request).
	RequestTarget = "request_target"
	// ClockSkew: the request is outside its validity window by this
	// verifier's clock.
	ClockSkew = "clock_skew"
	// ECDSADER: an ES* signature is ASN.1 DER instead of R||S.
	ECDSADER = "ecdsa_der"
	// PSSSaltLength: an RSA-PSS signature uses a salt length other than the
	// hash length.
	PSSSaltLength = "pss_salt_length"
	// DigestEncoding: Swift's digest claim is encoded differently (hex
	// instead of base64, over the body instead of base64(body), …).
	DigestEncoding = "digest_encoding"
	// OBVersion: the Open Banking version (b64:false up to 3.1.3) differs
	// between the partner and this configuration.
	OBVersion = "ob_version"
	// HeaderMissing: a header the scheme requires is absent, repeated or
	// empty.
	HeaderMissing = "header_missing"
	// SchemeRule: the request breaks a rule of the scheme that needs no
	// further diagnosis; the verifier's message says which.
	SchemeRule = "scheme_rule"
	// Unexplained: none of the usual causes explains the rejection.
	Unexplained = "unexplained"
)

// Causes lists every cause id, in a stable order.
func Causes() []string {
	return []string{
		BodyTrailingNewline, BodyLineEndings, BodyWhitespace, BodyReserializedJSON, BodyCharset,
		B64Mismatch, KidUnknown, KeyRotated, QueryNormalization, PathNormalization, MethodCase,
		RequestTarget, ClockSkew, ECDSADER, PSSSaltLength, DigestEncoding, OBVersion,
		HeaderMissing, SchemeRule, Unexplained,
	}
}

// Input is what a verifier would see.
type Input struct {
	Profile profile.Profile
	// Trust is the partner's configuration. Its Clock (default time.Now)
	// is read once: every re-run uses that same instant.
	Trust   profile.Trust
	Message *profile.Message
	// Keys lists the partner's keys for the raw signature checks (another
	// key under another kid). When nil and Trust.Keys is a *jose.KeySet,
	// that set's keys are used.
	Keys []*jose.JWK
}

// Report is a diagnosis.
type Report struct {
	// Verified is true when the request verifies as it is; Result is then
	// the verifier's result and nothing else is set.
	Verified bool
	Result   *profile.Result
	// Code and Err are the verifier's rejection.
	Code jose.Code
	Err  error
	// Cause is the cause id (one of Causes), Summary one sentence saying
	// what happened, Evidence what was observed and tested, Fix what to do.
	Cause    string
	Summary  string
	Evidence []string
	Fix      string
}

// Run verifies in.Message and, when it is rejected, diagnoses why. The
// error is non-nil only when the configuration itself is unusable (the
// profile refuses in.Trust).
func Run(ctx context.Context, in Input) (*Report, error) {
	if in.Profile == nil || in.Message == nil {
		return nil, errors.New("diagnose: Input.Profile and Input.Message are required")
	}
	now := time.Now()
	if in.Trust.Clock != nil {
		now = in.Trust.Clock()
	}
	t := in.Trust
	t.Clock = func() time.Time { return now }
	if _, err := in.Profile.NewVerifier(t); err != nil {
		return nil, err
	}
	keys := in.Keys
	if keys == nil {
		if ks, ok := t.Keys.(*jose.KeySet); ok {
			keys = ks.Keys()
		}
	}
	s := &state{ctx: ctx, prof: in.Profile, trust: t, msg: in.Message, keys: keys, now: now}
	parsed, res, err := s.verify(s.prof, s.trust, s.msg)
	if err == nil {
		return &Report{Verified: true, Result: res}, nil
	}
	s.parsed = parsed
	s.err = err
	s.code = jose.CodeOf(err)
	s.diagnose()
	return &s.rep, nil
}

// state is one diagnosis in progress.
type state struct {
	ctx   context.Context
	prof  profile.Profile
	trust profile.Trust
	msg   *profile.Message
	keys  []*jose.JWK
	now   time.Time

	parsed *profile.Parsed // nil when Parse itself failed
	err    error
	code   jose.Code

	tried []string
	rep   Report
}

// verify runs the profile's verifier on a (possibly modified) input.
func (s *state) verify(p profile.Profile, t profile.Trust, m *profile.Message) (*profile.Parsed, *profile.Result, error) {
	v, err := p.NewVerifier(t)
	if err != nil {
		return nil, nil, err
	}
	parsed, err := v.Parse(m)
	if err != nil {
		return nil, nil, err
	}
	res, err := v.Verify(s.ctx, parsed)
	return parsed, res, err
}

// confirms re-runs verification with one fault undone. It reports whether
// that explains the rejection: the request then verifies, or gets past the
// original failure and fails only on time (reported as a follow-up).
func (s *state) confirms(p profile.Profile, t profile.Trust, m *profile.Message) bool {
	_, _, err := s.verify(p, t, m)
	if err == nil {
		return true
	}
	if isTimeCode(jose.CodeOf(err)) && !isTimeCode(s.code) {
		s.later(err)
		return true
	}
	return false
}

// later notes a failure that remains once the diagnosed cause is fixed.
func (s *state) later(err error) {
	s.rep.Evidence = append(s.rep.Evidence, fmt.Sprintf(
		"once that is fixed the request still fails: %s (diagnose again after fixing the first cause)", message(err)))
}

func isTimeCode(c jose.Code) bool {
	return c == jose.Expired || c == jose.NotYetValid || c == jose.IssuedInFuture
}

// message renders err as "code: detail".
func message(err error) string {
	code := jose.CodeOf(err)
	msg := err.Error()
	if code != "" {
		msg = strings.Replace(msg, "jose: "+string(code)+": ", "", 1)
		msg = strings.Replace(msg, "jose: "+string(code), "", 1)
		if msg == "" {
			return string(code)
		}
		return string(code) + ": " + msg
	}
	return msg
}

func (s *state) diagnose() {
	s.rep.Code = s.code
	s.rep.Err = s.err
	found := false
	switch s.code {
	case jose.Expired, jose.NotYetValid, jose.IssuedInFuture:
		found = s.clockSkew()
	case jose.KeyUnknown:
		found = s.keyRotated() || s.kidUnknown()
	case jose.SignatureInvalid:
		found = s.ecdsaDER() || s.pssSalt() || s.b64Mismatch() || s.keyRotated() || s.body()
	case profile.DigestMismatch:
		found = s.digestEncoding() || s.body()
	case profile.RequestMismatch:
		found = s.target()
	case jose.HeaderInvalid:
		found = s.obVersion()
	case profile.HeaderMissing:
		found = s.headerMissing()
	}
	if !found {
		s.other()
	}
	s.rep.Evidence = append([]string{"the verifier says: " + message(s.err)}, s.rep.Evidence...)
}

// set fills the report's cause. Evidence lines collected so far (follow-up
// failures) are kept after the new ones.
func (s *state) set(cause, summary, fix string, evidence ...string) bool {
	s.rep.Cause = cause
	s.rep.Summary = summary
	s.rep.Fix = fix
	s.rep.Evidence = append(evidence, s.rep.Evidence...)
	return true
}

// withMessage returns a copy of s.msg changed by f.
func (s *state) withMessage(f func(m *profile.Message)) *profile.Message {
	m := *s.msg
	m.Header = s.msg.Header.Clone()
	if m.Header == nil {
		m.Header = http.Header{}
	}
	f(&m)
	return &m
}

// kidKeys returns the keys that the header names: the x5c leaf, or the
// keys with the header's kid.
func (s *state) kidKeys(h *jose.Header) []*jose.JWK {
	if k := x5cLeaf(h); k != nil {
		return []*jose.JWK{k}
	}
	var out []*jose.JWK
	for _, k := range s.keys {
		if h.Kid != "" && k.Kid == h.Kid {
			out = append(out, k)
		}
	}
	return out
}

func keyName(k *jose.JWK) string {
	if k.Kid != "" {
		return fmt.Sprintf("%q (thumbprint %s)", k.Kid, k.Thumbprint())
	}
	return "with thumbprint " + k.Thumbprint()
}

func (s *state) kidList() string {
	if len(s.keys) == 0 {
		return "the key set is empty"
	}
	kids := make([]string, len(s.keys))
	for i, k := range s.keys {
		kids[i] = fmt.Sprintf("%q", k.Kid)
		if k.Kid == "" {
			kids[i] = "(no kid) " + k.Thumbprint()
		}
	}
	return fmt.Sprintf("the key set has %d key(s): %s", len(s.keys), strings.Join(kids, ", "))
}

// kidUnknown explains key_unknown when no key of the set verifies.
func (s *state) kidUnknown() bool {
	if s.parsed == nil {
		return false
	}
	h := s.parsed.Header()
	if h.Kid == "" {
		return false
	}
	ev := []string{
		fmt.Sprintf("the protected header names kid %q", h.Kid),
		s.kidList(),
	}
	if len(s.keys) > 0 {
		ev = append(ev, "no key of the set verifies the signature either, so this is not a known key under another name")
	}
	return s.set(KidUnknown,
		fmt.Sprintf("The request is signed with a key the partner's key set does not have: kid %q is unknown.", h.Kid),
		fmt.Sprintf("get the partner's current public key for kid %q (their JWKS) and add it to the key set; after a rotation the partner must publish the new key before signing with it", h.Kid),
		ev...)
}

// headerMissing explains header_missing.
func (s *state) headerMissing() bool {
	names := make([]string, 0, len(s.msg.Header))
	for n := range s.msg.Header {
		names = append(names, n)
	}
	sort.Strings(names)
	present := "the request has no headers"
	if len(names) > 0 {
		present = "headers present: " + strings.Join(names, ", ")
	}
	ev := []string{present}
	if other := schemeHint(s.msg.Header, s.prof.Name()); other != "" {
		ev = append(ev, other)
	}
	return s.set(HeaderMissing,
		fmt.Sprintf("The request lacks what the %s scheme requires: %s.", s.prof.Name(), strings.TrimSuffix(detail(s.err), ".")),
		`send every header the scheme requires ("nonrep request sign" prints them) and check that no proxy strips or merges them (many drop Authorization or unknown X- headers)`,
		ev...)
}

// schemeHint names another scheme whose signature header the request
// carries.
func schemeHint(h http.Header, name string) string {
	switch {
	case h.Get("X-SWIFT-Signature") != "" && name != "swift":
		return "the request carries X-SWIFT-Signature: it looks signed with the swift scheme"
	case h.Get("X-JWS-Signature") != "" && name != "ebanx" && !strings.HasPrefix(name, "openbanking"):
		return "the request carries X-JWS-Signature: it looks signed with the ebanx or openbanking scheme"
	case h.Get("Signature") != "" && name != "incomm":
		return "the request carries a Signature header: it may be signed with the incomm scheme (or RFC 9421)"
	}
	return ""
}

// detail is err's message without the code.
func detail(err error) string {
	var je *jose.Error
	if errors.As(err, &je) && je.Detail != "" {
		return je.Detail
	}
	return message(err)
}

// obVersion explains an Open Banking b64 header refused by the configured
// version.
func (s *state) obVersion() bool {
	ob, ok := s.prof.(profile.OpenBanking)
	if !ok {
		return false
	}
	alt := ob
	want := "3.1.3 or earlier (b64:false)"
	if ob.Version == "" {
		alt.Version = "3.1.3"
	} else {
		alt.Version = ""
		want = "3.1.4 or later (no b64)"
	}
	if !s.confirms(alt, s.trust, s.msg) {
		return false
	}
	have := ob.Version
	if have == "" {
		have = "3.1.4 or later"
	}
	return s.set(OBVersion,
		fmt.Sprintf("The partner signs as Open Banking %s, but is configured as %s.", want, have),
		"agree the API version with the partner and configure it (nonrep: --profile openbanking-3.1.3 or --ob-version V)",
		fmt.Sprintf("the same request verifies when the partner's version is %s", want))
}

// other explains the rejection by the verifier's own message.
func (s *state) other() {
	switch s.code {
	case jose.SignatureInvalid, profile.DigestMismatch, jose.KeyUnknown, profile.RequestMismatch,
		jose.Expired, jose.NotYetValid, jose.IssuedInFuture:
		ev := []string{}
		if len(s.tried) > 0 {
			ev = append(ev, "tested and ruled out: "+strings.Join(s.tried, "; "))
		}
		summary, ok := unexplained[s.code]
		if !ok {
			summary = "None of the usual causes explains the rejection."
		}
		s.set(Unexplained, summary,
			"capture the exact bytes the sender signed and the bytes received (sender logs, a proxy capture) and compare them; confirm the key the sender uses by its thumbprint",
			ev...)
		return
	}
	fix, ok := ruleFixes[s.code]
	if !ok {
		fix = "compare the request with the scheme's requirements (README.md, CLI reference: HTTP request schemes) and with the partner's configuration"
	}
	s.set(SchemeRule,
		fmt.Sprintf("The request breaks a rule of the %s scheme: %s.", s.prof.Name(), strings.TrimSuffix(detail(s.err), ".")),
		fix)
}

var unexplained = map[jose.Code]string{
	jose.SignatureInvalid:   "None of the usual causes explains it: the signature verifies neither over this request nor over any usual transformation of it, so the sender signed other content, or with a key that is not in the key set.",
	profile.DigestMismatch:  "None of the usual causes explains it: the body matches the signed digest neither as received nor after any usual transformation, so its content changed after signing.",
	jose.KeyUnknown:         "None of the usual causes explains it: no key of the key set matches the request.",
	profile.RequestMismatch: "None of the usual causes explains it: the signature is for another request target, and it does not verify for the signed one either.",
}

var ruleFixes = map[jose.Code]string{
	jose.Malformed:        "the signature header or body is not a well-formed JWS: check for quoting, truncation or line wrapping on the way",
	jose.AlgNotAllowed:    "the partner must sign with the scheme's algorithm (or, for generic, configure the algorithm the partner uses)",
	jose.CritUnsupported:  "the partner's crit lists an extension this scheme does not define, or omits one it requires: align the header with the scheme",
	jose.KeyRejected:      "the key in the key set cannot be used for this scheme (size, type, alg or use): get a conforming key from the partner",
	jose.X5CInvalid:       "the certificate chain in x5c does not lead to a configured root at the verification time: check the roots, the intermediates sent and the certificates' validity",
	jose.ClaimMissing:     "the partner must send every claim the scheme requires",
	jose.ClaimsInvalid:    "the partner's claims have the wrong type or value: compare them with the scheme",
	jose.LifetimeExceeded: "the partner must issue shorter-lived signatures (exp − iat within the scheme's maximum)",
	jose.TypMismatch:      "the partner must set typ as the scheme requires",
	jose.SubjectMismatch:  "sub must be the signing certificate's subject DN",
	jose.AudienceMismatch: "aud must be what the scheme requires (Swift: the URL without its scheme; integrity: the client's DN)",
	jose.IssuerMismatch:   "the partner's issuer or trust anchor differs from the configured one",
	jose.PayloadMismatch:  "the signature must be detached (header..signature) where the body is the payload, and attached where the scheme carries claims",
	jose.TooLarge:         "the request exceeds a size cap",
	jose.HeaderInvalid:    "a header parameter is not acceptable for this scheme: compare the protected header with the scheme",
}
