package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/replay"
	"github.com/nonrep/nonrep/replay/redisstore"
	"github.com/nonrep/nonrep/replay/replaytest"
	"github.com/redis/go-redis/v9"
)

// Tests run against a real Redis server: 127.0.0.1:6379, or the address in
// NONREP_TEST_REDIS_ADDR. Without one they skip, except under CI=true,
// where they fail.

func redisAddr() string {
	if a := os.Getenv("NONREP_TEST_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// testClient returns a client of the test server, or skips (fails in CI).
func testClient(tb testing.TB) *redis.Client {
	tb.Helper()
	addr := redisAddr()
	c := redis.NewClient(&redis.Options{
		Addr:                  addr,
		ContextTimeoutEnabled: true,
		DialTimeout:           2 * time.Second,
		PoolSize:              128,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		msg := "redis not reachable at " + addr + ": " + err.Error()
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// newStore returns a Store under a fresh random prefix whose keys are
// deleted when the test ends.
func newStore(tb testing.TB, c *redis.Client) (*redisstore.Store, string) {
	tb.Helper()
	var b [8]byte
	rand.Read(b[:])
	prefix := "nonrep:test:" + hex.EncodeToString(b[:]) + ":"
	s, err := redisstore.New(c, redisstore.Config{Prefix: prefix})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { deletePrefix(tb, c, prefix) })
	return s, prefix
}

func deletePrefix(tb testing.TB, c *redis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var batch []string
	flush := func() {
		if len(batch) > 0 {
			if err := c.Unlink(ctx, batch...).Err(); err != nil {
				tb.Errorf("cleanup of %s*: %v", prefix, err)
			}
			batch = batch[:0]
		}
	}
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == 1000 {
			flush()
		}
	}
	flush()
	if err := iter.Err(); err != nil {
		tb.Errorf("cleanup scan of %s*: %v", prefix, err)
	}
}

func TestConformance(t *testing.T) {
	c := testClient(t)
	replaytest.Run(t, replaytest.Backend{
		New: func(t *testing.T, _ func() time.Time) replay.Store {
			s, _ := newStore(t, c)
			return s
		},
		RealTime: true,
	})
}

var ctx = context.Background()

func mustCode(t *testing.T, err error, want jose.Code, what string) {
	t.Helper()
	if got := jose.CodeOf(err); got != want {
		t.Fatalf("%s: got %v (code %q), want code %q", what, err, got, want)
	}
}

// The wire command is SET prefix+id 1 NX PX ms: the key and value are as
// documented and the expiry is the ttl rounded up to milliseconds.
func TestKeyAndTTL(t *testing.T) {
	c := testClient(t)
	s, prefix := newStore(t, c)
	mustCode(t, s.Claim(ctx, "jti-ttl", 10*time.Second+time.Nanosecond), "", "claim")
	val, err := c.Get(ctx, prefix+"jti-ttl").Result()
	if err != nil || val != "1" {
		t.Fatalf("GET %sjti-ttl = %q, %v; want \"1\"", prefix, val, err)
	}
	pttl, err := c.PTTL(ctx, prefix+"jti-ttl").Result()
	if err != nil {
		t.Fatal(err)
	}
	if pttl > 10001*time.Millisecond || pttl < 9*time.Second {
		t.Fatalf("PTTL = %v, want just under 10.001s", pttl)
	}
	// A sub-millisecond ttl still sets an expiry (1 ms), never a
	// persistent key.
	mustCode(t, s.Claim(ctx, "jti-1ns", time.Nanosecond), "", "claim 1ns")
	time.Sleep(20 * time.Millisecond)
	if n, err := c.Exists(ctx, prefix+"jti-1ns").Result(); err != nil || n != 0 {
		t.Fatalf("1ns claim still present after 20ms: %d, %v", n, err)
	}
}

// Two Stores (two gateway instances) with one prefix see each other's
// claims; with different prefixes they do not.
func TestSharedAcrossInstances(t *testing.T) {
	c1, c2 := testClient(t), testClient(t)
	a, prefix := newStore(t, c1)
	b, err := redisstore.New(c2, redisstore.Config{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := newStore(t, c2)
	mustCode(t, a.Claim(ctx, "jti-shared", time.Minute), "", "claim on instance a")
	mustCode(t, b.Claim(ctx, "jti-shared", time.Minute), replay.Detected, "replay on instance b")
	mustCode(t, other.Claim(ctx, "jti-shared", time.Minute), "", "claim under another prefix")
}

func TestDefaultPrefix(t *testing.T) {
	c := testClient(t)
	s, err := redisstore.New(c, redisstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var b [8]byte
	rand.Read(b[:])
	id := "test-default-prefix-" + hex.EncodeToString(b[:])
	t.Cleanup(func() { c.Del(context.Background(), redisstore.DefaultPrefix+id) })
	mustCode(t, s.Claim(ctx, id, time.Minute), "", "claim")
	if n, err := c.Exists(ctx, redisstore.DefaultPrefix+id).Result(); err != nil || n != 1 {
		t.Fatalf("key %s%s not found: %d, %v", redisstore.DefaultPrefix, id, n, err)
	}
}

// A Redis that refuses connections fails closed.
func TestUnreachableFailsClosed(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true, MaxRetries: -1})
	defer c.Close()
	s, err := redisstore.New(c, redisstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Claim(ctx, "jti-down", time.Minute)
	mustCode(t, err, replay.Unavailable, "claim with Redis down")
	if errors.Unwrap(err) == nil {
		t.Fatalf("%v does not wrap its cause", err)
	}
	mustCode(t, s.Claim(ctx, "jti-down", time.Minute), replay.Unavailable, "same id again")
}

// A Redis that accepts the connection and never answers is cut off by the
// request's deadline, not by the client's 3 s read timeout.
func TestStalledRedisRespectsDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int32
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			defer conn.Close() // hold it open, read nothing, answer nothing
		}
	}()
	c := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), ContextTimeoutEnabled: true, MaxRetries: -1})
	defer c.Close()
	s, err := redisstore.New(c, redisstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = s.Claim(cctx, "jti-stalled", time.Minute)
	elapsed := time.Since(start)
	mustCode(t, err, replay.Unavailable, "claim on stalled Redis")
	if elapsed > time.Second {
		t.Fatalf("claim took %v with a 100ms deadline", elapsed)
	}
	if conns.Load() == 0 {
		t.Fatal("the stalled server saw no connection; the test proved nothing")
	}
}

