package main

import (
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/profile"
)

// seen records what a test server received.
type seen struct {
	mu     sync.Mutex
	method string
	body   string
	header http.Header
}

func (s *seen) get() (string, string, http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.method, s.body, s.header
}

// verifyingServer verifies each request under p and answers 200 with a
// JSON body (plus whatever respond adds), or 401 with the code.
func verifyingServer(t *testing.T, p profile.Profile, trust profile.Trust, respond func(w http.ResponseWriter, body []byte) []byte) (*httptest.Server, *seen) {
	t.Helper()
	rec := &seen{}
	v, err := p.NewVerifier(trust)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.method, rec.body, rec.header = r.Method, string(body), r.Header.Clone()
		rec.mu.Unlock()
		parsed, err := v.Parse(profile.FromRequest(r, body))
		if err == nil {
			_, err = v.Verify(r.Context(), parsed)
		}
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, string(jose.CodeOf(err)))
			return
		}
		out := []byte(`{"status":"accepted","amount":"10.00"}`)
		if respond != nil {
			out = respond(w, out)
		}
		w.Header().Set("X-Test", "1")
		w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv, rec
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pemBlocks(typ string, ders ...[]byte) []byte {
	var out []byte
	for _, d := range ders {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: d})...)
	}
	return out
}

func TestRequestSendGeneric(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k.jwk")
	if code, _, stderr := runCLI(t, "", "keygen", "--alg", "ES256", "--kid", "k1", "--out", key); code != 0 {
		t.Fatal(stderr)
	}
	priv, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	k, err := jose.ParseJWK(priv)
	if err != nil {
		t.Fatal(err)
	}
	set, err := jose.NewKeySet(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	srv, rec := verifyingServer(t, profile.Generic{}, profile.Trust{Keys: set}, nil)
	body := writeFile(t, filepath.Join(dir, "order.json"), []byte(`{"amount":"10.00","currency":"EUR"}`))

	code, stdout, stderr := runCLI(t, "", "request", "send", "--profile", "generic", "--key", key,
		"--url", srv.URL+"/v1/payments?b=2&a=1", "--body", body, "--header", "X-Request-Id: 42")
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q, stdout %q", code, stderr, stdout)
	}
	if !strings.HasPrefix(stdout, "HTTP/1.1 200 OK\n") || !strings.Contains(stdout, "\nX-Test: 1\n") ||
		!strings.HasSuffix(stdout, "\n\n"+`{"status":"accepted","amount":"10.00"}`) {
		t.Errorf("stdout:\n%s", stdout)
	}
	method, sent, h := rec.get()
	if method != "POST" || !strings.HasPrefix(sent, `{"payload":`) || h.Get("X-Request-Id") != "42" || h.Get("Content-Type") != profile.GenericContentType {
		t.Errorf("server saw %s %q %v", method, sent, h)
	}

	// Without --body the method defaults to GET (the generic body is "{}").
	code, stdout, _ = runCLI(t, "", "request", "send", "--profile", "generic", "--key", key, "--url", srv.URL+"/v1/status")
	if method, _, _ := rec.get(); code != exitOK || method != "GET" || !strings.HasPrefix(stdout, "HTTP/1.1 200 OK\n") {
		t.Errorf("exit %d, method %s, stdout %q", code, method, stdout)
	}

	// A rejection by the server is still exit 0: the response is printed.
	other := filepath.Join(dir, "other.jwk")
	if code, _, stderr := runCLI(t, "", "keygen", "--alg", "ES256", "--kid", "k1", "--out", other); code != 0 {
		t.Fatal(stderr)
	}
	code, stdout, _ = runCLI(t, "", "request", "send", "--profile", "generic", "--key", other, "--url", srv.URL+"/v1/x", "--body", body)
	if code != exitOK || !strings.HasPrefix(stdout, "HTTP/1.1 401 Unauthorized\n") || !strings.HasSuffix(stdout, "\n\nsignature_invalid") {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
}

func TestRequestSendRedirectNotFollowed(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k.jwk")
	if code, _, stderr := runCLI(t, "", "keygen", "--alg", "ES256", "--kid", "k1", "--out", key); code != 0 {
		t.Fatal(stderr)
	}
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer srv.Close()
	code, stdout, _ := runCLI(t, "", "request", "send", "--profile", "generic", "--key", key, "--url", srv.URL+"/a")
	if code != exitOK || !strings.HasPrefix(stdout, "HTTP/1.1 302 Found\n") || !strings.Contains(stdout, "\nLocation: /elsewhere\n") || hits.Load() != 1 {
		t.Errorf("exit %d, hits %d, stdout %q", code, hits.Load(), stdout)
	}
}

func TestRequestSendErrors(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k.jwk")
	if code, _, stderr := runCLI(t, "", "keygen", "--alg", "ES256", "--kid", "k1", "--out", key); code != 0 {
		t.Fatal(stderr)
	}
	for _, c := range []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"unreachable", []string{"--profile", "generic", "--key", key, "--url", "http://127.0.0.1:1/x"}, exitUsage, "nonrep: error: io: sending the request: "},
		{"roots for generic", []string{"--profile", "generic", "--key", key, "--url", "http://x.example/", "--roots", key}, exitUsage, "nonrep: error: usage: --roots applies only to the swift profile"},
		{"aud without roots", []string{"--profile", "swift", "--key", key, "--url", "http://x.example/", "--integrity-aud", "CN=x"}, exitUsage, "nonrep: error: usage: --integrity-aud needs --roots"},
		{"host header", []string{"--profile", "generic", "--key", key, "--url", "http://x.example/", "--header", "Host: y.example"}, exitUsage, "nonrep: error: usage: --header cannot set Host"},
		{"bad header", []string{"--profile", "generic", "--key", key, "--url", "http://x.example/", "--header", "nocolon"}, exitUsage, `nonrep: error: usage: --header "nocolon" is not 'Name: value'`},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", append([]string{"request", "send"}, c.args...)...)
			if code != c.code || stdout != "" || !strings.HasPrefix(stderr, c.err) {
				t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
		})
	}
}

