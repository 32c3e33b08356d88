package jwkscache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/keys"
)

// Bucket is how stale a partner's fetched set is, for alerts: the age is
// the time since the partner's endpoint last answered (200 or 304).
type Bucket string

// The buckets, in escalating order.
const (
	BucketNone   Bucket = "none"       // nothing fetched (yet, or since a purge)
	BucketFresh  Bucket = "fresh"      // within its TTL
	Bucket1h     Bucket = "stale<1h"   // refresh failing, age < 1 h
	Bucket4h     Bucket = "stale<4h"   // age < 4 h
	Bucket12h    Bucket = "stale<12h"  // age < 12 h
	BucketBeyond Bucket = "stale>=12h" // age ≥ 12 h, still within max-stale
	BucketGone   Bucket = "gone"       // past max-stale: keys no longer served
)

// level is the log level and alert severity of a bucket.
func (b Bucket) level() (slog.Level, string) {
	switch b {
	case BucketFresh:
		return slog.LevelInfo, "none"
	case Bucket1h:
		return slog.LevelWarn, "notice"
	case Bucket4h:
		return slog.LevelWarn, "warning"
	case Bucket12h:
		return slog.LevelError, "critical"
	case BucketBeyond, BucketGone:
		return slog.LevelError, "page"
	}
	return slog.LevelWarn, "notice"
}

// Resolver is one partner's keys: a jose.KeyResolver for profile.Trust.
// Safe for concurrent use.
//
// A lookup that hits (the kid is in a set that has not passed max-stale)
// reads one atomic pointer, a map and an atomic flag, and allocates
// nothing: it does not read the clock. Max-stale is enforced by a timer
// armed when the set is installed and by every refresh pass and slow
// lookup (which read Config.Clock); with a clock of your own (tests), call
// RefreshDue after moving it.
// Everything else — revoked kid, unknown kid, nothing fetched, past
// max-stale — takes the slow path.
type Resolver struct {
	c      *Cache
	name   string
	url    string
	inline []*jose.JWK
	jitter float64 // in [0, 1): spreads partners' refresh times

	snap atomic.Pointer[snapshot]
	sf   singleflight.Group

	mu           sync.Mutex
	removed      bool
	good         *goodSet
	failures     int
	breakerUntil time.Time
	nextRefresh  time.Time
	lastErr      error
	lastUnknown  time.Time
	goneTimer    *time.Timer
	bucket       Bucket
	dropped      []Verdict
	fetches      uint64
}

var _ jose.KeyResolver = (*Resolver)(nil)

// goodSet is the last set the partner served successfully.
type goodSet struct {
	keys          []*jose.JWK
	body          []byte
	etag, lastMod string
	fetched       time.Time // when the endpoint last answered 200 or 304
	ttl           time.Duration
}

func (g *goodSet) expires() time.Time { return g.fetched.Add(g.ttl) }

// snapshot is what lookups read: immutable once stored, but for expired.
type snapshot struct {
	fetched map[string][]*jose.JWK // fetched keys by kid, revoked ones left out
	gone    time.Time              // fetched keys are not served from then on
	// expired is set once gone has passed: by a timer armed at rebuild,
	// and by every slow lookup and refresh pass that reads the clock.
	// The hit path reads this flag instead of the clock, which costs
	// more than the rest of the lookup.
	expired atomic.Bool
	inline  map[string][]*jose.JWK
	all     []*jose.JWK // every servable key, for a header without kid
	inAll   int         // how many of all are inline (at the end)
	revoked map[string]*keys.Revocation
	removed bool // the partner was removed or replaced
}

// usable reports whether the fetched keys of s may be served at now, and
// marks s expired once they may not.
func (s *snapshot) usable(now time.Time) bool {
	if s.expired.Load() {
		return false
	}
	if now.Before(s.gone) {
		return true
	}
	if !s.gone.IsZero() {
		s.expired.Store(true)
	}
	return false
}

