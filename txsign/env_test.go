package txsign_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nonrep/nonrep/internal/testenv"
	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/replay"
	"github.com/nonrep/nonrep/txsign"
	"github.com/nonrep/nonrep/txsign/device"
	"github.com/nonrep/nonrep/txsign/pgstore"
	"github.com/nonrep/nonrep/txsign/sqlitestore"
)

const (
	issuer    = "https://txsign.bank.example"
	aliceTok  = "alice-token"
	bobTok    = "bob-token"
	shopTok   = "shop-token"
	payments  = "payments"
	storyJSON = `[{"type":"payment_initiation","instructedAmount":{"amount":"1240.00","currency":"EUR"},"creditorName":"ACME Ltd","creditorAccount":{"iban":"DE02100100109307118603"},"remittanceInformationUnstructured":"Invoice 2024-117"}]`
)

// clock is a settable time source shared by the service and the gateway.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testEnv is a service, its HTTP server, a payment API behind the
// gateway, and an enrolled device of alice.
type testEnv struct {
	t        *testing.T
	clock    *clock
	rec      *txsign.MemoryRecorder
	signer   *txsign.StaticSigner
	svc      *txsign.Service
	srv      *httptest.Server
	api      *httptest.Server
	executed chan json.RawMessage
	dev      *device.Device
	alice    *device.Client
}

type envOptions struct {
	store    func(t testing.TB) txsign.Store
	recorder txsign.Recorder
	config   func(*txsign.Config)
}

