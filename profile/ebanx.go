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

func (p EBANX) minBits() int { return max(p.MinRSABits, 4096) }

func (p EBANX) Sign(m *Message, s *Signer) (*Signature, error) {
	if s.Key == nil || s.Key.Alg != jose.RS256 {
		return nil, errorf(jose.KeyRejected, "EBANX signs with RS256; the key is for %s", keyAlg(s))
	}
	if err := requireKid(s, "EBANX"); err != nil {
		return nil, err
	}
	if bits := p.minBits(); rsaBits(s.Key) < bits {
		return nil, errorf(jose.KeyRejected, "EBANX requires an RSA key of at least %d bits", bits)
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
	bits := p.minBits()
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
	if len(p.Message.Body) == 0 {
		// RS256 is deterministic and EBANX signs only the body: every
		// empty-body request of a merchant key carries the same signature.
		// Claiming it would refuse every GET after the first; the scheme
		// gives nothing to tell a replay from a new request, so none is
		// claimed (ReplayID empty). See SCHEMES.md.
		res.ReplayID = ""
		return res, nil
	}
	res.ReplayUntil = v.t.clock()().Add(v.t.replayWindow())
	return res, nil
}
