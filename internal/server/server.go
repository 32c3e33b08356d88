// Package server wires nonrep serve: the verifying gateway, the signing
// egress proxy, the JWKS endpoint, metrics and health, from one
// config.Config. It holds no logic of its own beyond wiring.
package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/nonrep/nonrep/evidence"
	"github.com/nonrep/nonrep/evidence/httpevidence"
	"github.com/nonrep/nonrep/httpsig"
	"github.com/nonrep/nonrep/internal/config"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/keys"
	"github.com/nonrep/nonrep/problem"
	"github.com/nonrep/nonrep/profile"
	"github.com/nonrep/nonrep/replay"
	"github.com/nonrep/nonrep/replay/redisstore"
)

// Server is a configured nonrep serve.
type Server struct {
	cfg     *config.Config
	log     *slog.Logger
	m       *metrics
	mux     *http.ServeMux
	replay  replay.Store
	redis   *redis.Client
	log_    *evidence.Log
	rec     *httpevidence.Recorder
	jwks    http.Handler
	closers []func() error
	ready   []func(ctx context.Context) error
	pk      *partnerKeys
	reg     *keys.Registry

	mu       sync.Mutex
	listener net.Listener
}

// Options are what New needs besides the configuration.
type Options struct {
	Logger *slog.Logger
	// Evidence is the log every exchange is recorded in (required); JWKS
	// serves our public keys (OpenKeys). The caller owns both.
	Evidence *evidence.Log
	JWKS     http.Handler
	// Signer is our key for Swift response integrity (with its chain).
	Signer *profile.Signer
	// Registry, when set, supplies the revocation list that wins over the
	// partners' JWKS caches; Audit records operator actions on the caches.
	Registry *keys.Registry
	Audit    func(context.Context, keys.Event) error
	// Getenv reads secrets (default os.Getenv).
	Getenv func(string) string
	Clock  func() time.Time
}

