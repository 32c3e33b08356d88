package replay

import (
	"context"
	"hash/maphash"
	"io"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MemoryConfig configures NewMemory. The zero value is usable.
type MemoryConfig struct {
	// MaxEntries bounds the number of ids held at once, across all shards.
	// Zero means 1_000_000. Memory use is about len(id) + 100 bytes per
	// entry.
	MaxEntries int
	// Shards is the number of independently locked partitions. Zero means
	// 64. It is lowered to MaxEntries if larger.
	Shards int
	// Clock returns the current time. Nil means time.Now. Time is measured
	// as an offset from the first reading, so a clock carrying a monotonic
	// reading (time.Now does) makes expiry immune to wall-clock steps.
	Clock func() time.Time
}

const (
	defaultMaxEntries = 1_000_000
	defaultShards     = 64
	// sweepBatch bounds how many expired entries one Claim evicts when its
	// shard is not full, so that a mass expiry never stalls one caller.
	sweepBatch = 16
)

// Memory is an in-process Store: a sharded map of id to expiry, with a
// per-shard min-heap of expiries for eviction. It suits a single gateway
// instance; several instances need a shared backend such as redisstore.
//
// Memory never evicts an unexpired id. When a shard is full of live ids,
// Claim fails closed with Unavailable until some of them expire.
//
// A Memory is safe for concurrent use. It starts no goroutines.
type Memory struct {
	clock  func() time.Time
	base   time.Time
	seed   maphash.Seed
	shards []shard
	closed atomic.Bool
}

var (
	_ Store     = (*Memory)(nil)
	_ io.Closer = (*Memory)(nil)
)

type shard struct {
	mu    sync.Mutex
	limit int
	ids   map[string]int64 // id -> expiry, in ns since Memory.base
	heap  []entry          // min-heap on exp; may also hold stale entries
	_     [64]byte         // keep hot shards on separate cache lines
}

type entry struct {
	exp int64
	id  string
}

// NewMemory returns an empty Memory. It returns an error with code Invalid
// if MaxEntries or Shards is negative.
func NewMemory(cfg MemoryConfig) (*Memory, error) {
	if cfg.MaxEntries < 0 {
		return nil, errorf(Invalid, "memory: MaxEntries %d is negative", cfg.MaxEntries)
	}
	if cfg.Shards < 0 {
		return nil, errorf(Invalid, "memory: Shards %d is negative", cfg.Shards)
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = defaultMaxEntries
	}
	if cfg.Shards == 0 {
		cfg.Shards = defaultShards
	}
	cfg.Shards = min(cfg.Shards, cfg.MaxEntries)
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	m := &Memory{
		clock:  cfg.Clock,
		base:   cfg.Clock(),
		seed:   maphash.MakeSeed(),
		shards: make([]shard, cfg.Shards),
	}
	per, extra := cfg.MaxEntries/cfg.Shards, cfg.MaxEntries%cfg.Shards
	for i := range m.shards {
		s := &m.shards[i]
		s.limit = per
		if i < extra {
			s.limit++
		}
		s.ids = make(map[string]int64)
	}
	return m, nil
}

// Claim implements Store. An id is held from the Claim until, but not
// including, the instant Claim time + ttl.
func (m *Memory) Claim(ctx context.Context, id string, ttl time.Duration) error {
	if err := ValidateClaim(id, ttl); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return UnavailableError(err, "memory: context done before claim")
	}
	if m.closed.Load() {
		return UnavailableError(nil, "memory: store closed")
	}
	now := int64(m.clock().Sub(m.base))
	exp := now + int64(ttl)
	if exp < now { // overflow: hold "forever"
		exp = math.MaxInt64
	}

	s := &m.shards[maphash.String(m.seed, id)%uint64(len(m.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids == nil { // closed after the check above
		return UnavailableError(nil, "memory: store closed")
	}
	s.evict(now, sweepBatch)
	if held, ok := s.ids[id]; ok {
		if held > now {
			return DetectedError(id)
		}
		// Expired but not yet swept: drop it and claim afresh below. Its
		// heap entry goes stale; evict recognises it by its older expiry.
		delete(s.ids, id)
	}
	if len(s.ids) >= s.limit {
		s.evict(now, math.MaxInt)
		if len(s.ids) >= s.limit {
			return UnavailableError(nil, "memory: shard full of unexpired ids")
		}
	}
	// Clone: the caller's string may point into a large request buffer
	// that we must not keep alive.
	id = strings.Clone(id)
	s.ids[id] = exp
	s.push(entry{exp: exp, id: id})
	return nil
}

// Len returns the number of ids stored, including expired ones not yet
// evicted. It is meant for metrics and tests.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.ids)
		s.mu.Unlock()
	}
	return n
}

// Close releases the store's memory. Claims after Close fail closed with
// Unavailable. Close is idempotent and always returns nil.
func (m *Memory) Close() error {
	m.closed.Store(true)
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		s.ids, s.heap = nil, nil
		s.mu.Unlock()
	}
	return nil
}

// evict removes up to max entries whose expiry is at or before now, in
// expiry order. The caller holds s.mu.
func (s *shard) evict(now int64, max int) {
	for n := 0; n < max && len(s.heap) > 0 && s.heap[0].exp <= now; n++ {
		e := s.pop()
		// Skip a stale entry: the id was claimed again and now carries a
		// later expiry (see Claim).
		if held, ok := s.ids[e.id]; ok && held == e.exp {
			delete(s.ids, e.id)
		}
	}
}

func (s *shard) push(e entry) {
	h := append(s.heap, e)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h[p].exp <= h[i].exp {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
	s.heap = h
}

func (s *shard) pop() entry {
	h := s.heap
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = entry{} // drop the string reference
	h = h[:last]
	for i := 0; ; {
		l, r, small := 2*i+1, 2*i+2, i
		if l < len(h) && h[l].exp < h[small].exp {
			small = l
		}
		if r < len(h) && h[r].exp < h[small].exp {
			small = r
		}
		if small == i {
			break
		}
		h[i], h[small] = h[small], h[i]
		i = small
	}
	s.heap = h
	return top
}
