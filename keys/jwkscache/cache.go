package jwkscache

import (
	"context"
	"crypto/tls"
	"hash/fnv"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/keys"
)

// Defaults of Config.
const (
	DefaultMinTTL             = time.Minute
	DefaultMaxTTL             = time.Hour
	DefaultTTL                = 15 * time.Minute
	DefaultMaxStale           = 24 * time.Hour
	DefaultUnknownKidInterval = time.Minute
	DefaultBreakerFailures    = 5
	DefaultBreakerCooldown    = time.Minute
)

// Config configures New. The zero value is usable.
type Config struct {
	// Client fetches the sets (default: a client with the system roots,
	// TLS 1.2+, and timeouts). Redirects are always refused. Tests pass an
	// httptest TLS server's client.
	Client *http.Client
	// MinTTL, MaxTTL clamp the TTL taken from Cache-Control max-age
	// (default 1 min, 1 h); DefaultTTL applies without max-age (15 min).
	MinTTL, MaxTTL, DefaultTTL time.Duration
	// MaxStale is how long after expiry a set whose refresh fails is still
	// served (default 24 h). Beyond it the partner's fetched keys are gone
	// and requests fail with key_unavailable.
	MaxStale time.Duration
	// UnknownKidInterval is the least time between two refetches caused by
	// an unknown kid, per partner (default 1 min).
	UnknownKidInterval time.Duration
	// BreakerFailures consecutive failed fetches open the partner's
	// circuit breaker for BreakerCooldown (default 5, 1 min): no fetch is
	// made until then, then one probe; each failed probe doubles the pause,
	// up to RetryMax.
	BreakerFailures int
	BreakerCooldown time.Duration
	// RetryMin and RetryMax bound the backoff of failed background
	// refreshes (default 15 s, 5 min).
	RetryMin, RetryMax time.Duration
	// Limits bound each fetch (size, key count, timeout, key policy).
	Limits Limits
	// Concurrency bounds background fetches in flight (default 4).
	Concurrency int
	// Shared, when set, shares fetched sets, purges and revocations with
	// the other instances (see NewRedis).
	Shared Shared
	// Audit records operator actions (purges, revocations) with who and
	// why; keys.Store.RecordEvent fits. Nil: logged only.
	Audit func(ctx context.Context, e keys.Event) error
	// Clock is the cache's time (default time.Now).
	Clock func() time.Time
	// Logger receives fetch failures with escalating levels, dropped keys
	// and operator actions (default slog.Default()).
	Logger *slog.Logger
}

// Stats counts the cache's work since it was made. Fields only grow.
type Stats struct {
	// Fetches is HTTP requests made; NotModified the 304s among them;
	// FetchErrors the failures.
	Fetches, NotModified, FetchErrors uint64
	// SharedImports is sets taken from another instance (no fetch).
	SharedImports uint64
	// UnknownKidRefetches is refetches caused by an unknown kid;
	// UnknownKidSuppressed the unknown kids answered without one (rate
	// limit or breaker).
	UnknownKidRefetches, UnknownKidSuppressed uint64
	// BreakerRejections is fetches not made because a breaker was open.
	BreakerRejections uint64
	// KeysDropped counts keys dropped at import.
	KeysDropped uint64
	// Purges and Revocations count operator actions applied.
	Purges, Revocations uint64
}

type counters struct {
	fetches, notModified, fetchErrors, sharedImports, unknownRefetch, unknownSuppressed,
	breakerRejections, keysDropped, purges, revocations atomic.Uint64
}

// Cache holds partners' keys: fetched from their JWKS URLs, inline, or
// both. It is safe for concurrent use. Call Run (or RefreshDue on a
// schedule of your own) for background refresh.
type Cache struct {
	cfg    Config
	client *http.Client
	st     counters

	mu       sync.RWMutex
	partners map[string]*Resolver
	revs     map[string][]keys.Revocation // partner → revocations

	wake chan struct{}
}

