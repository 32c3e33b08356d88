package httpsig

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"runtime"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/problem"
	"github.com/nonrep/nonrep/profile"
	"github.com/nonrep/nonrep/replay"
)

// Partner is one partner's verification settings.
type Partner struct {
	// Name identifies the partner (evidence, metrics, replay namespace).
	Name string
	// Profile is the partner's scheme; Trust its keys, roots and time
	// policy.
	Profile profile.Profile
	Trust   profile.Trust
	// Detect puts the partner in detection mode: requests are verified and
	// recorded, never blocked (a server-side setting for migrations).
	Detect bool
	// Rate and Burst bound the partner's request rate (token bucket);
	// Rate 0 means no limit.
	Rate  rate.Limit
	Burst int
	// MaxConcurrent bounds the partner's verifications in progress
	// (default: no per-partner bound; the global one applies).
	MaxConcurrent int

	once    sync.Once
	err     error
	v       profile.Verifier
	limiter *rate.Limiter
	slots   chan struct{}
}

// Identifier attributes a request to a partner. It must be cheap: it runs
// before the body is read.
type Identifier interface {
	Identify(r *http.Request) (*Partner, error)
}

// Fixed attributes every request to one partner (a route per partner).
type Fixed struct{ Partner *Partner }

func (f Fixed) Identify(*http.Request) (*Partner, error) { return f.Partner, nil }

// APIKey attributes a request by an API-key header. Keys are compared by
// their SHA-256, in constant time per candidate.
type APIKey struct {
	Header string
	keys   []apiKey
}

type apiKey struct {
	sum [32]byte
	p   *Partner
}

// Add registers key for p.
func (a *APIKey) Add(key string, p *Partner) {
	a.keys = append(a.keys, apiKey{sha256.Sum256([]byte(key)), p})
}

func (a *APIKey) Identify(r *http.Request) (*Partner, error) {
	v := r.Header.Values(a.Header)
	if len(v) != 1 || v[0] == "" {
		return nil, &jose.Error{Code: problem.PartnerUnknown, Detail: "missing or repeated " + a.Header + " header"}
	}
	sum := sha256.Sum256([]byte(v[0]))
	var found *Partner
	for i := range a.keys {
		if subtle.ConstantTimeCompare(sum[:], a.keys[i].sum[:]) == 1 {
			found = a.keys[i].p
		}
	}
	if found == nil {
		return nil, &jose.Error{Code: problem.PartnerUnknown, Detail: "unknown API key"}
	}
	return found, nil
}

// ClientCert attributes a request by its verified mTLS client certificate
// (the TLS server must be configured to require and verify it). Partners
// are keyed by the leaf's SHA-256 fingerprint or by its subject DN string.
type ClientCert struct {
	ByFingerprint map[[32]byte]*Partner
	BySubject     map[string]*Partner
}

func (c ClientCert) Identify(r *http.Request) (*Partner, error) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil, &jose.Error{Code: problem.PartnerUnknown, Detail: "no verified client certificate"}
	}
	leaf := r.TLS.VerifiedChains[0][0]
	if p := c.ByFingerprint[sha256.Sum256(leaf.Raw)]; p != nil {
		return p, nil
	}
	if p := c.BySubject[leaf.Subject.String()]; p != nil {
		return p, nil
	}
	return nil, &jose.Error{Code: problem.PartnerUnknown, Detail: "client certificate " + leaf.Subject.String() + " is not a partner's"}
}

// Outcome is what the middleware hands to Config.Record for each request
// whose signature was well formed enough to parse: accepted, rejected, or
// let through in detection mode.
type Outcome struct {
	Received time.Time
	Partner  string
	Profile  string
	Method   string
	Path     string
	Query    string
	// Message holds the signature headers and the body exactly as received.
	Message *profile.Message
	// Result is set when the signature verified.
	Result *profile.Result
	// Err is the rejection (nil when accepted); Code its stable code.
	Err  error
	Code jose.Code
	// Detected is true when a rejection was let through (detection mode).
	Detected bool
	// Ref is set by Config.Record to the id of the evidence record, so
	// that the handler can refer to it (OutcomeFromContext).
	Ref string
}

// Config configures the middleware. Its zero value, plus an Identifier and
// a Replay store, is a safe configuration.
type Config struct {
	Partners Identifier
	// Replay records replay ids; required (use replay.NewMemory for one
	// instance, Redis for many).
	Replay replay.Store
	// MaxHeaderBytes caps the total size of the request's header names
	// and values (default 32 KiB); MaxBody the body (default
	// DefaultMaxBody).
	MaxHeaderBytes int
	MaxBody        int64
	// MaxConcurrent bounds verifications in progress across all partners
	// (default 4 × GOMAXPROCS). Beyond it requests get 503 with
	// Retry-After instead of queueing.
	MaxConcurrent int
	// Record, when set, is called for every parsed request before the
	// handler runs; if it fails, the request gets 503 and the handler does
	// not run (evidence must be durable before anything is executed).
	Record func(ctx context.Context, o *Outcome) error
	// Logger receives one line per rejection (default slog.Default()).
	// Keys and bodies are never logged.
	Logger *slog.Logger
	// Clock is the time source for Outcome.Received and replay TTLs.
	Clock func() time.Time
}

