package profile

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/nonrep/nonrep/jose"
)

var sprintf = fmt.Sprintf

// jsonString returns s as JSON text for a header parameter or claim,
// without json.Marshal's HTML escaping ("&" stays "&", not "\u0026"): the
// signed bytes are read by partners and arbiters.
func jsonString(s string) []byte {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	_ = e.Encode(s) // a string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func jsonInt(t time.Time) []byte { return []byte(fmt.Sprint(t.Unix())) }

// detached verifies a detached compact JWS carried in one HTTP header over
// the exact body bytes. InComm, EBANX and Open Banking share it.
type detached struct {
	profile string
	header  string
	limits  jose.Limits
	v       *jose.Verifier
}

func newDetached(profile, header string, t *Trust, p jose.Policy) (*detached, error) {
	if t.Keys == nil {
		return nil, errorf(jose.PolicyInvalid, "%s: Trust.Keys is required", profile)
	}
	p.Keys = t.Keys
	p.Limits = t.Limits
	p.Clock = t.clock()
	p.RequireKid = true
	v, err := jose.NewVerifier(p)
	if err != nil {
		return nil, err
	}
	return &detached{profile: profile, header: header, limits: t.Limits, v: v}, nil
}

func (d *detached) parse(m *Message) (*Parsed, error) {
	value, err := oneHeader(m.Header, d.header)
	if err != nil {
		return nil, err
	}
	j, err := jose.ParseCompact([]byte(value), d.limits)
	if err != nil {
		return nil, err
	}
	if !j.Detached() {
		return nil, errorf(jose.PayloadMismatch, "the %s header must carry a detached JWS (header..signature); the body is the payload", d.header)
	}
	if j.Header(0).Kid == "" {
		return nil, errorf(jose.HeaderInvalid, "the protected header has no kid")
	}
	return &Parsed{Message: m, JWS: j, SignatureHeader: d.header, SignatureValue: value, payload: m.Body, detached: true}, nil
}

func (d *detached) verify(ctx context.Context, p *Parsed) (*Result, *jose.Verified, error) {
	ver, err := d.v.VerifyParsed(ctx, p.JWS, p.payload, true)
	if err != nil {
		return nil, nil, err
	}
	s := &ver.Signatures[0]
	return &Result{
		Profile:         d.profile,
		Kid:             s.Header.Kid,
		Key:             s.Key,
		Thumbprint:      s.Thumbprint,
		Chain:           s.Chain,
		Subject:         s.Header.Kid,
		Header:          &s.Header,
		Payload:         ver.Payload,
		SignatureHeader: p.SignatureHeader,
		SignatureValue:  p.SignatureValue,
		ReplayID:        signatureReplayID(p.SignatureValue),
	}, ver, nil
}

// refuseB64 rejects a header carrying "b64": the scheme signs an ordinary
// base64url payload and never uses RFC 7797.
func refuseB64(p *Parsed, err error) (*Parsed, error) {
	if err != nil {
		return nil, err
	}
	if _, ok := p.Header().Param("b64"); ok {
		return nil, errorf(jose.HeaderInvalid, "this scheme does not use b64")
	}
	return p, nil
}

// rsaBits returns the modulus size of an RSA signing key, or 0.
func rsaBits(k *jose.SigningKey) int {
	if k == nil || k.Signer == nil {
		return 0
	}
	if pub, ok := k.Signer.Public().(*rsa.PublicKey); ok {
		return pub.N.BitLen()
	}
	return 0
}

// requireKid refuses to sign with a key that has no kid for schemes whose
// verifiers require one.
func requireKid(s *Signer, scheme string) error {
	if s.Key != nil && s.Key.Kid == "" {
		return errorf(jose.KeyRejected, "%s needs a key with a kid", scheme)
	}
	return nil
}

// requireCrit checks that crit lists every name in need.
func requireCrit(h *jose.Header, need ...string) error {
	for _, n := range need {
		if !slices.Contains(h.Crit, n) {
			return errorf(jose.CritUnsupported, "crit must list %q", n)
		}
	}
	return nil
}

// headerTime reads an optional NumericDate header parameter.
func headerTime(h *jose.Header, name string) (time.Time, bool, error) {
	raw, ok := h.Param(name)
	if !ok {
		return time.Time{}, false, nil
	}
	t, err := jose.ParseNumericDate(name, raw)
	return t, err == nil, err
}

// window applies the time policy shared by schemes whose iat/exp may be
// absent, and returns until when the replay id must be kept. now is the
// verification time.
func window(iat, exp time.Time, hasIat, hasExp bool, now time.Time, skew, maxLife time.Duration) (time.Time, error) {
	if hasIat && iat.After(now.Add(skew)) {
		return time.Time{}, errorf(jose.IssuedInFuture, "iat is %s in the future", iat.Sub(now).Round(time.Second))
	}
	if hasExp && !now.Before(exp.Add(skew)) {
		return time.Time{}, errorf(jose.Expired, "expired %s ago", now.Sub(exp).Round(time.Second))
	}
	switch {
	case hasIat && hasExp:
		if !exp.After(iat) {
			return time.Time{}, errorf(jose.ClaimsInvalid, "exp is not after iat")
		}
		if exp.Sub(iat) > maxLife {
			return time.Time{}, errorf(jose.LifetimeExceeded, "exp − iat is %s, more than %s", exp.Sub(iat), maxLife)
		}
		return exp.Add(skew), nil
	case hasExp:
		if exp.Sub(now) > maxLife+skew {
			return time.Time{}, errorf(jose.LifetimeExceeded, "exp is %s away, more than %s", exp.Sub(now).Round(time.Second), maxLife)
		}
		return exp.Add(skew), nil
	case hasIat:
		if now.Sub(iat) > maxLife+skew {
			return time.Time{}, errorf(jose.Expired, "iat is %s old, more than %s", now.Sub(iat).Round(time.Second), maxLife)
		}
		return iat.Add(maxLife + skew), nil
	}
	return time.Time{}, errorf(jose.ClaimMissing, "neither iat nor exp is present")
}
