package txsign

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/replay"
)

// Token and message types (the JOSE "typ" header of each signed object).
const (
	// TokenTyp is the transaction token's typ.
	TokenTyp = "txn+jwt"
	// RequestTyp is the typ of a signing request as delivered to a device
	// (pushed or read from the inbox), signed by the service.
	RequestTyp = "txn-request+jwt"
	// DecisionTyp is the typ of a device's decision.
	DecisionTyp = "txn-decision+jwt"
	// EnrolTyp is the typ of an enrolment proof of possession.
	EnrolTyp = "txn-enrol+jwt"
	// RotateTyp is the typ of the two key-rotation statements.
	RotateTyp = "txn-rotate+jwt"
)

// MaxTokenTTL is the longest transaction token lifetime: two minutes.
const MaxTokenTTL = 2 * time.Minute

// Config configures a Service. Store, Signer, Recorder, Issuer and
// Audiences are required; every other zero value is the documented
// default.
type Config struct {
	// Store holds devices, requests, decisions and PINs.
	Store Store
	// Signer signs transaction tokens and the requests delivered to
	// devices.
	Signer TokenSigner
	// Recorder makes each step's evidence durable before the step takes
	// effect; its failure aborts the step (503).
	Recorder Recorder
	// Users and Clients authenticate the HTTP API's callers; the Handler
	// requires both.
	Users, Clients Authenticator
	// Issuer is the iss of every token and delivered request (the
	// service's URL).
	Issuer string
	// Audiences are the token audiences a relying app may ask for (the
	// payment APIs); the first is the default.
	Audiences []string
	// JWKS, when set, serves /.well-known/jwks.json; by default the
	// Signer's, when it is a JWKSPublisher.
	JWKS func(ctx context.Context) ([]byte, error)

	// TokenTTL is the transaction token lifetime (default and maximum
	// MaxTokenTTL).
	TokenTTL time.Duration
	// RequestTTL is a signing request's default lifetime (5 min);
	// MaxRequestTTL the most a client may ask for (10 min).
	RequestTTL, MaxRequestTTL time.Duration
	// Interval is the initial polling interval (5 s); MaxInterval the most
	// slow_down raises it to (60 s).
	Interval, MaxInterval time.Duration
	// RedeemWindow is how long after approval the client may fetch the
	// token (2 min), even past the request's expiry.
	RedeemWindow time.Duration
	// ChallengeTTL is an enrolment challenge's lifetime (5 min).
	ChallengeTTL time.Duration
	// Skew is the clock difference allowed on device iat claims (60 s).
	Skew time.Duration
	// OfflineAfter flags a decision as offline when it arrives more than
	// this after its iat, whatever the device says (60 s).
	OfflineAfter time.Duration
	// PINAttempts is the number of consecutive wrong PINs after which the
	// PIN locks (5); PINParams the Argon2id parameters of new PIN hashes.
	PINAttempts int
	PINParams   PINParams
	// DisplayTemplate renders new requests (DisplayV1).
	DisplayTemplate string
	// DeviceAlgs are the algorithms device keys may use (ES256, EdDSA).
	DeviceAlgs []jose.Alg
	// Push delivers requests to device webhooks; the zero value disables
	// push (devices pull their inbox).
	Push PushConfig
	// Replay holds the one-time ids of key-rotation statements (default an
	// in-memory store; use a shared one with several instances).
	Replay replay.Store
	// MaxBody caps a JSON request body (64 KiB).
	MaxBody int64
	// Clock is the time source (time.Now).
	Clock func() time.Time
	// Logger receives delivery failures and store errors (slog.Default).
	Logger *slog.Logger
}

// PushConfig configures push delivery.
type PushConfig struct {
	// Client sends the pushes; nil disables push. It should not follow
	// redirects (the service sets CheckRedirect on a copy to refuse them).
	Client *http.Client
	// AllowHTTP accepts http:// webhook URLs (loopback demos and tests);
	// by default only https.
	AllowHTTP bool
	// CheckURL, when set, vets a webhook URL at enrolment (an allow-list
	// of hosts, against SSRF: the service POSTs to URLs users give it).
	CheckURL func(u *url.URL) error
	// Timeout bounds one push (5 s); MaxInFlight the pushes in progress
	// (64) — beyond it a push is skipped and the device pulls.
	Timeout     time.Duration
	MaxInFlight int
}

