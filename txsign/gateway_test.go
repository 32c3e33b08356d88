package txsign_test

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

	"github.com/nonrep/nonrep/internal/testenv"
	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/problem"
	"github.com/nonrep/nonrep/replay"
	"github.com/nonrep/nonrep/replay/redisstore"
	"github.com/nonrep/nonrep/txsign"
)

// mint signs a token like the service does, with claims adjusted by f.
func mint(t testing.TB, signer txsign.TokenSigner, now time.Time, jti string, f func(*txsign.TokenClaims), opts ...func(*jose.SignOptions)) string {
	t.Helper()
	det := []byte(canon(t, storyJSON))
	c := &txsign.TokenClaims{
		Issuer: issuer, Subject: "alice", Audience: payments, JTI: jti, IssuedAt: now.Unix(), Expiry: now.Unix() + 120,
		ClientID: "shop", AuthorizationDetails: det, TxHash: txsign.TxHash(det), EvidenceRef: "mem:1",
	}
	if f != nil {
		f(c)
	}
	payload, _ := json.Marshal(c)
	k, _ := signer.SigningKey(context.Background())
	so := jose.SignOptions{Typ: txsign.TokenTyp}
	for _, o := range opts {
		o(&so)
	}
	j, err := jose.Sign(payload, so, k)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := j.CompactBytes()
	return string(b)
}

type gw struct {
	srv   *httptest.Server
	calls chan *txsign.Token
}

func newGateway(t testing.TB, cfg txsign.GatewayConfig) *gw {
	mw, err := txsign.Gateway(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := &gw{calls: make(chan *txsign.Token, 100)}
	g.srv = httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := txsign.TokenFromContext(r.Context())
		g.calls <- tok
	})))
	t.Cleanup(g.srv.Close)
	return g
}