// ResolveKeys implements jose.KeyResolver.
func (r *Resolver) ResolveKeys(ctx context.Context, h *jose.Header) ([]*jose.JWK, error) {
	if h.Kid != "" {
		s := r.snap.Load()
		if ks, ok := s.fetched[h.Kid]; ok && !s.expired.Load() {
			return ks, nil
		}
		if ks, ok := s.inline[h.Kid]; ok {
			return ks, nil
		}
	}
	return r.resolveSlow(ctx, h)
}

func (r *Resolver) lookup(s *snapshot, kid string, now time.Time) []*jose.JWK {
	usable := s.usable(now)
	if kid == "" {
		if usable {
			return s.all
		}
		return s.all[len(s.all)-s.inAll:]
	}
	if ks, ok := s.fetched[kid]; ok && usable {
		return ks
	}
	return s.inline[kid]
}

func (r *Resolver) resolveSlow(ctx context.Context, h *jose.Header) ([]*jose.JWK, error) {
	s := r.snap.Load()
	if s.removed {
		return nil, r.unavailable(nil)
	}
	if rv := s.revoked[h.Kid]; h.Kid != "" && rv != nil {
		return nil, r.revokedErr(h.Kid, rv)
	}
	now := r.c.now()
	if ks := r.lookup(s, h.Kid, now); len(ks) > 0 {
		return ks, nil
	}
	if r.url == "" {
		return nil, r.unknown(h.Kid)
	}
	var ferr error
	if !s.usable(now) {
		// Nothing usable fetched: the first request, after a purge, or
		// past max-stale. The breaker bounds how often this fetches.
		ferr = r.wait(ctx, "cold")
	} else if h.Kid != "" {
		// An unknown kid in a usable set: the partner may have added a
		// key. At most one refetch per interval, fleet-wide with Shared.
		if !r.allowUnknown(ctx, now) {
			r.c.st.unknownSuppressed.Add(1)
			return nil, r.unknown(h.Kid)
		}
		r.c.st.unknownRefetch.Add(1)
		ferr = r.wait(ctx, "unknown_kid")
	}
	s = r.snap.Load()
	now = r.c.now()
	if ks := r.lookup(s, h.Kid, now); len(ks) > 0 {
		return ks, nil
	}
	if rv := s.revoked[h.Kid]; h.Kid != "" && rv != nil {
		return nil, r.revokedErr(h.Kid, rv)
	}
	if !s.usable(now) {
		return nil, r.unavailable(ferr)
	}
	return nil, r.unknown(h.Kid)
}

func (r *Resolver) revokedErr(kid string, rv *keys.Revocation) error {
	return &jose.Error{Code: jose.KeyRejected, Detail: fmt.Sprintf("key %q of partner %s was revoked at %s", kid, r.name, rv.At.UTC().Format(time.RFC3339))}
}

func (r *Resolver) unknown(kid string) error {
	if kid == "" {
		return &jose.Error{Code: jose.KeyUnknown, Detail: "partner " + r.name + " has no usable key"}
	}
	return &jose.Error{Code: jose.KeyUnknown, Detail: fmt.Sprintf("partner %s has no key with kid %s", r.name, quoteURL(kid))}
}

func (r *Resolver) unavailable(cause error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cause == nil {
		cause = r.lastErr
	}
	detail := "the keys of partner " + r.name + " are unavailable: "
	switch {
	case r.removed:
		detail += "the partner is no longer configured"
	case r.good != nil:
		detail += fmt.Sprintf("its JWKS endpoint last answered at %s, more than max-stale %v after the set expired", r.good.fetched.UTC().Format(time.RFC3339), r.c.cfg.MaxStale)
	default:
		detail += "its JWKS endpoint could not be fetched"
	}
	return &jose.Error{Code: jose.KeyUnavailable, Detail: detail, Err: cause}
}

