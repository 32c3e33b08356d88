// Package replaytest is the conformance suite every replay.Store backend
// must pass. A backend's tests call Run with a Backend that builds fresh,
// empty stores:
//
//	func TestConformance(t *testing.T) {
//		replaytest.Run(t, replaytest.Backend{
//			New: func(t *testing.T, now func() time.Time) replay.Store {
//				m, err := replay.NewMemory(replay.MemoryConfig{Clock: now})
//				if err != nil {
//					t.Fatal(err)
//				}
//				return m
//			},
//		})
//	}
//
// The suite owns time. For a backend that accepts a clock it passes the Now
// of a FakeClock and advances it; for a backend on real time (RealTime:
// true, such as Redis, whose server expires keys) it uses short TTLs and
// sleeps.
package replaytest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/replay"
)

// Backend describes the store under test.
type Backend struct {
	// New returns a fresh, empty store that reads time from now (a backend
	// on real time ignores now). It is called once per subtest, possibly
	// from parallel subtests; register cleanup with t.Cleanup.
	New func(t *testing.T, now func() time.Time) replay.Store
	// RealTime says the store ignores now and expires entries on the wall
	// clock. The suite then sleeps instead of advancing a fake clock.
	RealTime bool
	// ExpiryTTL is the ttl used by the expiry tests when RealTime is set.
	// Zero means 300ms. It must be long enough that a claim followed
	// immediately by a second claim reliably sees the first one live.
	ExpiryTTL time.Duration
}

// Run runs the conformance suite as parallel subtests of t.
func Run(t *testing.T, b Backend) {
	t.Helper()
	if b.New == nil {
		t.Fatal("replaytest: Backend.New is nil")
	}
	tests := []struct {
		name string
		fn   func(*testing.T, harness)
	}{
		{"FirstClaim", testFirstClaim},
		{"Replay", testReplay},
		{"Independent", testIndependent},
		{"AwkwardIDs", testAwkwardIDs},
		{"Expiry", testExpiry},
		{"ExpiryPerID", testExpiryPerID},
		{"Invalid", testInvalid},
		{"CanceledContext", testCanceledContext},
		{"ExpiredDeadline", testExpiredDeadline},
		{"ConcurrentSameID", testConcurrentSameID},
		{"ManyIDs", testManyIDs},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := harness{backend: b, clock: NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))}
			h.store = b.New(t, h.clock.Now)
			if h.store == nil {
				t.Fatal("replaytest: Backend.New returned nil")
			}
			tc.fn(t, h)
		})
	}
}

type harness struct {
	backend Backend
	clock   *FakeClock
	store   replay.Store
}

// ttl is the lifetime the expiry tests use.
func (h harness) ttl() time.Duration {
	if !h.backend.RealTime {
		return time.Minute
	}
	if h.backend.ExpiryTTL > 0 {
		return h.backend.ExpiryTTL
	}
	return 300 * time.Millisecond
}

func (h harness) advance(d time.Duration) {
	if h.backend.RealTime {
		time.Sleep(d)
		return
	}
	h.clock.Advance(d)
}

// long is a ttl that no test outlives.
const long = time.Hour

func claim(t *testing.T, s replay.Store, id string, ttl time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.Claim(ctx, id, ttl)
}

// wantCode fails t unless err carries code as a *jose.Error and matches
// errors.Is for code and for no other replay code.
func wantCode(t *testing.T, err error, code jose.Code, what string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("%s: got %v, want nil", what, err)
		}
		return
	}
	if err == nil {
		t.Fatalf("%s: got nil, want %s", what, code)
	}
	var je *jose.Error
	if !errors.As(err, &je) {
		t.Fatalf("%s: got %T %v, want a *jose.Error", what, err, err)
	}
	if je.Code != code {
		t.Fatalf("%s: got code %s (%v), want %s", what, je.Code, err, code)
	}
	for _, c := range replay.Codes() {
		if got := errors.Is(err, c); got != (c == code) {
			t.Fatalf("%s: errors.Is(err, %s) = %v", what, c, got)
		}
	}
}

func testFirstClaim(t *testing.T, h harness) {
	wantCode(t, claim(t, h.store, "jti-first", long), "", "first claim")
}

func testReplay(t *testing.T, h harness) {
	wantCode(t, claim(t, h.store, "jti-replay", long), "", "first claim")
	for i := range 3 {
		wantCode(t, claim(t, h.store, "jti-replay", long), replay.Detected, fmt.Sprintf("replay %d", i))
	}
	// A replay with a different ttl is still a replay.
	wantCode(t, claim(t, h.store, "jti-replay", time.Millisecond), replay.Detected, "replay with short ttl")
}

func testIndependent(t *testing.T, h harness) {
	ids := []string{"a", "b", "A", "a ", " a", "ab", "a\x00", "partner-1:jti-1", "partner-2:jti-1"}
	for _, id := range ids {
		wantCode(t, claim(t, h.store, id, long), "", fmt.Sprintf("claim %q", id))
	}
	for _, id := range ids {
		wantCode(t, claim(t, h.store, id, long), replay.Detected, fmt.Sprintf("replay %q", id))
	}
}