// New returns an empty cache.
func New(cfg Config) (*Cache, error) {
	if cfg.MinTTL <= 0 {
		cfg.MinTTL = DefaultMinTTL
	}
	if cfg.MaxTTL <= 0 {
		cfg.MaxTTL = DefaultMaxTTL
	}
	if cfg.DefaultTTL <= 0 {
		cfg.DefaultTTL = DefaultTTL
	}
	if cfg.MaxTTL < cfg.MinTTL {
		return nil, &jose.Error{Code: jose.PolicyInvalid, Detail: "jwkscache: MaxTTL is below MinTTL"}
	}
	cfg.DefaultTTL = min(max(cfg.DefaultTTL, cfg.MinTTL), cfg.MaxTTL)
	if cfg.MaxStale <= 0 {
		cfg.MaxStale = DefaultMaxStale
	}
	if cfg.UnknownKidInterval <= 0 {
		cfg.UnknownKidInterval = DefaultUnknownKidInterval
	}
	if cfg.BreakerFailures <= 0 {
		cfg.BreakerFailures = DefaultBreakerFailures
	}
	if cfg.BreakerCooldown <= 0 {
		cfg.BreakerCooldown = DefaultBreakerCooldown
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = 15 * time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 5 * time.Minute
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	cfg.Limits = cfg.Limits.withDefaults()
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	client := cfg.Client
	if client == nil {
		client = DefaultClient()
	}
	return &Cache{
		cfg: cfg, client: NoRedirects(client),
		partners: map[string]*Resolver{}, revs: map[string][]keys.Revocation{},
		wake: make(chan struct{}, 1),
	}, nil
}

// DefaultClient is the client the cache uses when Config.Client is nil:
// system roots, TLS 1.2 or later, bounded connection and header waits.
func DefaultClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 10 * time.Second,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}}
}

func (c *Cache) now() time.Time { return c.cfg.Clock() }

// Source is one partner's key sources.
type Source struct {
	Partner string
	// URL is the partner's JWKS URL (https), or empty.
	URL string
	// Keys are inline public keys, always served (never expire).
	Keys []*jose.JWK
}

// Add registers a partner and returns its resolver. Nothing is fetched
// until the first request or background refresh. Inline keys are checked
// as fetched keys are. Adding a name again replaces the partner: the
// resolver returned before is retired (it answers key_unavailable), so
// rebuild the verifiers that hold it.
func (c *Cache) Add(src Source) (*Resolver, error) {
	if !keys.ValidPartnerName(src.Partner) {
		return nil, &jose.Error{Code: keys.PartnerInvalid, Detail: "jwkscache: partner name " + quoteURL(src.Partner) + " is not acceptable"}
	}
	if src.URL == "" && len(src.Keys) == 0 {
		return nil, &jose.Error{Code: keys.PartnerInvalid, Detail: "jwkscache: partner " + src.Partner + " has neither a JWKS URL nor keys"}
	}
	if src.URL != "" {
		if err := keys.ValidateJWKSURL(src.URL); err != nil {
			return nil, err
		}
	}
	kids := map[string]bool{}
	for i, k := range src.Keys {
		if err := checkImported(k, c.cfg.Limits.KeyPolicy); err != nil {
			return nil, &jose.Error{Code: keys.PartnerInvalid, Detail: "jwkscache: partner " + src.Partner + ": inline key " + itoa(i) + ": " + err.Error(), Err: err}
		}
		if k.Kid != "" && kids[k.Kid] {
			return nil, &jose.Error{Code: keys.PartnerInvalid, Detail: "jwkscache: partner " + src.Partner + ": duplicate inline kid " + quoteURL(k.Kid)}
		}
		kids[k.Kid] = true
	}
	r := &Resolver{c: c, name: src.Partner, url: src.URL, inline: append([]*jose.JWK(nil), src.Keys...)}
	h := fnv.New32a()
	h.Write([]byte(src.Partner))
	r.jitter = float64(h.Sum32()%1000) / 1000
	r.nextRefresh = c.now()
	c.Remove(src.Partner)
	c.mu.Lock()
	c.partners[src.Partner] = r
	c.mu.Unlock()
	r.mu.Lock()
	r.rebuildLocked()
	r.mu.Unlock()
	c.kick()
	return r, nil
}

