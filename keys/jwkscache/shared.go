package jwkscache

import (
	"context"
	"time"

	"github.com/nonrep/nonrep/keys"
)

// Shared lets gateway instances share fetched sets, so that a fleet makes
// one fetch per partner per TTL, and tell each other about purges and
// revocations at once. NewRedis implements it on Redis. Every method must
// be safe for concurrent use and must honour ctx.
//
// A Shared failure never fails a request: the cache falls back to fetching
// on its own.
type Shared interface {
	// Load returns the partner's shared entry, or nil if there is none.
	Load(ctx context.Context, partner string) (*Entry, error)
	// Save stores e for ttl (the entry's TTL plus max-stale).
	Save(ctx context.Context, partner string, e *Entry, ttl time.Duration) error
	// Delete removes the partner's entry (purge).
	Delete(ctx context.Context, partner string) error
	// Acquire takes the partner's fetch lock for ttl; false if another
	// instance holds it. Release gives it back (only if still ours).
	Acquire(ctx context.Context, partner string, ttl time.Duration) (bool, error)
	Release(ctx context.Context, partner string) error
	// Allow is a fleet-wide gate: true for the first caller per every.
	Allow(ctx context.Context, gate string, every time.Duration) (bool, error)
	// Publish announces n to every instance but this one; Subscribe
	// calls fn for each notice from the others until ctx is done.
	Publish(ctx context.Context, n Notice) error
	Subscribe(ctx context.Context, fn func(Notice)) error
}

// Entry is a fetched set as instances share it: the raw body, so that
// every instance validates it itself, and what is needed for the next
// conditional request.
type Entry struct {
	URL          string        `json:"url"`
	Body         []byte        `json:"body"`
	ETag         string        `json:"etag,omitempty"`
	LastModified string        `json:"last_modified,omitempty"`
	Fetched      time.Time     `json:"fetched"`
	TTL          time.Duration `json:"ttl"`
}

// Notice is an operator action announced to the fleet.
type Notice struct {
	// Kind is "purge" or "revoke".
	Kind       string           `json:"kind"`
	Partner    string           `json:"partner"`
	Revocation *keys.Revocation `json:"revocation,omitempty"`
}
