package jwkscache_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/keys"
	"github.com/nonrep/nonrep/keys/jwkscache"
)

func TestMaxAgeHonouredAndClamped(t *testing.T) {
	tests := []struct {
		name, cacheControl, age string
		wantTTL                 time.Duration
	}{
		{"max-age", "public, max-age=300", "", 300 * time.Second},
		{"clamped up", "max-age=5", "", time.Minute},
		{"clamped down", "public, max-age=86400", "", time.Hour},
		{"absent", "", "", 15 * time.Minute},
		{"no-store", "no-store", "", time.Minute},
		{"less age", "max-age=600", "100", 500 * time.Second},
		{"garbage", "max-age=soon", "", 15 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, set(pubJWK(t, "p256", "k1")), tc.cacheControl)
			srv.set(func(s *jwksServer) { s.age = tc.age })
			e := newEnv(t, srv, nil)
			e.mustResolve("k1")
			st := e.r.Status()
			if st.TTL != tc.wantTTL || !st.Expires.Equal(t0.Add(tc.wantTTL)) || st.Bucket != jwkscache.BucketFresh {
				t.Fatalf("TTL %v, expires %v, bucket %s; want TTL %v", st.TTL, st.Expires, st.Bucket, tc.wantTTL)
			}
			// Refreshed in the background before expiry, not after.
			if d := st.NextRefresh.Sub(t0); d < tc.wantTTL*3/4 || d >= tc.wantTTL*85/100+time.Second {
				t.Fatalf("next refresh after %v; want 75–85%% of %v", d, tc.wantTTL)
			}
			e.tick(tc.wantTTL - time.Second)
			if got := srv.hits.Load(); got != 2 {
				t.Fatalf("%d fetches by the end of the TTL; want 2", got)
			}
		})
	}
}

func TestConditionalRefresh304(t *testing.T) {
	srv := newServer(t, set(pubJWK(t, "p256", "k1")), "max-age=600")
	srv.set(func(s *jwksServer) { s.etag = `"v1"` })
	e := newEnv(t, srv, nil)
	e.tick(0) // the first background fetch
	if srv.hits.Load() != 1 {
		t.Fatalf("%d fetches at start", srv.hits.Load())
	}
	for range 3 {
		e.tick(9 * time.Minute)
	}
	st := e.cache.Stats()
	if st.Fetches != 4 || st.NotModified != 3 || srv.conditional.Load() != 3 {
		t.Fatalf("stats %+v, conditional %d", st, srv.conditional.Load())
	}
	e.mustResolve("k1")
	if s := e.r.Status(); !s.Fetched.Equal(t0.Add(27*time.Minute)) || s.Bucket != jwkscache.BucketFresh {
		t.Fatalf("a 304 did not renew the set: %+v", s)
	}
	// A new version is picked up with its ETag.
	srv.set(func(s *jwksServer) { s.body, s.etag = []byte(set(pubJWK(t, "p256b", "k2"))), `"v2"` })
	e.tick(9 * time.Minute)
	e.mustResolve("k2")
	e.wantCode("k1", jose.KeyUnknown)
}