// swiftFiles writes the client's key, chain and the roots (testkeys PKI).
func swiftFiles(t *testing.T, dir string) (key, chain, roots string) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(testkeys.Key("leaf"))
	if err != nil {
		t.Fatal(err)
	}
	key = writeFile(t, filepath.Join(dir, "leaf.key.pem"), pemBlocks("PRIVATE KEY", der))
	chain = writeFile(t, filepath.Join(dir, "chain.pem"), pemBlocks("CERTIFICATE", testkeys.Chain("leaf")...))
	roots = writeFile(t, filepath.Join(dir, "root.pem"), pemBlocks("CERTIFICATE", testkeys.Cert("root").Raw))
	return key, chain, roots
}

func TestRequestSendSwiftIntegrity(t *testing.T) {
	dir := t.TempDir()
	key, chain, roots := swiftFiles(t, dir)
	server := &profile.Signer{
		Key:   &jose.SigningKey{Alg: jose.RS256, Signer: testkeys.Key("server")},
		Chain: testkeys.Chain("server"),
	}
	client := testkeys.Cert("leaf").Subject.String()
	var tamper, omit atomic.Bool
	srv, _ := verifyingServer(t, profile.Swift{}, profile.Trust{Roots: testkeys.Roots()}, func(w http.ResponseWriter, body []byte) []byte {
		if omit.Load() {
			return body
		}
		h, err := profile.Swift{}.SignResponse(body, client, server)
		if err != nil {
			t.Error(err)
			return body
		}
		for k, v := range h {
			w.Header()[k] = v
		}
		if tamper.Load() {
			return []byte(`{"status":"accepted","amount":"99.00"}`)
		}
		return body
	})
	body := writeFile(t, filepath.Join(dir, "pay.json"), []byte(`{"amount":"10.00"}`))
	send := func(extra ...string) (int, string, string) {
		args := append([]string{"request", "send", "--profile", "swift", "--key", key, "--cert", chain,
			"--url", srv.URL + "/v1/pay?x=1", "--body", body, "--roots", roots}, extra...)
		return runCLI(t, "", args...)
	}

	code, stdout, stderr := send()
	if code != exitOK || !strings.HasPrefix(stdout, "HTTP/1.1 200 OK\n") || !strings.Contains(stdout, "\nX-Swift-Integrity: ey") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if want := "nonrep: integrity: ok (subject " + testkeys.Cert("server").Subject.String() + ")\n"; stderr != want {
		t.Errorf("stderr %q; want %q", stderr, want)
	}
	code, _, stderr = send("--integrity-aud", strings.ToLower(client))
	if code != exitOK || !strings.HasPrefix(stderr, "nonrep: integrity: ok") {
		t.Errorf("aud compared as a DN: exit %d, stderr %q", code, stderr)
	}

	for _, c := range []struct {
		name          string
		tamper, omit  bool
		extra         []string
		wantErr, hint string
	}{
		{"tampered body", true, false, nil, "nonrep: error: digest_mismatch: response integrity: ", "nonrep: hint: the response was HTTP/1.1 200 OK; run without --roots"},
		{"no header", false, true, nil, "nonrep: error: header_missing: response integrity: the X-SWIFT-Integrity header is missing", ""},
		{"other audience", false, false, []string{"--integrity-aud", "CN=someone else"}, "nonrep: error: audience_mismatch: ", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			tamper.Store(c.tamper)
			omit.Store(c.omit)
			defer func() { tamper.Store(false); omit.Store(false) }()
			code, stdout, stderr := send(c.extra...)
			if code != exitRejected || stdout != "" || !strings.HasPrefix(stderr, c.wantErr) || !strings.Contains(stderr, c.hint) {
				t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
		})
	}

	// Without --roots the response is printed unverified.
	tamper.Store(true)
	defer tamper.Store(false)
	code, stdout, stderr = runCLI(t, "", "request", "send", "--profile", "swift", "--key", key, "--cert", chain, "--url", srv.URL+"/v1/pay", "--body", body)
	if code != exitOK || stderr != "" || !strings.Contains(stdout, `"99.00"`) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
