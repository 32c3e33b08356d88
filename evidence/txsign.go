package evidence

import (
	"context"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/profile"
)

// TxsignProfile is the Profile of records of transaction-signing steps
// (enrolment, delivered request, device decision, token issue and use).
// Their Signature is the step's signed object, a compact JWS with its
// payload, made or verified with Key; Body holds the step's data.
const TxsignProfile = "txsign"

// fixedKey resolves every header to one key: the key stored in the record
// is the one that verified (or made) the signature.
type fixedKey struct{ k *jose.JWK }

func (f fixedKey) ResolveKeys(context.Context, *jose.Header) ([]*jose.JWK, error) {
	return []*jose.JWK{f.k}, nil
}

// reverifyTxsign checks a transaction-signing step's JWS with the stored
// key at the stored time. Its claims (expiry, nonce, tx_hash) were checked
// by the service when the step happened and are in the payload for the
// reader; the signature is what proves who signed them.
func reverifyTxsign(ctx context.Context, r *Record, out *Reverified) (*Reverified, error) {
	if r.Key == nil {
		return out, errorf(jose.KeyUnknown, "the record holds no key to verify the step with")
	}
	j, err := jose.ParseCompact(r.Signature, jose.Limits{})
	if err != nil {
		return out, err
	}
	alg := r.Key.Alg
	if alg == "" {
		alg = j.Header(0).Alg
	}
	v, err := jose.NewVerifier(jose.Policy{
		Algs:  []jose.Alg{alg},
		Keys:  fixedKey{r.Key.Public()},
		Clock: func() time.Time { return r.Received },
	})
	if err != nil {
		return out, err
	}
	ver, err := v.VerifyParsed(ctx, j, nil, j.Detached())
	if err != nil {
		return out, err
	}
	s := &ver.Signatures[0]
	out.Result = &profile.Result{
		Profile: TxsignProfile, Kid: s.Header.Kid, Key: s.Key, Thumbprint: s.Thumbprint,
		Subject: r.Partner, Header: &s.Header, Payload: ver.Payload,
		SignatureValue: string(r.Signature), ReplayID: r.ReplayID,
	}
	return out, nil
}