// allowUnknown takes the unknown-kid gate: the breaker is closed and no
// unknown-kid refetch happened in the interval, here or (with Shared) in
// the fleet.
func (r *Resolver) allowUnknown(ctx context.Context, now time.Time) bool {
	r.mu.Lock()
	if now.Before(r.breakerUntil) {
		r.mu.Unlock()
		r.c.st.breakerRejections.Add(1)
		return false
	}
	if !r.lastUnknown.IsZero() && now.Sub(r.lastUnknown) < r.c.cfg.UnknownKidInterval {
		r.mu.Unlock()
		return false
	}
	r.lastUnknown = now
	r.mu.Unlock()
	return true
}

// wait runs (or joins) the partner's one refresh in flight; the caller
// stops waiting when ctx is done, the refresh itself does not.
func (r *Resolver) wait(ctx context.Context, why string) error {
	ch := r.sf.DoChan("refresh", func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.c.cfg.Limits.Timeout+5*time.Second)
		defer cancel()
		return nil, r.doRefresh(fctx, why)
	})
	select {
	case res := <-ch:
		return res.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// refresh refreshes the partner's set now (joining one in flight).
func (r *Resolver) refresh(ctx context.Context, why string) error {
	_, err, _ := r.sf.Do("refresh", func() (any, error) { return nil, r.doRefresh(ctx, why) })
	return err
}

var errBreakerOpen = errors.New("jwkscache: circuit breaker open")

func (r *Resolver) refreshFraction() float64 { return 0.75 + 0.1*r.jitter }

func (r *Resolver) dueAfter(g *goodSet) time.Time {
	return g.fetched.Add(time.Duration(float64(g.ttl) * r.refreshFraction()))
}

func (r *Resolver) due() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nextRefresh
}

func (r *Resolver) doRefresh(ctx context.Context, why string) error {
	now := r.c.now()
	r.mu.Lock()
	if r.removed {
		r.mu.Unlock()
		return &jose.Error{Code: jose.KeyUnavailable, Detail: "partner " + r.name + " is no longer configured"}
	}
	if now.Before(r.breakerUntil) {
		r.nextRefresh = r.breakerUntil
		r.mu.Unlock()
		r.c.st.breakerRejections.Add(1)
		return &jose.Error{Code: jose.KeyUnavailable, Detail: fmt.Sprintf("partner %s: fetches paused until %s after %d failures", r.name, r.breakerUntil.UTC().Format(time.RFC3339), r.c.cfg.BreakerFailures), Err: errBreakerOpen}
	}
	cur := r.good
	r.mu.Unlock()

	sh := r.c.cfg.Shared
	if sh == nil {
		return r.fetch(ctx, cur, now)
	}
	if why == "unknown_kid" {
		ok, err := sh.Allow(ctx, "unknown:"+r.name, r.c.cfg.UnknownKidInterval)
		if err == nil && !ok {
			// Another instance refetched in this interval: take its set.
			r.adoptShared(ctx, cur)
			return nil
		}
		return r.fetchShared(ctx, cur, now)
	}
	if g := r.adoptShared(ctx, cur); g != nil {
		cur = g
	}
	if cur != nil && now.Before(r.dueAfter(cur)) {
		return nil // the fleet's set is not due yet
	}
	got, err := sh.Acquire(ctx, r.name, r.c.cfg.Limits.Timeout+5*time.Second)
	if err != nil || got {
		if got {
			defer sh.Release(context.WithoutCancel(ctx), r.name)
		}
		return r.fetchShared(ctx, cur, now)
	}
	// Another instance is fetching. With a set in hand, look again soon;
	// with none, wait for the other's result, then fetch ourselves.
	if cur != nil {
		r.mu.Lock()
		r.nextRefresh = now.Add(min(r.c.cfg.RetryMin, 5*time.Second))
		r.mu.Unlock()
		return nil
	}
	deadline := time.Now().Add(r.c.cfg.Limits.Timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
		if g := r.adoptShared(ctx, nil); g != nil {
			return nil
		}
	}
	return r.fetchShared(ctx, nil, now)
}

