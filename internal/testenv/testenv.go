// Package testenv connects tests to the real PostgreSQL and Redis servers
// this project is tested against. Where a server is absent (a laptop) the
// test skips with a clear message; under CI=true it fails instead, so a CI
// run can never pass by skipping.
package testenv

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Unavailable skips tb, or fails it when CI=true.
func Unavailable(tb testing.TB, what string, err error) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s is required under CI=true but unreachable: %v", what, err)
	}
	tb.Skipf("%s unreachable, skipping (set CI=true to make this a failure): %v", what, err)
}

// RedisAddr is the test Redis address (NONREP_TEST_REDIS_ADDR, default
// 127.0.0.1:6379).
func RedisAddr() string {
	if a := os.Getenv("NONREP_TEST_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// Redis returns a client of the test Redis server, closed at cleanup.
func Redis(tb testing.TB) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: RedisAddr(), ContextTimeoutEnabled: true, DialTimeout: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		Unavailable(tb, "redis at "+RedisAddr(), err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}
