package loadgen

import (
	"context"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/nonrep/nonrep/httpsig"
	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/profile"
	"github.com/nonrep/nonrep/replay"
)

func genericSource(t *testing.T) (*Source, *jose.JWK) {
	t.Helper()
	j, err := jose.NewJWK(testkeys.Key("p256"), "k1", jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := jose.NewSigningKey(j, jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	return &Source{Profile: profile.Generic{}, Signer: &profile.Signer{Key: sk}}, j.Public()
}

// gateway is the verifying middleware (with store) in front of Upstream.
func gateway(t *testing.T, pub *jose.JWK, store replay.Store) *httptest.Server {
	t.Helper()
	up := httptest.NewServer(Upstream())
	t.Cleanup(up.Close)
	set, _ := jose.NewKeySet(pub)
	p := &httpsig.Partner{Name: "p", Profile: profile.Generic{}, Trust: profile.Trust{Keys: set}}
	u, _ := url.Parse(up.URL)
	h, err := VerifyProxy(p, store, u, 64)
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(h)
	t.Cleanup(gw.Close)
	return gw
}

func TestRunPoolAndReplays(t *testing.T) {
	src, pub := genericSource(t)
	m, _ := replay.NewMemory(replay.MemoryConfig{})
	defer m.Close()
	gw := gateway(t, pub, m)
	target, _ := url.Parse(gw.URL + "/v1/payments")
	pool, err := src.Presign(context.Background(), target, 0, 60)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), Options{Label: "c", Concurrency: 4, Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests != 60 || rep.OK != 60 || rep.Failures != nil || rep.Throughput <= 0 || rep.P50 <= 0 || rep.P99 < rep.P50 || rep.Max < rep.P99 {
		t.Fatalf("%+v", rep)
	}
	// The same pool again: every request is a replay, and says so.
	rep, _ = Run(context.Background(), Options{Concurrency: 4, Pool: pool})
	if rep.OK != 0 || rep.Failures["409 replay_detected"] != 60 {
		t.Fatalf("replayed pool: %+v", rep)
	}
}

func TestVerifyOnlyAcceptsRepeats(t *testing.T) {
	src, pub := genericSource(t)
	gw := gateway(t, pub, NoReplay{})
	target, _ := url.Parse(gw.URL + "/x")
	pool, err := src.Presign(context.Background(), target, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if rep, _ := Run(context.Background(), Options{Pool: pool}); rep.OK != 10 {
			t.Fatalf("run %d: %+v", i, rep)
		}
	}
}

func TestRunSignsOnTheFly(t *testing.T) {
	src, pub := genericSource(t)
	gw := gateway(t, pub, NoReplay{})
	target, _ := url.Parse(gw.URL + "/x")
	rep, err := Run(context.Background(), Options{Concurrency: 2, Source: src, Target: target, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK == 0 || rep.Failures != nil || rep.Elapsed < 300*time.Millisecond {
		t.Fatalf("%+v", rep)
	}
	if _, err := Run(context.Background(), Options{Source: src}); err == nil {
		t.Fatal("a run with neither pool nor target/duration must be refused")
	}
}

func TestRunCountsTransportFailures(t *testing.T) {
	src, _ := genericSource(t)
	dead := httptest.NewServer(nil)
	target, _ := url.Parse(dead.URL + "/x")
	dead.Close()
	pool, _ := src.Presign(context.Background(), target, 0, 3)
	rep, _ := Run(context.Background(), Options{Pool: pool, Concurrency: 1})
	if rep.OK != 0 || rep.Requests != 3 || len(rep.Failures) != 1 {
		t.Fatalf("%+v", rep)
	}
	for k := range rep.Failures {
		if k != "transport: connection refused" {
			t.Errorf("failure %q", k)
		}
	}
}

func TestRaw(t *testing.T) {
	src, pub := genericSource(t)
	set, _ := jose.NewKeySet(pub)
	v, err := profile.Generic{}.NewVerifier(profile.Trust{Keys: set})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("http://h/x")
	pool, _ := src.Presign(context.Background(), u, 0, 4)
	var msgs []*profile.Message
	for _, s := range pool {
		msgs = append(msgs, s.Message())
	}
	rep, err := Raw(context.Background(), v, msgs, RawOptions{Count: 40, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK != 40 || rep.Requests != 40 || rep.Throughput <= 0 {
		t.Fatalf("%+v", rep)
	}
	// A message that does not verify is refused before the clock starts.
	bad := *msgs[0]
	bad.Body = []byte(`{}`)
	if _, err := Raw(context.Background(), v, []*profile.Message{&bad}, RawOptions{Count: 1}); err == nil {
		t.Fatal("Raw accepted messages that do not verify")
	}
	if out := Table([]*Report{rep}, rep); out == "" {
		t.Fatal("empty table")
	}
}

func TestRetargetAndBindsHost(t *testing.T) {
	src, _ := genericSource(t)
	u, _ := url.Parse("http://a:1/p?q=1")
	pool, _ := src.Presign(context.Background(), u, 0, 2)
	v, _ := url.Parse("http://b:2/")
	re := Retarget(pool, v)
	if re[0].URL.String() != "http://b:2/p?q=1" || pool[0].URL.Host != "a:1" || string(re[1].Body) != string(pool[1].Body) {
		t.Fatalf("%v %v", re[0].URL, pool[0].URL)
	}
	if BindsHost(profile.Generic{}) || !BindsHost(profile.Swift{}) {
		t.Fatal("BindsHost")
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for _, c := range []struct{ p, want int }{{50, 50}, {90, 90}, {99, 99}, {100, 100}, {1, 1}} {
		if got := percentile(d, c.p); got != time.Duration(c.want) {
			t.Errorf("p%d = %d, want %d", c.p, got, c.want)
		}
	}
	if percentile(nil, 50) != 0 || percentile(d[:1], 99) != 1 {
		t.Error("edge cases")
	}
}