// adoptShared imports the fleet's entry if it is newer than cur, and
// returns the new good set (nil if nothing was adopted).
func (r *Resolver) adoptShared(ctx context.Context, cur *goodSet) *goodSet {
	e, err := r.c.cfg.Shared.Load(ctx, r.name)
	if err != nil {
		r.c.cfg.Logger.Warn("jwks cache: shared set unreadable; fetching directly", "partner", r.name, "err", err)
		return nil
	}
	if e == nil || e.URL != r.url || (cur != nil && !e.Fetched.After(cur.fetched)) {
		return nil
	}
	ks, vs, err := Import(e.Body, r.c.cfg.Limits)
	if err != nil {
		r.c.cfg.Logger.Warn("jwks cache: shared set does not import; fetching directly", "partner", r.name, "err", err)
		return nil
	}
	g := &goodSet{keys: ks, body: e.Body, etag: e.ETag, lastMod: e.LastModified, fetched: e.Fetched, ttl: e.TTL}
	r.c.st.sharedImports.Add(1)
	r.succeed(ctx, g, vs, cur == nil || string(cur.body) != string(e.Body))
	return g
}

// fetchShared fetches and shares the result with the fleet.
func (r *Resolver) fetchShared(ctx context.Context, cur *goodSet, now time.Time) error {
	if err := r.fetch(ctx, cur, now); err != nil {
		return err
	}
	r.mu.Lock()
	g := r.good
	r.mu.Unlock()
	if g == nil {
		return nil
	}
	e := &Entry{URL: r.url, Body: g.body, ETag: g.etag, LastModified: g.lastMod, Fetched: g.fetched, TTL: g.ttl}
	if err := r.c.cfg.Shared.Save(ctx, r.name, e, g.ttl+r.c.cfg.MaxStale); err != nil {
		r.c.cfg.Logger.Warn("jwks cache: set not shared with the fleet", "partner", r.name, "err", err)
	}
	return nil
}

// fetch makes one HTTP request (conditional when a set is in hand).
func (r *Resolver) fetch(ctx context.Context, cur *goodSet, now time.Time) error {
	var etag, lastMod string
	if cur != nil {
		etag, lastMod = cur.etag, cur.lastMod
	}
	r.c.st.fetches.Add(1)
	r.mu.Lock()
	r.fetches++
	r.mu.Unlock()
	d, err := Fetch(ctx, r.c.client, r.url, r.c.cfg.Limits, etag, lastMod)
	if err != nil {
		r.fail(ctx, err, now)
		return err
	}
	ttl := r.c.clampTTL(d)
	if d.Status == 304 {
		r.c.st.notModified.Add(1)
		g := *cur
		g.fetched, g.ttl, g.etag, g.lastMod = now, ttl, d.ETag, d.LastModified
		r.succeed(ctx, &g, nil, false)
		return nil
	}
	g := &goodSet{keys: d.Keys, body: d.Body, etag: d.ETag, lastMod: d.LastModified, fetched: now, ttl: ttl}
	r.succeed(ctx, g, d.Verdicts, cur == nil || string(cur.body) != string(d.Body))
	return nil
}

// succeed installs g as the good set. changed says the body is new: its
// dropped keys are then reported.
func (r *Resolver) succeed(ctx context.Context, g *goodSet, vs []Verdict, changed bool) {
	var dropped []Verdict
	for _, v := range vs {
		if v.Err != nil {
			dropped = append(dropped, v)
		}
	}
	r.mu.Lock()
	if r.removed {
		r.mu.Unlock()
		return
	}
	r.good = g
	r.failures, r.breakerUntil, r.lastErr = 0, time.Time{}, nil
	if vs != nil {
		r.dropped = dropped
	}
	r.nextRefresh = r.dueAfter(g)
	r.rebuildLocked()
	r.mu.Unlock()
	if changed && len(dropped) > 0 {
		r.c.st.keysDropped.Add(uint64(len(dropped)))
		for _, v := range dropped {
			r.c.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "jwks cache: partner key dropped at import",
				slog.String("partner", r.name), slog.Int("index", v.Index), slog.String("kid", v.Kid),
				slog.String("code", string(jose.CodeOf(v.Err))), slog.String("err", v.Err.Error()))
		}
	}
}