// AddPartner registers a registry partner: its JWKS URL and inline keys.
func (c *Cache) AddPartner(p *keys.Partner) (*Resolver, error) {
	return c.Add(Source{Partner: p.Name, URL: p.JWKSURL, Keys: p.Keys})
}

// Resolver returns the named partner's resolver.
func (c *Cache) Resolver(partner string) (*Resolver, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	r, ok := c.partners[partner]
	return r, ok
}

// Remove forgets a partner (its resolver then answers key_unavailable).
func (c *Cache) Remove(partner string) {
	c.mu.Lock()
	r := c.partners[partner]
	delete(c.partners, partner)
	c.mu.Unlock()
	if r != nil {
		r.mu.Lock()
		r.removed = true
		r.good = nil
		r.rebuildLocked()
		r.mu.Unlock()
	}
}

func (c *Cache) all() []*Resolver {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*Resolver, 0, len(c.partners))
	for _, r := range c.partners {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func (c *Cache) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Stats returns the cache's counters.
func (c *Cache) Stats() Stats {
	s := &c.st
	return Stats{
		Fetches: s.fetches.Load(), NotModified: s.notModified.Load(), FetchErrors: s.fetchErrors.Load(),
		SharedImports: s.sharedImports.Load(), UnknownKidRefetches: s.unknownRefetch.Load(),
		UnknownKidSuppressed: s.unknownSuppressed.Load(), BreakerRejections: s.breakerRejections.Load(),
		KeysDropped: s.keysDropped.Load(), Purges: s.purges.Load(), Revocations: s.revocations.Load(),
	}
}

// Statuses returns every partner's status, by name.
func (c *Cache) Statuses() []Status {
	rs := c.all()
	out := make([]Status, len(rs))
	for i, r := range rs {
		out[i] = r.Status()
	}
	return out
}

// RefreshDue refreshes every partner whose refresh time has come (at most
// Config.Concurrency at once), logs staleness changes, and returns when
// the next refresh is due. Run calls it; tests with a fake clock call it
// directly.
func (c *Cache) RefreshDue(ctx context.Context) time.Time {
	now := c.now()
	next := now.Add(c.cfg.MinTTL)
	sem := make(chan struct{}, c.cfg.Concurrency)
	var wg sync.WaitGroup
	for _, r := range c.all() {
		if r.url == "" {
			continue
		}
		due := r.due()
		if due.After(now) {
			if due.Before(next) {
				next = due
			}
			r.observe(ctx, now)
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_ = r.refresh(ctx, "scheduled")
			r.observe(ctx, c.now())
		})
	}
	wg.Wait()
	for _, r := range c.all() {
		if r.url != "" {
			if due := r.due(); due.Before(next) {
				next = due
			}
		}
	}
	return next
}

