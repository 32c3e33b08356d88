package txsign_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nonrep/nonrep/internal/testenv"
	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/replay"
	"github.com/nonrep/nonrep/replay/redisstore"
	"github.com/nonrep/nonrep/txsign"
	"github.com/nonrep/nonrep/txsign/device"
)

// BenchmarkSigningFlow measures whole signing flows through real HTTP on
// loopback: the relying app creates a request, the device reads its inbox,
// verifies the delivered request and submits its signed approval, and the
// relying app fetches the token. Each flow is 4 HTTP round trips, 3
// ECDSA signatures by the service and 1 by the device, 3 verifications, 5
// evidence records and 8 store transactions. flows/s is the figure to
// quote; "parallel" runs one flow per user on 8 users at once.
func BenchmarkSigningFlow(b *testing.B) {
	for _, st := range []struct {
		name  string
		store func(testing.TB) txsign.Store
	}{{"sqlite-memory", sqliteStore}, {"sqlite-file", sqliteFileStore}, {"postgres", pgStore}} {
		b.Run("store="+st.name, func(b *testing.B) {
			e := newEnv(b, envOptions{store: st.store})
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				flow(b, e, e.dev, e.alice, "alice")
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "flows/s")
		})
		b.Run("store="+st.name+"/parallel", func(b *testing.B) {
			e := newEnv(b, envOptions{store: st.store})
			const users = 8
			devs := make([]*device.Device, users)
			clients := make([]*device.Client, users)
			for i := range users {
				clients[i] = &device.Client{BaseURL: e.srv.URL, UserToken: fmt.Sprintf("u%d-token", i)}
				devs[i] = e.enrol(b, clients[i], fmt.Sprintf("u%d-phone", i), jose.ES256)
			}
			var next atomic.Int32
			b.SetParallelism(users / 2) // 2 cores: 4 × GOMAXPROCS = 8 goroutines
			b.ReportAllocs()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(1)-1) % users
				for pb.Next() {
					flow(b, e, devs[i], clients[i], fmt.Sprintf("u%d", i))
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "flows/s")
		})
	}
}

func flow(b *testing.B, e *testEnv, d *device.Device, c *device.Client, user string) {
	st, out := e.create(b, map[string]any{"login_hint": user})
	if st != http.StatusCreated {
		b.Fatalf("create: %d %s", st, out["_raw"])
	}
	id := out["auth_req_id"].(string)
	it := e.item(b, d, c, id)
	jws, err := d.Decide(it, device.Decision{Approve: true, UV: "face", Now: e.clock.Now()})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Submit(context.Background(), jws, ""); err != nil {
		b.Fatal(err)
	}
	st, out = e.poll(b, id)
	if st != http.StatusOK {
		b.Fatalf("token: %d %s", st, out["_raw"])
	}
}

// BenchmarkGateway measures the gateway per payment: parse, ES256 verify,
// claims policy, tx_hash re-computation over the token's details (RFC
// 8785), the atomic jti claim, and the handler call, in process
// (httptest.ResponseRecorder). Every iteration uses a fresh token (minted
// before the timer), so each consumes for real.
func BenchmarkGateway(b *testing.B) {
	signer, _ := txsign.NewStaticSigner(testkeys.Key("p256"), jose.ES256, "txsign-1")
	stores := []struct {
		name string
		open func(b *testing.B) replay.Store
	}{
		{"memory", func(b *testing.B) replay.Store { return memReplay(b) }},
		{"redis", func(b *testing.B) replay.Store {
			s, err := redisstore.New(testenv.Redis(b), redisstore.Config{Prefix: fmt.Sprintf("txsign-bench:%d:", time.Now().UnixNano())})
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
	}
	for _, rs := range stores {
		b.Run("replay="+rs.name, func(b *testing.B) {
			mw, err := txsign.Gateway(txsign.GatewayConfig{Keys: signer, Issuer: issuer, Audience: payments, Replay: rs.open(b)})
			if err != nil {
				b.Fatal(err)
			}
			h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			now := time.Now()
			tokens := make([]string, b.N)
			for i := range tokens {
				tokens[i] = mint(b, signer, now, fmt.Sprintf("bench-%d-%d", now.UnixNano(), i), nil)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r := httptest.NewRequest("POST", "/v1/payments", strings.NewReader("{}"))
				r.Header.Set("Authorization", "Bearer "+tokens[i])
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// BenchmarkTokenVerify is the verification alone (no consume), beside
// BenchmarkGateway.
func BenchmarkTokenVerify(b *testing.B) {
	signer, _ := txsign.NewStaticSigner(testkeys.Key("p256"), jose.ES256, "txsign-1")
	tv, err := txsign.NewTokenVerifier(txsign.GatewayConfig{Keys: signer, Issuer: issuer, Audience: payments, Replay: memReplay(b)})
	if err != nil {
		b.Fatal(err)
	}
	tok := []byte(mint(b, signer, time.Now(), "v", nil))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tv.Verify(context.Background(), tok); err != nil {
			b.Fatal(err)
		}
	}
}