// New builds the server. It fails on anything misconfigured, before
// listening.
func New(ctx context.Context, cfg *config.Config, o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Evidence == nil {
		return nil, &jose.Error{Code: jose.PolicyInvalid, Detail: "server: an evidence log is required"}
	}
	s := &Server{cfg: cfg, log: o.Logger, m: newMetrics(), mux: http.NewServeMux(), log_: o.Evidence, jwks: o.JWKS, reg: o.Registry}
	s.rec = &httpevidence.Recorder{Log: o.Evidence, PolicyVersion: cfg.PolicyVersion(), ResponseSignatureHeader: "X-SWIFT-Integrity", Logger: o.Logger, Clock: o.Clock}
	// Records say when a partner's reading was lenient, or their bundles
	// would not re-verify.
	lenient := map[string]bool{}
	for _, p := range cfg.Partners {
		lenient[p.Name] = p.Lenient
	}
	s.rec.Lenient = func(partner string) bool { return lenient[partner] }
	if err := s.openReplay(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if cfg.Stores.Replay.Backend == "memory" {
		n, err := s.warmReplay(ctx, o.Clock())
		if err != nil {
			// The store is full or the log unreadable: requests will fail
			// closed on their own; say why at start-up.
			s.log.Warn("replay store not fully re-armed from evidence", "ids", n, "err", err)
		} else if n > 0 {
			s.log.Info("replay store re-armed from evidence", "ids", n)
		}
	}
	s.ready = append(s.ready, func(ctx context.Context) error { _, err := o.Evidence.Head(ctx); return err })
	pk, err := newPartnerKeys(cfg, s.redis, s.log, o.Audit)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.pk = pk
	s.m.reg.MustRegister(pk.collector())
	partners, err := buildPartners(cfg, pk)
	if err != nil {
		s.Close()
		return nil, err
	}
	for i := range cfg.Routes {
		if err := s.addRoute(cfg.Routes[i], partners, o); err != nil {
			s.Close()
			return nil, err
		}
	}
	if cfg.TxSign.Enabled {
		if err := s.mountTxsign(ctx, cfg, o); err != nil {
			s.Close()
			return nil, err
		}
	}
	if len(cfg.Egress) > 0 {
		eg, err := buildEgress(cfg, s)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.mux.Handle(EgressPrefix, eg)
	}
	if s.jwks != nil {
		s.mux.Handle("GET /.well-known/jwks.json", s.jwks)
	}
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"alive"}` + "\n"))
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.HandleFunc("GET /openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(OpenAPI)
	})
	return s, nil
}

func (s *Server) openReplay(ctx context.Context) error {
	switch s.cfg.Stores.Replay.Backend {
	case "redis":
		c := redis.NewClient(&redis.Options{Addr: s.cfg.Stores.Replay.Addr, ContextTimeoutEnabled: true,
			DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second,
			// Fail closed fast while Redis is down: go-redis's defaults (5
			// dial attempts per try, 3 retries) hold each request ~1.7 s.
			DialerRetries: 1, MaxRetries: 1})
		st, err := redisstore.New(c, redisstore.Config{})
		if err != nil {
			c.Close()
			return err
		}
		s.redis = c
		s.replay = st
		s.closers = append(s.closers, c.Close)
		s.ready = append(s.ready, func(ctx context.Context) error { return c.Ping(ctx).Err() })
	default:
		m, err := replay.NewMemory(replay.MemoryConfig{})
		if err != nil {
			return err
		}
		s.replay = m
		s.closers = append(s.closers, m.Close)
	}
	return nil
}

// readKeys reads a partner's JWK, JWKS or PEM (public key, certificate)
// files.
func readKeys(files []string) ([]*jose.JWK, error) {
	var out []*jose.JWK
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		// A partner's public keys only: a private key in a partner's key
		// file is refused, never quietly reduced to its public part.
		ks, err := keys.ParsePartnerKeys(data, "")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, ks...)
	}
	return out, nil
}

type partnerEntry struct {
	cfg config.Partner
	p   *httpsig.Partner
}

func buildPartners(cfg *config.Config, pk *partnerKeys) (map[string]*partnerEntry, error) {
	out := map[string]*partnerEntry{}
	for _, pc := range cfg.Partners {
		prof, _ := profile.ByName(pc.Profile)
		if ob, ok := prof.(profile.OpenBanking); ok && pc.OBVersion != "" {
			ob.Version = pc.OBVersion
			prof = ob
		}
		t := profile.Trust{Skew: pc.Skew.D(), MaxLifetime: pc.MaxLifetime.D(), Lenient: pc.Lenient}
		if len(pc.Keys) > 0 || pc.JWKSURL != "" {
			inline, err := readKeys(pc.Keys)
			if err != nil {
				return nil, fmt.Errorf("partner %s: %w", pc.Name, err)
			}
			r, err := pk.resolver(pc, inline)
			if err != nil {
				return nil, fmt.Errorf("partner %s: %w", pc.Name, err)
			}
			t.Keys = r
		}
		if pc.Roots != "" {
			data, err := os.ReadFile(pc.Roots)
			if err != nil {
				return nil, err
			}
			if t.Roots, err = rootsFromPEM(data); err != nil {
				return nil, fmt.Errorf("partner %s: roots: %w", pc.Name, err)
			}
		}
		for _, a := range pc.Algs {
			t.Algs = append(t.Algs, jose.Alg(a))
		}
		p := &httpsig.Partner{Name: pc.Name, Profile: prof, Trust: t, Detect: pc.Detect,
			Rate: rate.Limit(pc.Rate), Burst: pc.Burst, MaxConcurrent: pc.MaxConcurrent}
		if err := p.Prepare(); err != nil {
			return nil, fmt.Errorf("partner %s: %w", pc.Name, err)
		}
		out[pc.Name] = &partnerEntry{cfg: pc, p: p}
	}
	return out, nil
}

func (s *Server) addRoute(rc config.Route, partners map[string]*partnerEntry, o Options) error {
	if rc.Resolve == "txn_token" {
		g, err := newGateway(rc, s.cfg.Identity, s.cfg.Limits.UpstreamTimeout.D(), s.m, s.log, o.Signer)
		if err != nil {
			return err
		}
		h, err := s.tokenRoute(rc, o, g)
		if err != nil {
			return err
		}
		s.mux.Handle(rc.Path, h)
		return nil
	}
	var ids httpsig.Identifier
	switch rc.Resolve {
	case "api_key":
		a := &httpsig.APIKey{Header: rc.APIKeyHeader}
		for _, pe := range partners {
			for _, k := range pe.cfg.APIKeys {
				v, err := config.Secret(k, o.Getenv)
				if err != nil {
					return fmt.Errorf("partner %s: %w", pe.cfg.Name, err)
				}
				a.Add(v, pe.p)
			}
		}
		ids = a
	case "mtls":
		cc := httpsig.ClientCert{BySubject: map[string]*httpsig.Partner{}, ByFingerprint: map[[32]byte]*httpsig.Partner{}}
		for _, pe := range partners {
			if pe.cfg.ClientCertSubject != "" {
				cc.BySubject[pe.cfg.ClientCertSubject] = pe.p
			}
		}
		ids = cc
	default:
		ids = httpsig.Fixed{Partner: partners[rc.Partner].p}
	}
	mw, err := httpsig.Middleware(httpsig.Config{
		Partners:       ids,
		Replay:         s.replay,
		MaxHeaderBytes: s.cfg.Limits.MaxHeaderBytes,
		MaxBody:        s.cfg.Limits.MaxBody,
		MaxConcurrent:  s.cfg.Limits.MaxConcurrent,
		Record:         s.record,
		Logger:         s.log,
		Clock:          o.Clock,
	})
	if err != nil {
		return err
	}
	if rc.SignResponse && o.Signer == nil {
		return fmt.Errorf("route %s: sign_response needs signing.key and signing.cert", rc.Path)
	}
	g, err := newGateway(rc, s.cfg.Identity, s.cfg.Limits.UpstreamTimeout.D(), s.m, s.log, o.Signer)
	if err != nil {
		return err
	}
	// Outside in: the response record (after the answer), metrics, the
	// verifier (which records the request before the handler runs), the
	// gateway.
	s.mux.Handle(rc.Path, s.rec.Responses(s.observe(mw(g))))
	return nil
}

// record is the middleware's evidence hook, with metrics.
func (s *Server) record(ctx context.Context, o *httpsig.Outcome) error {
	code := "ok"
	if o.Err != nil {
		code = string(o.Code)
	}
	s.m.verifications.WithLabelValues(o.Partner, o.Profile, code).Inc()
	if o.Code == replay.Detected {
		s.m.replayHits.WithLabelValues(o.Partner).Inc()
	}
	start := time.Now()
	err := s.rec.Record(ctx, o)
	s.m.evidenceLat.Observe(time.Since(start).Seconds())
	return err
}

// observe counts gate rejections (answers the middleware gave before any
// verdict) and times every request.
func (s *Server) observe(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &codeWriter{ResponseWriter: w}
		h.ServeHTTP(rw, r)
		if rw.problem != "" {
			switch jose.Code(rw.problem) {
			case problem.RateLimited, problem.Overloaded, jose.TooLarge, problem.PartnerUnknown, profile.HeaderMissing, jose.Malformed:
				s.m.gates.WithLabelValues(rw.problem).Inc()
			}
		}
	})
}

// codeWriter remembers whether the answer was a problem document (the code
// is not parsed from the body: the status and content type suffice for
// counting, and the code is re-derived from the status class).
type codeWriter struct {
	http.ResponseWriter
	problem string
}

func (c *codeWriter) WriteHeader(code int) {
	if c.Header().Get("Content-Type") == problem.ContentType {
		switch code {
		case http.StatusTooManyRequests:
			c.problem = string(problem.RateLimited)
		case http.StatusServiceUnavailable:
			c.problem = string(problem.Overloaded)
		case http.StatusRequestEntityTooLarge, http.StatusRequestHeaderFieldsTooLarge:
			c.problem = string(jose.TooLarge)
		}
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *codeWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	for _, check := range s.ready {
		if err := check(ctx); err != nil {
			s.log.Warn("not ready", "err", err)
			problem.Write(w, problem.From(&jose.Error{Code: problem.Overloaded, Detail: "a store is unreachable"}), 1)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"status":"ready"}` + "\n"))
}

