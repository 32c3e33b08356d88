package jwksserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/keys/jwksserver"
	"github.com/nonrep/nonrep/keys/keystest"
	"github.com/nonrep/nonrep/problem"
)

// source is a Source the test controls.
type source struct {
	mu    sync.Mutex
	keys  []*jose.JWK
	err   error
	reads int
}

func (s *source) Published(context.Context) ([]*jose.JWK, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	return s.keys, s.err
}

func (s *source) set(keys []*jose.JWK, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys, s.err = keys, err
}

func jwk(t *testing.T, name, kid string, private bool) *jose.JWK {
	t.Helper()
	var key any = testkeys.Key(name)
	if !private {
		key = testkeys.Key(name).Public()
	}
	j, err := jose.NewJWK(key, kid, "")
	if err != nil {
		t.Fatal(err)
	}
	j.Use = "sig"
	return j
}

func get(h http.Handler, client string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", jwksserver.Path, nil)
	r.RemoteAddr = client + ":1234"
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestServe(t *testing.T) {
	src := &source{keys: []*jose.JWK{jwk(t, "p256", "k1", false), jwk(t, "ed25519", "k2", true)}}
	clk := keystest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	h, err := jwksserver.New(jwksserver.Config{Source: src, Clock: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	w := get(h, "10.0.0.1")
	if w.Code != 200 || w.Header().Get("Cache-Control") != "public, max-age=600" || w.Header().Get("Content-Type") != jwksserver.ContentType {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
	set, err := jose.ParseJWKS(w.Body.Bytes()) // strict: no private member
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Keys()) != 2 || set.Lookup("k2") == nil || set.Lookup("k2").Use != "sig" {
		t.Fatalf("served %s", w.Body)
	}
	if strings.Contains(w.Body.String(), `"d"`) {
		t.Fatal("private member served")
	}
	etag := w.Header().Get("ETag")
	if !strings.HasPrefix(etag, `"`) {
		t.Fatalf("ETag %q", etag)
	}
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		w := get(h, "10.0.0.1", "If-None-Match", inm)
		if w.Code != http.StatusNotModified || w.Body.Len() != 0 || w.Header().Get("ETag") != etag || w.Header().Get("Cache-Control") == "" {
			t.Fatalf("If-None-Match %s: %d", inm, w.Code)
		}
	}
	if w := get(h, "10.0.0.1", "If-None-Match", `"other"`); w.Code != 200 {
		t.Fatalf("non-matching If-None-Match: %d", w.Code)
	}
	// HEAD: headers, no body. POST: 405.
	r := httptest.NewRequest("HEAD", jwksserver.Path, nil)
	hw := httptest.NewRecorder()
	h.ServeHTTP(hw, r)
	if hw.Code != 200 || hw.Body.Len() != 0 || hw.Header().Get("ETag") != etag {
		t.Fatalf("HEAD %d", hw.Code)
	}
	pw := httptest.NewRecorder()
	h.ServeHTTP(pw, httptest.NewRequest("POST", jwksserver.Path, nil))
	if pw.Code != http.StatusMethodNotAllowed || pw.Header().Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST %d", pw.Code)
	}
	// The source is read once per reload interval, and a change shows with
	// a new ETag after it.
	reads := src.reads
	src.set([]*jose.JWK{jwk(t, "p256", "k1", false)}, nil)
	get(h, "10.0.0.2")
	if src.reads != reads {
		t.Fatal("source read within the reload interval")
	}
	clk.Advance(5 * time.Second)
	w = get(h, "10.0.0.2", "If-None-Match", etag)
	if w.Code != 200 || w.Header().Get("ETag") == etag || strings.Contains(w.Body.String(), "k2") {
		t.Fatalf("after reload: %d %s", w.Code, w.Body)
	}
	// The store fails: the last set is served. A handler with nothing read
	// answers 503.
	src.set(nil, errors.New("database is down"))
	clk.Advance(time.Minute)
	if w := get(h, "10.0.0.3"); w.Code != 200 || !strings.Contains(w.Body.String(), "k1") {
		t.Fatalf("store down: %d", w.Code)
	}
	h2, _ := jwksserver.New(jwksserver.Config{Source: src, Clock: clk.Now})
	w = get(h2, "10.0.0.3")
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Content-Type") != problem.ContentType {
		t.Fatalf("no set: %d", w.Code)
	}
	if s := h.Stats(); s.OK == 0 || s.NotModified != 4 || s.ReloadErrors != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestMaxAgeConfigurable(t *testing.T) {
	src := &source{keys: []*jose.JWK{jwk(t, "p256", "k1", false)}}
	h, _ := jwksserver.New(jwksserver.Config{Source: src, MaxAge: 300 * time.Second})
	if cc := get(h, "10.0.0.1").Header().Get("Cache-Control"); cc != "public, max-age=300" {
		t.Fatalf("Cache-Control %q", cc)
	}
}

func TestRateLimitPerClient(t *testing.T) {
	src := &source{keys: []*jose.JWK{jwk(t, "p256", "k1", false)}}
	clk := keystest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	h, _ := jwksserver.New(jwksserver.Config{Source: src, Clock: clk.Now, Rate: 1, Burst: 3, MaxClients: 4})
	for i := range 3 {
		if w := get(h, "10.0.0.1"); w.Code != 200 {
			t.Fatalf("request %d: %d", i, w.Code)
		}
	}
	w := get(h, "10.0.0.1")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" || w.Header().Get("Content-Type") != problem.ContentType {
		t.Fatalf("over the limit: %d %v", w.Code, w.Header())
	}
	var p problem.Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Code != string(problem.RateLimited) || p.Status != 429 {
		t.Fatalf("problem %s", w.Body)
	}
	// Another client is not affected; the first recovers with time.
	if w := get(h, "10.0.0.2"); w.Code != 200 {
		t.Fatalf("other client: %d", w.Code)
	}
	clk.Advance(time.Second)
	if w := get(h, "10.0.0.1"); w.Code != 200 {
		t.Fatalf("after a second: %d", w.Code)
	}
	// Many clients: memory stays bounded, nobody is refused wrongly.
	for i := range 100 {
		if w := get(h, "192.0.2."+string(rune('0'+i%10))+string(rune('0'+i/10))); w.Code != 200 {
			t.Fatalf("client %d: %d", i, w.Code)
		}
	}
	if s := h.Stats(); s.RateLimited != 1 {
		t.Fatalf("stats %+v", s)
	}
}
