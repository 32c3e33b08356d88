package jwkscache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisPrefix prefixes every key NewRedis uses.
const DefaultRedisPrefix = "nonrep:jwks:"

// Redis is a Shared on Redis. Keys, under the prefix:
//
//	set:<partner>      the fetched set (JSON Entry), PX = TTL + max-stale
//	lock:<partner>     the fetch lock, SET NX PX, value = this instance's id
//	gate:<name>        fleet-wide gates (unknown-kid refetch), SET NX PX
//	events             the pub/sub channel of purges and revocations
//
// Instances that must share use the same prefix. Anyone who can write to
// these keys can make the fleet trust a key set: protect Redis as you
// protect the gateway's configuration.
type Redis struct {
	c      redis.UniversalClient
	prefix string
	id     string
}

var _ Shared = (*Redis)(nil)

// NewRedis returns a Shared over client ("" prefix: DefaultRedisPrefix).
// The client should have ContextTimeoutEnabled so that a stalled Redis
// cannot hold a refresh past its deadline.
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	var b [8]byte
	rand.Read(b[:])
	return &Redis{c: client, prefix: prefix, id: hex.EncodeToString(b[:])}
}

// Load implements Shared.
func (s *Redis) Load(ctx context.Context, partner string) (*Entry, error) {
	b, err := s.c.Get(ctx, s.prefix+"set:"+partner).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// Save implements Shared.
func (s *Redis) Save(ctx context.Context, partner string, e *Entry, ttl time.Duration) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return s.c.Set(ctx, s.prefix+"set:"+partner, b, ttl).Err()
}

// Delete implements Shared.
func (s *Redis) Delete(ctx context.Context, partner string) error {
	return s.c.Del(ctx, s.prefix+"set:"+partner).Err()
}

// Acquire implements Shared.
func (s *Redis) Acquire(ctx context.Context, partner string, ttl time.Duration) (bool, error) {
	err := s.c.SetArgs(ctx, s.prefix+"lock:"+partner, s.id, redis.SetArgs{Mode: "NX", TTL: ttl}).Err()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	return err == nil, err
}

// release deletes the lock only if this instance still holds it.
var release = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

// Release implements Shared.
func (s *Redis) Release(ctx context.Context, partner string) error {
	return release.Run(ctx, s.c, []string{s.prefix + "lock:" + partner}, s.id).Err()
}

// Allow implements Shared.
func (s *Redis) Allow(ctx context.Context, gate string, every time.Duration) (bool, error) {
	err := s.c.SetArgs(ctx, s.prefix+"gate:"+gate, s.id, redis.SetArgs{Mode: "NX", TTL: every}).Err()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	return err == nil, err
}

type wireNotice struct {
	Origin string `json:"origin"`
	Notice
}

// Publish implements Shared.
func (s *Redis) Publish(ctx context.Context, n Notice) error {
	b, err := json.Marshal(wireNotice{Origin: s.id, Notice: n})
	if err != nil {
		return err
	}
	return s.c.Publish(ctx, s.prefix+"events", b).Err()
}

// Subscribe implements Shared. It returns once the subscription fails or
// ctx is done; notices published by this instance are skipped.
func (s *Redis) Subscribe(ctx context.Context, fn func(Notice)) error {
	ps := s.c.Subscribe(ctx, s.prefix+"events")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil { // the subscription confirmation
		return err
	}
	ch := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m, ok := <-ch:
			if !ok {
				return errors.New("jwkscache: redis subscription closed")
			}
			var n wireNotice
			if json.Unmarshal([]byte(m.Payload), &n) != nil || n.Origin == s.id {
				continue
			}
			fn(n.Notice)
		}
	}
}