func TestOutageServedStaleThenExpired(t *testing.T) {
	srv := newServer(t, set(pubJWK(t, "p256", "k1")), "max-age=600")
	e := newEnv(t, srv, nil)
	e.tick(0)
	e.mustResolve("k1")
	srv.set(func(s *jwksServer) { s.status = 503 })
	buckets := map[jwkscache.Bucket]bool{}
	// Two hours down: requests keep verifying.
	for elapsed := time.Duration(0); elapsed < 2*time.Hour; elapsed += time.Minute {
		e.tick(time.Minute)
		e.mustResolve("k1")
		buckets[e.r.Status().Bucket] = true
	}
	if !buckets[jwkscache.Bucket1h] || !buckets[jwkscache.Bucket4h] {
		t.Fatalf("buckets seen: %v", buckets)
	}
	// Fetch attempts back off and the breaker pauses them: far fewer
	// than one a minute.
	if n := srv.hits.Load(); n > 40 {
		t.Fatalf("%d fetch attempts in two hours of outage", n)
	}
	for _, want := range []jwkscache.Bucket{jwkscache.Bucket12h, jwkscache.BucketBeyond} {
		for e.r.Status().Bucket != want {
			e.tick(10 * time.Minute)
			e.mustResolve("k1")
		}
	}
	// Just before max-stale (24 h after expiry) still served; after, gone.
	e.clk.Set(t0.Add(10*time.Minute + 24*time.Hour - time.Second))
	e.cache.RefreshDue(context.Background())
	e.mustResolve("k1")
	e.tick(time.Second)
	e.wantCode("k1", jose.KeyUnavailable)
	if b := e.r.Status().Bucket; b != jwkscache.BucketGone {
		t.Fatalf("bucket %s past max-stale", b)
	}
	logs := e.logs.String()
	for _, want := range []string{`"alert":"notice"`, `"alert":"warning"`, `"level":"ERROR"`, `"alert":"critical"`, `"alert":"page"`, `"bucket":"gone"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s", want)
		}
	}
	// The partner comes back: the next request after the breaker's
	// pause (at most RetryMax, 5 min) fetches again.
	srv.set(func(s *jwksServer) { s.status = 0 })
	e.clk.Advance(5 * time.Minute)
	e.mustResolve("k1")
	if b := e.r.Status().Bucket; b != jwkscache.BucketFresh {
		t.Fatalf("bucket %s after recovery", b)
	}
}

func TestUnknownKidStormBounded(t *testing.T) {
	srv := newServer(t, set(pubJWK(t, "p256", "k1")), "max-age=3600")
	e := newEnv(t, srv, nil)
	e.mustResolve("k1")
	if srv.hits.Load() != 1 {
		t.Fatal("first fetch")
	}
	storm := func(n int) {
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, err := e.resolve(fmt.Sprintf("random-%d-%d", e.clk.Now().Unix(), i))
				if jose.CodeOf(err) != jose.KeyUnknown {
					t.Errorf("random kid: %v", err)
				}
			})
		}
		wg.Wait()
	}
	storm(1000)
	if got := srv.hits.Load(); got != 2 {
		t.Fatalf("%d fetches after a storm of 1000 random kids; want 2 (the first, one refetch)", got)
	}
	for range 5 {
		e.clk.Advance(10 * time.Second)
		storm(200)
	}
	if got := srv.hits.Load(); got != 2 {
		t.Fatalf("%d fetches within the minute; want still 2", got)
	}
	e.clk.Advance(10 * time.Second) // a minute since the refetch
	storm(500)
	if got := srv.hits.Load(); got != 3 {
		t.Fatalf("%d fetches a minute later; want 3", got)
	}
	// A real new key is found by the refetch.
	srv.set(func(s *jwksServer) { s.body = []byte(set(pubJWK(t, "p256", "k1"), pubJWK(t, "p256b", "k2"))) })
	e.clk.Advance(time.Minute)
	e.mustResolve("k2")
	st := e.cache.Stats()
	if st.UnknownKidRefetches != 3 || st.UnknownKidSuppressed < 2000 {
		t.Fatalf("stats %+v", st)
	}
	// With the endpoint down the breaker stops the refetches.
	srv.set(func(s *jwksServer) { s.status = 500 })
	before := srv.hits.Load()
	for range 30 {
		e.clk.Advance(61 * time.Second)
		storm(20)
	}
	if got := srv.hits.Load() - before; got > 15 {
		t.Fatalf("%d fetches in 30 minutes of storms against a failing endpoint", got)
	}
	e.mustResolve("k1") // the set in hand still serves
}

func TestBadKeysDropped(t *testing.T) {
	offCurve := `{"kty":"EC","kid":"off","crv":"P-256","x":"-NZjkE26JPBhZAgf2KH_BqPssiqFIMyNHORvdlUea38","y":"8pad5OJi2hSs5cIlVS3gWgQhwQ6lx1mPg4d7YGFYnYA"}`
	private := `{"kty":"OKP","kid":"priv","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}`
	oct := `{"kty":"oct","kid":"sec","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}`
	enc := strings.Replace(pubJWK(t, "p256b", "enc"), `"kty":"EC"`, `"kty":"EC","use":"enc"`, 1)
	signOnly := strings.Replace(pubJWK(t, "p256b", "ops"), `"kty":"EC"`, `"kty":"EC","key_ops":["sign"]`, 1)
	x25519 := `{"kty":"OKP","kid":"x","crv":"X25519","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}`
	dup1, dup2 := pubJWK(t, "p256", "dup"), pubJWK(t, "p256b", "dup")
	small := pubJWK(t, "rsa2048", "rsa-small")
	body := set(pubJWK(t, "p256", "good"), offCurve, private, oct, enc, signOnly, x25519, dup1, dup2, small, pubJWK(t, "ed25519", "good-ed"))
	srv := newServer(t, body, "max-age=600")
	e := newEnv(t, srv, func(c *jwkscache.Config) { c.Limits.KeyPolicy.MinRSABits = 3072 })
	e.mustResolve("good")
	e.mustResolve("good-ed")
	st := e.r.Status()
	if st.Keys != 2 {
		t.Fatalf("%d keys kept; want 2", st.Keys)
	}
	got := map[string]jose.Code{}
	for _, v := range st.Dropped {
		got[fmt.Sprintf("%d:%s", v.Index, v.Kid)] = jose.CodeOf(v.Err)
	}
	want := map[string]jose.Code{
		"1:off": jose.KeyRejected, "2:priv": jose.KeyRejected, "3:sec": jose.KeyRejected, "4:enc": jose.KeyRejected,
		"5:ops": jose.KeyRejected, "6:x": jose.KeyRejected, "7:dup": jose.KeyRejected, "8:dup": jose.KeyRejected,
		"9:rsa-small": jose.KeyRejected,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("dropped\n got %v\nwant %v", got, want)
	}
	if n := e.cache.Stats().KeysDropped; n != 9 {
		t.Fatalf("KeysDropped %d", n)
	}
	if !strings.Contains(e.logs.String(), "partner key dropped at import") {
		t.Fatal("dropped keys not logged")
	}
	// A set with no usable key is a failed fetch: the good set stays.
	srv.set(func(s *jwksServer) { s.body = []byte(set(offCurve, oct)) })
	e.tick(10 * time.Minute)
	e.mustResolve("good")
	if s := e.r.Status(); s.Failures != 1 || !strings.Contains(s.LastError, "no usable key") {
		t.Fatalf("status %+v", s)
	}
}

func TestImportDocumentErrors(t *testing.T) {
	tests := []struct {
		name, body string
		wantCode   jose.Code
	}{
		{"not json", `{"keys":[`, jose.Malformed},
		{"no keys", `{}`, jose.Malformed},
		{"duplicate member", `{"keys":[],"keys":[]}`, jose.Malformed},
		{"empty", `{"keys":[]}`, jose.KeyRejected},
		{"too many", set(strings.Repeat(`{"kty":"EC"},`, 64) + `{"kty":"EC"}`), jose.TooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := jwkscache.Import([]byte(tc.body), jwkscache.Limits{})
			if jose.CodeOf(err) != tc.wantCode {
				t.Fatalf("Import: %v; want %s", err, tc.wantCode)
			}
		})
	}
}

func TestLimitsAndTransport(t *testing.T) {
	t.Run("size", func(t *testing.T) {
		srv := newServer(t, set(pubJWK(t, "p256", "k1"), pubJWK(t, "rsa4096", "big")), "")
		e := newEnv(t, srv, func(c *jwkscache.Config) { c.Limits.MaxBytes = 600 })
		e.wantCode("k1", jose.KeyUnavailable)
		if s := e.r.Status(); !strings.Contains(s.LastError, "more than 600") {
			t.Fatalf("last error %q", s.LastError)
		}
	})
	t.Run("key count", func(t *testing.T) {
		srv := newServer(t, set(pubJWK(t, "p256", "k1"), pubJWK(t, "p256b", "k2"), pubJWK(t, "ed25519", "k3")), "")
		e := newEnv(t, srv, func(c *jwkscache.Config) { c.Limits.MaxKeys = 2 })
		e.wantCode("k1", jose.KeyUnavailable)
	})
	t.Run("timeout", func(t *testing.T) {
		srv := newServer(t, set(pubJWK(t, "p256", "k1")), "")
		srv.set(func(s *jwksServer) { s.delay = 2 * time.Second })
		e := newEnv(t, srv, func(c *jwkscache.Config) { c.Limits.Timeout = 100 * time.Millisecond })
		start := time.Now()
		e.wantCode("k1", jose.KeyUnavailable)
		if d := time.Since(start); d > time.Second {
			t.Fatalf("a 100 ms timeout took %v", d)
		}
	})
	t.Run("redirect refused", func(t *testing.T) {
		srv := newServer(t, set(pubJWK(t, "p256", "k1")), "")
		srv.set(func(s *jwksServer) { s.redirect = "https://evil.example/jwks" })
		e := newEnv(t, srv, nil)
		e.wantCode("k1", jose.KeyUnavailable)
		if s := e.r.Status(); !strings.Contains(s.LastError, "redirect refused") {
			t.Fatalf("last error %q", s.LastError)
		}
	})
	t.Run("certificate checked", func(t *testing.T) {
		srv := newServer(t, set(pubJWK(t, "p256", "k1")), "")
		e := newEnv(t, srv, func(c *jwkscache.Config) { c.Client = nil }) // system roots
		e.wantCode("k1", jose.KeyUnavailable)
		if s := e.r.Status(); !strings.Contains(s.LastError, "certificate") {
			t.Fatalf("last error %q", s.LastError)
		}
	})
	t.Run("configured https only", func(t *testing.T) {
		c := must(jwkscache.New(jwkscache.Config{}))
		for _, u := range []string{"http://acme.example/jwks", "https://user:pw@acme.example/jwks", "ftp://x", "https:///nohost"} {
			if _, err := c.Add(jwkscache.Source{Partner: "acme", URL: u}); jose.CodeOf(err) != keys.PartnerInvalid {
				t.Errorf("Add(%q): %v", u, err)
			}
		}
	})
}

func TestPurge(t *testing.T) {
	srv := newServer(t, set(pubJWK(t, "p256", "k1")), "max-age=600")
	var events []keys.Event
	e := newEnv(t, srv, func(c *jwkscache.Config) {
		c.Audit = func(_ context.Context, ev keys.Event) error { events = append(events, ev); return nil }
	})
	e.mustResolve("k1")
	ctx := context.Background()
	if err := e.cache.Purge(ctx, "acme", "", ""); jose.CodeOf(err) != keys.PartnerInvalid {
		t.Fatalf("purge without who/why: %v", err)
	}
	if err := e.cache.Purge(ctx, "nope", "alice", "x"); jose.CodeOf(err) != keys.PartnerNotFound {
		t.Fatalf("purge of an unknown partner: %v", err)
	}
	// The partner replaced its leaked key.
	srv.set(func(s *jwksServer) { s.body = []byte(set(pubJWK(t, "p256b", "k2"))) })
	if err := e.cache.Purge(ctx, "acme", "alice", "partner reports k1 leaked (ticket 4711)"); err != nil {
		t.Fatal(err)
	}
	if s := e.r.Status(); s.Bucket != jwkscache.BucketNone || s.Keys != 0 {
		t.Fatalf("status after purge %+v", s)
	}
	// Immediately: the old key is no longer served, the new one is fetched.
	e.wantCode("k1", jose.KeyUnknown)
	e.mustResolve("k2")
	if srv.hits.Load() != 2 {
		t.Fatalf("%d fetches", srv.hits.Load())
	}
	if len(events) != 1 || events[0].Action != "purge" || events[0].Actor != "alice" || events[0].Partner != "acme" || !strings.Contains(events[0].Reason, "4711") || !events[0].At.Equal(t0) {
		t.Fatalf("audit %+v", events)
	}
}

func TestRevocationWins(t *testing.T) {
	k1 := pubJWK(t, "p256", "k1")
	srv := newServer(t, set(k1, pubJWK(t, "p256b", "k2")), "max-age=600")
	e := newEnv(t, srv, nil)
	e.mustResolve("k1")
	thumb := e.mustResolve("k1").Thumbprint()
	ctx := context.Background()
	if err := e.cache.Revoke(ctx, keys.Revocation{Partner: "acme", Kid: "k1"}); jose.CodeOf(err) != keys.PartnerInvalid {
		t.Fatalf("revocation without who/why: %v", err)
	}
	if err := e.cache.Revoke(ctx, keys.Revocation{Partner: "acme", Thumbprint: thumb, Actor: "alice", Reason: "leaked"}); err != nil {
		t.Fatal(err)
	}
	// At once, on a fresh set, without a fetch.
	e.wantCode("k1", jose.KeyRejected)
	e.mustResolve("k2")
	if srv.hits.Load() != 1 {
		t.Fatal("a revocation caused a fetch")
	}
	// Stale, or refetched, or republished under another kid: still refused.
	srv.set(func(s *jwksServer) { s.status = 500 })
	e.tick(2 * time.Hour)
	e.wantCode("k1", jose.KeyRejected)
	srv.set(func(s *jwksServer) {
		s.status = 0
		s.body = []byte(set(pubJWK(t, "p256", "k1-again"), pubJWK(t, "p256b", "k2")))
	})
	e.clk.Advance(10 * time.Minute)
	e.mustResolve("k2")
	e.wantCode("k1-again", jose.KeyRejected)
	// Inline keys too.
	inline := must(jose.NewJWK(signer("ed25519").Public(), "in1", ""))
	r2 := must(e.cache.Add(jwkscache.Source{Partner: "bank", Keys: []*jose.JWK{inline}}))
	h := &jose.Header{Kid: "in1"}
	if _, err := r2.ResolveKeys(ctx, h); err != nil {
		t.Fatal(err)
	}
	e.cache.SetRevocations([]keys.Revocation{{Partner: "bank", Kid: "in1", At: t0, Actor: "bob", Reason: "r"}})
	if _, err := r2.ResolveKeys(ctx, h); jose.CodeOf(err) != jose.KeyRejected {
		t.Fatalf("inline revoked: %v", err)
	}
	// The list replaced: acme's revocation is lifted.
	e.mustResolve("k1-again")
}

func TestInlineAndKidless(t *testing.T) {
	c := must(jwkscache.New(jwkscache.Config{}))
	a := must(jose.NewJWK(signer("p256").Public(), "a", jose.ES256))
	b := must(jose.NewJWK(signer("ed25519").Public(), "", ""))
	r := must(c.Add(jwkscache.Source{Partner: "bank", Keys: []*jose.JWK{a, b}}))
	ctx := context.Background()
	if ks, err := r.ResolveKeys(ctx, &jose.Header{Kid: "a"}); err != nil || len(ks) != 1 {
		t.Fatalf("kid a: %v", err)
	}
	if ks, err := r.ResolveKeys(ctx, &jose.Header{}); err != nil || len(ks) != 2 {
		t.Fatalf("no kid: %d keys, %v", len(ks), err)
	}
	if _, err := r.ResolveKeys(ctx, &jose.Header{Kid: "zz"}); jose.CodeOf(err) != jose.KeyUnknown {
		t.Fatalf("unknown: %v", err)
	}
	priv := must(jose.NewJWK(signer("p256"), "p", ""))
	if _, err := c.Add(jwkscache.Source{Partner: "bad", Keys: []*jose.JWK{priv}}); jose.CodeOf(err) != keys.PartnerInvalid {
		t.Fatalf("inline private key: %v", err)
	}
	c.Remove("bank")
	if _, err := r.ResolveKeys(ctx, &jose.Header{Kid: "a"}); jose.CodeOf(err) != jose.KeyUnavailable {
		t.Fatalf("removed partner: %v", err)
	}
	// Adding a name again retires the resolver handed out before.
	r1 := must(c.Add(jwkscache.Source{Partner: "bank2", Keys: []*jose.JWK{a}}))
	r2 := must(c.Add(jwkscache.Source{Partner: "bank2", Keys: []*jose.JWK{a}}))
	if _, err := r1.ResolveKeys(ctx, &jose.Header{Kid: "zz"}); jose.CodeOf(err) != jose.KeyUnavailable {
		t.Fatalf("replaced resolver: %v", err)
	}
	if _, err := r2.ResolveKeys(ctx, &jose.Header{Kid: "a"}); err != nil {
		t.Fatal(err)
	}
}

// The hit path allocates nothing.
func TestHitAllocs(t *testing.T) {
	srv := newServer(t, set(pubJWK(t, "p256", "k1")), "max-age=600")
	e := newEnv(t, srv, nil)
	e.mustResolve("k1")
	h := &jose.Header{Kid: "k1"}
	ctx := context.Background()
	if n := testing.AllocsPerRun(1000, func() { e.r.ResolveKeys(ctx, h) }); n != 0 {
		t.Fatalf("%v allocations per hit", n)
	}
}

// Max-stale holds on the hit path with the real clock and no refresh
// loop running: a timer expires the set.
func TestMaxStaleRealClock(t *testing.T) {
	srv := newServer(t, set(pubJWK(t, "p256", "k1")), "max-age=0")
	c := must(jwkscache.New(jwkscache.Config{Client: srv.srv.Client(), MinTTL: 10 * time.Millisecond, MaxTTL: 10 * time.Millisecond, MaxStale: 50 * time.Millisecond}))
	r := must(c.Add(jwkscache.Source{Partner: "acme", URL: srv.url()}))
	ctx := context.Background()
	h := &jose.Header{Kid: "k1"}
	if _, err := r.ResolveKeys(ctx, h); err != nil {
		t.Fatal(err)
	}
	srv.set(func(s *jwksServer) { s.status = 500 })
	time.Sleep(20 * time.Millisecond)
	if _, err := r.ResolveKeys(ctx, h); err != nil {
		t.Fatalf("stale but within max-stale: %v", err)
	}
	eventually(t, func() bool {
		_, err := r.ResolveKeys(ctx, h)
		return jose.CodeOf(err) == jose.KeyUnavailable
	})
}