type verifiedKey struct{}

type outcomeKey struct{}

// OutcomeFromContext returns the outcome of the request's verification:
// for every request that reaches the handler, verified or let through in
// detection mode.
func OutcomeFromContext(ctx context.Context) (*Outcome, bool) {
	o, ok := ctx.Value(outcomeKey{}).(*Outcome)
	return o, ok
}

// Verified is what the handler finds in the request context.
type Verified struct {
	Partner string
	*profile.Result
}

// FromContext returns the verified result of the request, if it verified.
// In detection mode a rejected request reaches the handler without one.
func FromContext(ctx context.Context) (*Verified, bool) {
	v, ok := ctx.Value(verifiedKey{}).(*Verified)
	return v, ok
}

type middleware struct {
	cfg   Config
	slots chan struct{}
	next  http.Handler
}

// Prepare builds the partner's verifier and limiter. Middleware calls it
// for partners it meets for the first time; call it at start-up to fail
// fast on a bad configuration.
func (p *Partner) Prepare() error {
	p.once.Do(func() { p.err = p.prepare() })
	return p.err
}

func (p *Partner) prepare() error {
	if p.Profile == nil {
		return &jose.Error{Code: jose.PolicyInvalid, Detail: "partner " + p.Name + " has no profile"}
	}
	v, err := p.Profile.NewVerifier(p.Trust)
	if err != nil {
		return err
	}
	if p.Rate > 0 {
		b := p.Burst
		if b <= 0 {
			b = max(1, int(math.Ceil(float64(p.Rate))))
		}
		p.limiter = rate.NewLimiter(p.Rate, b)
	}
	if p.MaxConcurrent > 0 {
		p.slots = make(chan struct{}, p.MaxConcurrent)
	}
	p.v = v
	return nil
}

// Middleware returns the verifying middleware. The order of the gates is
// deliberate: nothing expensive runs before the cheap checks pass.
//
//  1. header size and declared body size caps;
//  2. partner identified;
//  3. body read under http.MaxBytesReader; the scheme's headers present
//     and well formed, the JWS parsed strictly;
//  4. an unknown kid is rejected without crypto (x5c shape was checked
//     by the strict parse in 3);
//  5. per-partner rate limit and bounded concurrent verifications
//     (429 / 503 with Retry-After);
//  6. signature over the exact body bytes, claims and time policy;
//  7. replay claim (atomic);
//  8. evidence recorded (Config.Record), fail closed;
//  9. the handler, with the verified result in the request context and
//     the exact body bytes as its body.
func Middleware(cfg Config) (func(http.Handler) http.Handler, error) {
	if cfg.Partners == nil {
		return nil, &jose.Error{Code: jose.PolicyInvalid, Detail: "httpsig: Config.Partners is required"}
	}
	if cfg.Replay == nil {
		return nil, &jose.Error{Code: jose.PolicyInvalid, Detail: "httpsig: Config.Replay is required"}
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = 32 << 10
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = 4 * runtime.GOMAXPROCS(0)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	slots := make(chan struct{}, cfg.MaxConcurrent)
	return func(next http.Handler) http.Handler {
		return &middleware{cfg: cfg, slots: slots, next: next}
	}, nil
}

func headerBytes(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

func (m *middleware) reject(w http.ResponseWriter, r *http.Request, partner string, err error, retryAfter int) {
	p := problem.From(err)
	m.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "request rejected",
		slog.String("partner", partner), slog.String("code", p.Code),
		slog.String("method", r.Method), slog.String("path", r.URL.Path))
	problem.Write(w, p, retryAfter)
}

func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	received := m.cfg.Clock()
	// 1. Caps.
	if headerBytes(r.Header) > m.cfg.MaxHeaderBytes {
		p := problem.From(&jose.Error{Code: jose.TooLarge, Detail: "request headers are too large"})
		p.Status = http.StatusRequestHeaderFieldsTooLarge
		p.Title = http.StatusText(p.Status)
		problem.Write(w, p, 0)
		return
	}
	if r.ContentLength > m.cfg.MaxBody {
		m.reject(w, r, "", &jose.Error{Code: jose.TooLarge, Detail: fmt.Sprintf("the body is larger than %d bytes", m.cfg.MaxBody)}, 0)
		return
	}
	// 2. Partner.
	partner, err := m.cfg.Partners.Identify(r)
	if err != nil {
		m.reject(w, r, "", err, 0)
		return
	}
	if err := partner.Prepare(); err != nil {
		m.cfg.Logger.Error("partner misconfigured", "partner", partner.Name, "err", err)
		m.reject(w, r, partner.Name, &jose.Error{Code: problem.Internal}, 0)
		return
	}
	// 3. Body and scheme headers.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, m.cfg.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			err = &jose.Error{Code: jose.TooLarge, Detail: fmt.Sprintf("the body is larger than %d bytes", m.cfg.MaxBody)}
		} else {
			err = &jose.Error{Code: jose.Malformed, Detail: "reading the body failed", Err: err}
		}
		m.reject(w, r, partner.Name, err, 0)
		return
	}
	msg := profile.FromRequest(r, body)
	parsed, err := partner.v.Parse(msg)
	if err != nil {
		m.reject(w, r, partner.Name, err, 0)
		return
	}
	o := &Outcome{
		Received: received, Partner: partner.Name, Profile: partner.Profile.Name(),
		Method: r.Method, Path: msg.Path, Query: msg.RawQuery, Message: msg,
	}
	res, retryAfter, err := m.verify(r.Context(), partner, parsed)
	if err == nil && res.ReplayID != "" {
		// 7. Replay. (An empty ReplayID means the scheme gives nothing to
		// tell a replay from a new request: EBANX's empty-body requests.)
		ttl := res.ReplayUntil.Sub(m.cfg.Clock())
		if ttl < time.Second {
			ttl = time.Second
		}
		err = m.cfg.Replay.Claim(r.Context(), partner.Name+"/"+res.ReplayID, ttl)
	}
	o.Result = res
	if err != nil {
		o.Err, o.Code = err, jose.CodeOf(err)
		if o.Code == "" {
			o.Code = problem.Internal
		}
		// Gate rejections (rate, concurrency) are not verdicts on the
		// signature: they are neither recorded nor let through.
		gate := o.Code == problem.RateLimited || o.Code == problem.Overloaded
		// A store that cannot answer is never taken as "not a replay".
		storeDown := o.Code == replay.Unavailable || o.Code == jose.KeyUnavailable
		if gate || storeDown || !partner.Detect {
			if !gate {
				if rerr := m.record(r.Context(), o); rerr != nil {
					m.reject(w, r, partner.Name, rerr, 0)
					return
				}
			}
			m.reject(w, r, partner.Name, err, retryAfter)
			return
		}
		o.Detected = true
		o.Result = nil
	}
	// 8. Evidence.
	if err := m.record(r.Context(), o); err != nil {
		m.reject(w, r, partner.Name, err, 0)
		return
	}
	// 9. Handler.
	ctx := context.WithValue(r.Context(), outcomeKey{}, o)
	if o.Err == nil {
		ctx = context.WithValue(ctx, verifiedKey{}, &Verified{Partner: partner.Name, Result: res})
	}
	r2 := r.WithContext(ctx)
	setBody(r2, body)
	m.next.ServeHTTP(w, r2)
}