func testAwkwardIDs(t *testing.T, h harness) {
	long512 := strings.Repeat("x", replay.MaxIDLen)
	ids := []string{
		long512,
		long512[:replay.MaxIDLen-1] + "y", // differs only in the last byte
		"\xff\xfe not utf-8",
		"new\nline\r\n",
		"*?[glob]{tag}",
		"ünïcödé 🔑",
		replay.SignatureID([]byte("signature bytes")),
		"\x00",
	}
	for _, id := range ids {
		wantCode(t, claim(t, h.store, id, long), "", fmt.Sprintf("claim %q", id))
	}
	for _, id := range ids {
		wantCode(t, claim(t, h.store, id, long), replay.Detected, fmt.Sprintf("replay %q", id))
	}
}

func testExpiry(t *testing.T, h harness) {
	ttl := h.ttl()
	wantCode(t, claim(t, h.store, "jti-expiry", ttl), "", "first claim")
	wantCode(t, claim(t, h.store, "jti-expiry", ttl), replay.Detected, "replay at once")
	h.advance(ttl / 2)
	wantCode(t, claim(t, h.store, "jti-expiry", ttl), replay.Detected, "replay at ttl/2")
	// Past the ttl the id is free; the new claim holds it again.
	h.advance(ttl/2 + ttl/4)
	wantCode(t, claim(t, h.store, "jti-expiry", ttl), "", "claim after expiry")
	wantCode(t, claim(t, h.store, "jti-expiry", ttl), replay.Detected, "replay after reclaim")
}

func testExpiryPerID(t *testing.T, h harness) {
	ttl := h.ttl()
	wantCode(t, claim(t, h.store, "short", ttl), "", "claim short")
	wantCode(t, claim(t, h.store, "long", long), "", "claim long")
	h.advance(ttl + ttl/4)
	wantCode(t, claim(t, h.store, "short", ttl), "", "reclaim short after its expiry")
	wantCode(t, claim(t, h.store, "long", long), replay.Detected, "long still held")
}

func testInvalid(t *testing.T, h harness) {
	tests := []struct {
		name string
		id   string
		ttl  time.Duration
		want jose.Code
	}{
		{name: "empty id", id: "", ttl: long, want: replay.Invalid},
		{name: "zero ttl", id: "jti-invalid", ttl: 0, want: replay.Invalid},
		{name: "negative ttl", id: "jti-invalid", ttl: -time.Second, want: replay.Invalid},
		{name: "id too long", id: strings.Repeat("x", replay.MaxIDLen+1), ttl: long, want: replay.Invalid},
		{name: "id at limit", id: strings.Repeat("z", replay.MaxIDLen), ttl: long, want: ""},
		{name: "1ns ttl", id: "jti-1ns", ttl: time.Nanosecond, want: ""},
	}
	for _, tc := range tests {
		wantCode(t, claim(t, h.store, tc.id, tc.ttl), tc.want, tc.name)
	}
	// A rejected claim records nothing.
	wantCode(t, claim(t, h.store, "jti-invalid", long), "", "claim after invalid ttls")
}

func testCanceledContext(t *testing.T, h harness) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := h.store.Claim(ctx, "jti-canceled", long)
	wantCode(t, err, replay.Unavailable, "claim with canceled context")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("claim with canceled context: %v does not wrap context.Canceled", err)
	}
}

func testExpiredDeadline(t *testing.T, h harness) {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	err := h.store.Claim(ctx, "jti-deadline", long)
	wantCode(t, err, replay.Unavailable, "claim past deadline")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("claim past deadline: %v does not wrap context.DeadlineExceeded", err)
	}
}

func testConcurrentSameID(t *testing.T, h harness) {
	const goroutines, rounds = 64, 8
	for round := range rounds {
		id := fmt.Sprintf("jti-race-%d", round)
		var (
			start = make(chan struct{})
			wg    sync.WaitGroup
			errs  = make([]error, goroutines)
		)
		for g := range goroutines {
			wg.Go(func() {
				<-start
				errs[g] = claim(t, h.store, id, long)
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for g, err := range errs {
			if err == nil {
				won++
				continue
			}
			wantCode(t, err, replay.Detected, fmt.Sprintf("round %d goroutine %d", round, g))
		}
		if won != 1 {
			t.Fatalf("round %d: %d of %d concurrent claims of one id succeeded, want exactly 1", round, won, goroutines)
		}
	}
}

func testManyIDs(t *testing.T, h harness) {
	const n, workers = 2000, 16
	run := func(want jose.Code, what string) {
		var wg sync.WaitGroup
		errs := make([]error, n)
		for w := range workers {
			wg.Go(func() {
				for i := w; i < n; i += workers {
					errs[i] = claim(t, h.store, fmt.Sprintf("jti-many-%d", i), long)
				}
			})
		}
		wg.Wait()
		for i, err := range errs {
			wantCode(t, err, want, fmt.Sprintf("%s jti-many-%d", what, i))
		}
	}
	run("", "claim")
	run(replay.Detected, "replay")
}
