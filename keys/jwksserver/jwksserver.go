// Package jwksserver publishes our public keys: GET /.well-known/jwks.json
// (RFC 7517 §5, RFC 8615) with the pending, active and retiring keys of the
// registry, each with kid, alg and use.
//
// Caching is part of the key lifecycle: the response carries
// "Cache-Control: public, max-age=N" (N = Config.MaxAge, default 600 s) and
// a strong ETag, and answers 304 Not Modified to a matching If-None-Match
// (RFC 9110 §13.1.2). The registry refuses to activate a key until it has
// been published for N plus a margin, so N here and keys.Config.MaxAge
// must be the same value.
//
// Each client (by default, the remote IP) has a token-bucket rate limit;
// beyond it the answer is 429 problem+json with Retry-After.
//
// # Security
//
//   - Only public parts are served: jose.MarshalJWKS drops private members
//     and secret (oct) keys, whatever the source returns.
//   - The set is read from the source at most once per Config.Reload and
//     served from memory in between, so a flood of requests never reaches
//     the store. If the store fails, the last set read keeps being served
//     (public keys do not become secret) and the failure is logged; with no
//     set at all the answer is 503.
package jwksserver

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/keys"
	"github.com/nonrep/nonrep/problem"
)

// Path is where the handler is usually mounted.
const Path = "/.well-known/jwks.json"

// ContentType is the JWK Set media type (RFC 7517 §8.5.1).
const ContentType = "application/jwk-set+json"

// Source supplies the keys to publish. *keys.Registry implements it.
type Source interface {
	Published(ctx context.Context) ([]*jose.JWK, error)
}

var _ Source = (*keys.Registry)(nil)

// Config configures New. Only Source is required.
type Config struct {
	Source Source
	// MaxAge is the advertised cache lifetime (default 600 s); it must be
	// the registry's keys.Config.MaxAge.
	MaxAge time.Duration
	// Reload is how often the set is re-read from Source (default 5 s).
	Reload time.Duration
	// Rate and Burst bound each client's requests (default 5/s, burst 20).
	Rate  rate.Limit
	Burst int
	// ClientKey identifies the client for rate limiting (default: the IP
	// of r.RemoteAddr; behind a proxy, use the address the proxy reports).
	ClientKey func(r *http.Request) string
	// MaxClients bounds the rate limiter's memory (default 10000 clients;
	// beyond it idle clients are forgotten first).
	MaxClients int
	// Clock is the time source (default time.Now).
	Clock func() time.Time
	// Logger receives store failures (default slog.Default()).
	Logger *slog.Logger
}

// Stats counts what the handler answered.
type Stats struct {
	OK, NotModified, RateLimited, Unavailable, Reloads, ReloadErrors uint64
}

// Handler serves the JWKS. It is safe for concurrent use.
type Handler struct {
	cfg   Config
	cache atomic.Pointer[document]
	sf    singleflight.Group
	lim   limiters
	cc    string // Cache-Control value

	ok, notModified, limited, unavailable, reloads, reloadErrors atomic.Uint64
}

type document struct {
	body   []byte
	etag   string
	loaded time.Time
}

