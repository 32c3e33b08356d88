package keys_test

import (
	"context"
	"testing"

	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/keys"
	"github.com/nonrep/nonrep/keys/keystest"
)

func TestBootstrap(t *testing.T) {
	ctx := context.Background()
	clk := keystest.NewClock(keystest.T0)
	r := newRegistry(t, clk, keystest.Signers{"a": testkeys.Key("p256"), "b": testkeys.Key("p256b")})
	ja, _ := jose.NewJWK(testkeys.Key("p256").Public(), "a", jose.ES256)
	k, err := r.Bootstrap(ctx, keys.NewKey{Key: ja, SignerRef: "a", Actor: "test"})
	if err != nil || k.State != keys.Active {
		t.Fatalf("Bootstrap = %+v, %v", k, err)
	}
	if _, err := r.Signer(ctx, keys.DefaultPurpose); err != nil {
		t.Fatal(err)
	}
	// A second key of the purpose must go through rotation.
	jb, _ := jose.NewJWK(testkeys.Key("p256b").Public(), "b", jose.ES256)
	_, err = r.Bootstrap(ctx, keys.NewKey{Key: jb, SignerRef: "b"})
	wantCode(t, err, keys.TransitionInvalid)
	if _, err := r.Key(ctx, "b"); jose.CodeOf(err) != keys.KeyNotFound {
		t.Fatalf("refused bootstrap left key b behind: %v", err)
	}
	h, err := r.History(ctx, "a")
	if err != nil || len(h) == 0 || h[len(h)-1].To != keys.Active {
		t.Fatalf("history %+v %v", h, err)
	}
}
