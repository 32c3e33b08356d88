package profile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/gowebpki/jcs"
	"github.com/nonrep/nonrep/jose"
)

// Swift is Swift's API non-repudiation scheme. Requests carry
// X-SWIFT-Signature: a compact JWT (RS256, typ JWT, x5c, no kid) whose
// claims are sub (the certificate's DN), aud (the URL without its scheme),
// iat, nbf, exp (≤ iat + 15 min), jti and digest = base64(SHA-256(ASCII of
// base64(body))). The chain in x5c must validate to the partner's
// configured roots. Responses may carry X-SWIFT-Integrity (see
// SignResponse and VerifyResponse).
type Swift struct {
	// Lifetime is exp − iat when signing (default 5 min, at most 15 min).
	Lifetime time.Duration
}

const (
	swiftHeader          = "X-SWIFT-Signature"
	swiftIntegrityHeader = "X-SWIFT-Integrity"
	swiftMaxLifetime     = 15 * time.Minute
)

func (Swift) Name() string { return "swift" }

func (p Swift) lifetime() time.Duration {
	switch {
	case p.Lifetime <= 0:
		return 5 * time.Minute
	case p.Lifetime > swiftMaxLifetime:
		return swiftMaxLifetime
	}
	return p.Lifetime
}

// SwiftDigest is the digest claim of a Swift request over body:
// std-base64 of SHA-256 of the ASCII bytes of std-base64(body).
func SwiftDigest(body []byte) string {
	b := base64.StdEncoding.AppendEncode(nil, body)
	h := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(h[:])
}

// SwiftAudience is the aud of a request: host (without ":443", Swift APIs
// being HTTPS only), path, and "?query" when there is one.
func SwiftAudience(host, path, rawQuery string) string {
	host = strings.TrimSuffix(host, ":443")
	if rawQuery != "" {
		return host + path + "?" + rawQuery
	}
	return host + path
}

// IntegrityDigest is the digest claim of X-SWIFT-Integrity: lower-case hex
// SHA-256 of the RFC 8785 canonical form of the JSON body. An empty (or
// all-whitespace) body has no JSON to canonicalize; its digest is the
// SHA-256 of zero bytes.
func IntegrityDigest(body []byte) (string, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		h := sha256.Sum256(nil)
		return hex.EncodeToString(h[:]), nil
	}
	c, err := jcs.Transform(body)
	if err != nil {
		return "", &jose.Error{Code: jose.Malformed, Detail: "the response body is not canonicalizable JSON (RFC 8785)", Err: err}
	}
	h := sha256.Sum256(c)
	return hex.EncodeToString(h[:]), nil
}

// claims builds a JSON object with members in the given order.
type claims struct{ b []byte }

func (c *claims) add(name string, value []byte) {
	if len(c.b) == 0 {
		c.b = append(c.b, '{')
	} else {
		c.b = append(c.b, ',')
	}
	c.b = append(c.b, jsonString(name)...)
	c.b = append(c.b, ':')
	c.b = append(c.b, value...)
}

func (c *claims) bytes() []byte { return append(c.b, '}') }

// swiftToken signs a Swift JWT with the signer's chain.
func swiftToken(s *Signer, build func(c *claims, leaf *x509.Certificate, iat time.Time) error) (string, error) {
	if s.Key == nil || s.Key.Alg != jose.RS256 {
		return "", errorf(jose.KeyRejected, "Swift signs with RS256; the key is for %s", keyAlg(s))
	}
	if len(s.Chain) == 0 {
		return "", errorf(jose.PolicyInvalid, "Swift signing needs the certificate chain (x5c)")
	}
	leaf, err := x509.ParseCertificate(s.Chain[0])
	if err != nil {
		return "", &jose.Error{Code: jose.X5CInvalid, Detail: "the signer's leaf certificate does not parse", Err: err}
	}
	var c claims
	if err := build(&c, leaf, s.now()); err != nil {
		return "", err
	}
	k := *s.Key
	k.Kid = "" // Swift names the key by x5c only
	j, err := jose.Sign(c.bytes(), jose.SignOptions{Typ: "JWT", X5C: s.Chain}, &k)
	if err != nil {
		return "", err
	}
	v, err := j.CompactBytes()
	return string(v), err
}

