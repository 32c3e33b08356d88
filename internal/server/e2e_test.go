package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nonrep/nonrep/evidence"
	"github.com/nonrep/nonrep/evidence/sqlitestore"
	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/profile"
)

// The body partners sign: not canonical JSON (spaces, a trailing newline,
// non-ASCII), so that any re-serialization on the way shows.
var paymentBody = []byte("{ \"amount\":\"1240.00\", \"currency\":\"EUR\",\n  \"creditorName\":\"Café Ünïcode Ltd\" }\n")

// bodyN is paymentBody made unique: EBANX signatures carry no time and no
// nonce, so the same body signed twice is the same request (a replay).
func bodyN(tag string) []byte {
	return bytes.Replace(paymentBody, []byte("Ltd"), []byte("Ltd "+tag), 1)
}

// gatewayYAML is a configuration with one partner per profile routed at
// /PROFILE/ to up, egress to each profile's path on partner, and a Swift
// route whose responses we sign.
func gatewayYAML(f *fixture, dataDir, up, partner string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: 127.0.0.1:0\ndata_dir: %s\n", dataDir)
	fmt.Fprintf(&b, "signing:\n  key: %s\n  cert: %s\n", f.files["server-key"], f.files["server-chain"])
	b.WriteString(f.partnersYAML())
	b.WriteString(routesYAML(up))
	fmt.Fprintf(&b, "  - path: /swift-signed/\n    partner: acme-swift\n    upstream: %s\n    strip_prefix: true\n    sign_response: true\n", up)
	b.WriteString("  - path: /down/\n    partner: acme-generic\n    upstream: http://127.0.0.1:1\n")
	b.WriteString("limits:\n  upstream_timeout: 2s\n  max_body: 65536\n")
	if partner != "" {
		b.WriteString("egress:\n")
		for _, p := range append(profiles, "swift-bad") {
			prof := strings.TrimSuffix(p, "-bad")
			key := "egress-" + prof
			fmt.Fprintf(&b, "  - name: %s\n    profile: %s\n    target: %s/%s\n    key: %s\n", p, prof, partner, p, f.files[key])
			switch prof {
			case "swift":
				fmt.Fprintf(&b, "    cert: %s\n    integrity_roots: %s\n", f.files["swift-chain"], f.files["roots"])
			case "openbanking":
				b.WriteString("    ob_issuer: us-tpp\n")
			}
		}
	}
	return b.String()
}

// partnerSeen is what the egress test partner verified.
type partnerSeen struct {
	Err                error
	Res                *profile.Result
	Path, RawQuery     string
	Body               []byte
	ContentType, Extra string
}

// partnerServer plays every partner egress sends to: it verifies each
// request with the profile's own verifier and our egress public key, and
// signs Swift responses (X-SWIFT-Integrity) with the test PKI's server
// certificate (swift-bad: over a different body).
type partnerServer struct {
	*httptest.Server
	mu  sync.Mutex
	got map[string]partnerSeen
}

func newPartnerServer(t *testing.T, f *fixture) *partnerServer {
	ps := &partnerServer{got: map[string]partnerSeen{}}
	verifiers := map[string]profile.Verifier{}
	for _, p := range profiles {
		prof, _ := profile.ByName(p)
		var tr profile.Trust
		if p == "swift" {
			tr.Roots = testkeys.Roots()
		} else {
			set, err := jose.NewKeySet(f.egressPub[p])
			if err != nil {
				t.Fatal(err)
			}
			tr.Keys = set
		}
		v, err := prof.NewVerifier(tr)
		if err != nil {
			t.Fatal(err)
		}
		verifiers[p] = v
	}
	verifiers["swift-bad"] = verifiers["swift"]
	server := mustJWK(t, testkeys.Key("server"), "", jose.RS256)
	swiftSigner := &profile.Signer{Key: mustSigningKey(t, server, jose.RS256), Chain: testkeys.Chain("server")}
	ps.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		body, _ := io.ReadAll(r.Body)
		s := partnerSeen{Path: r.URL.Path, RawQuery: r.URL.RawQuery, Body: body, ContentType: r.Header.Get("Content-Type"), Extra: r.Header.Get("X-App-Trace")}
		v := verifiers[name]
		if v == nil {
			http.NotFound(w, r)
			return
		}
		parsed, err := v.Parse(profile.FromRequest(r, body))
		if err == nil {
			s.Res, err = v.Verify(r.Context(), parsed)
		}
		s.Err = err
		ps.mu.Lock()
		ps.got[name] = s
		ps.mu.Unlock()
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":%q}`, jose.CodeOf(err))
			return
		}
		resp := []byte(`{"status": "received",  "partner": "` + name + `"}`)
		if strings.HasPrefix(name, "swift") {
			signed := resp
			if name == "swift-bad" {
				signed = []byte(`{"status":"something else"}`)
			}
			h, err := profile.Swift{}.SignResponse(signed, s.Res.Chain[0].Subject.String(), swiftSigner)
			if err != nil {
				t.Error(err)
			}
			w.Header().Set("X-SWIFT-Integrity", h.Get("X-SWIFT-Integrity"))
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write(resp)
	}))
	t.Cleanup(ps.Close)
	return ps
}

