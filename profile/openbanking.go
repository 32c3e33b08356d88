package profile

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nonrep/nonrep/jose"
)

// OpenBanking is UK Open Banking's x-jws-signature (Read/Write API 3.1.x):
// a detached compact JWS over the raw body, PS256, kid required, typ
// "JOSE" and cty optional, and the private parameters
// http://openbanking.org.uk/iat (a number, in the past), .../iss and
// .../tan, all listed in crit. Version 3.1.3 and earlier also use b64:false
// (listed in crit); 3.1.4 and later never carry b64.
type OpenBanking struct {
	// Version is the partner's API version ("" means 3.1.4 or later).
	Version string
	// Issuer is the iss the signer sends (org id / software id or the
	// certificate subject). Required to sign.
	Issuer string
	// TrustAnchor is the tan: sent when signing (default
	// "openbanking.org.uk"), and when set, required when verifying.
	TrustAnchor string
}

const (
	obHeader = "x-jws-signature"
	obIat    = "http://openbanking.org.uk/iat"
	obIss    = "http://openbanking.org.uk/iss"
	obTan    = "http://openbanking.org.uk/tan"
)

var obCrit = []string{obIat, obIss, obTan}

func (OpenBanking) Name() string { return "openbanking" }

// unencoded reports whether the version uses b64:false (≤ 3.1.3).
func (p OpenBanking) unencoded() (bool, error) {
	if p.Version == "" {
		return false, nil
	}
	parts := strings.Split(strings.TrimPrefix(p.Version, "v"), ".")
	var n [3]int
	if len(parts) < 2 || len(parts) > 3 {
		return false, errorf(jose.PolicyInvalid, "Open Banking version %q is not like 3.1.4", p.Version)
	}
	for i, s := range parts {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return false, errorf(jose.PolicyInvalid, "Open Banking version %q is not like 3.1.4", p.Version)
		}
		n[i] = v
	}
	less := n[0] < 3 || n[0] == 3 && (n[1] < 1 || n[1] == 1 && n[2] <= 3)
	return less, nil
}

func (p OpenBanking) Sign(m *Message, s *Signer) (*Signature, error) {
	if s.Key == nil || s.Key.Alg != jose.PS256 {
		return nil, errorf(jose.KeyRejected, "Open Banking signs with PS256; the key is for %s", keyAlg(s))
	}
	if err := requireKid(s, "Open Banking"); err != nil {
		return nil, err
	}
	if p.Issuer == "" {
		return nil, errorf(jose.PolicyInvalid, "Open Banking signing needs an Issuer (iss)")
	}
	unenc, err := p.unencoded()
	if err != nil {
		return nil, err
	}
	tan := p.TrustAnchor
	if tan == "" {
		tan = "openbanking.org.uk"
	}
	j, err := jose.Sign(m.Body, jose.SignOptions{
		Typ:       "JOSE",
		Detached:  true,
		Unencoded: unenc,
		Crit:      obCrit,
		Header: []jose.HeaderParam{
			{Name: obIat, Value: jsonInt(s.now())},
			{Name: obIss, Value: jsonString(p.Issuer)},
			{Name: obTan, Value: jsonString(tan)},
		},
	}, s.Key)
	if err != nil {
		return nil, err
	}
	v, err := j.CompactBytes()
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set(obHeader, string(v))
	return &Signature{Header: h}, nil
}

func (p OpenBanking) NewVerifier(t Trust) (Verifier, error) {
	unenc, err := p.unencoded()
	if err != nil {
		return nil, err
	}
	d, err := newDetached("openbanking", obHeader, &t, jose.Policy{
		Algs: []jose.Alg{jose.PS256},
		Crit: obCrit,
	})
	if err != nil {
		return nil, err
	}
	return &obVerifier{p: p, t: t, d: d, unencoded: unenc}, nil
}

type obVerifier struct {
	p         OpenBanking
	t         Trust
	d         *detached
	unencoded bool
}

func (v *obVerifier) Parse(m *Message) (*Parsed, error) {
	p, err := v.d.parse(m)
	if err != nil {
		return nil, err
	}
	h := p.Header()
	_, hasB64 := h.Param("b64")
	switch {
	case v.unencoded && (!hasB64 || h.B64):
		return nil, errorf(jose.HeaderInvalid, "Open Banking %s requires b64:false", v.p.Version)
	case !v.unencoded && hasB64:
		return nil, errorf(jose.HeaderInvalid, "Open Banking 3.1.4 and later must not carry b64")
	}
	if h.Typ != "" && h.Typ != "JOSE" {
		return nil, errorf(jose.TypMismatch, "typ must be JOSE")
	}
	if err := requireCrit(h, obCrit...); err != nil {
		return nil, err
	}
	return p, nil
}

func (v *obVerifier) Verify(ctx context.Context, p *Parsed) (*Result, error) {
	res, _, err := v.d.verify(ctx, p)
	if err != nil {
		return nil, err
	}
	h := res.Header
	iat, _, err := headerTime(h, obIat)
	if err != nil {
		return nil, err
	}
	iss, ok := h.ParamString(obIss)
	if !ok || iss == "" {
		return nil, errorf(jose.HeaderInvalid, "%s must be a non-empty string", obIss)
	}
	tan, ok := h.ParamString(obTan)
	if !ok || tan == "" {
		return nil, errorf(jose.HeaderInvalid, "%s must be a non-empty string", obTan)
	}
	if v.p.TrustAnchor != "" && tan != v.p.TrustAnchor {
		return nil, errorf(jose.IssuerMismatch, "tan is %q, want %q", tan, v.p.TrustAnchor)
	}
	until, err := window(iat, time.Time{}, true, false, v.t.clock()(), v.t.skew(), v.t.lifetime(5*time.Minute))
	if err != nil {
		return nil, err
	}
	res.ReplayUntil = until
	res.IssuedAt = iat
	res.Subject = iss
	return res, nil
}
