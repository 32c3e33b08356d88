package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nonrep/nonrep/evidence"
	"github.com/nonrep/nonrep/evidence/pgstore"
	"github.com/nonrep/nonrep/evidence/sqlitestore"
	"github.com/nonrep/nonrep/internal/loadgen"
	"github.com/nonrep/nonrep/internal/testenv"
)

// scaleOutYAML shares one PostgreSQL (evidence and keys) and one Redis
// (replay) between instances; each instance gets its own --data.
func scaleOutYAML(f *fixture, up, dsn, redisAddr string) string {
	return fmt.Sprintf("listen: 127.0.0.1:0\nstores:\n  evidence:\n    backend: postgres\n    dsn: %q\n  replay:\n    backend: redis\n    addr: %s\n%s%s",
		dsn, redisAddr, f.partnersYAML(), routesYAML(up))
}

// TestScaleOut runs three `nonrep serve` processes on one PostgreSQL and
// one Redis: a request replayed to another instance is refused, a request
// sent to all three at once is executed once, every instance serves the
// same JWKS, and the evidence of all three is one log that `nonrep
// evidence check` verifies.
func TestScaleOut(t *testing.T) {
	t.Parallel()
	dsn := testenv.Postgres(t)
	testenv.Redis(t)
	f := newFixture(t)
	up := newUpstream(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, scaleOutYAML(f, up.URL, dsn, testenv.RedisAddr()))
	var inst []*serveProc
	for i := 0; i < 3; i++ {
		// One after the other: the first bootstraps the shared signing key.
		inst = append(inst, startServe(t, []string{"--config", cfg, "--data", filepath.Join(dir, "data"+strconv.Itoa(i))}))
	}
	at := func(i int, path string) string { return inst[i%len(inst)].URL + path }

	// Requests spread over the instances.
	sent := map[string][]byte{} // replay id → signed body
	for i := 0; i < 15; i++ {
		p := []string{"generic", "incomm", "swift"}[i%3]
		s := f.signFor(t, p, at(i, "/"+p+"/v1/payments"), bodyN(strconv.Itoa(i)))
		if r := send(t, s); r.Status != http.StatusOK {
			t.Fatalf("request %d to instance %d: %d %s", i, i%3, r.Status, r.Body)
		}
	}

	// A replay to another instance.
	s := f.signFor(t, "incomm", at(0, "/incomm/v1/payments"), bodyN("replay-across"))
	if r := send(t, s); r.Status != http.StatusOK {
		t.Fatalf("first: %d %s", r.Status, r.Body)
	}
	for i := 1; i < 3; i++ {
		s2 := *s
		u, _ := url.Parse(at(i, "/incomm/v1/payments"))
		s2.URL = u
		if r := send(t, &s2); r.Status != http.StatusConflict || r.problemCode() != "replay_detected" {
			t.Errorf("replayed to instance %d: %d %s", i, r.Status, r.Body)
		}
	}

	// One request sent to every instance at once: executed exactly once.
	before := up.count()
	for round := 0; round < 5; round++ {
		s := f.signFor(t, "generic", at(0, "/generic/v1/payments"), bodyN("race"))
		var wg sync.WaitGroup
		var ok, conflict atomic.Int32
		for i := 0; i < 3; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := *s
				c.URL, _ = url.Parse(at(i, "/generic/v1/payments"))
				r, err := trySend(client, &c)
				switch {
				case err != nil:
					t.Error(err)
				case r.Status == http.StatusOK:
					ok.Add(1)
				case r.problemCode() == "replay_detected":
					conflict.Add(1)
				default:
					t.Errorf("race: %d %s", r.Status, r.Body)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 1 || conflict.Load() != 2 {
			t.Errorf("round %d: %d accepted, %d refused as replays; want 1 and 2", round, ok.Load(), conflict.Load())
		}
	}
	if n := up.count() - before; n != 5 {
		t.Errorf("the upstream executed %d of 5 raced requests", n)
	}

	// One key registry: the same JWKS everywhere.
	var jwks []string
	for i := range inst {
		r := get(t, at(i, "/.well-known/jwks.json"))
		if r.Status != 200 {
			t.Fatalf("jwks %d: %d", i, r.Status)
		}
		jwks = append(jwks, string(r.Body))
	}
	if jwks[0] != jwks[1] || jwks[1] != jwks[2] {
		t.Errorf("instances publish different JWKS:\n%s\n%s\n%s", jwks[0], jwks[1], jwks[2])
	}
	// A key added on the shared registry (as a rotation starts) is
	// published by every instance.
	newKey := filepath.Join(dir, "next.jwk")
	if out, errOut, code := runNonrep(t, "keygen", "--alg", "ES256", "--kid", "gw-next", "--out", newKey); code != 0 {
		t.Fatalf("keygen: %s%s", out, errOut)
	}
	if out, errOut, code := runNonrep(t, "keys", "add", "--store", dsn, "--key", newKey, "--actor", "test", "--reason", "rotation"); code != 0 {
		t.Fatalf("keys add: %s%s", out, errOut)
	}
	for i := range inst {
		eventually(t, 15*time.Second, func() error {
			if r := get(t, at(i, "/.well-known/jwks.json")); !strings.Contains(string(r.Body), `"gw-next"`) {
				return fmt.Errorf("instance %d does not publish the new key: %s", i, r.Body)
			}
			return nil
		})
	}
	for i := range inst {
		if r := get(t, at(i, "/readyz")); r.Status != 200 {
			t.Errorf("readyz %d: %d %s", i, r.Status, r.Body)
		}
	}

	// One log: every forwarded request's evidence index names its record,
	// whichever instance wrote it, and the log verifies.
	out, errOut, code := runNonrep(t, "evidence", "check", "--store", "postgres:"+dsn)
	if code != 0 || !strings.HasSuffix(out, "ok\n") {
		t.Fatalf("evidence check: exit %d\n%s%s", code, out, errOut)
	}
	ctx := context.Background()
	st, err := pgstore.Open(ctx, pgstore.Config{DSN: dsn, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, err := evidence.Open(ctx, evidence.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	keys, err := st.VerifierKeys(ctx)
	if err != nil || len(keys) != 3 {
		t.Errorf("%d checkpoint keys (one per instance), %v", len(keys), err)
	}
	for _, got := range up.all() {
		idx, err := strconv.ParseInt(got.Header.Get("X-Nonrep-Evidence"), 10, 64)
		if err != nil {
			t.Fatalf("X-Nonrep-Evidence %q", got.Header.Get("X-Nonrep-Evidence"))
		}
		rec, err := l.Get(ctx, idx)
		if err != nil {
			t.Fatalf("record %d: %v", idx, err)
		}
		if rec.Partner != got.Header.Get("X-Nonrep-Partner") || rec.Verdict != evidence.Accepted {
			t.Errorf("record %d: %s %s", idx, rec.Partner, rec.Verdict)
		}
		sent[rec.ReplayID] = rec.Body
	}
	if len(sent) != up.count() {
		t.Errorf("%d distinct replay ids for %d forwarded requests", len(sent), up.count())
	}
}

// TestStoresDownAndBack takes each shared store away mid-run (a TCP proxy
// in front of the real server is stopped) and brings it back: while it is
// gone, signed requests get 503 with the store's code and /readyz says
// 503; nothing reaches the upstream; once it is back, both recover without
// a restart. The evidence log stays consistent throughout.
func TestStoresDownAndBack(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		testenv.Redis(t)
		proxy := newTCPProxy(t, testenv.RedisAddr())
		f := newFixture(t)
		up := newUpstream(t)
		dir := t.TempDir()
		cfg := writeConfig(t, dir, fmt.Sprintf("listen: 127.0.0.1:0\ndata_dir: %s\nstores:\n  replay:\n    backend: redis\n    addr: %s\n%s%s",
			filepath.Join(dir, "data"), proxy.Addr, f.partnersYAML(), routesYAML(up.URL)))
		srv := startServe(t, []string{"--config", cfg})
		storeDownAndBack(t, f, srv, up, proxy, "replay_unavailable")
		if out, errOut, code := runNonrep(t, "evidence", "check", "--store", "sqlite:"+filepath.Join(dir, "data", "evidence.db")); code != 0 {
			t.Fatalf("evidence check: %s%s", out, errOut)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		dsn := testenv.Postgres(t)
		u, err := url.Parse(dsn)
		if err != nil || u.Host == "" {
			t.Skipf("the test DSN %q is not a URL with a host", dsn)
		}
		proxy := newTCPProxy(t, u.Host)
		u.Host = proxy.Addr
		f := newFixture(t)
		up := newUpstream(t)
		dir := t.TempDir()
		cfg := writeConfig(t, dir, fmt.Sprintf("listen: 127.0.0.1:0\ndata_dir: %s\nstores:\n  evidence:\n    backend: postgres\n    dsn: %q\n%s%s",
			filepath.Join(dir, "data"), u.String(), f.partnersYAML(), routesYAML(up.URL)))
		srv := startServe(t, []string{"--config", cfg})
		storeDownAndBack(t, f, srv, up, proxy, "evidence_unavailable")
		if out, errOut, code := runNonrep(t, "evidence", "check", "--store", "postgres:"+dsn); code != 0 {
			t.Fatalf("evidence check: %s%s", out, errOut)
		}
	})
	t.Run("redis-never-there", func(t *testing.T) {
		// A configured Redis that is not listening: the server starts
		// (stores may come up later), refuses signed requests and is not
		// ready.
		t.Parallel()
		f := newFixture(t)
		up := newUpstream(t)
		dir := t.TempDir()
		dead := newTCPProxy(t, "127.0.0.1:1")
		dead.Stop()
		cfg := writeConfig(t, dir, fmt.Sprintf("listen: 127.0.0.1:0\ndata_dir: %s\nstores:\n  replay:\n    backend: redis\n    addr: %s\n%s%s",
			filepath.Join(dir, "data"), dead.Addr, f.partnersYAML(), routesYAML(up.URL)))
		srv := startServe(t, []string{"--config", cfg})
		for _, p := range []string{"generic", "ebanx"} {
			t0 := time.Now()
			r := send(t, f.signFor(t, p, srv.URL+"/"+p+"/v1/payments", bodyN("dead")))
			t.Logf("%s refused in %v", p, time.Since(t0))
			if r.Status != http.StatusServiceUnavailable || r.problemCode() != "replay_unavailable" {
				t.Errorf("%s: %d %s, want 503 replay_unavailable", p, r.Status, r.Body)
			}
		}
		if r := get(t, srv.URL+"/readyz"); r.Status != http.StatusServiceUnavailable {
			t.Errorf("readyz %d %s", r.Status, r.Body)
		}
		if r := get(t, srv.URL+"/healthz"); r.Status != http.StatusOK {
			t.Errorf("healthz %d: alive even when not ready", r.Status)
		}
		if up.count() != 0 {
			t.Errorf("%d requests reached the upstream", up.count())
		}
	})
}

func storeDownAndBack(t *testing.T, f *fixture, srv *serveProc, up *upstream, proxy *tcpProxy, code string) {
	t.Helper()
	n := 0
	sendOne := func() *response {
		n++
		return send(t, f.signFor(t, "incomm", srv.URL+"/incomm/v1/payments", bodyN(strconv.Itoa(n))))
	}
	if r := sendOne(); r.Status != http.StatusOK {
		t.Fatalf("before: %d %s", r.Status, r.Body)
	}
	t0 := time.Now()
	proxy.Stop()
	before := up.count()
	for i := 0; i < 3; i++ {
		r := sendOne()
		if r.Status != http.StatusServiceUnavailable || r.problemCode() != code {
			t.Errorf("store down: %d %s, want 503 %s", r.Status, r.Body, code)
		}
	}
	if r := get(t, srv.URL+"/readyz"); r.Status != http.StatusServiceUnavailable {
		t.Errorf("readyz with the store down: %d %s", r.Status, r.Body)
	}
	if up.count() != before {
		t.Errorf("%d requests reached the upstream with the store down", up.count()-before)
	}
	t.Logf("refusals and readyz with the store down took %v", time.Since(t0))
	t0 = time.Now()
	proxy.Start()
	eventually(t, 20*time.Second, func() error {
		if r := get(t, srv.URL+"/readyz"); r.Status != http.StatusOK {
			return fmt.Errorf("readyz after the store came back: %d %s", r.Status, r.Body)
		}
		return nil
	})
	eventually(t, 20*time.Second, func() error {
		if r := sendOne(); r.Status != http.StatusOK {
			return fmt.Errorf("after the store came back: %d %s", r.Status, r.Body)
		}
		return nil
	})
	t.Logf("recovered in %v", time.Since(t0))
}

// TestKill9 drives concurrent signed requests through the gateway, kills
// it with SIGKILL mid-load, restarts it on the same data directory, and
// checks that no acknowledged request lost its evidence: every request
// answered 200 — indeed every request the upstream executed — has its
// record, holding the exact bytes sent, and the log verifies.
func TestKill9(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	up := newUpstream(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfg := writeConfig(t, dir, fmt.Sprintf("listen: 127.0.0.1:0\ndata_dir: %s\nlimits:\n  max_concurrent: 64\n%s%s", data, f.partnersYAML(), routesYAML(up.URL)))
	srv := startServe(t, []string{"--config", cfg})

	// Pre-signed, so that the load is the gateway's, not the signer's.
	u, _ := url.Parse(srv.URL + "/generic/v1/payments")
	src := *f.partners["generic"]
	pool, err := src.Presign(context.Background(), u, 0, 4000)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		acked = map[int]bool{} // pool index → answered 200
		next  atomic.Int64
		wg    sync.WaitGroup
		other atomic.Int64
	)
	c := loadgen.NewClient(16)
	for w := 0; w < 12; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(pool) {
					return
				}
				r, err := trySend(c, pool[i])
				if err != nil {
					return // killed
				}
				if r.Status != http.StatusOK {
					other.Add(1)
					continue
				}
				mu.Lock()
				acked[i] = true
				n := len(acked)
				mu.Unlock()
				if n == 400 {
					srv.kill() // SIGKILL with requests in flight
				}
			}
		}()
	}
	wg.Wait()
	if code := srv.wait(5 * time.Second); code != -9 {
		t.Fatalf("exit %d, want killed by signal 9", code)
	}
	if other.Load() > 0 {
		t.Errorf("%d requests answered other than 200 before the kill", other.Load())
	}
	t.Logf("killed after %d acknowledged requests (%d sent, upstream saw %d)", len(acked), next.Load(), up.count())

	// Restart on the same data directory: it serves again.
	srv2 := startServe(t, []string{"--config", cfg})
	r := send(t, f.signFor(t, "generic", srv2.URL+"/generic/v1/payments", []byte(`{"after":"restart"}`)))
	if r.Status != http.StatusOK {
		t.Fatalf("after restart: %d %s", r.Status, r.Body)
	}
	// With the in-memory replay store (the embedded default), a request
	// acknowledged before the crash is accepted again after the restart
	// while its jti is unexpired: recorded here, not asserted (Redis is the
	// answer for that; see the report).
	resent := -1
	for i := range acked {
		s := *pool[i]
		s.URL, _ = url.Parse(srv2.URL + "/generic/v1/payments")
		t.Logf("an acknowledged request re-sent after the restart: %d", send(t, &s).Status)
		resent = i
		break
	}
	srv2.signal(syscall.SIGTERM)
	if code := srv2.wait(30 * time.Second); code != 0 {
		t.Fatalf("restarted server exited %d", code)
	}

	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(data, "evidence.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, err := evidence.Open(ctx, evidence.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := evidence.Check(ctx, st, evidence.CheckOptions{}); err != nil {
		t.Fatalf("the log does not verify after kill -9: %v", err)
	}
	// Every acknowledged request, by its replay id (jti), with the exact body.
	for i := range acked {
		var payload struct {
			JTI string `json:"jti"`
		}
		json.Unmarshal(flattenedPayload(t, pool[i].Body), &payload)
		res, err := l.Search(ctx, evidence.Query{Partner: "acme-generic", ReplayID: "jti:" + payload.JTI, Verdict: evidence.Accepted, After: -1})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 && !(i == resent && len(res) == 2) {
			t.Fatalf("acknowledged request %d (jti %s): %d accepted records", i, payload.JTI, len(res))
		}
		rec, err := l.Get(ctx, res[0].Index)
		if err != nil || string(rec.Body) != string(pool[i].Body) {
			t.Fatalf("record %d does not hold the bytes sent (%v)", res[0].Index, err)
		}
	}
	// Every request the upstream executed names a record that verifies.
	for _, s := range up.all() {
		idx, _ := strconv.ParseInt(s.Header.Get("X-Nonrep-Evidence"), 10, 64)
		rec, err := l.Get(ctx, idx)
		if err != nil || rec.Verdict != evidence.Accepted {
			t.Fatalf("the upstream executed a request whose record %d is missing: %v", idx, err)
		}
	}
	if out, errOut, code := runNonrep(t, "evidence", "check", "--store", "sqlite:"+filepath.Join(data, "evidence.db")); code != 0 {
		t.Fatalf("evidence check: %s%s", out, errOut)
	}
}
