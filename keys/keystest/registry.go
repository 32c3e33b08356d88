package keystest

import (
	"context"
	"crypto"
	"strings"
	"testing"
	"time"

	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/keys"
)

// Signers is an in-memory keys.SignerOpener: SignerRef → signer.
type Signers map[string]crypto.Signer

// OpenSigner implements keys.SignerOpener.
func (s Signers) OpenSigner(_ context.Context, k *keys.Key) (crypto.Signer, error) {
	if sg, ok := s[k.SignerRef]; ok {
		return sg, nil
	}
	return nil, &jose.Error{Code: jose.SignerFailed, Detail: "no test signer " + k.SignerRef}
}

// testRegistry runs the registry's lifecycle rules over s.
func testRegistry(t *testing.T, s keys.Store) {
	ctx := context.Background()
	clk := NewClock(T0)
	ed := edKey(t)
	signers := Signers{"mem:p256": testkeys.Key("p256"), "mem:ed": ed, "mem:p256b": testkeys.Key("p256b")}
	r, err := keys.New(keys.Config{Store: s, MaxAge: 10 * time.Minute, Margin: time.Minute, Retiring: time.Hour, Signers: signers, Clock: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	jwk := func(sg crypto.Signer, kid string, alg jose.Alg) *jose.JWK {
		j, err := jose.NewJWK(sg, kid, alg)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	k1, err := r.Add(ctx, keys.NewKey{Key: jwk(testkeys.Key("p256"), "k1", jose.ES256), SignerRef: "mem:p256", Actor: "alice", Reason: "first"})
	if err != nil {
		t.Fatal(err)
	}
	if k1.State != keys.Pending || k1.Purpose != keys.DefaultPurpose || k1.Public.IsPrivate() {
		t.Fatalf("added %+v", k1)
	}
	// A signer that does not hold the key is refused at Add.
	_, err = r.Add(ctx, keys.NewKey{Key: jwk(ed, "kx", jose.EdDSA), SignerRef: "mem:p256"})
	wantCode(t, err, jose.KeyRejected)

	// Early promotion: refused, naming the earliest time.
	clk.Advance(5 * time.Minute)
	_, err = r.Promote(ctx, "k1", "alice", "")
	wantCode(t, err, keys.TooEarly)
	if !strings.Contains(err.Error(), "2026-03-01T09:11:00Z") {
		t.Fatalf("the error does not name the earliest time: %v", err)
	}
	_, err = r.Signer(ctx, keys.DefaultPurpose)
	wantCode(t, err, keys.KeyNotFound)
	clk.Advance(6 * time.Minute)
	if k1, err = r.Promote(ctx, "k1", "alice", "go live"); err != nil || k1.State != keys.Active {
		t.Fatalf("Promote = %+v, %v", k1, err)
	}
	sk, err := r.Signer(ctx, keys.DefaultPurpose)
	if err != nil || sk.Kid != "k1" || sk.Alg != jose.ES256 {
		t.Fatalf("Signer = %+v, %v", sk, err)
	}

	// Rotation to k2, step by step.
	if _, err := r.Add(ctx, keys.NewKey{Key: jwk(ed, "k2", jose.EdDSA), SignerRef: "mem:ed", Actor: "bob"}); err != nil {
		t.Fatal(err)
	}
	p, err := r.Rotate(ctx, "k2", "bob")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Steps) != 4 || p.Complete() || p.Next().To != keys.Active || !p.Next().At.Equal(clk.Now().Add(11*time.Minute)) {
		t.Fatalf("plan %+v", p.Steps)
	}
	pub, _ := r.Published(ctx)
	if len(pub) != 2 {
		t.Fatalf("published %d keys during pending", len(pub))
	}
	clk.Advance(11 * time.Minute)
	if p, err = r.Rotate(ctx, "k2", "bob"); err != nil {
		t.Fatal(err)
	}
	if n := p.Next(); n == nil || n.Kid != "k1" || n.To != keys.Retired {
		t.Fatalf("next step %+v", n)
	}
	if sk, _ := r.Signer(ctx, keys.DefaultPurpose); sk.Kid != "k2" {
		t.Fatalf("signing with %s after promotion", sk.Kid)
	}
	if k, _ := r.Key(ctx, "k1"); k.State != keys.Retiring {
		t.Fatalf("k1 %s", k.State)
	}
	_, err = r.Retire(ctx, "k1", "bob", "")
	wantCode(t, err, keys.TooEarly)
	clk.Advance(time.Hour)
	if p, err = r.Rotate(ctx, "k2", "bob"); err != nil || !p.Complete() {
		t.Fatalf("plan %+v, %v", p, err)
	}
	pub, _ = r.Published(ctx)
	if len(pub) != 1 || pub[0].Kid != "k2" {
		t.Fatalf("published after retirement: %d keys", len(pub))
	}
	// Retired keys still resolve (evidence); revoked never.
	h := &jose.Header{Kid: "k1"}
	if ks, err := r.ResolveKeys(ctx, h); err != nil || len(ks) != 1 {
		t.Fatalf("retired key: %v", err)
	}
	_, err = r.Revoke(ctx, "k1", "carol", "")
	wantCode(t, err, keys.TransitionInvalid)
	if _, err = r.Revoke(ctx, "k1", "carol", "leaked"); err != nil {
		t.Fatal(err)
	}
	_, err = r.ResolveKeys(ctx, h)
	wantCode(t, err, jose.KeyRejected)
	_, err = r.ResolveKeys(ctx, &jose.Header{Kid: "nope"})
	wantCode(t, err, jose.KeyUnknown)
	_, err = r.Promote(ctx, "k1", "x", "")
	wantCode(t, err, keys.TransitionInvalid)
	hist, err := r.History(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	var trail []string
	for _, h := range hist {
		trail = append(trail, string(h.To)+"/"+h.Actor)
	}
	if got := strings.Join(trail, " "); got != "pending/alice active/alice retiring/bob retired/bob revoked/carol" {
		t.Fatalf("history %s", got)
	}
}