func sqliteStore(t testing.TB) txsign.Store {
	s, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Path: ":memory:"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func pgStore(t testing.TB) txsign.Store {
	s, err := pgstore.Open(context.Background(), pgstore.Config{DSN: testenv.Postgres(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newEnv(t testing.TB, o envOptions) *testEnv {
	tt, _ := t.(*testing.T)
	if o.store == nil {
		o.store = sqliteStore
	}
	e := &testEnv{t: tt, clock: &clock{t: time.Now().Truncate(time.Second)}, rec: &txsign.MemoryRecorder{}, executed: make(chan json.RawMessage, 1024)}
	var err error
	e.signer, err = txsign.NewStaticSigner(testkeys.Key("p256"), jose.ES256, "txsign-1")
	if err != nil {
		t.Fatal(err)
	}
	var rec txsign.Recorder = e.rec
	if o.recorder != nil {
		rec = o.recorder
	}
	store := o.store(t)
	cfg := txsign.Config{
		Store: store, Signer: e.signer, Recorder: rec, Issuer: issuer, Audiences: []string{payments, "cards"},
		Users:       txsign.NewBearerTokens(users()),
		Clients:     txsign.NewBearerTokens(map[string]string{shopTok: "shop"}),
		PINAttempts: 3,
		PINParams:   txsign.PINParams{Time: 1, Memory: 256, Threads: 1},
		Clock:       e.clock.Now,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Push:        txsign.PushConfig{Client: http.DefaultClient, AllowHTTP: true},
	}
	if o.config != nil {
		o.config(&cfg)
	}
	e.svc, err = txsign.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := e.svc.Handler()
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(func() { e.srv.Close(); e.svc.Close() })

	mem, err := replay.NewMemory(replay.MemoryConfig{Clock: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	gw, err := txsign.Gateway(txsign.GatewayConfig{
		Keys: e.signer, Issuer: issuer, Audience: payments, Replay: mem, Recorder: e.rec, Clock: e.clock.Now,
		Details: func(_ *http.Request, body []byte) ([]byte, error) {
			var b struct {
				Details json.RawMessage `json:"authorization_details"`
			}
			err := json.Unmarshal(body, &b)
			return b.Details, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.api = httptest.NewServer(gw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := txsign.TokenFromContext(r.Context())
		if !ok {
			t.Error("handler ran without a token")
			return
		}
		e.executed <- tok.AuthorizationDetails
		w.WriteHeader(http.StatusCreated)
	})))
	t.Cleanup(e.api.Close)

	e.alice = &device.Client{BaseURL: e.srv.URL, UserToken: aliceTok}
	e.dev = e.enrol(t, e.alice, "alice-phone", jose.ES256)
	return e
}

func (e *testEnv) enrol(t testing.TB, c *device.Client, id string, alg jose.Alg) *device.Device {
	t.Helper()
	d, err := device.Generate(id, alg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Enrol(context.Background(), d, device.EnrolOptions{Platform: "ios", Metadata: map[string]string{"model": "test"}}); err != nil {
		t.Fatalf("enrol %s: %v", id, err)
	}
	return d
}

// call sends a JSON request and returns the status and decoded body.
func call(t testing.TB, method, u, token string, body any, hdr ...string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	case url.Values:
		rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		j, _ := json.Marshal(b)
		rd, ct = bytes.NewReader(j), "application/json"
	}
	req, _ := http.NewRequest(method, u, rd)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	if out == nil {
		out = map[string]any{}
	}
	out["_raw"] = string(raw)
	return resp.StatusCode, out
}

// codeOf returns the problem code or OAuth error of an answer.
func codeOf(m map[string]any) string {
	if c, ok := m["code"].(string); ok {
		return c
	}
	c, _ := m["error"].(string)
	return c
}

func (e *testEnv) create(t testing.TB, body map[string]any, hdr ...string) (int, map[string]any) {
	t.Helper()
	if _, ok := body["authorization_details"]; !ok {
		body["authorization_details"] = json.RawMessage(storyJSON)
	}
	if _, ok := body["login_hint"]; !ok {
		body["login_hint"] = "alice"
	}
	return call(t, "POST", e.srv.URL+"/v1/signing-requests", shopTok, body, hdr...)
}

// mustCreate starts the story's request and returns its auth_req_id.
func (e *testEnv) mustCreate(t testing.TB, body map[string]any) string {
	t.Helper()
	st, out := e.create(t, body)
	if st != http.StatusCreated {
		t.Fatalf("create: %d %s", st, out["_raw"])
	}
	return out["auth_req_id"].(string)
}

func (e *testEnv) poll(t testing.TB, id string) (int, map[string]any) {
	t.Helper()
	return call(t, "POST", e.srv.URL+"/v1/token", shopTok, url.Values{"grant_type": {txsign.CIBAGrantType}, "auth_req_id": {id}})
}

// item fetches the device's inbox and returns the verified item for id.
func (e *testEnv) item(t testing.TB, d *device.Device, c *device.Client, id string) *device.Item {
	t.Helper()
	raws, err := c.Inbox(context.Background(), d.ID)
	if err != nil {
		t.Fatalf("inbox: %v", err)
	}
	for _, raw := range raws {
		it, err := d.Verify(context.Background(), raw, e.signer, issuer, e.clock.Now())
		if err != nil {
			t.Fatalf("verify item: %v", err)
		}
		if it.Claims.AuthReqID == id {
			return it
		}
	}
	t.Fatalf("request %s not in the inbox (%d items)", id, len(raws))
	return nil
}

// approve has the device approve id and returns the decision answer.
func (e *testEnv) approve(t testing.TB, id, pin string) *txsign.DecisionResponse {
	t.Helper()
	it := e.item(t, e.dev, e.alice, id)
	jws, err := e.dev.Decide(it, device.Decision{Approve: true, UV: "face", Now: e.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.alice.Submit(context.Background(), jws, pin)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	return resp
}

// token polls until the token comes (advancing the clock by the interval
// first) and returns it.
func (e *testEnv) token(t testing.TB, id string) *txsign.TokenResponse {
	t.Helper()
	e.clock.Advance(61 * time.Second)
	st, out := e.poll(t, id)
	if st != http.StatusOK {
		t.Fatalf("token: %d %s", st, out["_raw"])
	}
	var tr txsign.TokenResponse
	json.Unmarshal([]byte(out["_raw"].(string)), &tr)
	return &tr
}

// pay posts a payment with the token; body details default to the token's.
func (e *testEnv) pay(t testing.TB, token string, details string) (int, map[string]any) {
	t.Helper()
	if details == "" {
		details = storyJSON
	}
	return call(t, "POST", e.api.URL+"/v1/payments", token, `{"authorization_details":`+details+`}`)
}

func wantCode(t testing.TB, err error, want jose.Code) {
	t.Helper()
	if got := jose.CodeOf(err); got != want {
		t.Fatalf("error %v has code %q; want %q", err, got, want)
	}
}

func wantAnswer(t testing.TB, st int, out map[string]any, wantStatus int, wantCode string) {
	t.Helper()
	if st != wantStatus || codeOf(out) != wantCode {
		t.Fatalf("answer %d %q; want %d %q: %s", st, codeOf(out), wantStatus, wantCode, out["_raw"])
	}
}

// users are alice, bob, and u0…u15 for parallel benchmarks ("uN-token").
func users() map[string]string {
	m := map[string]string{aliceTok: "alice", bobTok: "bob"}
	for i := 0; i < 16; i++ {
		m[fmt.Sprintf("u%d-token", i)] = fmt.Sprintf("u%d", i)
	}
	return m
}

func sqliteFileStore(t testing.TB) txsign.Store {
	s, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Path: filepath.Join(t.TempDir(), "txsign.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
