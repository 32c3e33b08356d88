package redisstore

import (
	"testing"
	"time"
)

func TestTTLMillis(t *testing.T) {
	tests := []struct {
		ttl  time.Duration
		want int64
	}{
		{time.Nanosecond, 1},
		{999 * time.Microsecond, 1},
		{time.Millisecond, 1},
		{time.Millisecond + time.Nanosecond, 2},
		{1500 * time.Microsecond, 2},
		{time.Second, 1000},
		{time.Minute + time.Nanosecond, 60001},
		{time.Duration(1<<63 - 1), (1<<63-1)/1_000_000 + 1},
	}
	for _, tc := range tests {
		if got := ttlMillis(tc.ttl); got != tc.want {
			t.Errorf("ttlMillis(%v) = %d, want %d", tc.ttl, got, tc.want)
		}
	}
}
