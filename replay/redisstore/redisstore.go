// Package redisstore is a replay.Store on Redis, shared by every gateway
// instance that talks to the same Redis (or Redis Cluster) deployment.
//
// A claim is one command,
//
//	SET <prefix><id> 1 NX PX <ttl in ms, rounded up>
//
// which Redis executes atomically: "OK" means the id was free and is now
// held (nil), a null reply means another claim holds it (replay.Detected),
// and anything else — connection refused, timeout, canceled context, an
// error reply, a cluster redirect that cannot be followed — is
// replay.Unavailable, wrapping the cause. Redis expires the key itself, so
// the store needs no sweeping and no clock of its own; expiry runs on the
// Redis server's clock.
//
// # Security
//
//   - Fail closed: every error is Unavailable, never nil. go-redis retries a
//     command after a network error (Options.MaxRetries); if the first SET
//     was applied but its reply lost, the retry sees the key and the claim
//     returns Detected. The request is refused, never executed twice.
//   - Durability is Redis's: a restart without persistence, or a failover
//     to a replica that had not yet received a SET, forgets recent claims
//     and reopens replay for them. Run Redis with the persistence and
//     failover settings that match the replay risk you accept.
//   - The client must honour context deadlines (ContextTimeoutEnabled), or a
//     stalled Redis would hold a request past its deadline; New refuses a
//     client it can see is built without it.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/replay"
	"github.com/redis/go-redis/v9"
)

// DefaultPrefix is the key prefix used when Config.Prefix is empty.
const DefaultPrefix = "nonrep:replay:"

// Config configures New. The zero value is usable.
type Config struct {
	// Prefix is prepended to every id to form its Redis key. Empty means
	// DefaultPrefix. Instances that must see each other's claims use the
	// same prefix.
	Prefix string
}

// Store is a replay.Store on Redis. It is safe for concurrent use. It does
// not own the client: closing the client is the caller's business.
type Store struct {
	client redis.UniversalClient
	prefix string
}

var _ replay.Store = (*Store)(nil)

// New returns a Store that claims ids through client. It returns an error
// with code replay.Invalid if client is nil, or is a *redis.Client,
// *redis.ClusterClient or *redis.Ring built without ContextTimeoutEnabled.
func New(client redis.UniversalClient, cfg Config) (*Store, error) {
	ctxTimeouts := true
	switch c := client.(type) {
	case nil:
		return nil, invalid("nil client")
	case *redis.Client:
		if c == nil {
			return nil, invalid("nil client")
		}
		ctxTimeouts = c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		if c == nil {
			return nil, invalid("nil client")
		}
		ctxTimeouts = c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		if c == nil {
			return nil, invalid("nil client")
		}
		ctxTimeouts = c.Options().ContextTimeoutEnabled
	}
	if !ctxTimeouts {
		return nil, invalid("client built without ContextTimeoutEnabled: true; " +
			"a claim must not outlive its request's deadline")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	return &Store{client: client, prefix: cfg.Prefix}, nil
}

// Claim implements replay.Store.
func (s *Store) Claim(ctx context.Context, id string, ttl time.Duration) error {
	if err := replay.ValidateClaim(id, ttl); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return replay.UnavailableError(err, "redis: context done before claim")
	}
	res, err := s.client.Do(ctx, "SET", s.prefix+id, "1", "NX", "PX", strconv.FormatInt(ttlMillis(ttl), 10)).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return replay.DetectedError(id)
	case err != nil:
		return replay.UnavailableError(err, "redis: SET NX failed")
	case res != "OK":
		return replay.UnavailableError(nil, fmt.Sprintf("redis: unexpected SET NX reply %.32q", fmt.Sprint(res)))
	}
	return nil
}

// ttlMillis converts ttl to whole milliseconds for PX, rounding up so that
// an id is never forgotten early. ttl is positive; the result is at least 1.
func ttlMillis(ttl time.Duration) int64 {
	ms := int64(ttl / time.Millisecond)
	if ttl%time.Millisecond != 0 {
		ms++
	}
	return max(ms, 1)
}

func invalid(detail string) error {
	return &jose.Error{Code: replay.Invalid, Detail: "redis: " + detail}
}
