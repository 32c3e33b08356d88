// Package keystest is the conformance suite every keys.Store passes, and
// helpers for tests in the keys tree.
package keystest

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/keys"
)

// T0 is the time the suite's keys are published at.
var T0 = time.Date(2026, 3, 1, 9, 0, 0, 123456000, time.UTC)

// NewKey returns a pending key with a fresh ES256 (P-256) key pair,
// published at pub. The private half is discarded.
func NewKey(tb testing.TB, kid, purpose string, pub time.Time) *keys.Key {
	tb.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return KeyOf(tb, &priv.PublicKey, kid, purpose, jose.ES256, pub)
}

// KeyOf returns a pending key for the public key pub.
func KeyOf(tb testing.TB, pub any, kid, purpose string, alg jose.Alg, at time.Time) *keys.Key {
	tb.Helper()
	j, err := jose.NewJWK(pub, kid, alg)
	if err != nil {
		tb.Fatal(err)
	}
	j.Use = "sig"
	return &keys.Key{Kid: kid, Purpose: purpose, Alg: alg, Public: j, SignerRef: "test:" + kid, State: keys.Pending, Published: at}
}

func created(k *keys.Key) keys.Transition {
	return keys.Transition{Kid: k.Kid, To: keys.Pending, At: k.Published, Actor: "suite", Reason: "test"}
}

// wantCode fails tb unless err carries code.
func wantCode(tb testing.TB, err error, code jose.Code) {
	tb.Helper()
	if got := jose.CodeOf(err); got != code {
		tb.Fatalf("error %v has code %q; want %q", err, got, code)
	}
}