// fail records a failed fetch: backoff, breaker, and a log line whose
// level rises with the age of the set still served.
func (r *Resolver) fail(ctx context.Context, err error, now time.Time) {
	r.c.st.fetchErrors.Add(1)
	r.mu.Lock()
	r.failures++
	r.lastErr = err
	backoff := r.c.cfg.RetryMin << min(r.failures-1, 16)
	backoff = min(backoff, r.c.cfg.RetryMax)
	r.nextRefresh = now.Add(backoff)
	if n := r.failures - r.c.cfg.BreakerFailures; n >= 0 {
		// Open, and each failed probe doubles the pause (capped at
		// RetryMax, or the cooldown if that is longer).
		cool := min(r.c.cfg.BreakerCooldown<<min(n, 16), max(r.c.cfg.RetryMax, r.c.cfg.BreakerCooldown))
		r.breakerUntil = now.Add(cool)
		r.nextRefresh = later(r.nextRefresh, r.breakerUntil)
	}
	b := r.bucketLocked(now)
	failures, age := r.failures, r.ageLocked(now)
	r.mu.Unlock()
	lvl, alert := b.level()
	lvl = max(lvl, slog.LevelWarn)
	r.c.cfg.Logger.LogAttrs(ctx, lvl, "jwks cache: partner JWKS fetch failed; serving the last good set while it lasts",
		slog.String("partner", r.name), slog.String("bucket", string(b)), slog.String("alert", alert),
		slog.Duration("age", age), slog.Int("failures", failures), slog.String("code", string(jose.CodeOf(err))), slog.String("err", errText(err)))
}