func (m *middleware) record(ctx context.Context, o *Outcome) error {
	if m.cfg.Record == nil {
		return nil
	}
	if err := m.cfg.Record(ctx, o); err != nil {
		m.cfg.Logger.Error("evidence not recorded", "partner", o.Partner, "err", err)
		return &jose.Error{Code: problem.EvidenceUnavailable, Detail: "the evidence record could not be written", Err: err}
	}
	return nil
}

// verify runs gates 4–6 and returns a Retry-After for gate rejections.
func (m *middleware) verify(ctx context.Context, p *Partner, parsed *profile.Parsed) (*profile.Result, int, error) {
	// 4. Key shape and lookup, no crypto.
	h := parsed.Header()
	if len(h.X5C) == 0 && p.Trust.Keys != nil {
		keys, err := p.Trust.Keys.ResolveKeys(ctx, h)
		if err != nil {
			return nil, 0, err
		}
		if len(keys) == 0 {
			return nil, 0, &jose.Error{Code: jose.KeyUnknown, Detail: "no key for kid " + fmt.Sprintf("%q", h.Kid)}
		}
	}
	// An x5c chain's shape (an array of base64 DER strings, bounded by the
	// header cap) was checked by the strict header parser; the certificates
	// are parsed once, by the verification that validates the chain.
	// 5. Rate and concurrency.
	if p.limiter != nil {
		res := p.limiter.Reserve()
		if d := res.Delay(); d > 0 {
			res.Cancel()
			return nil, int(math.Ceil(d.Seconds())), &jose.Error{Code: problem.RateLimited, Detail: "partner " + p.Name + " is over its request rate"}
		}
	}
	if p.slots != nil {
		select {
		case p.slots <- struct{}{}:
			defer func() { <-p.slots }()
		default:
			return nil, 1, &jose.Error{Code: problem.Overloaded, Detail: "too many verifications in progress for " + p.Name}
		}
	}
	select {
	case m.slots <- struct{}{}:
		defer func() { <-m.slots }()
	default:
		return nil, 1, &jose.Error{Code: problem.Overloaded, Detail: "too many verifications in progress"}
	}
	// 6. Crypto and policy.
	res, err := p.v.Verify(ctx, parsed)
	return res, 0, err
}