// Run runs the conformance suite. open returns a new, empty store for each
// subtest; the suite closes it.
func Run(t *testing.T, open func(t *testing.T) keys.Store) {
	ctx := context.Background()
	st := func(t *testing.T) keys.Store {
		s := open(t)
		t.Cleanup(func() { s.Close() })
		return s
	}
	t.Run("CreateAndRead", func(t *testing.T) {
		s := st(t)
		k := NewKey(t, "k1", "sign", T0)
		if err := s.CreateKey(ctx, k, created(k)); err != nil {
			t.Fatal(err)
		}
		got, err := s.Key(ctx, "k1")
		if err != nil {
			t.Fatal(err)
		}
		sameKey(t, got, k)
		_, err = s.Key(ctx, "nope")
		wantCode(t, err, keys.KeyNotFound)
	})
	t.Run("CreateRefused", func(t *testing.T) {
		s := st(t)
		k := NewKey(t, "k1", "sign", T0)
		if err := s.CreateKey(ctx, k, created(k)); err != nil {
			t.Fatal(err)
		}
		// Same kid, other key.
		k2 := NewKey(t, "k1", "sign", T0)
		wantCode(t, s.CreateKey(ctx, k2, created(k2)), keys.KeyExists)
		// Same public key, other kid.
		k3 := KeyOf(t, k.Public.PublicKey(), "k3", "sign", jose.ES256, T0)
		wantCode(t, s.CreateKey(ctx, k3, created(k3)), keys.KeyExists)
		// Private key.
		pj, err := jose.NewJWK(testkeys.Key("p256"), "kp", jose.ES256)
		if err != nil {
			t.Fatal(err)
		}
		kp := &keys.Key{Kid: "kp", Purpose: "sign", Alg: jose.ES256, Public: pj, SignerRef: "x", State: keys.Pending, Published: T0}
		wantCode(t, s.CreateKey(ctx, kp, created(kp)), jose.KeyRejected)
		// Not pending.
		k4 := NewKey(t, "k4", "sign", T0)
		k4.State = keys.Active
		wantCode(t, s.CreateKey(ctx, k4, created(k4)), keys.TransitionInvalid)
		ks, err := s.Keys(ctx)
		if err != nil || len(ks) != 1 {
			t.Fatalf("Keys = %d keys, %v; want the first only", len(ks), err)
		}
	})
	t.Run("KeysOldestFirst", func(t *testing.T) {
		s := st(t)
		for i, kid := range []string{"c", "a", "b"} {
			k := NewKey(t, kid, "sign", T0.Add(time.Duration(i)*time.Minute))
			if err := s.CreateKey(ctx, k, created(k)); err != nil {
				t.Fatal(err)
			}
		}
		ks, err := s.Keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var kids []string
		for _, k := range ks {
			kids = append(kids, k.Kid)
		}
		if !reflect.DeepEqual(kids, []string{"c", "a", "b"}) {
			t.Fatalf("Keys order %v", kids)
		}
	})
	t.Run("Lifecycle", func(t *testing.T) {
		s := st(t)
		k := NewKey(t, "k1", "sign", T0)
		if err := s.CreateKey(ctx, k, created(k)); err != nil {
			t.Fatal(err)
		}
		steps := []keys.Transition{
			{Kid: "k1", From: keys.Pending, To: keys.Active, At: T0.Add(11 * time.Minute), Actor: "alice", Reason: "go live"},
			{Kid: "k1", From: keys.Active, To: keys.Retiring, At: T0.Add(2 * time.Hour), Actor: "bob", Reason: "rotation"},
			{Kid: "k1", From: keys.Retiring, To: keys.Retired, At: T0.Add(3 * time.Hour), Actor: "bob", Reason: "rotation"},
			{Kid: "k1", From: keys.Retired, To: keys.Revoked, At: T0.Add(4 * time.Hour), Actor: "carol", Reason: "leak"},
		}
		for _, tr := range steps {
			if err := s.Apply(ctx, tr); err != nil {
				t.Fatalf("%s → %s: %v", tr.From, tr.To, err)
			}
			got, err := s.Key(ctx, "k1")
			if err != nil {
				t.Fatal(err)
			}
			if got.State != tr.To || !got.Since(tr.To).Equal(tr.At) {
				t.Fatalf("after %s: state %s since %v", tr.To, got.State, got.Since(tr.To))
			}
		}
		got, _ := s.Key(ctx, "k1")
		if !got.Published.Equal(T0) || !got.Activated.Equal(steps[0].At) || !got.RetiringSince.Equal(steps[1].At) || !got.Retired.Equal(steps[2].At) || !got.Revoked.Equal(steps[3].At) {
			t.Fatalf("timestamps %+v", got)
		}
		h, err := s.History(ctx, "k1")
		if err != nil {
			t.Fatal(err)
		}
		want := append([]keys.Transition{created(k)}, steps...)
		if !reflect.DeepEqual(h, want) {
			t.Fatalf("history\n got %+v\nwant %+v", h, want)
		}
		// Revoked is terminal.
		for _, to := range keys.States() {
			wantCode(t, s.Apply(ctx, keys.Transition{Kid: "k1", From: keys.Revoked, To: to, At: T0, Actor: "x"}), keys.TransitionInvalid)
		}
		_, err = s.History(ctx, "nope")
		wantCode(t, err, keys.KeyNotFound)
	})
	t.Run("ApplyIsConditionalAndAtomic", func(t *testing.T) {
		s := st(t)
		a, b := NewKey(t, "a", "sign", T0), NewKey(t, "b", "sign", T0)
		for _, k := range []*keys.Key{a, b} {
			if err := s.CreateKey(ctx, k, created(k)); err != nil {
				t.Fatal(err)
			}
		}
		at := T0.Add(time.Hour)
		// Wrong from state.
		wantCode(t, s.Apply(ctx, keys.Transition{Kid: "a", From: keys.Active, To: keys.Retiring, At: at, Actor: "x"}), keys.TransitionInvalid)
		// Not a lifecycle edge.
		wantCode(t, s.Apply(ctx, keys.Transition{Kid: "a", From: keys.Pending, To: keys.Retiring, At: at, Actor: "x"}), keys.TransitionInvalid)
		// Unknown key.
		wantCode(t, s.Apply(ctx, keys.Transition{Kid: "zz", From: keys.Pending, To: keys.Active, At: at, Actor: "x"}), keys.KeyNotFound)
		// First applies, second fails: nothing changes.
		err := s.Apply(ctx,
			keys.Transition{Kid: "a", From: keys.Pending, To: keys.Active, At: at, Actor: "x"},
			keys.Transition{Kid: "b", From: keys.Active, To: keys.Retiring, At: at, Actor: "x"})
		wantCode(t, err, keys.TransitionInvalid)
		got, _ := s.Key(ctx, "a")
		if got.State != keys.Pending || !got.Activated.IsZero() {
			t.Fatalf("a is %s after a failed Apply", got.State)
		}
		if h, _ := s.History(ctx, "a"); len(h) != 1 {
			t.Fatalf("history has %d entries after a failed Apply", len(h))
		}
	})
	t.Run("OneActivePerPurpose", func(t *testing.T) {
		s := st(t)
		for _, k := range []*keys.Key{NewKey(t, "a", "sign", T0), NewKey(t, "b", "sign", T0), NewKey(t, "c", "receipts", T0)} {
			if err := s.CreateKey(ctx, k, created(k)); err != nil {
				t.Fatal(err)
			}
		}
		at := T0.Add(time.Hour)
		up := func(kid string) keys.Transition {
			return keys.Transition{Kid: kid, From: keys.Pending, To: keys.Active, At: at, Actor: "x"}
		}
		if err := s.Apply(ctx, up("a")); err != nil {
			t.Fatal(err)
		}
		wantCode(t, s.Apply(ctx, up("b")), keys.TransitionInvalid)
		if err := s.Apply(ctx, up("c")); err != nil {
			t.Fatalf("another purpose: %v", err)
		}
		// The rotation step: demote and promote together.
		if err := s.Apply(ctx, keys.Transition{Kid: "a", From: keys.Active, To: keys.Retiring, At: at, Actor: "x"}, up("b")); err != nil {
			t.Fatal(err)
		}
		ka, _ := s.Key(ctx, "a")
		kb, _ := s.Key(ctx, "b")
		if ka.State != keys.Retiring || kb.State != keys.Active {
			t.Fatalf("a %s, b %s", ka.State, kb.State)
		}
	})
	t.Run("ConcurrentPromotions", func(t *testing.T) {
		s := st(t)
		const n = 8
		old := NewKey(t, "old", "sign", T0)
		if err := s.CreateKey(ctx, old, created(old)); err != nil {
			t.Fatal(err)
		}
		if err := s.Apply(ctx, keys.Transition{Kid: "old", From: keys.Pending, To: keys.Active, At: T0, Actor: "x"}); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			k := NewKey(t, fmt.Sprintf("new%d", i), "sign", T0)
			if err := s.CreateKey(ctx, k, created(k)); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				at := T0.Add(time.Hour)
				errs[i] = s.Apply(ctx,
					keys.Transition{Kid: "old", From: keys.Active, To: keys.Retiring, At: at, Actor: "x"},
					keys.Transition{Kid: fmt.Sprintf("new%d", i), From: keys.Pending, To: keys.Active, At: at, Actor: "x"})
			})
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch jose.CodeOf(err) {
			case "":
				wins++
			case keys.TransitionInvalid:
			default:
				t.Errorf("unexpected error %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d promotions won; want exactly 1", wins)
		}
		ks, _ := s.Keys(ctx)
		active := 0
		for _, k := range ks {
			if k.State == keys.Active {
				active++
			}
		}
		if active != 1 {
			t.Fatalf("%d active keys", active)
		}
	})
	t.Run("Partners", func(t *testing.T) {
		s := st(t)
		pub, err := jose.NewJWK(testkeys.Key("p256").Public(), "acme-1", jose.ES256)
		if err != nil {
			t.Fatal(err)
		}
		ed, err := jose.NewJWK(testkeys.Key("ed25519").Public(), "acme-2", "")
		if err != nil {
			t.Fatal(err)
		}
		p := &keys.Partner{
			Name: "acme", Profile: "generic", Algs: []jose.Alg{jose.ES256, jose.EdDSA},
			Policy: keys.PartnerPolicy{Skew: 30 * time.Second, MaxLifetime: 5 * time.Minute, Detect: true, MinRSABits: 3072},
			Keys:   []*jose.JWK{pub, ed}, JWKSURL: "https://acme.example/.well-known/jwks.json",
			Created: T0, Updated: T0,
		}
		if err := s.PutPartner(ctx, p); err != nil {
			t.Fatal(err)
		}
		got, err := s.Partner(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		samePartner(t, got, p)
		// Replace: Created stays, Updated moves.
		p2 := *p
		p2.JWKSURL, p2.Keys, p2.Created, p2.Updated = "", []*jose.JWK{pub}, T0.Add(time.Hour), T0.Add(time.Hour)
		if err := s.PutPartner(ctx, &p2); err != nil {
			t.Fatal(err)
		}
		got, _ = s.Partner(ctx, "acme")
		want := p2
		want.Created = T0
		samePartner(t, got, &want)
		other := &keys.Partner{Name: "bank-b", Profile: "swift", JWKSURL: "https://b.example/jwks", Created: T0, Updated: T0}
		if err := s.PutPartner(ctx, other); err != nil {
			t.Fatal(err)
		}
		all, err := s.Partners(ctx)
		if err != nil || len(all) != 2 || all[0].Name != "acme" || all[1].Name != "bank-b" {
			t.Fatalf("Partners = %v, %v", all, err)
		}
		wantCode(t, s.PutPartner(ctx, &keys.Partner{Name: "Bad Name", Profile: "generic", JWKSURL: "https://x.example/"}), keys.PartnerInvalid)
		wantCode(t, s.PutPartner(ctx, &keys.Partner{Name: "plain", Profile: "generic", JWKSURL: "http://x.example/"}), keys.PartnerInvalid)
		wantCode(t, s.DeletePartner(ctx, "nope"), keys.PartnerNotFound)
		if err := s.DeletePartner(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		_, err = s.Partner(ctx, "acme")
		wantCode(t, err, keys.PartnerNotFound)
	})
	t.Run("RevocationsAndEvents", func(t *testing.T) {
		s := st(t)
		r1 := keys.Revocation{Partner: "acme", Kid: "k1", At: T0, Actor: "alice", Reason: "leaked"}
		r2 := keys.Revocation{Partner: "acme", Thumbprint: "abc", At: T0.Add(time.Second), Actor: "bob", Reason: "compromised"}
		for _, r := range []keys.Revocation{r1, r2} {
			if err := s.AddRevocation(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		dup := r1
		dup.Reason, dup.At = "again", T0.Add(time.Hour)
		if err := s.AddRevocation(ctx, dup); err != nil {
			t.Fatal(err)
		}
		wantCode(t, s.AddRevocation(ctx, keys.Revocation{Partner: "acme", Actor: "a", Reason: "r"}), keys.PartnerInvalid)
		rs, err := s.Revocations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(rs, []keys.Revocation{r1, r2}) {
			t.Fatalf("revocations\n got %+v\nwant %+v", rs, []keys.Revocation{r1, r2})
		}
		e1 := keys.Event{At: T0, Actor: "alice", Action: "purge", Partner: "acme", Reason: "partner asked"}
		e2 := keys.Event{At: T0.Add(time.Second), Actor: "bob", Action: "revoke", Partner: "other", Kid: "k9", Reason: "leak"}
		for _, e := range []keys.Event{e1, e2} {
			if err := s.RecordEvent(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		all, err := s.Events(ctx, "")
		if err != nil || !reflect.DeepEqual(all, []keys.Event{e1, e2}) {
			t.Fatalf("Events = %+v, %v", all, err)
		}
		one, err := s.Events(ctx, "acme")
		if err != nil || !reflect.DeepEqual(one, []keys.Event{e1}) {
			t.Fatalf("Events(acme) = %+v, %v", one, err)
		}
		wantCode(t, s.RecordEvent(ctx, keys.Event{At: T0, Action: "purge"}), keys.PartnerInvalid)
	})
	t.Run("Registry", func(t *testing.T) {
		testRegistry(t, st(t))
	})
}

func sameKey(t *testing.T, got, want *keys.Key) {
	t.Helper()
	if got.Kid != want.Kid || got.Purpose != want.Purpose || got.Alg != want.Alg || got.SignerRef != want.SignerRef || got.State != want.State ||
		!got.Published.Equal(want.Published) || got.Published.Location() != time.UTC ||
		got.Thumbprint() != want.Thumbprint() || got.Public.Kid != want.Kid || got.Public.Use != "sig" || got.Public.IsPrivate() {
		t.Fatalf("key\n got %+v\nwant %+v", got, want)
	}
}

func samePartner(t *testing.T, got, want *keys.Partner) {
	t.Helper()
	if got.Name != want.Name || got.Profile != want.Profile || !reflect.DeepEqual(got.Algs, want.Algs) || got.Policy != want.Policy ||
		got.JWKSURL != want.JWKSURL || !got.Created.Equal(want.Created) || !got.Updated.Equal(want.Updated) || len(got.Keys) != len(want.Keys) {
		t.Fatalf("partner\n got %+v\nwant %+v", got, want)
	}
	for i := range got.Keys {
		if got.Keys[i].Thumbprint() != want.Keys[i].Thumbprint() || got.Keys[i].Kid != want.Keys[i].Kid || got.Keys[i].Alg != want.Keys[i].Alg {
			t.Fatalf("partner key %d differs", i)
		}
	}
}

// edKey is a fresh Ed25519 key pair for registry tests.
func edKey(tb testing.TB) ed25519.PrivateKey {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return priv
}