// errText is err's message with the causes a *jose.Error keeps for logs.
func errText(err error) string {
	msg := err.Error()
	for e := err; ; {
		var je *jose.Error
		if !errors.As(e, &je) || je.Err == nil {
			return msg
		}
		msg += ": " + je.Err.Error()
		e = je.Err
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (r *Resolver) ageLocked(now time.Time) time.Duration {
	if r.good == nil {
		return 0
	}
	return now.Sub(r.good.fetched)
}

func (r *Resolver) bucketLocked(now time.Time) Bucket {
	if r.good == nil {
		return BucketNone
	}
	if now.Before(r.good.expires()) {
		return BucketFresh
	}
	if !now.Before(r.good.expires().Add(r.c.cfg.MaxStale)) {
		return BucketGone
	}
	switch age := now.Sub(r.good.fetched); {
	case age < time.Hour:
		return Bucket1h
	case age < 4*time.Hour:
		return Bucket4h
	case age < 12*time.Hour:
		return Bucket12h
	}
	return BucketBeyond
}

// observe logs a change of staleness bucket.
func (r *Resolver) observe(ctx context.Context, now time.Time) {
	r.snap.Load().usable(now) // marks the snapshot expired past max-stale
	r.mu.Lock()
	b := r.bucketLocked(now)
	prev := r.bucket
	r.bucket = b
	age := r.ageLocked(now)
	r.mu.Unlock()
	if b == prev || (prev == "" && (b == BucketFresh || b == BucketNone)) {
		return
	}
	lvl, alert := b.level()
	msg := "jwks cache: partner set staleness changed"
	switch b {
	case BucketFresh:
		msg = "jwks cache: partner set fresh again"
	case BucketGone:
		msg = "jwks cache: partner keys gone: past max-stale, requests fail key_unavailable"
	}
	r.c.cfg.Logger.LogAttrs(ctx, lvl, msg, slog.String("partner", r.name), slog.String("bucket", string(b)),
		slog.String("previous", string(prev)), slog.String("alert", alert), slog.Duration("age", age))
}

// purgeLocal drops the fetched set and every fetch state.
func (r *Resolver) purgeLocal() {
	r.mu.Lock()
	r.good, r.dropped, r.lastErr = nil, nil, nil
	r.failures, r.breakerUntil, r.lastUnknown = 0, time.Time{}, time.Time{}
	r.nextRefresh = r.c.now()
	r.bucket = BucketNone
	r.rebuildLocked()
	r.mu.Unlock()
	r.c.kick()
}

// rebuildLocked makes the snapshot from the good set, the inline keys and
// the revocation list. r.mu is held.
func (r *Resolver) rebuildLocked() {
	revs := r.c.revocations(r.name)
	s := &snapshot{revoked: map[string]*keys.Revocation{}, removed: r.removed}
	for i := range revs {
		if revs[i].Kid != "" {
			s.revoked[revs[i].Kid] = &revs[i]
		}
	}
	keep := func(k *jose.JWK) bool {
		for i := range revs {
			if revs[i].Matches(k) {
				if k.Kid != "" {
					s.revoked[k.Kid] = &revs[i]
				}
				return false
			}
		}
		return true
	}
	if r.goneTimer != nil {
		r.goneTimer.Stop()
		r.goneTimer = nil
	}
	if g := r.good; g != nil && !r.removed {
		s.gone = g.expires().Add(r.c.cfg.MaxStale)
		if d := s.gone.Sub(r.c.now()); d <= 0 {
			s.expired.Store(true)
		} else {
			r.goneTimer = time.AfterFunc(d, func() { s.expired.Store(true) })
		}
		s.fetched = make(map[string][]*jose.JWK, len(g.keys))
		for _, k := range g.keys {
			if keep(k) {
				if k.Kid != "" {
					s.fetched[k.Kid] = []*jose.JWK{k}
				}
				s.all = append(s.all, k)
			}
		}
	}
	if !r.removed {
		s.inline = make(map[string][]*jose.JWK, len(r.inline))
		for _, k := range r.inline {
			if keep(k) {
				if k.Kid != "" {
					s.inline[k.Kid] = []*jose.JWK{k}
				}
				s.all = append(s.all, k)
				s.inAll++
			}
		}
	}
	r.snap.Store(s)
}

// Status is a partner's cache state, for operators and metrics.
type Status struct {
	Partner, URL string
	// Keys is the number of fetched keys served (revoked ones excluded);
	// Inline the number of inline keys.
	Keys, Inline int
	// Fetched is when the endpoint last answered; Expires when the set
	// goes stale; Gone when it stops being served (zero: nothing fetched).
	Fetched, Expires, Gone time.Time
	TTL                    time.Duration
	Age                    time.Duration
	Bucket                 Bucket
	// Failures is the number of consecutive failed fetches.
	Failures int
	// BreakerOpenUntil is set while fetches are paused.
	BreakerOpenUntil time.Time
	NextRefresh      time.Time
	LastError        string
	// Dropped lists the keys dropped from the last set imported.
	Dropped []Verdict
	// Fetches counts HTTP requests made for this partner.
	Fetches uint64
}

// Status returns the partner's state now.
func (r *Resolver) Status() Status {
	now := r.c.now()
	s := r.snap.Load()
	r.mu.Lock()
	defer r.mu.Unlock()
	st := Status{
		Partner: r.name, URL: r.url, Inline: len(s.inline), Failures: r.failures,
		NextRefresh: r.nextRefresh, Bucket: r.bucketLocked(now), Age: r.ageLocked(now),
		Dropped: append([]Verdict(nil), r.dropped...), Fetches: r.fetches,
	}
	if now.Before(r.breakerUntil) {
		st.BreakerOpenUntil = r.breakerUntil
	}
	if r.lastErr != nil {
		st.LastError = errText(r.lastErr)
	}
	if g := r.good; g != nil {
		st.Keys = len(s.all) - s.inAll
		st.Fetched, st.Expires, st.Gone, st.TTL = g.fetched, g.expires(), s.gone, g.ttl
	}
	return st
}

// Partner returns the partner's name.
func (r *Resolver) Partner() string { return r.name }