// Handler is the server's root handler (tests use it without a listener).
func (s *Server) Handler() http.Handler { return s.mux }

// Addr is the listening address once Serve has started.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener == nil {
		return ""
	}
	return s.listener.Addr().String()
}

// Serve listens and serves until ctx is done, then drains in-flight
// requests (up to 30 s), flushes evidence and closes the stores.
func (s *Server) Serve(ctx context.Context, started func(addr string)) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return err
	}
	s.pk.run(ctx, s.reg, s.log)
	hs := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      s.cfg.Limits.UpstreamTimeout.D() + 30*time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if t := s.cfg.TLS; t != nil {
		tc, err := tlsConfig(t)
		if err != nil {
			ln.Close()
			return err
		}
		ln = tls.NewListener(ln, tc)
	}
	s.mu.Lock()
	s.listener = ln
	s.mu.Unlock()
	if started != nil {
		started(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		s.Close()
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down: draining in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = hs.Shutdown(sctx)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Close closes the stores the server opened (not the evidence log or the
// keys, which the caller owns and closes after Serve returns).
func (s *Server) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	return errors.Join(errs...)
}

func tlsConfig(t *config.TLS) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if t.ClientCA != "" {
		data, err := os.ReadFile(t.ClientCA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, errors.New("tls.client_ca: no certificates")
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

func buildEgress(cfg *config.Config, s *Server) (*egress, error) {
	e := &egress{targets: map[string]*egressTarget{}, m: s.m, log: s.log, maxBody: max(cfg.Limits.MaxBody, httpsig.DefaultMaxBody)}
	for _, ec := range cfg.Egress {
		prof, _ := profile.ByName(ec.Profile)
		if ob, ok := prof.(profile.OpenBanking); ok {
			ob.Issuer = ec.OBIssuer
			if ec.OBVersion != "" {
				ob.Version = ec.OBVersion
			}
			prof = ob
		}
		signer, err := loadSigner(ec.Key, ec.Cert, prof)
		if err != nil {
			return nil, fmt.Errorf("egress %s: %w", ec.Name, err)
		}
		var integrity *profile.Trust
		if ec.IntegrityRoots != "" {
			data, err := os.ReadFile(ec.IntegrityRoots)
			if err != nil {
				return nil, err
			}
			roots, err := rootsFromPEM(data)
			if err != nil {
				return nil, fmt.Errorf("egress %s: integrity_roots: %w", ec.Name, err)
			}
			aud := ""
			if len(signer.Chain) > 0 {
				if leaf, err := x509.ParseCertificate(signer.Chain[0]); err == nil {
					aud = leaf.Subject.String()
				}
			}
			integrity = &profile.Trust{Roots: roots, Audience: aud}
		}
		t, err := newEgressTarget(ec, prof, signer, integrity, s.log_, cfg.Limits.UpstreamTimeout.D(), s.log)
		if err != nil {
			return nil, fmt.Errorf("egress %s: %w", ec.Name, err)
		}
		e.targets[ec.Name] = t
	}
	return e, nil
}

// profileAlg is the algorithm a fixed-algorithm profile signs with.
func profileAlg(p profile.Profile) jose.Alg {
	switch p.(type) {
	case profile.InComm:
		return jose.PS512
	case profile.EBANX, profile.Swift:
		return jose.RS256
	case profile.OpenBanking:
		return jose.PS256
	}
	return ""
}

// loadSigner reads a private JWK or PEM key (and a PEM chain) for a profile.
func loadSigner(keyFile, certFile string, p profile.Profile) (*profile.Signer, error) {
	data, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	var k *jose.JWK
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN")) {
		ks, err := jose.ParsePEM(data)
		if err != nil {
			return nil, err
		}
		if len(ks) != 1 {
			return nil, fmt.Errorf("%s: want exactly one key", keyFile)
		}
		k = ks[0]
	} else if k, err = jose.ParseJWK(data); err != nil {
		return nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	alg := k.Alg
	if a := profileAlg(p); a != "" {
		alg = a
	}
	if alg == "" {
		return nil, fmt.Errorf("%s: the key has no alg", keyFile)
	}
	sk, err := jose.NewSigningKey(k, alg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	s := &profile.Signer{Key: sk}
	if certFile != "" {
		chain, err := readChain(certFile)
		if err != nil {
			return nil, err
		}
		s.Chain = chain
	}
	return s, nil
}

// readChain reads a PEM certificate chain as DER, leaf first.
func readChain(file string) ([][]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			out = append(out, b.Bytes)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no certificates", file)
	}
	return out, nil
}