func (p Swift) Sign(m *Message, s *Signer) (*Signature, error) {
	jti, err := s.jti()
	if err != nil {
		return nil, err
	}
	tok, err := swiftToken(s, func(c *claims, leaf *x509.Certificate, iat time.Time) error {
		c.add("sub", jsonString(subjectString(leaf)))
		c.add("aud", jsonString(SwiftAudience(m.Host, m.Path, m.RawQuery)))
		c.add("iat", jsonInt(iat))
		c.add("nbf", jsonInt(iat))
		c.add("exp", jsonInt(iat.Add(p.lifetime())))
		c.add("jti", jsonString(jti))
		c.add("digest", jsonString(SwiftDigest(m.Body)))
		return nil
	})
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set(swiftHeader, tok)
	return &Signature{Header: h}, nil
}

func swiftPolicy(t *Trust, requireNbf bool) (*jose.Verifier, error) {
	if t.Roots == nil {
		return nil, errorf(jose.PolicyInvalid, "swift: Trust.Roots is required (the partner's trust anchors)")
	}
	return jose.NewVerifier(jose.Policy{
		Algs:   []jose.Alg{jose.RS256},
		Roots:  t.Roots,
		Typ:    "JWT",
		Limits: t.Limits,
		Clock:  t.clock(),
		JWT: &jose.ClaimsPolicy{
			AnyAudience: true, // checked against the request below
			AnyIssuer:   true,
			Skew:        t.skew(),
			MaxLifetime: min(t.lifetime(swiftMaxLifetime), swiftMaxLifetime),
			RequireIat:  true,
			RequireNbf:  requireNbf,
			RequireJTI:  true,
		},
	})
}

func (p Swift) NewVerifier(t Trust) (Verifier, error) {
	v, err := swiftPolicy(&t, !t.Lenient)
	if err != nil {
		return nil, err
	}
	return &swiftVerifier{t: t, v: v}, nil
}

type swiftVerifier struct {
	t Trust
	v *jose.Verifier
}

// parseSwiftToken parses a compact JWT carried in a header and checks the
// shape Swift requires before any crypto.
func parseSwiftToken(h http.Header, name string, lim jose.Limits) (string, *jose.JWS, error) {
	value, err := oneHeader(h, name)
	if err != nil {
		return "", nil, err
	}
	j, err := jose.ParseCompact([]byte(value), lim)
	if err != nil {
		return "", nil, err
	}
	if j.Detached() {
		return "", nil, errorf(jose.PayloadMismatch, "the %s JWT must carry its claims", name)
	}
	if _, ok := j.Header(0).Param("b64"); ok {
		return "", nil, errorf(jose.HeaderInvalid, "a Swift JWT does not use b64")
	}
	if len(j.Header(0).X5C) == 0 {
		return "", nil, errorf(jose.HeaderInvalid, "the %s header has no x5c certificate chain", name)
	}
	return value, j, nil
}

func (v *swiftVerifier) Parse(m *Message) (*Parsed, error) {
	value, j, err := parseSwiftToken(m.Header, swiftHeader, v.t.Limits)
	if err != nil {
		return nil, err
	}
	return &Parsed{Message: m, JWS: j, SignatureHeader: swiftHeader, SignatureValue: value}, nil
}

// swiftVerified checks the parts every Swift token shares: sub is the
// leaf's DN, exp after iat, and jti in the base64url alphabet.
func swiftVerified(ver *jose.Verified, value, header string) (*Result, error) {
	s := &ver.Signatures[0]
	c := ver.Claims
	if len(s.Chain) == 0 {
		return nil, errorf(jose.X5CInvalid, "no validated chain")
	}
	leaf := s.Chain[0]
	if c.Subject == "" {
		return nil, errorf(jose.ClaimMissing, "sub is missing")
	}
	if !dnMatches(c.Subject, leaf) {
		return nil, errorf(jose.SubjectMismatch, "sub %q is not the certificate's subject %q", c.Subject, subjectString(leaf))
	}
	if !c.Expiry.After(c.IssuedAt) {
		return nil, errorf(jose.ClaimsInvalid, "exp must be after iat")
	}
	if !base64urlChars(c.ID) {
		return nil, errorf(jose.ClaimsInvalid, "jti must use the base64url alphabet")
	}
	return &Result{
		Profile:         "swift",
		Key:             s.Key,
		Thumbprint:      s.Thumbprint,
		Chain:           s.Chain,
		Subject:         subjectString(leaf),
		Header:          &s.Header,
		Claims:          c,
		Payload:         ver.Payload,
		SignatureHeader: header,
		SignatureValue:  value,
		ReplayID:        "jti:" + c.ID,
		IssuedAt:        c.IssuedAt,
	}, nil
}