func memReplay(t testing.TB) replay.Store {
	m, err := replay.NewMemory(replay.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGatewayRefusals(t *testing.T) {
	signer, _ := txsign.NewStaticSigner(testkeys.Key("p256"), jose.ES256, "txsign-1")
	other, _ := txsign.NewStaticSigner(testkeys.Key("p256b"), jose.ES256, "txsign-1")
	otherKid, _ := txsign.NewStaticSigner(testkeys.Key("p256b"), jose.ES256, "rogue")
	now := time.Now()
	g := newGateway(t, txsign.GatewayConfig{Keys: signer, Issuer: issuer, Audience: payments, Replay: memReplay(t)})
	for _, tc := range []struct {
		name     string
		token    string
		wantSt   int
		wantCode string
	}{
		{"no token", "", 401, "unauthenticated"},
		{"garbage", "abc", 400, "malformed"},
		{"another audience", mint(t, signer, now, "j1", func(c *txsign.TokenClaims) { c.Audience = "cards" }), 401, "audience_mismatch"},
		{"another issuer", mint(t, signer, now, "j2", func(c *txsign.TokenClaims) { c.Issuer = "https://evil.example" }), 401, "issuer_mismatch"},
		{"expired", mint(t, signer, now.Add(-10*time.Minute), "j3", nil), 401, "expired"},
		{"three minutes", mint(t, signer, now, "j4", func(c *txsign.TokenClaims) { c.Expiry = c.IssuedAt + 180 }), 401, "lifetime_exceeded"},
		{"no jti", mint(t, signer, now, "", nil), 400, "claim_missing"},
		{"another key, same kid", mint(t, other, now, "j5", nil), 401, "signature_invalid"},
		{"unknown kid", mint(t, otherKid, now, "j6", nil), 401, "key_unknown"},
		{"at+jwt", mint(t, signer, now, "j7", nil, func(o *jose.SignOptions) { o.Typ = "at+jwt" }), 401, "typ_mismatch"},
		{"tx_hash of other details", mint(t, signer, now, "j8", func(c *txsign.TokenClaims) { c.TxHash = txsign.TxHash([]byte(moreMoney(canon(t, storyJSON)))) }), 403, "tx_hash_mismatch"},
		{"no details", mint(t, signer, now, "j9", func(c *txsign.TokenClaims) { c.AuthorizationDetails = json.RawMessage(`null`) }), 400, "claim_missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, out := call(t, "POST", g.srv.URL, tc.token, nil)
			wantAnswer(t, st, out, tc.wantSt, tc.wantCode)
		})
	}
	if len(g.calls) != 0 {
		t.Fatal("the handler ran")
	}
	if _, err := txsign.Gateway(txsign.GatewayConfig{Keys: signer, Issuer: issuer, Audience: payments}); jose.CodeOf(err) != jose.PolicyInvalid {
		t.Fatalf("no replay store: %v", err)
	}
}

func TestGatewayOnce(t *testing.T) {
	signer, _ := txsign.NewStaticSigner(testkeys.Key("p256"), jose.ES256, "txsign-1")
	g := newGateway(t, txsign.GatewayConfig{Keys: signer, Issuer: issuer, Audience: payments, Replay: memReplay(t), Header: "Txn-Token"})
	tok := mint(t, signer, time.Now(), "once", nil)
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, _ := call(t, "POST", g.srv.URL, "", nil, "Txn-Token", tok)
			mu.Lock()
			codes[st]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[200] != 1 || codes[409] != n-1 {
		t.Fatalf("statuses %v; want one 200 and %d 409", codes, n-1)
	}
	got := <-g.calls
	if got.ID != "once" || got.Subject != "alice" || got.ClientID != "shop" || string(got.AuthorizationDetails) != canon(t, storyJSON) || got.EvidenceRef != "mem:1" {
		t.Fatalf("token in context: %+v", got)
	}
}

// TestGatewayRedis: two gateway instances share one Redis; a token used
// on one is refused on the other.
func TestGatewayRedis(t *testing.T) {
	rdb := testenv.Redis(t)
	store, err := redisstore.New(rdb, redisstore.Config{Prefix: "txsign-test:" + t.Name() + time.Now().Format(time.RFC3339Nano) + ":"})
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := txsign.NewStaticSigner(testkeys.Key("p256"), jose.ES256, "txsign-1")
	a := newGateway(t, txsign.GatewayConfig{Keys: signer, Issuer: issuer, Audience: payments, Replay: store})
	b := newGateway(t, txsign.GatewayConfig{Keys: signer, Issuer: issuer, Audience: payments, Replay: store})
	tok := mint(t, signer, time.Now(), "redis-1", nil)
	st, out := call(t, "POST", a.srv.URL, tok, nil)
	if st != 200 {
		t.Fatalf("%d %s", st, out["_raw"])
	}
	st, out = call(t, "POST", b.srv.URL, tok, nil)
	wantAnswer(t, st, out, http.StatusConflict, "token_used")
}

func TestGatewayFailClosed(t *testing.T) {
	signer, _ := txsign.NewStaticSigner(testkeys.Key("p256"), jose.ES256, "txsign-1")
	failing := txsign.RecorderFunc(func(context.Context, *txsign.Event) (string, error) { return "", errors.New("disk full") })
	g := newGateway(t, txsign.GatewayConfig{Keys: signer, Issuer: issuer, Audience: payments, Replay: memReplay(t), Recorder: failing})
	st, out := call(t, "POST", g.srv.URL, mint(t, signer, time.Now(), "f1", nil), nil)
	wantAnswer(t, st, out, http.StatusServiceUnavailable, string(problem.EvidenceUnavailable))
	down := replayFunc(func(context.Context, string, time.Duration) error {
		return replay.UnavailableError(errors.New("redis down"), "down")
	})
	g2 := newGateway(t, txsign.GatewayConfig{Keys: signer, Issuer: issuer, Audience: payments, Replay: down})
	st, out = call(t, "POST", g2.srv.URL, mint(t, signer, time.Now(), "f2", nil), nil)
	wantAnswer(t, st, out, http.StatusServiceUnavailable, "replay_unavailable")
	if len(g.calls)+len(g2.calls) != 0 {
		t.Fatal("the handler ran")
	}
	if !strings.Contains(out["_raw"].(string), "replay_unavailable") {
		t.Fatal(out["_raw"])
	}
}

type replayFunc func(context.Context, string, time.Duration) error

func (f replayFunc) Claim(ctx context.Context, id string, ttl time.Duration) error {
	return f(ctx, id, ttl)
}
