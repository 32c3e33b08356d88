package jwkscache_test

import (
	"bytes"
	"context"
	"crypto"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/keys/jwkscache"
	"github.com/nonrep/nonrep/keys/keystest"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// jwksServer is a partner's JWKS endpoint whose answers the test controls.
type jwksServer struct {
	srv *httptest.Server

	mu           sync.Mutex
	body         []byte
	etag         string
	cacheControl string
	age          string
	status       int // 0: serve the set
	delay        time.Duration
	redirect     string

	hits, conditional atomic.Int64
}

func newServer(t testing.TB, body string, cacheControl string) *jwksServer {
	s := &jwksServer{body: []byte(body), cacheControl: cacheControl}
	s.srv = httptest.NewUnstartedServer(s)
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	s.srv.StartTLS()
	t.Cleanup(s.srv.Close)
	return s
}

func (s *jwksServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	s.mu.Lock()
	body, etag, cc, age, status, delay, redirect := s.body, s.etag, s.cacheControl, s.age, s.status, s.delay, s.redirect
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if redirect != "" {
		http.Redirect(w, r, redirect, http.StatusFound)
		return
	}
	if status != 0 {
		http.Error(w, "down", status)
		return
	}
	if cc != "" {
		w.Header().Set("Cache-Control", cc)
	}
	if age != "" {
		w.Header().Set("Age", age)
	}
	if etag != "" {
		w.Header().Set("ETag", etag)
		if inm := r.Header.Get("If-None-Match"); inm != "" {
			s.conditional.Add(1)
			if inm == etag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Write(body)
}

func (s *jwksServer) set(f func(s *jwksServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *jwksServer) url() string { return s.srv.URL + "/.well-known/jwks.json" }

// pubJWK returns the public JWK of a test key as JSON, with kid.
func pubJWK(t testing.TB, name, kid string) string {
	t.Helper()
	j, err := jose.NewJWK(testkeys.Key(name).Public(), kid, "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := j.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func set(members ...string) string { return `{"keys":[` + strings.Join(members, ",") + `]}` }

// syncBuffer collects log output safely.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

type env struct {
	t     testing.TB
	clk   *keystest.Clock
	srv   *jwksServer
	cache *jwkscache.Cache
	r     *jwkscache.Resolver
	logs  *syncBuffer
}

func newEnv(t testing.TB, srv *jwksServer, mod func(*jwkscache.Config)) *env {
	t.Helper()
	e := &env{t: t, clk: keystest.NewClock(t0), srv: srv, logs: &syncBuffer{}}
	cfg := jwkscache.Config{
		Client: srv.srv.Client(),
		Clock:  e.clk.Now,
		Logger: slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := jwkscache.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.cache = c
	if e.r, err = c.Add(jwkscache.Source{Partner: "acme", URL: srv.url()}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) resolve(kid string) ([]*jose.JWK, error) {
	return e.r.ResolveKeys(context.Background(), &jose.Header{Kid: kid, Alg: jose.ES256})
}

func (e *env) mustResolve(kid string) *jose.JWK {
	e.t.Helper()
	ks, err := e.resolve(kid)
	if err != nil {
		e.t.Fatalf("resolve %q: %v", kid, err)
	}
	if len(ks) != 1 || ks[0].Kid != kid {
		e.t.Fatalf("resolve %q: %d keys", kid, len(ks))
	}
	return ks[0]
}

func (e *env) wantCode(kid string, code jose.Code) {
	e.t.Helper()
	_, err := e.resolve(kid)
	if got := jose.CodeOf(err); got != code {
		e.t.Fatalf("resolve %q: %v (code %q); want %q", kid, err, got, code)
	}
}

// tick advances the clock and runs the background refresh once.
func (e *env) tick(d time.Duration) {
	e.clk.Advance(d)
	e.cache.RefreshDue(context.Background())
}

func signer(name string) crypto.Signer { return testkeys.Key(name) }

func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return v
}