// New returns the handler. It does not read the source until the first
// request (or Reload).
func New(cfg Config) (*Handler, error) {
	if cfg.Source == nil {
		return nil, &jose.Error{Code: jose.PolicyInvalid, Detail: "jwksserver: Config.Source is required"}
	}
	if cfg.MaxAge < 0 || cfg.Reload < 0 || cfg.Rate < 0 || cfg.Burst < 0 {
		return nil, &jose.Error{Code: jose.PolicyInvalid, Detail: "jwksserver: negative setting"}
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = keys.DefaultMaxAge
	}
	if cfg.Reload == 0 {
		cfg.Reload = 5 * time.Second
	}
	if cfg.Rate == 0 {
		cfg.Rate = 5
	}
	if cfg.Burst == 0 {
		cfg.Burst = 20
	}
	if cfg.ClientKey == nil {
		cfg.ClientKey = remoteIP
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = 10000
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{cfg: cfg, cc: "public, max-age=" + strconv.FormatInt(int64(cfg.MaxAge/time.Second), 10)}
	h.lim = limiters{m: map[string]*rate.Limiter{}, max: cfg.MaxClients, r: cfg.Rate, b: cfg.Burst}
	return h, nil
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Stats returns the handler's counters.
func (h *Handler) Stats() Stats {
	return Stats{h.ok.Load(), h.notModified.Load(), h.limited.Load(), h.unavailable.Load(), h.reloads.Load(), h.reloadErrors.Load()}
}

// Reload re-reads the set from the source now (after a local transition,
// say). Concurrent reloads share one read.
func (h *Handler) Reload(ctx context.Context) error {
	_, err, _ := h.sf.Do("reload", func() (any, error) {
		h.reloads.Add(1)
		ks, err := h.cfg.Source.Published(ctx)
		if err != nil {
			h.reloadErrors.Add(1)
			return nil, err
		}
		body, err := jose.MarshalJWKS(ks...)
		if err != nil {
			h.reloadErrors.Add(1)
			return nil, err
		}
		sum := sha256.Sum256(body)
		h.cache.Store(&document{body: body, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`, loaded: h.cfg.Clock()})
		return nil, nil
	})
	return err
}

// current returns the document, reloading it when older than Reload.
func (h *Handler) current(ctx context.Context) *document {
	d := h.cache.Load()
	if d != nil && h.cfg.Clock().Sub(d.loaded) < h.cfg.Reload {
		return d
	}
	// A client's cancellation must not fail the reload others wait for.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := h.Reload(rctx); err != nil {
		h.cfg.Logger.LogAttrs(ctx, slog.LevelError, "jwks: reading the published keys failed; serving the last set read",
			slog.Bool("have_set", d != nil), slog.String("err", err.Error()))
		return d
	}
	return h.cache.Load()
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !h.lim.allow(h.cfg.ClientKey(r), h.cfg.Clock()) {
		h.limited.Add(1)
		retry := int(math.Ceil(1 / float64(h.cfg.Rate)))
		problem.Write(w, problem.From(&jose.Error{Code: problem.RateLimited, Detail: "too many JWKS requests from this client; the set is cacheable, honour Cache-Control"}), max(retry, 1))
		return
	}
	d := h.current(r.Context())
	if d == nil {
		h.unavailable.Add(1)
		p := problem.From(&jose.Error{Code: keys.StoreUnavailable, Detail: "the key set cannot be read right now"})
		p.Status, p.Title = http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable)
		problem.Write(w, p, 5)
		return
	}
	hd := w.Header()
	hd.Set("Cache-Control", h.cc)
	hd.Set("ETag", d.etag)
	hd.Set("X-Content-Type-Options", "nosniff")
	if noneMatch(r.Header.Values("If-None-Match"), d.etag) {
		h.notModified.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.ok.Add(1)
	hd.Set("Content-Type", ContentType)
	hd.Set("Content-Length", strconv.Itoa(len(d.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(d.body)
	}
}

// noneMatch reports whether an If-None-Match field matches etag, with the
// weak comparison RFC 9110 §13.1.2 prescribes ("*" matches any).
func noneMatch(fields []string, etag string) bool {
	for _, f := range fields {
		for _, t := range strings.Split(f, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.TrimPrefix(t, "W/") == etag {
				return true
			}
		}
	}
	return false
}

// limiters is a bounded map of per-client token buckets.
type limiters struct {
	mu  sync.Mutex
	m   map[string]*rate.Limiter
	max int
	r   rate.Limit
	b   int
}

func (l *limiters) allow(client string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.m[client]
	if !ok {
		if len(l.m) >= l.max {
			l.evict(now)
		}
		lim = rate.NewLimiter(l.r, l.b)
		l.m[client] = lim
	}
	return lim.AllowN(now, 1)
}

// evict forgets clients whose bucket is full again (idle ones: forgetting
// them changes nothing), then, if that was not enough, half of the rest.
func (l *limiters) evict(now time.Time) {
	for k, lim := range l.m {
		if lim.TokensAt(now) >= float64(l.b) {
			delete(l.m, k)
		}
	}
	if len(l.m) < l.max {
		return
	}
	n := len(l.m) / 2
	for k := range l.m {
		if n == 0 {
			break
		}
		delete(l.m, k)
		n--
	}
}
