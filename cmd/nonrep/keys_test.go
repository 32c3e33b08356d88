package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nonrep/nonrep/internal/testenv"
	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
)

// keysCLI runs the CLI in-process.
func keysCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func jwkJSON(t *testing.T, name, kid string) string {
	t.Helper()
	j, err := jose.NewJWK(testkeys.Key(name).Public(), kid, "")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := j.MarshalJSON()
	return string(b)
}

// jwks fetch against a TLS server trusted through --ca.
func TestJWKSFetch(t *testing.T) {
	body := `{"keys":[` + jwkJSON(t, "p256", "k1") + `,{"kty":"EC","kid":"off","crv":"P-256","x":"-NZjkE26JPBhZAgf2KH_BqPssiqFIMyNHORvdlUea38","y":"8pad5OJi2hSs5cIlVS3gWgQhwQ6lx1mPg4d7YGFYnYA"},` + jwkJSON(t, "rsa2048", "r1") + `]}`
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/good":
			w.Header().Set("Cache-Control", "public, max-age=300")
			w.Header().Set("ETag", `"v1"`)
			w.Write([]byte(`{"keys":[` + jwkJSON(t, "ed25519", "e1") + `]}`))
		case "/mixed":
			w.Write([]byte(body))
		case "/unusable":
			w.Write([]byte(`{"keys":[{"kty":"oct","kid":"s","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted handshake below
	srv.StartTLS()
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		extra      []string
		wantCode   int
		wantOut    []string
		wantErr    string
	}{
		{"good", "/good", nil, exitOK, []string{`HTTP 200, 1 keys \(1 usable, 0 dropped\), max-age 300s \(cache TTL 5m0s\), ETag "v1"\n`, `(?m)^ok +key 0 +kid "e1" +OKP Ed25519 +- +thumbprint [\w-]{43}$`}, ""},
		{"mixed", "/mixed", nil, exitRejected, []string{`(?m)^ok +key 0 +kid "k1" +EC P-256`, `(?m)^dropped +key 1 +kid "off" +key_rejected: EC point is not on P-256$`, `(?m)^ok +key 2 +kid "r1" +RSA-2048`, `no max-age \(cache TTL 15m0s\)`}, "nonrep: error: key_rejected: 1 of 3 keys dropped (see above); the other 2 are usable\n"},
		{"min rsa", "/mixed", []string{"--min-rsa-bits", "3072"}, exitRejected, []string{`(?m)^dropped +key 2 +kid "r1" +key_rejected: RSA key of 2048 bits, fewer than the 3072 required$`}, "nonrep: error: key_rejected: 2 of 3 keys dropped"},
		{"unusable", "/unusable", nil, exitRejected, []string{`(?m)^dropped +key 0 +kid "s" +key_rejected: a shared secret \(oct\) in a public JWK Set$`}, "nonrep: error: key_rejected: the JWK Set has no usable key (1 dropped)\n"},
		{"404", "/nope", nil, exitRejected, nil, "nonrep: error: key_unavailable: " + `"` + srv.URL + `/nope" answered HTTP 404`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"jwks", "fetch", "--ca", ca}, tc.extra...)
			code, stdout, stderr := keysCLI(t, append(args, srv.URL+tc.path)...)
			if code != tc.wantCode {
				t.Fatalf("exit %d; want %d\n%s%s", code, tc.wantCode, stdout, stderr)
			}
			for _, w := range tc.wantOut {
				if !regexp.MustCompile(w).MatchString(stdout) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			if !strings.HasPrefix(stderr, tc.wantErr) {
				t.Errorf("stderr %q; want prefix %q", stderr, tc.wantErr)
			}
		})
	}
	// --json: a report whose member names are API.
	code, stdout, _ := keysCLI(t, "jwks", "fetch", "--json", "--ca", ca, srv.URL+"/mixed")
	var rep fetchReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != exitRejected {
		t.Fatalf("exit %d, %v\n%s", code, err, stdout)
	}
	if rep.Verdict != "dropped_keys" || rep.UsableKeys != 2 || rep.Keys[1].Code != "key_rejected" || rep.Keys[0].Thumbprint == "" || rep.TTL != 900 {
		t.Fatalf("report %+v", rep)
	}
	// Without --ca the test server's certificate is not trusted.
	code, _, stderr := keysCLI(t, "jwks", "fetch", srv.URL+"/good")
	if code != exitRejected || !strings.Contains(stderr, "certificate") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

// The keys commands on PostgreSQL.
func TestKeysPostgres(t *testing.T) {
	dsn := testenv.Postgres(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "k.jwk")
	if code, _, stderr := keysCLI(t, "keygen", "--alg", "EdDSA", "--kid", "pg-1", "--out", key); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := keysCLI(t, "keys", "add", "--store", dsn, "--key", key, "--actor", "alice"); code != 0 {
		t.Fatal(stderr)
	}
	code, stdout, stderr := keysCLI(t, "keys", "list", "--store", dsn)
	if code != 0 || !strings.Contains(stdout, "pg-1") || !strings.Contains(stdout, "pending") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	code, _, stderr = keysCLI(t, "keys", "promote", "pg-1", "--store", dsn)
	if code != exitRejected || !strings.HasPrefix(stderr, "nonrep: error: too_early: ") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}