// Run refreshes in the background until ctx is done: each partner before
// its set expires, failed ones with backoff. With Config.Shared it also
// applies the other instances' purges and revocations.
func (c *Cache) Run(ctx context.Context) {
	if c.cfg.Shared != nil {
		go func() {
			for ctx.Err() == nil {
				err := c.cfg.Shared.Subscribe(ctx, c.applyNotice)
				if ctx.Err() != nil {
					return
				}
				c.cfg.Logger.Warn("jwks cache: shared notices interrupted; retrying", "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}()
	}
	for {
		next := c.RefreshDue(ctx)
		d := min(max(next.Sub(c.now()), 100*time.Millisecond), 5*time.Second)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-c.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

func (c *Cache) applyNotice(n Notice) {
	switch n.Kind {
	case "purge":
		if r, ok := c.Resolver(n.Partner); ok {
			r.purgeLocal()
			c.st.purges.Add(1)
			c.cfg.Logger.Warn("jwks cache: partner keys purged by another instance", "partner", n.Partner)
		}
	case "revoke":
		if n.Revocation != nil && n.Revocation.Partner == n.Partner {
			c.revokeLocal(*n.Revocation)
		}
	}
}

// Purge drops a partner's fetched keys at once (the partner says its keys
// leaked, say): the next request fetches the set again. actor and reason
// are required and recorded through Config.Audit; with Shared, the whole
// fleet purges.
func (c *Cache) Purge(ctx context.Context, partner, actor, reason string) error {
	if actor == "" || reason == "" {
		return &jose.Error{Code: keys.PartnerInvalid, Detail: "jwkscache: a purge needs an actor and a reason"}
	}
	r, ok := c.Resolver(partner)
	if !ok {
		return &jose.Error{Code: keys.PartnerNotFound, Detail: "jwkscache: no partner " + quoteURL(partner)}
	}
	r.purgeLocal()
	c.st.purges.Add(1)
	c.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "jwks cache: partner keys purged",
		slog.String("partner", partner), slog.String("actor", actor), slog.String("reason", reason))
	if s := c.cfg.Shared; s != nil {
		if err := s.Delete(ctx, partner); err != nil {
			c.cfg.Logger.Error("jwks cache: purge: shared entry not deleted", "partner", partner, "err", err)
		}
		if err := s.Publish(ctx, Notice{Kind: "purge", Partner: partner}); err != nil {
			c.cfg.Logger.Error("jwks cache: purge not announced to the fleet", "partner", partner, "err", err)
		}
	}
	return c.audit(ctx, keys.Event{At: c.now(), Actor: actor, Action: "purge", Partner: partner, Reason: reason})
}

func (c *Cache) audit(ctx context.Context, e keys.Event) error {
	if c.cfg.Audit == nil {
		return nil
	}
	return c.cfg.Audit(ctx, e)
}

// Revoke withdraws a partner key at once, whatever any cache (fresh,
// stale, shared or inline) holds: requests with it fail key_rejected. With
// Shared, the whole fleet applies it. Record it durably with
// keys.Registry.RevokePartnerKey; SetRevocations reloads the full list.
func (c *Cache) Revoke(ctx context.Context, rv keys.Revocation) error {
	if rv.At.IsZero() {
		rv.At = c.now()
	}
	if err := keys.ValidateRevocation(&rv); err != nil {
		return err
	}
	c.revokeLocal(rv)
	c.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "jwks cache: partner key revoked",
		slog.String("partner", rv.Partner), slog.String("kid", rv.Kid), slog.String("thumbprint", rv.Thumbprint),
		slog.String("actor", rv.Actor), slog.String("reason", rv.Reason))
	if s := c.cfg.Shared; s != nil {
		if err := s.Publish(ctx, Notice{Kind: "revoke", Partner: rv.Partner, Revocation: &rv}); err != nil {
			c.cfg.Logger.Error("jwks cache: revocation not announced to the fleet", "partner", rv.Partner, "err", err)
		}
	}
	return nil
}

func (c *Cache) revokeLocal(rv keys.Revocation) {
	c.mu.Lock()
	for _, old := range c.revs[rv.Partner] {
		if old.Kid == rv.Kid && old.Thumbprint == rv.Thumbprint {
			c.mu.Unlock()
			return
		}
	}
	c.revs[rv.Partner] = append(c.revs[rv.Partner], rv)
	r := c.partners[rv.Partner]
	c.mu.Unlock()
	c.st.revocations.Add(1)
	if r != nil {
		r.mu.Lock()
		r.rebuildLocked()
		r.mu.Unlock()
	}
}

// SetRevocations replaces the whole revocation list (as loaded from
// keys.Store.Revocations) and applies it at once. Revocations are never
// lifted by a refetch; only a new list without them lifts them.
func (c *Cache) SetRevocations(list []keys.Revocation) {
	m := map[string][]keys.Revocation{}
	for _, rv := range list {
		m[rv.Partner] = append(m[rv.Partner], rv)
	}
	c.mu.Lock()
	c.revs = m
	c.mu.Unlock()
	for _, r := range c.all() {
		r.mu.Lock()
		r.rebuildLocked()
		r.mu.Unlock()
	}
}

func (c *Cache) revocations(partner string) []keys.Revocation {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.revs[partner]
}

// clampTTL turns a response's max-age into the set's TTL.
func (c *Cache) clampTTL(d *Document) time.Duration {
	if !d.HasMaxAge {
		return c.cfg.DefaultTTL
	}
	return min(max(d.MaxAge, c.cfg.MinTTL), c.cfg.MaxTTL)
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