// An error reply from Redis fails closed. A temporary ACL user that may not
// touch the store's keys gets NOPERM for the SET.
func TestErrorReplyFailsClosed(t *testing.T) {
	admin := testClient(t)
	var r [8]byte
	rand.Read(r[:])
	user, pass := "nonrep-test-"+hex.EncodeToString(r[:]), hex.EncodeToString(r[:])
	if err := admin.Do(ctx, "ACL", "SETUSER", user, "on", ">"+pass, "+@all", "~elsewhere:*").Err(); err != nil {
		t.Skipf("cannot create an ACL user: %v", err)
	}
	t.Cleanup(func() { admin.Do(context.Background(), "ACL", "DELUSER", user) })
	c := redis.NewClient(&redis.Options{Addr: redisAddr(), Username: user, Password: pass, ContextTimeoutEnabled: true})
	defer c.Close()
	s, err := redisstore.New(c, redisstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Claim(ctx, "jti-noperm", time.Minute)
	mustCode(t, err, replay.Unavailable, "claim refused by ACL")
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		t.Fatalf("%v does not wrap the Redis error reply", err)
	}
}

func TestNewRejects(t *testing.T) {
	noCtx := redis.NewClient(&redis.Options{Addr: redisAddr()})
	defer noCtx.Close()
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": redisAddr()}})
	defer ring.Close()
	cluster := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{redisAddr()}})
	defer cluster.Close()
	var nilClient *redis.Client
	tests := []struct {
		name   string
		client redis.UniversalClient
	}{
		{"nil interface", nil},
		{"nil *redis.Client", nilClient},
		{"client without ContextTimeoutEnabled", noCtx},
		{"ring without ContextTimeoutEnabled", ring},
		{"cluster without ContextTimeoutEnabled", cluster},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := redisstore.New(tc.client, redisstore.Config{})
			if s != nil {
				t.Fatal("got a store")
			}
			mustCode(t, err, replay.Invalid, "New")
		})
	}
}

func BenchmarkClaim(b *testing.B) {
	b.Run("backend=redis", func(b *testing.B) {
		c := testClient(b)
		s, _ := newStore(b, c)
		var next uint64
		buf := make([]byte, 0, 32)
		b.ReportAllocs()
		for b.Loop() {
			buf = strconv.AppendUint(append(buf[:0], "bench-jti-"...), next, 10)
			next++
			if err := s.Claim(ctx, string(buf), time.Minute); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkClaimParallel(b *testing.B) {
	b.Run("backend=redis", func(b *testing.B) {
		c := testClient(b)
		s, _ := newStore(b, c)
		var next atomic.Uint64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			buf := make([]byte, 0, 32)
			for pb.Next() {
				buf = strconv.AppendUint(append(buf[:0], "bench-jti-"...), next.Add(1), 10)
				if err := s.Claim(ctx, string(buf), time.Minute); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkClaimReplay(b *testing.B) {
	b.Run("backend=redis", func(b *testing.B) {
		c := testClient(b)
		s, _ := newStore(b, c)
		if err := s.Claim(ctx, "jti-bench", time.Hour); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if !errors.Is(s.Claim(ctx, "jti-bench", time.Hour), replay.Detected) {
				b.Fatal("replay not detected")
			}
		}
	})
}