// Service is the transaction-signing service: enrolment, signing
// requests, decisions, tokens. Its methods are the API; Handler serves
// them over HTTP. Safe for concurrent use.
type Service struct {
	cfg      Config
	store    Store
	rec      Recorder
	log      *slog.Logger
	push     chan struct{}
	pushWG   sync.WaitGroup
	pushHTTP *http.Client
	keyMu    sync.Mutex
	keyPub   map[*jose.SigningKey]*jose.JWK
}

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.Store == nil:
		return nil, errorf(jose.PolicyInvalid, "txsign: Config.Store is required")
	case cfg.Signer == nil:
		return nil, errorf(jose.PolicyInvalid, "txsign: Config.Signer is required")
	case cfg.Recorder == nil:
		return nil, errorf(jose.PolicyInvalid, "txsign: Config.Recorder is required (MemoryRecorder for demos)")
	case cfg.Issuer == "":
		return nil, errorf(jose.PolicyInvalid, "txsign: Config.Issuer is required")
	case len(cfg.Audiences) == 0:
		return nil, errorf(jose.PolicyInvalid, "txsign: Config.Audiences is required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.TokenTTL, MaxTokenTTL)
	if cfg.TokenTTL > MaxTokenTTL {
		return nil, errorf(jose.PolicyInvalid, "txsign: TokenTTL %s exceeds %s", cfg.TokenTTL, MaxTokenTTL)
	}
	def(&cfg.RequestTTL, 5*time.Minute)
	def(&cfg.MaxRequestTTL, 10*time.Minute)
	def(&cfg.Interval, 5*time.Second)
	def(&cfg.MaxInterval, 60*time.Second)
	def(&cfg.RedeemWindow, 2*time.Minute)
	def(&cfg.ChallengeTTL, 5*time.Minute)
	def(&cfg.Skew, 60*time.Second)
	def(&cfg.OfflineAfter, 60*time.Second)
	def(&cfg.Push.Timeout, 5*time.Second)
	if cfg.RequestTTL > cfg.MaxRequestTTL || cfg.Interval > cfg.MaxInterval || cfg.Interval%time.Second != 0 {
		return nil, errorf(jose.PolicyInvalid, "txsign: RequestTTL must not exceed MaxRequestTTL, nor Interval MaxInterval; Interval is whole seconds")
	}
	if cfg.PINAttempts <= 0 {
		cfg.PINAttempts = 5
	}
	cfg.PINParams = cfg.PINParams.withDefaults()
	if cfg.DisplayTemplate == "" {
		cfg.DisplayTemplate = DisplayV1
	}
	if _, err := RenderDisplay(cfg.DisplayTemplate, []byte(`[{"type":"x"}]`), ""); err != nil {
		return nil, errorf(jose.PolicyInvalid, "txsign: unknown DisplayTemplate %s", quote(cfg.DisplayTemplate))
	}
	if len(cfg.DeviceAlgs) == 0 {
		cfg.DeviceAlgs = []jose.Alg{jose.ES256, jose.EdDSA}
	}
	for _, a := range cfg.DeviceAlgs {
		if a != jose.ES256 && a != jose.EdDSA && a != jose.ES384 {
			return nil, errorf(jose.PolicyInvalid, "txsign: device alg %s is not ES256, ES384 or EdDSA", quote(string(a)))
		}
	}
	if cfg.Push.MaxInFlight <= 0 {
		cfg.Push.MaxInFlight = 64
	}
	if cfg.Replay == nil {
		m, err := replay.NewMemory(replay.MemoryConfig{MaxEntries: 100_000})
		if err != nil {
			return nil, err
		}
		cfg.Replay = m
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 64 << 10
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.JWKS == nil {
		if p, ok := cfg.Signer.(JWKSPublisher); ok {
			cfg.JWKS = p.JWKS
		}
	}
	s := &Service{
		cfg:    cfg,
		store:  cfg.Store,
		rec:    cfg.Recorder,
		log:    cfg.Logger,
		push:   make(chan struct{}, cfg.Push.MaxInFlight),
		keyPub: map[*jose.SigningKey]*jose.JWK{},
	}
	if cfg.Push.Client != nil {
		c := *cfg.Push.Client
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		s.pushHTTP = &c
	}
	return s, nil
}

// Close waits for pushes in progress. It does not close the store.
func (s *Service) Close() error {
	s.pushWG.Wait()
	return nil
}

// now is the service's time, at the stores' microsecond precision.
func (s *Service) now() time.Time { return s.cfg.Clock().Truncate(time.Microsecond) }

// randomID returns n random bytes, base64url.
func randomID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("txsign: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// signingKey returns the active key and its public JWK (for evidence).
func (s *Service) signingKey(ctx context.Context) (*jose.SigningKey, *jose.JWK, error) {
	k, err := s.cfg.Signer.SigningKey(ctx)
	if err != nil {
		return nil, nil, wrapf(SignerUnavailable, err, "the service's signing key is unavailable")
	}
	if k == nil || k.Signer == nil {
		return nil, nil, errorf(SignerUnavailable, "the service has no asymmetric signing key")
	}
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if pub, ok := s.keyPub[k]; ok {
		return k, pub, nil
	}
	pub, err := jose.NewJWK(k.Signer.Public(), k.Kid, k.Alg)
	if err != nil {
		return nil, nil, wrapf(SignerUnavailable, err, "the service's signing key is unusable")
	}
	if len(s.keyPub) > 64 {
		clear(s.keyPub)
	}
	s.keyPub[k] = pub
	return k, pub, nil
}

// audience returns the token audience for a request's aud ("" = default).
func (s *Service) audience(aud string) (string, error) {
	if aud == "" {
		return s.cfg.Audiences[0], nil
	}
	for _, a := range s.cfg.Audiences {
		if a == aud {
			return a, nil
		}
	}
	return "", errorf(RequestInvalid, "audience %s is not one this service issues tokens for", quote(aud))
}
