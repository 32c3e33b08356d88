package jwkscache_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nonrep/nonrep/internal/testenv"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/keys"
	"github.com/nonrep/nonrep/keys/jwkscache"
	"github.com/nonrep/nonrep/keys/keystest"
)

// Three instances sharing one Redis make one fetch per TTL between them,
// and purges and revocations reach every instance.
func TestRedisFleet(t *testing.T) {
	rc := testenv.Redis(t)
	var b [6]byte
	rand.Read(b[:])
	prefix := "nonrep:test:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		ks, _ := rc.Keys(ctx, prefix+"*").Result()
		if len(ks) > 0 {
			rc.Del(ctx, ks...)
		}
	})
	srv := newServer(t, set(pubJWK(t, "p256", "k1"), pubJWK(t, "p256b", "k2")), "max-age=600")
	clk := keystest.NewClock(t0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var fleet []*jwkscache.Cache
	var rs []*jwkscache.Resolver
	for range 3 {
		c := must(jwkscache.New(jwkscache.Config{
			Client: srv.srv.Client(), Clock: clk.Now, Shared: jwkscache.NewRedis(rc, prefix),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		}))
		fleet = append(fleet, c)
		rs = append(rs, must(c.Add(jwkscache.Source{Partner: "acme", URL: srv.url()})))
	}
	h := &jose.Header{Kid: "k1"}
	for _, c := range fleet {
		c.RefreshDue(ctx)
	}
	for i, r := range rs {
		if _, err := r.ResolveKeys(ctx, h); err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches for three instances; want 1", n)
	}
	// An hour of refreshes: about one fetch per refresh period, not three.
	for range 60 {
		clk.Advance(time.Minute)
		for _, c := range fleet {
			c.RefreshDue(ctx)
		}
	}
	if n := srv.hits.Load(); n > 1+60/7+1 {
		t.Fatalf("%d fetches in an hour for three instances with a 10 min TTL", n)
	}
	imports := uint64(0)
	for _, c := range fleet {
		imports += c.Stats().SharedImports
	}
	if imports == 0 {
		t.Fatal("no instance took a set from the fleet")
	}
	// Unknown kids: one refetch per minute for the whole fleet.
	before := srv.hits.Load()
	for i, r := range rs {
		if _, err := r.ResolveKeys(ctx, &jose.Header{Kid: "nope" + string(rune('a'+i))}); jose.CodeOf(err) != jose.KeyUnknown {
			t.Fatal(err)
		}
	}
	if n := srv.hits.Load() - before; n != 1 {
		t.Fatalf("%d unknown-kid refetches across the fleet; want 1", n)
	}

	// Notices: instance 0 revokes and purges; 1 and 2 follow.
	for _, c := range fleet[1:] {
		go c.Run(ctx)
	}
	rv := keys.Revocation{Partner: "acme", Kid: "k1", Actor: "alice", Reason: "leak"}
	eventually(t, func() bool {
		// Publish until the subscribers are up; a repeat is harmless.
		if err := fleet[0].Revoke(ctx, rv); err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if _, err := r.ResolveKeys(ctx, h); jose.CodeOf(err) != jose.KeyRejected {
				return false
			}
		}
		return true
	})
	srv.set(func(s *jwksServer) { s.body = []byte(set(pubJWK(t, "ed25519", "k3"))) })
	eventually(t, func() bool {
		if err := fleet[0].Purge(ctx, "acme", "alice", "partner rotated after a leak"); err != nil {
			t.Fatal(err)
		}
		// k2 was in the purged set only.
		for _, r := range rs[1:] {
			if _, err := r.ResolveKeys(ctx, &jose.Header{Kid: "k2"}); err == nil {
				return false
			}
		}
		return true
	})
	for i, r := range rs {
		if _, err := r.ResolveKeys(ctx, &jose.Header{Kid: "k3"}); err != nil {
			t.Fatalf("instance %d after purge: %v", i, err)
		}
	}
}

func eventually(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
