package profile

import (
	"bytes"
	"context"
	"mime"
	"net/http"
	"time"

	"github.com/nonrep/nonrep/jose"
)

// Generic is the guide's own scheme: the payload is the instruction JSON
// carrying JWT claims iat, exp (default iat + 5 min) and jti (the replay
// key), optionally aud and iss; ES256 by default, kid required, typ JWT.
// By default the request body is the JWS in flattened JSON serialization
// (Content-Type: application/jose+json) and a gateway forwards the
// verified payload bytes. With Header set, the body is the instruction
// JSON itself and the header carries a detached compact JWS over it.
type Generic struct {
	// Header, when set, carries a detached compact JWS over the body.
	Header string
	// Lifetime is exp − iat when signing (default 5 min).
	Lifetime time.Duration
}

// GenericContentType is the media type of a Generic flattened JWS body.
const GenericContentType = "application/jose+json"

func (Generic) Name() string { return "generic" }

// genericPayload splices iat, exp and jti into the instruction object
// unless it already carries them. The caller's members are kept byte for
// byte; the result is what gets signed.
func genericPayload(body []byte, iat time.Time, life time.Duration, jti string) ([]byte, error) {
	c, err := jose.ParseClaims(body)
	if err != nil {
		return nil, err
	}
	var add claims
	if _, ok := c.Get("iat"); !ok {
		add.add("iat", jsonInt(iat))
	}
	if _, ok := c.Get("exp"); !ok {
		add.add("exp", jsonInt(iat.Add(life)))
	}
	if _, ok := c.Get("jti"); !ok {
		add.add("jti", jsonString(jti))
	}
	if len(add.b) == 0 {
		return body, nil
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	rest := bytes.TrimLeft(trimmed[1:], " \t\r\n")
	out := append([]byte(nil), add.b...) // "{" + members
	if len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, rest...), nil
}

func (p Generic) Sign(m *Message, s *Signer) (*Signature, error) {
	if s.Key == nil {
		return nil, errorf(jose.KeyRejected, "no signing key")
	}
	if s.Key.Kid == "" {
		return nil, errorf(jose.KeyRejected, "the generic profile needs a key with a kid")
	}
	jti, err := s.jti()
	if err != nil {
		return nil, err
	}
	life := p.Lifetime
	if life <= 0 {
		life = 5 * time.Minute
	}
	body := m.Body
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	payload, err := genericPayload(body, s.now(), life, jti)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	if p.Header != "" {
		j, err := jose.Sign(payload, jose.SignOptions{Typ: "JWT", Detached: true}, s.Key)
		if err != nil {
			return nil, err
		}
		v, err := j.CompactBytes()
		if err != nil {
			return nil, err
		}
		h.Set(p.Header, string(v))
		h.Set("Content-Type", "application/json")
		return &Signature{Header: h, Body: payload}, nil
	}
	j, err := jose.Sign(payload, jose.SignOptions{Typ: "JWT", Form: jose.Flattened}, s.Key)
	if err != nil {
		return nil, err
	}
	out, err := j.FlattenedBytes()
	if err != nil {
		return nil, err
	}
	h.Set("Content-Type", GenericContentType)
	return &Signature{Header: h, Body: out}, nil
}

func (p Generic) NewVerifier(t Trust) (Verifier, error) {
	if t.Keys == nil {
		return nil, errorf(jose.PolicyInvalid, "generic: Trust.Keys is required")
	}
	algs := t.Algs
	if len(algs) == 0 {
		algs = []jose.Alg{jose.ES256}
	}
	cp := &jose.ClaimsPolicy{
		AnyAudience: t.Audience == "",
		AnyIssuer:   true,
		Skew:        t.skew(),
		MaxLifetime: t.lifetime(5 * time.Minute),
		RequireIat:  true,
		RequireJTI:  true,
	}
	if t.Audience != "" {
		cp.Audience = []string{t.Audience}
	}
	v, err := jose.NewVerifier(jose.Policy{
		Algs:       algs,
		Keys:       t.Keys,
		RequireKid: true,
		Typ:        "JWT",
		Limits:     t.Limits,
		Clock:      t.clock(),
		JWT:        cp,
	})
	if err != nil {
		return nil, err
	}
	return &genericVerifier{p: p, t: t, v: v}, nil
}

type genericVerifier struct {
	p Generic
	t Trust
	v *jose.Verifier
}

func (v *genericVerifier) Parse(m *Message) (*Parsed, error) { return refuseB64(v.parse(m)) }

func (v *genericVerifier) parse(m *Message) (*Parsed, error) {
	if v.p.Header != "" {
		value, err := oneHeader(m.Header, v.p.Header)
		if err != nil {
			return nil, err
		}
		j, err := jose.ParseCompact([]byte(value), v.t.Limits)
		if err != nil {
			return nil, err
		}
		if !j.Detached() {
			return nil, errorf(jose.PayloadMismatch, "the %s header must carry a detached JWS over the body", v.p.Header)
		}
		return &Parsed{Message: m, JWS: j, SignatureHeader: v.p.Header, SignatureValue: value, payload: m.Body, detached: true}, nil
	}
	ct, err := oneHeader(m.Header, "Content-Type")
	if err != nil {
		return nil, err
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != GenericContentType {
		return nil, errorf(HeaderMissing, "Content-Type must be %s", GenericContentType)
	}
	j, err := jose.Parse(m.Body, v.t.Limits)
	if err != nil {
		return nil, err
	}
	if j.Form() != jose.Flattened {
		return nil, errorf(jose.Malformed, "the body must be a flattened JSON JWS, not %s", j.Form())
	}
	if j.Detached() {
		return nil, errorf(jose.PayloadMismatch, "the body JWS must carry its payload")
	}
	return &Parsed{Message: m, JWS: j, SignatureValue: string(m.Body)}, nil
}

func (v *genericVerifier) Verify(ctx context.Context, p *Parsed) (*Result, error) {
	ver, err := v.v.VerifyParsed(ctx, p.JWS, p.payload, p.detached)
	if err != nil {
		return nil, err
	}
	s := &ver.Signatures[0]
	c := ver.Claims
	subject := c.Issuer
	if subject == "" {
		subject = s.Header.Kid
	}
	return &Result{
		Profile:         "generic",
		Kid:             s.Header.Kid,
		Key:             s.Key,
		Thumbprint:      s.Thumbprint,
		Subject:         subject,
		Header:          &s.Header,
		Claims:          c,
		Payload:         ver.Payload,
		SignatureHeader: p.SignatureHeader,
		SignatureValue:  p.SignatureValue,
		ReplayID:        "jti:" + c.ID,
		ReplayUntil:     c.Expiry.Add(v.t.skew()),
		IssuedAt:        c.IssuedAt,
	}, nil
}
