package profile

import (
	"context"
	"net/http"

	"github.com/nonrep/nonrep/jose"
)

// EBANX is EBANX's "JWS Authentication": RS256 with an RSA key of at least
// 4096 bits, a detached compact JWS in X-JWS-Signature whose signing input
// is the protected header and the raw body (RFC 7797 b64:false, listed in
// crit). The verifier also accepts b64 absent (ordinary detached); b64
// present but not in crit, and any other crit entry, are refused. EBANX
// carries no time: replays are refused for Trust.ReplayWindow.
type EBANX struct {
	// MinRSABits is the smallest RSA key accepted (default and floor 4096).
	MinRSABits int
}

const ebanxHeader = "X-JWS-Signature"

func (EBANX) Name() string { return "ebanx" }

func (EBANX) Sign(m *Message, s *Signer) (*Signature, error) {
	if s.Key == nil || s.Key.Alg != jose.RS256 {
		return nil, errorf(jose.KeyRejected, "EBANX signs with RS256; the key is for %s", keyAlg(s))
	}
	j, err := jose.Sign(m.Body, jose.SignOptions{Detached: true, Unencoded: true}, s.Key)
	if err != nil {
		return nil, err
	}
	v, err := j.CompactBytes()
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set(ebanxHeader, string(v))
	return &Signature{Header: h}, nil
}

func (p EBANX) NewVerifier(t Trust) (Verifier, error) {
	bits := p.MinRSABits
	if bits < 4096 {
		bits = 4096
	}
	d, err := newDetached("ebanx", ebanxHeader, &t, jose.Policy{
		Algs:      []jose.Alg{jose.RS256},
		KeyPolicy: jose.KeyPolicy{MinRSABits: bits},
	})
	if err != nil {
		return nil, err
	}
	return &ebanxVerifier{t: t, d: d}, nil
}

type ebanxVerifier struct {
	t Trust
	d *detached
}

func (v *ebanxVerifier) Parse(m *Message) (*Parsed, error) { return v.d.parse(m) }

func (v *ebanxVerifier) Verify(ctx context.Context, p *Parsed) (*Result, error) {
	res, _, err := v.d.verify(ctx, p)
	if err != nil {
		return nil, err
	}
	res.ReplayUntil = v.t.clock()().Add(v.t.replayWindow())
	return res, nil
}
