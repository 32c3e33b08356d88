package profile

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nonrep/nonrep/jose"
)

// InComm is InComm's "JWS Signed Request Authentication": PS512 over the
// body as a detached compact JWS in the Signature header, next to
// "Authorization: INCOMM-OLS-EAPI-SIGNATURE-JWS"; the method, raw path and
// normalized query are protected header parameters listed in crit.
type InComm struct {
	// Query normalizes a raw query into http-query (default NormalizeQuery).
	Query func(rawQuery string) (string, error)
	// MinRSABits is the smallest RSA key accepted (default and floor 3072).
	MinRSABits int
	// Lifetime is exp − iat when signing (default 5 min).
	Lifetime time.Duration
}

const (
	incommAuthorization = "INCOMM-OLS-EAPI-SIGNATURE-JWS"
	incommHeader        = "Signature"
)

var incommCrit = []string{"http-method", "http-path", "http-query"}

func (InComm) Name() string { return "incomm" }

func (p InComm) query(raw string) (string, error) {
	if p.Query != nil {
		return p.Query(raw)
	}
	return NormalizeQuery(raw)
}

func (p InComm) Sign(m *Message, s *Signer) (*Signature, error) {
	if s.Key == nil || s.Key.Alg != jose.PS512 {
		return nil, errorf(jose.KeyRejected, "InComm signs with PS512; the key is for %s", keyAlg(s))
	}
	if err := requireKid(s, "InComm"); err != nil {
		return nil, err
	}
	if bits := p.minBits(); rsaBits(s.Key) < bits {
		return nil, errorf(jose.KeyRejected, "InComm requires an RSA key of at least %d bits", bits)
	}
	if m.Method != strings.ToUpper(m.Method) {
		return nil, errorf(jose.Malformed, "method %q must be upper case", m.Method)
	}
	q, err := p.query(m.RawQuery)
	if err != nil {
		return nil, err
	}
	life := p.Lifetime
	if life <= 0 {
		life = 5 * time.Minute
	}
	iat := s.now()
	j, err := jose.Sign(m.Body, jose.SignOptions{
		Detached: true,
		Crit:     incommCrit,
		Header: []jose.HeaderParam{
			{Name: "http-method", Value: jsonString(m.Method)},
			{Name: "http-path", Value: jsonString(m.Path)},
			{Name: "http-query", Value: jsonString(q)},
			{Name: "iat", Value: jsonInt(iat)},
			{Name: "exp", Value: jsonInt(iat.Add(life))},
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
	h.Set("Authorization", incommAuthorization)
	h.Set(incommHeader, string(v))
	return &Signature{Header: h}, nil
}

func (p InComm) minBits() int { return max(p.MinRSABits, 3072) }

func keyAlg(s *Signer) string {
	if s == nil || s.Key == nil {
		return "(no key)"
	}
	return string(s.Key.Alg)
}

func (p InComm) NewVerifier(t Trust) (Verifier, error) {
	bits := p.minBits()
	// iat and exp may be listed in crit or not (SCHEMES.md: crit is the
	// three http-* names, "plus iat/exp allowed"). The JOSE core refuses a
	// name it is told to understand when that name is present but not
	// critical, so there is one core verifier per way of listing them.
	v := &incommVerifier{p: p, t: t}
	for i := range v.d {
		crit := append([]string(nil), incommCrit...)
		if i&1 != 0 {
			crit = append(crit, "iat")
		}
		if i&2 != 0 {
			crit = append(crit, "exp")
		}
		d, err := newDetached("incomm", incommHeader, &t, jose.Policy{
			Algs:      []jose.Alg{jose.PS512},
			Crit:      crit,
			KeyPolicy: jose.KeyPolicy{MinRSABits: bits},
		})
		if err != nil {
			return nil, err
		}
		v.d[i] = d
	}
	return v, nil
}

type incommVerifier struct {
	p InComm
	t Trust
	// d is indexed by which of iat (1) and exp (2) the header's crit lists.
	d [4]*detached
}

func (v *incommVerifier) detachedFor(h *jose.Header) *detached {
	i := 0
	if slices.Contains(h.Crit, "iat") {
		i |= 1
	}
	if slices.Contains(h.Crit, "exp") {
		i |= 2
	}
	return v.d[i]
}

func (v *incommVerifier) Parse(m *Message) (*Parsed, error) {
	auth, err := oneHeader(m.Header, "Authorization")
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(auth, incommAuthorization) {
		return nil, errorf(HeaderMissing, "Authorization must be %s", incommAuthorization)
	}
	return refuseB64(v.d[0].parse(m))
}

func (v *incommVerifier) Verify(ctx context.Context, p *Parsed) (*Result, error) {
	// The request binding is checked on the still-unverified header first:
	// a mismatch is refused without crypto, and a match is re-read from the
	// verified header below (the same bytes).
	if err := v.binding(p.Header(), p.Message); err != nil {
		return nil, err
	}
	res, _, err := v.detachedFor(p.Header()).verify(ctx, p)
	if err != nil {
		return nil, err
	}
	h := res.Header
	iat, hasIat, err := headerTime(h, "iat")
	if err != nil {
		return nil, err
	}
	exp, hasExp, err := headerTime(h, "exp")
	if err != nil {
		return nil, err
	}
	now := v.t.clock()()
	if !hasIat && !hasExp {
		if !v.t.Lenient {
			return nil, errorf(jose.ClaimMissing, "the protected header has neither iat nor exp")
		}
		res.ReplayUntil = now.Add(v.t.replayWindow())
	} else {
		until, err := window(iat, exp, hasIat, hasExp, now, v.t.skew(), v.t.lifetime(5*time.Minute))
		if err != nil {
			return nil, err
		}
		res.ReplayUntil = until
	}
	if hasIat {
		res.IssuedAt = iat
	}
	return res, nil
}

func (v *incommVerifier) binding(h *jose.Header, m *Message) error {
	if err := requireCrit(h, incommCrit...); err != nil {
		return err
	}
	q, err := v.p.query(m.RawQuery)
	if err != nil {
		return err
	}
	for _, c := range [...]struct{ name, want string }{
		{"http-method", m.Method},
		{"http-path", m.Path},
		{"http-query", q},
	} {
		got, ok := h.ParamString(c.name)
		if !ok {
			return errorf(jose.HeaderInvalid, "%s must be a string", c.name)
		}
		if got != c.want {
			return errorf(RequestMismatch, "signed %s is %q, the request's is %q", c.name, got, c.want)
		}
	}
	return nil
}