func base64urlChars(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func (v *swiftVerifier) Verify(ctx context.Context, p *Parsed) (*Result, error) {
	ver, err := v.v.VerifyParsed(ctx, p.JWS, nil, false)
	if err != nil {
		return nil, err
	}
	res, err := swiftVerified(ver, p.SignatureValue, swiftHeader)
	if err != nil {
		return nil, err
	}
	c := ver.Claims
	m := p.Message
	if len(c.Audience) == 0 {
		return nil, errorf(jose.ClaimMissing, "aud is missing")
	}
	if len(c.Audience) != 1 {
		return nil, errorf(jose.AudienceMismatch, "aud must be one value")
	}
	aud := c.Audience[0]
	if strings.Contains(aud, "://") {
		return nil, errorf(jose.AudienceMismatch, "aud %q must not carry a scheme", aud)
	}
	if aud != SwiftAudience(m.Host, m.Path, m.RawQuery) && aud != SwiftAudience(m.Host, m.Path, "") {
		return nil, errorf(RequestMismatch, "aud %q is not this request's %q", aud, SwiftAudience(m.Host, m.Path, m.RawQuery))
	}
	digest, ok := c.GetString("digest")
	if !ok {
		return nil, errorf(jose.ClaimMissing, "digest is missing")
	}
	if digest != SwiftDigest(m.Body) {
		return nil, errorf(DigestMismatch, "digest does not match the body")
	}
	res.ReplayUntil = c.Expiry.Add(v.t.skew())
	return res, nil
}

// SignResponse returns the X-SWIFT-Integrity header for a response body,
// addressed to the client whose certificate DN is audience.
func (p Swift) SignResponse(body []byte, audience string, s *Signer) (http.Header, error) {
	digest, err := IntegrityDigest(body)
	if err != nil {
		return nil, err
	}
	jti, err := s.jti()
	if err != nil {
		return nil, err
	}
	tok, err := swiftToken(s, func(c *claims, leaf *x509.Certificate, iat time.Time) error {
		c.add("sub", jsonString(subjectString(leaf)))
		c.add("aud", jsonString(audience))
		c.add("iat", jsonInt(iat))
		c.add("nbf", jsonInt(iat))
		c.add("exp", jsonInt(iat.Add(p.lifetime())))
		c.add("jti", jsonString(jti))
		c.add("digestalg", jsonString("SHA256"))
		c.add("digest", jsonString(digest))
		return nil
	})
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set(swiftIntegrityHeader, tok)
	return h, nil
}

// VerifyResponse checks a response's X-SWIFT-Integrity header over its
// exact body: the digest first (no crypto), then the chain to t.Roots, then
// the signature and time claims. When t.Audience is set, aud must name the
// same DN.
func (p Swift) VerifyResponse(ctx context.Context, h http.Header, body []byte, t Trust) (*Result, error) {
	value, j, err := parseSwiftToken(h, swiftIntegrityHeader, t.Limits)
	if err != nil {
		return nil, err
	}
	unverified, err := j.UnsafePayloadWithoutVerification()
	if err != nil {
		return nil, err
	}
	uc, err := jose.ParseClaims(unverified)
	if err != nil {
		return nil, err
	}
	if alg, _ := uc.GetString("digestalg"); alg != "SHA256" {
		return nil, errorf(jose.ClaimsInvalid, "digestalg must be SHA256")
	}
	want, err := IntegrityDigest(body)
	if err != nil {
		return nil, err
	}
	if d, _ := uc.GetString("digest"); d != want {
		return nil, errorf(DigestMismatch, "digest does not match the canonical response body")
	}
	v, err := swiftPolicy(&t, !t.Lenient)
	if err != nil {
		return nil, err
	}
	ver, err := v.VerifyParsed(ctx, j, nil, false)
	if err != nil {
		return nil, err
	}
	res, err := swiftVerified(ver, value, swiftIntegrityHeader)
	if err != nil {
		return nil, err
	}
	if t.Audience != "" {
		if len(ver.Claims.Audience) != 1 {
			return nil, errorf(jose.AudienceMismatch, "aud must be one DN")
		}
		want, err := parseDN(t.Audience)
		if err != nil {
			return nil, errorf(jose.PolicyInvalid, "Trust.Audience is not an RFC 4514 DN: %v", err)
		}
		got, err := parseDN(ver.Claims.Audience[0])
		if err != nil || !sameDN(got, want) {
			return nil, errorf(jose.AudienceMismatch, "aud %q is not %q", ver.Claims.Audience[0], t.Audience)
		}
	}
	res.ReplayUntil = ver.Claims.Expiry.Add(t.skew())
	return res, nil
}
