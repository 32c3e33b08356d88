package replay_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/replay"
	"github.com/nonrep/nonrep/replay/replaytest"
)

func TestMemoryConformance(t *testing.T) {
	replaytest.Run(t, replaytest.Backend{
		New: func(t *testing.T, now func() time.Time) replay.Store {
			return newMemory(t, replay.MemoryConfig{Clock: now})
		},
	})
}

// TestMemoryConformanceRealTime runs the suite once more on time.Now, as
// the Redis backend does, to check the suite's real-time path.
func TestMemoryConformanceRealTime(t *testing.T) {
	replaytest.Run(t, replaytest.Backend{
		New: func(t *testing.T, _ func() time.Time) replay.Store {
			return newMemory(t, replay.MemoryConfig{})
		},
		RealTime:  true,
		ExpiryTTL: 100 * time.Millisecond,
	})
}

func newMemory(t testing.TB, cfg replay.MemoryConfig) *replay.Memory {
	t.Helper()
	m, err := replay.NewMemory(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

var ctx = context.Background()

func mustCode(t *testing.T, err error, want jose.Code, what string) {
	t.Helper()
	if got := jose.CodeOf(err); got != want {
		t.Fatalf("%s: got %v (code %q), want code %q", what, err, got, want)
	}
}

func TestNewMemoryConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  replay.MemoryConfig
		want jose.Code
	}{
		{name: "zero value", cfg: replay.MemoryConfig{}},
		{name: "one entry", cfg: replay.MemoryConfig{MaxEntries: 1}},
		{name: "more shards than entries", cfg: replay.MemoryConfig{MaxEntries: 3, Shards: 64}},
		{name: "negative entries", cfg: replay.MemoryConfig{MaxEntries: -1}, want: replay.Invalid},
		{name: "negative shards", cfg: replay.MemoryConfig{Shards: -1}, want: replay.Invalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := replay.NewMemory(tc.cfg)
			mustCode(t, err, tc.want, "NewMemory")
			if err == nil {
				mustCode(t, m.Claim(ctx, "x", time.Second), "", "claim")
			}
		})
	}
}

// The capacity is exact even when entries do not divide evenly into
// shards, and more shards than entries do not leave unusable shards.
func TestMemoryCapacityExact(t *testing.T) {
	for _, tc := range []struct{ max, shards int }{{1, 0}, {3, 64}, {10, 4}, {100, 7}} {
		t.Run(fmt.Sprintf("max=%d/shards=%d", tc.max, tc.shards), func(t *testing.T) {
			m := newMemory(t, replay.MemoryConfig{MaxEntries: tc.max, Shards: tc.shards})
			ok := 0
			for i := range 100 * tc.max {
				err := m.Claim(ctx, strconv.Itoa(i), time.Hour)
				switch jose.CodeOf(err) {
				case "":
					ok++
				case replay.Unavailable:
				default:
					t.Fatalf("claim %d: %v", i, err)
				}
			}
			if ok != tc.max {
				t.Fatalf("accepted %d distinct ids, want exactly MaxEntries=%d", ok, tc.max)
			}
		})
	}
}

// A store full of live ids fails closed, keeps detecting replays of the
// ids it holds, and accepts new ids once the old ones expire.
func TestMemoryFullFailsClosed(t *testing.T) {
	clock := replaytest.NewFakeClock(time.Unix(1_700_000_000, 0))
	m := newMemory(t, replay.MemoryConfig{MaxEntries: 100, Shards: 1, Clock: clock.Now})
	for i := range 100 {
		mustCode(t, m.Claim(ctx, fmt.Sprint("live-", i), time.Minute), "", "fill")
	}
	for i := range 10 {
		mustCode(t, m.Claim(ctx, fmt.Sprint("new-", i), time.Minute), replay.Unavailable, "claim when full")
	}
	for i := range 100 {
		mustCode(t, m.Claim(ctx, fmt.Sprint("live-", i), time.Minute), replay.Detected, "replay when full")
	}
	if got := m.Len(); got != 100 {
		t.Fatalf("Len = %d after refused claims, want 100", got)
	}

	clock.Advance(time.Minute - time.Nanosecond)
	mustCode(t, m.Claim(ctx, "new-0", time.Minute), replay.Unavailable, "claim 1ns before expiry")
	mustCode(t, m.Claim(ctx, "live-0", time.Minute), replay.Detected, "replay 1ns before expiry")

	clock.Advance(time.Nanosecond) // exactly claim time + ttl: expired
	for i := range 100 {
		mustCode(t, m.Claim(ctx, fmt.Sprint("new-", i), time.Minute), "", "claim after expiry")
	}
	mustCode(t, m.Claim(ctx, "one-more", time.Minute), replay.Unavailable, "full again")
	mustCode(t, m.Claim(ctx, "live-0", time.Minute), replay.Unavailable, "expired id, store full")
}

// Eviction goes by expiry time: only ids whose ttl has passed make room,
// in order of expiry, and no live id is ever dropped.
func TestMemoryEvictsByExpiry(t *testing.T) {
	clock := replaytest.NewFakeClock(time.Unix(1_700_000_000, 0))
	m := newMemory(t, replay.MemoryConfig{MaxEntries: 100, Shards: 1, Clock: clock.Now})
	// id-i lives i seconds; claim in an order unrelated to expiry.
	for k := range 100 {
		i := (k*37)%100 + 1
		mustCode(t, m.Claim(ctx, fmt.Sprint("id-", i), time.Duration(i)*time.Second), "", "fill")
	}
	clock.Advance(10*time.Second + time.Millisecond) // id-1 … id-10 expired
	for i := range 10 {
		mustCode(t, m.Claim(ctx, fmt.Sprint("new-", i), time.Hour), "", "claim into freed room")
	}
	mustCode(t, m.Claim(ctx, "new-10", time.Hour), replay.Unavailable, "no more room")
	for i := 11; i <= 100; i++ {
		mustCode(t, m.Claim(ctx, fmt.Sprint("id-", i), time.Hour), replay.Detected, "live id kept")
	}
	clock.Advance(5 * time.Second) // id-11 … id-15 expired
	for i := 11; i <= 15; i++ {
		mustCode(t, m.Claim(ctx, fmt.Sprint("id-", i), time.Hour), "", "reclaim expired id")
	}
	mustCode(t, m.Claim(ctx, "id-16", time.Hour), replay.Detected, "id-16 still live")
}

