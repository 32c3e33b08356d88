package httpsig_test

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nonrep/nonrep/httpsig"
	"github.com/nonrep/nonrep/internal/testenv"
	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/problem"
	"github.com/nonrep/nonrep/profile"
	"github.com/nonrep/nonrep/replay"
	"github.com/nonrep/nonrep/replay/redisstore"
	"github.com/redis/go-redis/v9"
)

// fixture is one scheme with our signing side and the partner's trust.
type fixture struct {
	name   string
	prof   profile.Profile
	signer *profile.Signer
	trust  profile.Trust
}

func signingKey(t testing.TB, priv crypto.Signer, kid string, alg jose.Alg) (*jose.SigningKey, *jose.KeySet) {
	t.Helper()
	k, err := jose.NewJWK(priv, kid, alg)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := jose.NewSigningKey(k, alg)
	if err != nil {
		t.Fatal(err)
	}
	set, err := jose.NewKeySet(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return sk, set
}

func fixtures(t testing.TB) []fixture {
	t.Helper()
	var fs []fixture
	add := func(name string, p profile.Profile, key string, alg jose.Alg) {
		sk, set := signingKey(t, testkeys.Key(key), name+"-key-1", alg)
		fs = append(fs, fixture{name, p, &profile.Signer{Key: sk}, profile.Trust{Keys: set}})
	}
	add("incomm", profile.InComm{}, "rsa3072", jose.PS512)
	add("ebanx", profile.EBANX{}, "rsa4096", jose.RS256)
	add("openbanking", profile.OpenBanking{Issuer: "0015800001041REAAY"}, "rsa2048", jose.PS256)
	add("openbanking-3.1.3", profile.OpenBanking{Version: "3.1.3", Issuer: "0015800001041REAAY"}, "rsa2048", jose.PS256)
	add("generic", profile.Generic{}, "p256", jose.ES256)
	add("generic-header", profile.Generic{Header: "X-JWS-Signature"}, "p256", jose.ES256)
	sk, _ := signingKey(t, testkeys.Key("leaf"), "", jose.RS256)
	fs = append(fs, fixture{"swift", profile.Swift{}, &profile.Signer{Key: sk, Chain: testkeys.Chain("leaf")}, profile.Trust{Roots: testkeys.Roots()}})
	return fs
}

// recorder remembers the last request it sent, so tests can replay or
// tamper with exactly what went on the wire.
type recorder struct {
	mu     sync.Mutex
	method string
	url    string
	header http.Header
	body   []byte
	// dontSend records without sending.
	dontSend bool
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(req.Body)
	req.Body.Close()
	r.mu.Lock()
	r.method, r.url, r.header, r.body = req.Method, req.URL.String(), req.Header.Clone(), b
	r.mu.Unlock()
	if r.dontSend {
		return &http.Response{StatusCode: 204, Body: http.NoBody, Request: req}, nil
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	return http.DefaultTransport.RoundTrip(req)
}

// resend sends the recorded request again, after edit.
func (r *recorder) resend(t testing.TB, edit func(h http.Header, body []byte) []byte) *http.Response {
	t.Helper()
	r.mu.Lock()
	h, body := r.header.Clone(), append([]byte(nil), r.body...)
	method, url := r.method, r.url
	r.mu.Unlock()
	if edit != nil {
		body = edit(h, body)
	}
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

type server struct {
	*httptest.Server
	partner  *httpsig.Partner
	outcomes chan *httpsig.Outcome
	handled  atomic.Int32
}

type options struct {
	store  replay.Store
	record func(context.Context, *httpsig.Outcome) error
	max    int
	edit   func(p *httpsig.Partner)
}

func newServer(t testing.TB, f fixture, o options) *server {
	t.Helper()
	s := &server{outcomes: make(chan *httpsig.Outcome, 100)}
	s.partner = &httpsig.Partner{Name: "acme", Profile: f.prof, Trust: f.trust}
	if o.edit != nil {
		o.edit(s.partner)
	}
	if o.store == nil {
		m, err := replay.NewMemory(replay.MemoryConfig{})
		if err != nil {
			t.Fatal(err)
		}
		o.store = m
	}
	if o.record == nil {
		o.record = func(_ context.Context, out *httpsig.Outcome) error {
			select {
			case s.outcomes <- out:
			default:
			}
			return nil
		}
	}
	mw, err := httpsig.Middleware(httpsig.Config{
		Partners:      httpsig.Fixed{Partner: s.partner},
		Replay:        o.store,
		Record:        o.record,
		MaxConcurrent: o.max,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.handled.Add(1)
		body, _ := io.ReadAll(r.Body)
		v, ok := httpsig.FromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		resp := map[string]any{"verified": ok, "body": string(body)}
		if ok {
			resp["partner"], resp["kid"], resp["subject"], resp["payload"] = v.Partner, v.Kid, v.Subject, string(v.Payload)
		}
		b, _ := json.Marshal(resp)
		if sw, isSwift := f.prof.(profile.Swift); isSwift {
			hdr, err := sw.SignResponse(b, testkeys.Cert("leaf").Subject.String(), serverSigner(t))
			if err != nil {
				t.Error(err)
			}
			for k, v := range hdr {
				w.Header()[k] = v
			}
		}
		w.Write(b)
	})
	s.Server = httptest.NewServer(mw(h))
	t.Cleanup(s.Close)
	return s
}

func serverSigner(t testing.TB) *profile.Signer {
	sk, _ := signingKey(t, testkeys.Key("server"), "", jose.RS256)
	return &profile.Signer{Key: sk, Chain: testkeys.Chain("server")}
}

func client(f fixture, rec *recorder) *http.Client {
	tr := &httpsig.Transport{Base: rec, Profile: f.prof, Signer: f.signer}
	if _, ok := f.prof.(profile.Swift); ok {
		tr.Integrity = &profile.Trust{Roots: testkeys.Roots(), Audience: testkeys.Cert("leaf").Subject.String()}
	}
	return &http.Client{Transport: tr}
}

const payment = `{"amount":"1240.00","currency":"EUR","creditorName":"ACME Ltd"}`

func post(t testing.TB, c *http.Client, url string) *http.Response {
	t.Helper()
	resp, err := c.Post(url+"/v1/payments?b=2&a=1", "application/json", strings.NewReader(payment))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// problemOf reads a problem+json response and returns its code.
func problemOf(t testing.TB, resp *http.Response, status int) string {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != problem.ContentType {
		t.Fatalf("Content-Type %q: %s", ct, b)
	}
	var p problem.Problem
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if p.Status != status || p.Type != problem.TypeURI(jose.Code(p.Code)) {
		t.Fatalf("problem %+v", p)
	}
	return p.Code
}

func TestEndToEnd(t *testing.T) {
	for _, f := range fixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			s := newServer(t, f, options{})
			rec := &recorder{}
			resp := post(t, client(f, rec), s.URL)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if got["verified"] != true || got["partner"] != "acme" {
				t.Fatalf("handler saw %v", got)
			}
			// The handler gets the exact body bytes that were sent.
			if got["body"] != string(rec.body) {
				t.Fatalf("handler body %q, sent %q", got["body"], rec.body)
			}
			o := <-s.outcomes
			if o.Err != nil || o.Result == nil || o.Result.ReplayID == "" || o.Partner != "acme" {
				t.Fatalf("outcome %+v", o)
			}
			if !bytes.Equal(o.Message.Body, rec.body) {
				t.Fatal("outcome body is not the exact body")
			}

			// The same request again is a replay.
			if code := problemOf(t, rec.resend(t, nil), 409); code != string(replay.Detected) {
				t.Fatalf("replay: %s", code)
			}
			if o := <-s.outcomes; o.Code != replay.Detected {
				t.Fatalf("replay outcome %v", o.Code)
			}
		})
	}
}

func TestTampered(t *testing.T) {
	for _, f := range fixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			s := newServer(t, f, options{})
			rec := &recorder{}
			resp := post(t, client(f, rec), s.URL)
			resp.Body.Close()
			flip := func(h http.Header, b []byte) []byte {
				out := append([]byte(nil), b...)
				i := bytes.Index(out, []byte("1240.00"))
				if i < 0 {
					// Generic flattened: the body is a JWS; change its payload.
					var j map[string]any
					json.Unmarshal(out, &j)
					j["payload"] = j["payload"].(string)[:10] + "A" + j["payload"].(string)[11:]
					out, _ = json.Marshal(j)
					return out
				}
				out[i] = '9'
				return out
			}
			want := map[string]jose.Code{
				"swift": profile.DigestMismatch,
			}[f.name]
			if want == "" {
				want = jose.SignatureInvalid
			}
			if code := problemOf(t, rec.resend(t, flip), 401); code != string(want) {
				t.Fatalf("body tampered: %s, want %s", code, want)
			}
			if s.handled.Load() != 1 {
				t.Fatal("the handler ran for a tampered request")
			}
		})
	}
}