func (ps *partnerServer) seen(name string) (partnerSeen, bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	s, ok := ps.got[name]
	return s, ok
}

// flattenedPayload returns the payload bytes of a flattened JWS body.
func flattenedPayload(t *testing.T, body []byte) []byte {
	t.Helper()
	var j struct {
		Payload string `json:"payload"`
	}
	if err := json.Unmarshal(body, &j); err != nil {
		t.Fatal(err)
	}
	p, err := base64.RawURLEncoding.DecodeString(j.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGatewayEndToEnd runs `nonrep serve` with a generated configuration
// and checks the whole story through real HTTP: every profile's signed
// request reaches the upstream with the exact body and the verified
// identity only; tampered and replayed requests are refused with
// problem+json; egress signs what apps send so that each scheme's own
// verifier accepts it; the operational endpoints answer; the evidence log
// verifies.
func TestGatewayEndToEnd(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	up := newUpstream(t)
	partner := newPartnerServer(t, f)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfg := writeConfig(t, dir, gatewayYAML(f, data, up.URL, partner.URL))
	if out, errOut, code := runNonrep(t, "config", "check", cfg); code != 0 {
		t.Fatalf("config check: %d\n%s%s", code, out, errOut)
	}
	srv := startServe(t, []string{"--config", cfg})
	ids := map[string]string{}
	up.hold = func(r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/sleep") {
			time.Sleep(3 * time.Second)
		}
	}

	for _, p := range profiles {
		t.Run("forwarded/"+p, func(t *testing.T) {
			before := up.count()
			s := f.signFor(t, p, srv.URL+"/"+p+"/v1/payments?b=2&a=%20x", paymentBody)
			// Spoofed identity: must never reach the upstream.
			s.Header.Set("X-Nonrep-Partner", "mallory")
			s.Header.Add("X-Nonrep-Kid", "mallory-key")
			s.Header.Set("X-Nonrep-Evidence", "999999")
			s.Header.Set("X-Nonrep-Key-Thumbprint", "forged")
			r := send(t, s)
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			if up.count() != before+1 {
				t.Fatalf("upstream saw %d requests, want 1", up.count()-before)
			}
			got := up.last()
			if got.Method != "POST" || got.Path != "/v1/payments" || got.RawQuery != "b=2&a=%20x" {
				t.Errorf("upstream saw %s %s ? %s", got.Method, got.Path, got.RawQuery)
			}
			want := paymentBody
			if p == "generic" {
				// Flattened: the upstream gets the verified payload.
				want = flattenedPayload(t, s.Body)
				if ct := got.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("generic upstream Content-Type %q", ct)
				}
			}
			if !bytes.Equal(got.Body, want) {
				t.Errorf("upstream body\n%q\nwant\n%q", got.Body, want)
			}
			kid := map[string]string{"generic": "gen-1", "incomm": "incomm-1", "ebanx": "ebanx-1", "openbanking": "ob-1"}[p]
			subject := kid
			switch p {
			case "swift":
				subject = testkeys.Cert("leaf").Subject.String()
			case "openbanking":
				subject = "tpp-1"
			}
			wantHdr := map[string]string{
				"X-Nonrep-Partner":        "acme-" + p,
				"X-Nonrep-Kid":            kid,
				"X-Nonrep-Subject":        subject,
				"X-Nonrep-Key-Thumbprint": f.partnerThumbprint(p),
			}
			for name, v := range wantHdr {
				vs := got.Header.Values(name)
				if v == "" {
					if len(vs) != 0 {
						t.Errorf("%s: %q, want none", name, vs)
					}
					continue
				}
				if len(vs) != 1 || vs[0] != v {
					t.Errorf("%s: %q, want [%q]", name, vs, v)
				}
			}
			ev := got.Header.Values("X-Nonrep-Evidence")
			if len(ev) != 1 || ev[0] == "999999" {
				t.Errorf("X-Nonrep-Evidence %q", ev)
			}
			if _, err := strconv.ParseInt(ev[0], 10, 64); err != nil {
				t.Errorf("X-Nonrep-Evidence %q is not a record index", ev[0])
			}
			ids[p] = ev[0]
		})
	}

	t.Run("tampered", func(t *testing.T) {
		for _, p := range profiles {
			before := up.count()
			s := f.signFor(t, p, srv.URL+"/"+p+"/v1/payments", bodyN("tampered"))
			wantCode := "signature_invalid"
			if p == "generic" {
				// Change the signed instruction inside the JWS.
				var j map[string]string
				json.Unmarshal(s.Body, &j)
				payload := bytes.Replace(flattenedPayload(t, s.Body), []byte("1240.00"), []byte("9240.00"), 1)
				j["payload"] = base64.RawURLEncoding.EncodeToString(payload)
				s.Body, _ = json.Marshal(j)
			} else {
				s.Body = bytes.Replace(s.Body, []byte("1240.00"), []byte("9240.00"), 1)
			}
			if p == "swift" {
				wantCode = "digest_mismatch"
			}
			r := send(t, s)
			if r.Status != http.StatusUnauthorized || r.problemCode() != wantCode {
				t.Errorf("%s: %d %s %s, want 401 problem+json %s", p, r.Status, r.Header.Get("Content-Type"), r.Body, wantCode)
			}
			if up.count() != before {
				t.Errorf("%s: a tampered request reached the upstream", p)
			}
		}
	})

	t.Run("replayed", func(t *testing.T) {
		for _, p := range profiles {
			s := f.signFor(t, p, srv.URL+"/"+p+"/v1/payments", bodyN("replayed"))
			if r := send(t, s); r.Status != http.StatusOK {
				t.Fatalf("%s first: %d %s", p, r.Status, r.Body)
			}
			before := up.count()
			r := send(t, s)
			if r.Status != http.StatusConflict || r.problemCode() != "replay_detected" {
				t.Errorf("%s replay: %d %s, want 409 replay_detected", p, r.Status, r.Body)
			}
			if up.count() != before {
				t.Errorf("%s: the replay reached the upstream", p)
			}
		}
	})

	t.Run("refused", func(t *testing.T) {
		// Unsigned, signed for another path, unknown key: each with its code.
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/incomm/v1/payments", bytes.NewReader(paymentBody))
		r, err := do(client, req)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != http.StatusBadRequest || r.problemCode() != "header_missing" {
			t.Errorf("unsigned: %d %s", r.Status, r.Body)
		}
		s := f.signFor(t, "incomm", srv.URL+"/incomm/v1/payments", paymentBody)
		s.URL.Path = "/incomm/v1/refunds"
		if r := send(t, s); r.Status != http.StatusUnauthorized || r.problemCode() != "request_mismatch" {
			t.Errorf("other path: %d %s", r.Status, r.Body)
		}
		// An EBANX-signed request on the generic route: refused with a code.
		s = f.signFor(t, "ebanx", srv.URL+"/generic/v1/payments", bodyN("wrong-scheme"))
		if r := send(t, s); r.Status < 400 || r.problemCode() == "" {
			t.Errorf("wrong scheme: %d %s", r.Status, r.Body)
		}
	})

	t.Run("upstream-failures", func(t *testing.T) {
		// Verified and recorded, then the upstream fails: 502 / 504 with
		// their codes, never a hang or a bare 500.
		r := send(t, f.signFor(t, "generic", srv.URL+"/down/v1/payments", paymentBody))
		if r.Status != http.StatusBadGateway || r.problemCode() != "upstream_unavailable" {
			t.Errorf("upstream down: %d %s", r.Status, r.Body)
		}
		t0 := time.Now()
		r = send(t, f.signFor(t, "incomm", srv.URL+"/incomm/v1/sleep", paymentBody))
		if r.Status != http.StatusGatewayTimeout || r.problemCode() != "upstream_timeout" || time.Since(t0) > 2900*time.Millisecond {
			t.Errorf("upstream slow: %d %s after %v", r.Status, r.Body, time.Since(t0))
		}
		// Too large: refused before any crypto.
		big := bytes.Repeat([]byte("x"), 70000)
		r = send(t, f.signFor(t, "ebanx", srv.URL+"/ebanx/v1/payments", big))
		if r.Status != http.StatusRequestEntityTooLarge || r.problemCode() != "too_large" {
			t.Errorf("large body: %d %s", r.Status, r.Body)
		}
	})

	t.Run("response-integrity", func(t *testing.T) {
		s := f.signFor(t, "swift", srv.URL+"/swift-signed/v1/status", bodyN("integrity"))
		r := send(t, s)
		if r.Status != http.StatusOK {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		res, err := profile.Swift{}.VerifyResponse(context.Background(), r.Header, r.Body,
			profile.Trust{Roots: testkeys.Roots(), Audience: testkeys.Cert("leaf").Subject.String()})
		if err != nil {
			t.Fatalf("X-SWIFT-Integrity %q: %v", r.Header.Get("X-SWIFT-Integrity"), err)
		}
		if res.Subject != testkeys.Cert("server").Subject.String() {
			t.Errorf("integrity subject %q", res.Subject)
		}
	})

	t.Run("egress", func(t *testing.T) {
		for _, p := range profiles {
			body := paymentBody
			if p == "generic" {
				body = []byte(`{"amount":"75.10","currency":"GBP"}`)
			}
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/egress/"+p+"/v1/transfers?ref=42", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-App-Trace", "t-1")
			r, err := do(client, req)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := partner.seen(p)
			if !ok {
				t.Fatalf("%s: the partner saw nothing; egress answered %d %s", p, r.Status, r.Body)
			}
			if got.Err != nil {
				t.Fatalf("%s: the partner's verifier refused what egress signed: %v", p, got.Err)
			}
			if r.Status != http.StatusCreated || !bytes.Contains(r.Body, []byte(`"partner": "`+p+`"`)) {
				t.Errorf("%s: egress answered %d %s", p, r.Status, r.Body)
			}
			if got.Path != "/"+p+"/v1/transfers" || got.RawQuery != "ref=42" || got.Extra != "t-1" {
				t.Errorf("%s: partner saw %s ? %s (trace %q)", p, got.Path, got.RawQuery, got.Extra)
			}
			signed := got.Body
			if p == "generic" {
				signed = got.Res.Payload
				var claims map[string]any
				if err := json.Unmarshal(signed, &claims); err != nil || claims["amount"] != "75.10" || claims["jti"] == nil {
					t.Errorf("generic payload %s", signed)
				}
			} else if !bytes.Equal(signed, body) {
				t.Errorf("%s: partner got body %q, want %q", p, signed, body)
			}
			if p != "swift" && got.Res.Kid != f.egressPub[p].Kid {
				t.Errorf("%s: signed with kid %q", p, got.Res.Kid)
			}
		}
		// A Swift partner whose response integrity does not verify: the
		// app must not get the response as if it did.
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/egress/swift-bad/v1/transfers", bytes.NewReader(paymentBody))
		r, err := do(client, req)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("egress with bad response integrity: %d %s", r.Status, r.Body)
		if r.Status < 400 || r.problemCode() != "digest_mismatch" || bytes.Contains(r.Body, []byte("received")) {
			t.Errorf("bad integrity: %d %s", r.Status, r.Body)
		}
		// Unknown egress partner.
		req, _ = http.NewRequest(http.MethodPost, srv.URL+"/egress/nobody/x", nil)
		if r, _ := do(client, req); r == nil || r.Status < 400 || r.problemCode() != "partner_unknown" {
			t.Errorf("unknown egress partner: %+v", r)
		}
	})

	t.Run("operations", func(t *testing.T) {
		if r := get(t, srv.URL+"/healthz"); r.Status != 200 || !bytes.Contains(r.Body, []byte(`"alive"`)) {
			t.Errorf("healthz %d %s", r.Status, r.Body)
		}
		if r := get(t, srv.URL+"/readyz"); r.Status != 200 || !bytes.Contains(r.Body, []byte(`"ready"`)) {
			t.Errorf("readyz %d %s", r.Status, r.Body)
		}
		r := get(t, srv.URL+"/metrics")
		for _, want := range []string{
			`nonrep_verifications_total{code="ok",partner="acme-incomm",profile="incomm"}`,
			`nonrep_verifications_total{code="signature_invalid",partner="acme-ebanx",profile="ebanx"} 1`,
			`nonrep_verifications_total{code="replay_detected",partner="acme-generic",profile="generic"} 1`,
			`nonrep_replay_hits_total{partner="acme-swift"} 1`,
			`nonrep_evidence_append_duration_seconds_count`,
			`nonrep_egress_requests_total{outcome="2xx",partner="incomm"} 1`,
		} {
			if !bytes.Contains(r.Body, []byte(want)) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		j := get(t, srv.URL+"/.well-known/jwks.json")
		etag := j.Header.Get("ETag")
		if j.Status != 200 || etag == "" || !strings.Contains(j.Header.Get("Cache-Control"), "max-age=") {
			t.Fatalf("jwks %d %v", j.Status, j.Header)
		}
		set, err := jose.ParseJWKS(j.Body)
		if err != nil || len(set.Keys()) == 0 {
			t.Fatalf("jwks body %s: %v", j.Body, err)
		}
		for _, k := range set.Keys() {
			if k.IsPrivate() {
				t.Fatal("the JWKS publishes a private key")
			}
		}
		if r := get(t, srv.URL+"/.well-known/jwks.json", "If-None-Match", etag); r.Status != http.StatusNotModified || len(r.Body) != 0 {
			t.Errorf("If-None-Match: %d %q", r.Status, r.Body)
		}
		if r := get(t, srv.URL+"/openapi.yaml"); r.Status != 200 || !bytes.HasPrefix(r.Body, []byte("openapi: 3.")) {
			t.Errorf("openapi %d %.40s", r.Status, r.Body)
		}
	})

	t.Run("evidence", func(t *testing.T) {
		// The log verifies while the server runs, and the forwarded
		// requests' records hold the exact bytes.
		store := "sqlite:" + filepath.Join(data, "evidence.db")
		out, errOut, code := runNonrep(t, "evidence", "check", "--store", store)
		if code != 0 || !strings.Contains(out, "\nok\n") && !strings.HasSuffix(out, "ok\n") {
			t.Fatalf("evidence check: %d\n%s%s", code, out, errOut)
		}
		out, _, code = runNonrep(t, "evidence", "search", "--store", store, "--partner", "acme-incomm", "--verdict", "accepted")
		if code != 0 || !strings.Contains(out, "acme-incomm") {
			t.Fatalf("search: %d %s", code, out)
		}
		idx := ids["incomm"]
		if idx == "" {
			t.Skip("the forwarded subtest did not run")
		}
		file := filepath.Join(t.TempDir(), "b.json")
		if out, errOut, code := runNonrep(t, "evidence", "export", idx, "--store", store, "--out", file); code != 0 {
			t.Fatalf("export: %s%s", out, errOut)
		}
		if out, errOut, code := runNonrep(t, "evidence", "verify", file); code != 0 {
			t.Fatalf("verify bundle: %s%s", out, errOut)
		}
	})
}

func (f *fixture) partnerThumbprint(p string) string {
	if p == "swift" {
		j, _ := jose.NewJWK(testkeys.Key("leaf"), "", jose.RS256)
		return j.Thumbprint()
	}
	for _, k := range partnerKeys {
		if k.profile == p {
			j, _ := jose.NewJWK(testkeys.Key(k.key), k.kid, k.alg)
			return j.Thumbprint()
		}
	}
	return ""
}

// TestGracefulShutdown: SIGTERM while a request is in flight upstream; the
// listener closes, the request completes with 200, its evidence (request
// and response records) is in the log, and the process exits 0.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	up := newUpstream(t)
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	up.hold = func(r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/slow") {
			arrived <- struct{}{}
			<-release
		}
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfg := writeConfig(t, dir, fmt.Sprintf("listen: 127.0.0.1:0\ndata_dir: %s\n%s%s", data, f.partnersYAML(), routesYAML(up.URL)))
	srv := startServe(t, []string{"--config", cfg})

	s := f.signFor(t, "incomm", srv.URL+"/incomm/slow", paymentBody)
	done := make(chan *response, 1)
	go func() {
		r, err := trySend(&http.Client{Timeout: 30 * time.Second}, s)
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	select {
	case <-arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("the request never reached the upstream")
	}
	srv.signal(syscall.SIGTERM)
	// The listener closes at once; the process waits for the request.
	eventually(t, 10*time.Second, func() error {
		c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		if _, err := c.Get(srv.URL + "/healthz"); err == nil {
			return fmt.Errorf("still accepting connections after SIGTERM")
		}
		return nil
	})
	time.Sleep(200 * time.Millisecond)
	if !srv.running() {
		t.Fatalf("exited with a request in flight\n%s", srv.stderr)
	}
	close(release)
	r := <-done
	if r == nil || r.Status != http.StatusOK {
		t.Fatalf("in-flight request: %+v", r)
	}
	if code := srv.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d\n%s", code, srv.stderr)
	}

	// The evidence of the drained request, including its response record.
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
	head, err := l.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if head.Size != 2 {
		t.Fatalf("%d records, want the request and its response", head.Size)
	}
	rec, err := l.Get(ctx, 0)
	if err != nil || !bytes.Equal(rec.Body, paymentBody) || rec.Verdict != evidence.Accepted {
		t.Fatalf("request record: %+v %v", rec, err)
	}
	resp, err := l.Get(ctx, 1)
	if err != nil || resp.ResponseTo != 0 || resp.ResponseStatus != 200 {
		t.Fatalf("response record: %+v %v", resp, err)
	}
	if _, err := evidence.Check(ctx, st, evidence.CheckOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestConfigCheck: the CLI reports every problem with its line and exits 1.
func TestConfigCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := writeConfig(t, dir, "listen: nowhere\npartners:\n  - name: a\n    profile: inkomm\n    keys: [/does/not/exist.jwk]\nroutes:\n  - path: /a/\n    partner: b\n    upstream: echo\n")
	out, errOut, code := runNonrep(t, "config", "check", bad)
	if code != 1 || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	for _, want := range []string{
		`nonrep.yaml:1: listen: "nowhere" is not host:port`,
		`nonrep.yaml:4: partners[0].profile: "inkomm"`,
		`nonrep.yaml:5: partners[0].keys:`,
		`nonrep.yaml:8: routes[0].partner: no partner named "b"`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if n := len(regexp.MustCompile(`(?m)^nonrep: error: config_invalid: `).FindAllString(errOut, -1)); n != 4 {
		t.Errorf("%d error lines, want 4:\n%s", n, errOut)
	}
	// serve refuses the same file before listening.
	cmd := []string{"serve", "--config", bad}
	_, errOut, code = runNonrep(t, cmd...)
	if code == 0 || !strings.Contains(errOut, "config_invalid") {
		t.Fatalf("serve with a bad config: exit %d\n%s", code, errOut)
	}
}

// TestLenientPartnerEvidence: a partner configured lenient (InComm without
// iat/exp) is accepted, and its evidence says so: the bundle re-verifies
// offline under the same reading.
func TestLenientPartnerEvidence(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	up := newUpstream(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfg := writeConfig(t, dir, fmt.Sprintf("listen: 127.0.0.1:0\ndata_dir: %s\npartners:\n  - name: acme-incomm\n    profile: incomm\n    lenient: true\n    keys: [%s]\nroutes:\n  - path: /incomm/\n    partner: acme-incomm\n    upstream: %s\n",
		data, f.files["incomm.pub"], up.URL))
	srv := startServe(t, []string{"--config", cfg})

	// An InComm signature with no iat and no exp.
	j, err := jose.Sign(paymentBody, jose.SignOptions{Detached: true, Crit: []string{"http-method", "http-path", "http-query"},
		Header: []jose.HeaderParam{
			{Name: "http-method", Value: []byte(`"POST"`)},
			{Name: "http-path", Value: []byte(`"/incomm/v1/payments"`)},
			{Name: "http-query", Value: []byte(`""`)},
		}}, f.partners["incomm"].Signer.Key)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := j.CompactBytes()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/incomm/v1/payments", bytes.NewReader(paymentBody))
	req.Header.Set("Authorization", "INCOMM-OLS-EAPI-SIGNATURE-JWS")
	req.Header.Set("Signature", string(sig))
	r, err := do(client, req)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != http.StatusOK {
		t.Fatalf("lenient partner: %d %s", r.Status, r.Body)
	}
	idx := up.last().Header.Get("X-Nonrep-Evidence")
	store := "sqlite:" + filepath.Join(data, "evidence.db")
	file := filepath.Join(t.TempDir(), "b.json")
	if out, errOut, code := runNonrep(t, "evidence", "export", idx, "--store", store, "--out", file); code != 0 {
		t.Fatalf("export: %s%s", out, errOut)
	}
	if out, errOut, code := runNonrep(t, "evidence", "verify", file); code != 0 {
		t.Fatalf("the lenient partner's bundle does not re-verify: exit %d\n%s%s", code, out, errOut)
	}
}
