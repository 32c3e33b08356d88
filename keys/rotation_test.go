package keys_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/keys"
	"github.com/nonrep/nonrep/keys/jwkscache"
	"github.com/nonrep/nonrep/keys/jwksserver"
	"github.com/nonrep/nonrep/keys/keystest"
	"github.com/nonrep/nonrep/keys/sqlitestore"
	"github.com/nonrep/nonrep/profile"
)

// The story: "Rotate our signing key with zero failed requests, and the
// partners' caches follow on their own." We sign with the registry's
// active key every 5 s of simulated time across all four phases; a
// partner verifies through a jwkscache following our JWKS endpoint. Not
// one request may fail, the partner's cache must follow by its normal
// refresh alone (no unknown-kid refetch), and after the old key is
// revoked it is refused.
func TestRotationZeroFailures(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clk := keystest.NewClock(start)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	store, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "keys.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	reg, err := keys.New(keys.Config{
		Store: store, MaxAge: 600 * time.Second, Margin: time.Minute, Retiring: time.Hour, Clock: clk.Now,
		Signers: keystest.Signers{"mem:old": testkeys.Key("p256"), "mem:new": testkeys.Key("p256b")},
	})
	if err != nil {
		t.Fatal(err)
	}
	jwk := func(name, kid string) *jose.JWK {
		j, err := jose.NewJWK(testkeys.Key(name), kid, jose.ES256)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	if _, err := reg.Add(ctx, keys.NewKey{Key: jwk("p256", "gw-2026a"), SignerRef: "mem:old", Actor: "ops"}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(reg.PendingFor())
	if _, err := reg.Promote(ctx, "gw-2026a", "ops", "first key"); err != nil {
		t.Fatal(err)
	}

	// Our JWKS endpoint, over TLS.
	h, err := jwksserver.New(jwksserver.Config{Source: reg, MaxAge: 600 * time.Second, Clock: clk.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+jwksserver.Path, h)
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()

	// The partner: a cache following our endpoint, and a Generic verifier.
	cache, err := jwkscache.New(jwkscache.Config{Client: srv.Client(), Clock: clk.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ours, err := cache.Add(jwkscache.Source{Partner: "bank", URL: srv.URL + jwksserver.Path})
	if err != nil {
		t.Fatal(err)
	}
	ver, err := profile.Generic{}.NewVerifier(profile.Trust{Keys: ours, Clock: clk.Now})
	if err != nil {
		t.Fatal(err)
	}

	type inflight struct {
		at  time.Time // when it reaches the partner
		msg *profile.Message
		kid string
	}
	var queue []inflight
	sent, verified := 0, 0
	failures := map[string]int{}
	byKid := map[string]int{}
	sign := func() {
		sk, err := reg.Signer(ctx, keys.DefaultPurpose)
		if err != nil {
			t.Fatal(err)
		}
		m := &profile.Message{Method: "POST", Host: "partner.example", Path: "/v1/payments", Header: http.Header{}, Body: []byte(`{"amount":"12.40","currency":"EUR"}`)}
		sig, err := profile.Generic{}.Sign(m, &profile.Signer{Key: sk, Clock: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		out := &profile.Message{Method: m.Method, Host: m.Host, Path: m.Path, Header: sig.Header, Body: sig.Body}
		// Three copies of the traffic: arriving at once, 4 s and 30 s later.
		for _, d := range []time.Duration{0, 4 * time.Second, 30 * time.Second} {
			queue = append(queue, inflight{at: clk.Now().Add(d), msg: out, kid: sk.Kid})
			sent++
		}
	}
	deliver := func() {
		rest := queue[:0]
		for _, f := range queue {
			if f.at.After(clk.Now()) {
				rest = append(rest, f)
				continue
			}
			p, err := ver.Parse(f.msg)
			if err == nil {
				_, err = ver.Verify(ctx, p)
			}
			if err != nil {
				failures[string(jose.CodeOf(err))+" "+f.kid]++
				continue
			}
			verified++
			byKid[f.kid]++
		}
		queue = rest
	}

	const step = 5 * time.Second
	added := time.Time{}
	var plan *keys.Plan
	phases := map[keys.State]time.Time{}
	for clk.Now().Before(start.Add(3 * time.Hour)) {
		now := clk.Now()
		// The operator starts the rotation ten minutes in; "nonrep keys
		// rotate" then does each step when it is due.
		if added.IsZero() && now.Sub(start) >= 20*time.Minute {
			if _, err := reg.Add(ctx, keys.NewKey{Key: jwk("p256b", "gw-2026b"), SignerRef: "mem:new", Actor: "ops", Reason: "leak drill"}); err != nil {
				t.Fatal(err)
			}
			added = now
			phases[keys.Pending] = now
		}
		if !added.IsZero() && (plan == nil || !plan.Complete()) {
			if plan, err = reg.Rotate(ctx, "gw-2026b", "ops"); err != nil {
				t.Fatal(err)
			}
			for _, s := range plan.Steps {
				if s.Done && phases[s.To].IsZero() {
					phases[s.To] = s.At
				}
			}
		}
		sign()
		cache.RefreshDue(ctx) // the partner's background refresh
		deliver()
		clk.Advance(step)
	}
	for len(queue) > 0 {
		clk.Advance(step)
		deliver()
	}
	t.Logf("%d requests signed, %d verified; by key %v; phases %v", sent, verified, byKid, phases)
	if len(failures) > 0 || verified != sent {
		t.Fatalf("failures: %v", failures)
	}
	if plan == nil || !plan.Complete() {
		t.Fatal("the rotation did not complete")
	}
	if want := added.Add(reg.PendingFor()); !phases[keys.Active].Equal(want) || !phases[keys.Retiring].Equal(want) {
		t.Fatalf("activated at %v; want the earliest time %v", phases[keys.Active], want)
	}
	if want := phases[keys.Retiring].Add(reg.RetiringFor()); !phases[keys.Retired].Equal(want) {
		t.Fatalf("retired at %v; want %v", phases[keys.Retired], want)
	}
	if byKid["gw-2026a"] == 0 || byKid["gw-2026b"] == 0 {
		t.Fatalf("requests by key: %v", byKid)
	}
	if st := cache.Stats(); st.UnknownKidRefetches != 0 || st.FetchErrors != 0 {
		t.Fatalf("the partner's cache needed help: %+v", st)
	}

	// The old key leaks after all: revoked. A message signed with it is
	// refused by the partner (it is unpublished and gone from its cache),
	// by the partner's revocation list, and by our own resolver.
	if _, err := reg.Revoke(ctx, "gw-2026a", "ops", "private key leaked"); err != nil {
		t.Fatal(err)
	}
	forged := &jose.SigningKey{Alg: jose.ES256, Kid: "gw-2026a", Signer: testkeys.Key("p256")}
	m := &profile.Message{Method: "POST", Path: "/v1/payments", Header: http.Header{}, Body: []byte(`{"amount":"9999.00","currency":"EUR"}`)}
	sig, err := profile.Generic{}.Sign(m, &profile.Signer{Key: forged, Clock: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	m = &profile.Message{Method: "POST", Path: "/v1/payments", Header: sig.Header, Body: sig.Body}
	p, err := ver.Parse(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ver.Verify(ctx, p); jose.CodeOf(err) != jose.KeyUnknown {
		t.Fatalf("old key after revocation: %v", err)
	}
	if err := cache.Revoke(ctx, keys.Revocation{Partner: "bank", Kid: "gw-2026a", Actor: "partner-ops", Reason: "bank says leaked"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ver.Verify(ctx, p); jose.CodeOf(err) != jose.KeyRejected {
		t.Fatalf("old key on the revocation list: %v", err)
	}
	if _, err := reg.ResolveKeys(ctx, &jose.Header{Kid: "gw-2026a"}); jose.CodeOf(err) != jose.KeyRejected {
		t.Fatalf("our resolver: %v", err)
	}
}