// Expired entries are evicted lazily by later claims, a bounded batch at a
// time, so that memory returns without a janitor goroutine.
func TestMemoryLazyEviction(t *testing.T) {
	clock := replaytest.NewFakeClock(time.Unix(1_700_000_000, 0))
	m := newMemory(t, replay.MemoryConfig{Shards: 1, Clock: clock.Now})
	const n = 1000
	for i := range n {
		mustCode(t, m.Claim(ctx, fmt.Sprint("old-", i), time.Second), "", "fill")
	}
	clock.Advance(2 * time.Second)
	mustCode(t, m.Claim(ctx, "new-0", time.Hour), "", "first claim after expiry")
	if got := m.Len(); got < n-16 || got >= n+1 {
		t.Fatalf("Len = %d after one claim, want a bounded batch evicted (about %d)", got, n-16)
	}
	for i := 1; i < n; i++ {
		mustCode(t, m.Claim(ctx, fmt.Sprint("new-", i), time.Hour), "", "claim")
	}
	if got := m.Len(); got != n {
		t.Fatalf("Len = %d, want %d: all expired entries evicted, all new ones kept", got, n)
	}
	// Reclaiming an expired id that is still in the map works too.
	clock.Advance(2 * time.Hour)
	mustCode(t, m.Claim(ctx, "new-999", time.Hour), "", "reclaim expired")
	mustCode(t, m.Claim(ctx, "new-999", time.Hour), replay.Detected, "replay of reclaimed")
}

func TestMemoryClose(t *testing.T) {
	m := newMemory(t, replay.MemoryConfig{})
	mustCode(t, m.Claim(ctx, "a", time.Hour), "", "claim")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	mustCode(t, m.Claim(ctx, "a", time.Hour), replay.Unavailable, "replay after close")
	mustCode(t, m.Claim(ctx, "b", time.Hour), replay.Unavailable, "claim after close")
}

// A huge ttl saturates instead of wrapping into the past.
func TestMemoryHugeTTL(t *testing.T) {
	clock := replaytest.NewFakeClock(time.Unix(1_700_000_000, 0))
	m := newMemory(t, replay.MemoryConfig{Clock: clock.Now})
	clock.Advance(time.Hour)
	mustCode(t, m.Claim(ctx, "forever", time.Duration(1<<63-1)), "", "claim")
	clock.Advance(100 * 365 * 24 * time.Hour)
	mustCode(t, m.Claim(ctx, "forever", time.Hour), replay.Detected, "replay a century later")
}

// The store must not keep the caller's buffer alive or see later changes
// to it.
func TestMemoryCopiesID(t *testing.T) {
	m := newMemory(t, replay.MemoryConfig{})
	buf := []byte("jti-mutable")
	id := string(buf) // fresh copy; the test then claims a look-alike
	mustCode(t, m.Claim(ctx, id, time.Hour), "", "claim")
	buf[0] = 'J'
	mustCode(t, m.Claim(ctx, "jti-mutable", time.Hour), replay.Detected, "replay")
	mustCode(t, m.Claim(ctx, string(buf), time.Hour), "", "different id")
}

func TestErrorsAreJoseErrors(t *testing.T) {
	m := newMemory(t, replay.MemoryConfig{})
	mustCode(t, m.Claim(ctx, "dup", time.Hour), "", "claim")
	err := m.Claim(ctx, "dup", time.Hour)
	var je *jose.Error
	if !errors.As(err, &je) || !errors.Is(err, replay.Detected) || errors.Is(err, replay.Unavailable) {
		t.Fatalf("got %#v", err)
	}
}

// BenchmarkClaim measures a first claim of a distinct id on a store that
// holds a steady population of live entries (ids cycle through a large
// ring, each living 5ms of real time).
func BenchmarkClaim(b *testing.B) {
	b.Run("backend=memory", func(b *testing.B) {
		m := newMemory(b, replay.MemoryConfig{})
		ids := benchIDs(1 << 20)
		var next uint64
		b.ReportAllocs()
		for b.Loop() {
			id := ids[next&(1<<20-1)]
			next++
			if err := m.Claim(ctx, id, 5*time.Millisecond); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkClaimParallel(b *testing.B) {
	b.Run("backend=memory", func(b *testing.B) {
		m := newMemory(b, replay.MemoryConfig{})
		ids := benchIDs(1 << 20)
		var next atomic.Uint64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				id := ids[next.Add(1)&(1<<20-1)]
				if err := m.Claim(ctx, id, 5*time.Millisecond); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkClaimReplay measures the rejection of a replayed id.
func BenchmarkClaimReplay(b *testing.B) {
	b.Run("backend=memory", func(b *testing.B) {
		m := newMemory(b, replay.MemoryConfig{})
		if err := m.Claim(ctx, "jti-bench", time.Hour); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if !errors.Is(m.Claim(ctx, "jti-bench", time.Hour), replay.Detected) {
				b.Fatal("replay not detected")
			}
		}
	})
}

func benchIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "bench-jti-" + strconv.Itoa(i)
	}
	return ids
}
