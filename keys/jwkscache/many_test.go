package jwkscache_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/keys/jwkscache"
	"github.com/nonrep/nonrep/keys/keystest"
)

// 200 partners in one process: memory and refresh load stay bounded.
func TestManyPartners(t *testing.T) {
	const partners = 200
	sets := make([][]byte, partners)
	for i := range sets {
		sets[i] = []byte(set(pubJWK(t, "p256", fmt.Sprintf("p%d-a", i)), pubJWK(t, "ed25519", fmt.Sprintf("p%d-b", i)), pubJWK(t, "rsa2048", fmt.Sprintf("p%d-c", i))))
	}
	var hits, down atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if down.Load() != 0 {
			http.Error(w, "down", 503)
			return
		}
		var i int
		fmt.Sscanf(strings.TrimPrefix(r.URL.Path, "/p/"), "%d", &i)
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write(sets[i])
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	clk := keystest.NewClock(t0)
	ctx := context.Background()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	client := srv.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 8 // ≥ Concurrency: reuse connections
	c := must(jwkscache.New(jwkscache.Config{Client: client, Clock: clk.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	rs := make([]*jwkscache.Resolver, partners)
	for i := range rs {
		rs[i] = must(c.Add(jwkscache.Source{Partner: fmt.Sprintf("partner-%03d", i), URL: fmt.Sprintf("%s/p/%d", srv.URL, i)}))
	}
	start := time.Now()
	c.RefreshDue(ctx)
	warm := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	for i, r := range rs {
		for _, kid := range []string{"a", "b", "c"} {
			if _, err := r.ResolveKeys(ctx, &jose.Header{Kid: fmt.Sprintf("p%d-%s", i, kid)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := hits.Load(); n != partners {
		t.Fatalf("%d fetches to warm %d partners", n, partners)
	}

	// One hour, refreshing every 10 s of simulated time.
	hits.Store(0)
	peak := int64(0)
	for range 360 {
		clk.Advance(10 * time.Second)
		h0 := hits.Load()
		c.RefreshDue(ctx)
		peak = max(peak, hits.Load()-h0)
	}
	hourly := hits.Load()
	// Every partner refreshes at 75–85 % of its 600 s TTL: 7 or 8 times
	// an hour.
	if hourly < partners*7 || hourly > partners*8 {
		t.Fatalf("%d fetches in an hour for %d partners", hourly, partners)
	}
	for _, st := range c.Statuses() {
		if st.Bucket != jwkscache.BucketFresh {
			t.Fatalf("%s is %s", st.Partner, st.Bucket)
		}
	}

	// Every partner down for an hour: backoff and breakers bound the load.
	down.Store(1)
	hits.Store(0)
	for range 360 {
		clk.Advance(10 * time.Second)
		c.RefreshDue(ctx)
	}
	outage := hits.Load()
	for i, r := range rs {
		if _, err := r.ResolveKeys(ctx, &jose.Header{Kid: fmt.Sprintf("p%d-a", i)}); err != nil {
			t.Fatalf("stale set not served: %v", err)
		}
	}
	if outage > partners*20 {
		t.Fatalf("%d fetch attempts in an hour of outage", outage)
	}
	t.Logf("%d partners × 3 keys: heap %.1f KiB (%.1f KiB/partner), warm-up %v (%d fetches)", partners, float64(heap)/1024, float64(heap)/1024/partners, warm.Round(time.Millisecond), partners)
	t.Logf("refresh load: %d fetches/hour (%.2f/s), at most %d in one 10 s step; during a full outage %d attempts/hour (%.1f per partner)",
		hourly, float64(hourly)/3600, peak, outage, float64(outage)/partners)
}
