package profile

import (
	"testing"

	"github.com/nonrep/nonrep/jose"
)

// TestSignNeedsKid: schemes whose verifiers require a kid refuse to sign
// without one, rather than emit a signature no verifier accepts.
func TestSignNeedsKid(t *testing.T) {
	for _, fx := range allFixtures(t) {
		switch fx.p.(type) {
		case InComm, EBANX, OpenBanking, Generic:
		default:
			continue
		}
		t.Run(fx.name, func(t *testing.T) {
			k := *fx.signer.Key
			k.Kid = ""
			s := *fx.signer
			s.Key = &k
			if _, err := fx.p.Sign(newMessage(), &s); jose.CodeOf(err) != jose.KeyRejected {
				t.Fatalf("got %v, want key_rejected", err)
			}
		})
	}
}