func TestGates(t *testing.T) {
	f := fixtures(t)[4] // generic ES256
	if f.name != "generic" {
		t.Fatal(f.name)
	}
	t.Run("body too large", func(t *testing.T) {
		s := newServer(t, f, options{})
		resp, err := http.Post(s.URL, profile.GenericContentType, bytes.NewReader(make([]byte, httpsig.DefaultMaxBody+1)))
		if err != nil {
			t.Fatal(err)
		}
		if code := problemOf(t, resp, 413); code != string(jose.TooLarge) {
			t.Fatal(code)
		}
	})
	t.Run("headers too large", func(t *testing.T) {
		s := newServer(t, f, options{})
		req, _ := http.NewRequest("POST", s.URL, strings.NewReader("{}"))
		req.Header.Set("X-Big", strings.Repeat("a", 40<<10))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if code := problemOf(t, resp, 431); code != string(jose.TooLarge) {
			t.Fatal(code)
		}
	})
	t.Run("missing content type", func(t *testing.T) {
		s := newServer(t, f, options{})
		req, _ := http.NewRequest("POST", s.URL, strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if code := problemOf(t, resp, 400); code != string(profile.HeaderMissing) {
			t.Fatal(code)
		}
	})
	t.Run("unknown kid spends no rate token", func(t *testing.T) {
		s := newServer(t, f, options{edit: func(p *httpsig.Partner) { p.Rate, p.Burst = 0.001, 1 }})
		other, _ := signingKey(t, testkeys.Key("p256b"), "someone-else", jose.ES256)
		bad := f
		bad.signer = &profile.Signer{Key: other}
		for range 3 {
			if code := problemOf(t, post(t, client(bad, &recorder{}), s.URL), 401); code != string(jose.KeyUnknown) {
				t.Fatal(code)
			}
		}
		resp := post(t, client(f, &recorder{}), s.URL)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("valid request after unknown kids: %d", resp.StatusCode)
		}
		// The bucket is now empty: the next one is rate limited.
		resp = post(t, client(f, &recorder{}), s.URL)
		if resp.Header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
		if code := problemOf(t, resp, 429); code != string(problem.RateLimited) {
			t.Fatal(code)
		}
	})
	t.Run("evidence failure fails closed", func(t *testing.T) {
		s := newServer(t, f, options{record: func(context.Context, *httpsig.Outcome) error { return errors.New("disk full") }})
		if code := problemOf(t, post(t, client(f, &recorder{}), s.URL), 503); code != string(problem.EvidenceUnavailable) {
			t.Fatal(code)
		}
		if s.handled.Load() != 0 {
			t.Fatal("handler ran without evidence")
		}
	})
	t.Run("replay store down fails closed", func(t *testing.T) {
		st, err := redisstore.New(redisClient("127.0.0.1:1"), redisstore.Config{})
		if err != nil {
			t.Fatal(err)
		}
		s := newServer(t, f, options{store: st})
		if code := problemOf(t, post(t, client(f, &recorder{}), s.URL), 503); code != string(replay.Unavailable) {
			t.Fatal(code)
		}
		if s.handled.Load() != 0 {
			t.Fatal("handler ran with the replay store down")
		}
	})
	t.Run("detection mode", func(t *testing.T) {
		s := newServer(t, f, options{edit: func(p *httpsig.Partner) { p.Detect = true }})
		other, _ := signingKey(t, testkeys.Key("p256b"), f.signer.Key.Kid, jose.ES256) // right kid, wrong key
		bad := f
		bad.signer = &profile.Signer{Key: other}
		resp := post(t, client(bad, &recorder{}), s.URL)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"verified":false`) {
			t.Fatalf("detection mode blocked or verified: %d %s", resp.StatusCode, b)
		}
		o := <-s.outcomes
		if !o.Detected || o.Code != jose.SignatureInvalid {
			t.Fatalf("outcome %+v", o)
		}
	})
	t.Run("partner unknown", func(t *testing.T) {
		ids := &httpsig.APIKey{Header: "X-API-Key"}
		ids.Add("secret-1", &httpsig.Partner{Name: "acme", Profile: f.prof, Trust: f.trust})
		mem, _ := replay.NewMemory(replay.MemoryConfig{})
		mw, err := httpsig.Middleware(httpsig.Config{Partners: ids, Replay: mem})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
		defer srv.Close()
		for _, key := range []string{"", "wrong"} {
			req, _ := http.NewRequest("POST", srv.URL, strings.NewReader("{}"))
			if key != "" {
				req.Header.Set("X-API-Key", key)
			}
			resp, _ := http.DefaultClient.Do(req)
			if code := problemOf(t, resp, 401); code != string(problem.PartnerUnknown) {
				t.Fatal(code)
			}
		}
		c := &http.Client{Transport: &httpsig.Transport{Base: headerRT{"X-API-Key", "secret-1"}, Profile: f.prof, Signer: f.signer}}
		resp := post(t, c, srv.URL)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatal(resp.StatusCode)
		}
	})
}

type headerRT struct{ name, value string }

func (h headerRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r.Header.Set(h.name, h.value)
	return http.DefaultTransport.RoundTrip(r)
}

// blockingKeys lets the test hold a verification in progress.
type blockingKeys struct {
	jose.KeyResolver
	calls   atomic.Int32
	entered chan struct{}
	release chan struct{}
}

func (b *blockingKeys) ResolveKeys(ctx context.Context, h *jose.Header) ([]*jose.JWK, error) {
	// Each request resolves twice: the kid pre-check, then inside the
	// verification. Block the first request's second call.
	if b.calls.Add(1) == 2 {
		close(b.entered)
		<-b.release
	}
	return b.KeyResolver.ResolveKeys(ctx, h)
}

func TestConcurrencyBound(t *testing.T) {
	f := fixtures(t)[4]
	bk := &blockingKeys{KeyResolver: f.trust.Keys, entered: make(chan struct{}), release: make(chan struct{})}
	f.trust.Keys = bk
	s := newServer(t, f, options{max: 1})
	done := make(chan int)
	go func() {
		resp := post(t, client(f, &recorder{}), s.URL)
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	<-bk.entered
	resp := post(t, client(f, &recorder{}), s.URL)
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	if code := problemOf(t, resp, 503); code != string(problem.Overloaded) {
		t.Fatal(code)
	}
	close(bk.release)
	if st := <-done; st != 200 {
		t.Fatalf("held request: %d", st)
	}
}

// TestReplayRace sends the same signed request from many goroutines at
// once: exactly one is executed, on both replay backends.
func TestReplayRace(t *testing.T) {
	backends := map[string]func(t *testing.T) replay.Store{
		"memory": func(t *testing.T) replay.Store {
			m, _ := replay.NewMemory(replay.MemoryConfig{})
			return m
		},
		"redis": func(t *testing.T) replay.Store {
			c := testenv.Redis(t)
			st, err := redisstore.New(c, redisstore.Config{Prefix: fmt.Sprintf("nonrep:test:%d:", time.Now().UnixNano())})
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
	}
	for name, mk := range backends {
		t.Run(name, func(t *testing.T) {
			for _, f := range fixtures(t) {
				if f.name != "generic-header" && f.name != "ebanx" {
					continue
				}
				s := newServer(t, f, options{store: mk(t), max: 64})
				rec := &recorder{dontSend: true}
				req, _ := http.NewRequest("POST", s.URL+"/v1/payments", strings.NewReader(payment))
				tr := &httpsig.Transport{Base: rec, Profile: f.prof, Signer: f.signer}
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				before := s.handled.Load()
				const n = 32
				var ok, replayed atomic.Int32
				var wg sync.WaitGroup
				for range n {
					wg.Go(func() {
						resp := rec.resend(t, nil)
						b, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						switch {
						case resp.StatusCode == 200:
							ok.Add(1)
						case resp.StatusCode == 409 && strings.Contains(string(b), string(replay.Detected)):
							replayed.Add(1)
						default:
							t.Errorf("%d %s", resp.StatusCode, b)
						}
					})
				}
				wg.Wait()
				if ok.Load() != 1 || replayed.Load() != n-1 || s.handled.Load() != before+1 {
					t.Fatalf("%s: ok %d, replayed %d", f.name, ok.Load(), replayed.Load())
				}
			}
		})
	}
}

func redisClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
}

// TestEBANXEmptyBodyNotReplay: every empty-body EBANX request of one key
// carries the same signature (RS256 over the empty body), so the scheme
// cannot tell a replay from a new GET; such requests are not claimed.
func TestEBANXEmptyBodyNotReplay(t *testing.T) {
	var f fixture
	for _, x := range fixtures(t) {
		if x.name == "ebanx" {
			f = x
		}
	}
	s := newServer(t, f, options{})
	c := client(f, &recorder{})
	for range 2 {
		resp, err := c.Get(s.URL + "/v1/payments/123")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
}
