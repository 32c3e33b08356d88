package main

import (
	"encoding/pem"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nonrep/nonrep/httpsig"
	"github.com/nonrep/nonrep/internal/loadgen"
	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/profile"
	"github.com/nonrep/nonrep/replay"
)

func writeTestJWK(t *testing.T, dir, name, key, kid string, alg jose.Alg) (*jose.JWK, string) {
	t.Helper()
	j, err := jose.NewJWK(testkeys.Key(key), kid, alg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := j.MarshalJSON()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return j, path
}

func TestBenchRaw(t *testing.T) {
	dir := t.TempDir()
	_, key := writeTestJWK(t, dir, "k.jwk", "p256", "k1", jose.ES256)
	code, out, errOut := runCLI(t, "", "bench", "--profile", "generic", "--key", key, "--raw", "--duration", "200ms")
	if code != exitOK || !strings.Contains(out, "profile generic (ES256)") || !strings.Contains(out, "\nraw-verify ") || !strings.Contains(out, "100.0%") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	// Swift: the roots come from the top of our own chain.
	_, leaf := writeTestJWK(t, dir, "leaf.jwk", "leaf", "", jose.RS256)
	chain := filepath.Join(dir, "chain.pem")
	var pemChain []byte
	for _, der := range testkeys.Chain("leaf") {
		pemChain = append(pemChain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	os.WriteFile(chain, pemChain, 0o600)
	roots := filepath.Join(dir, "roots.pem")
	os.WriteFile(roots, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: testkeys.Cert("root").Raw}), 0o600)
	code, out, errOut = runCLI(t, "", "bench", "--profile", "swift", "--key", leaf, "--cert", chain, "--roots", roots, "--raw", "--duration", "100ms", "--json")
	if code != exitOK || !strings.Contains(out, `"label": "raw-verify"`) || !strings.Contains(out, `"alg": "RS256"`) {
		t.Fatalf("swift raw: exit %d\n%s%s", code, out, errOut)
	}
}

func TestBenchTargets(t *testing.T) {
	dir := t.TempDir()
	j, key := writeTestJWK(t, dir, "k.jwk", "rsa3072", "k1", jose.PS512)
	up := httptest.NewServer(loadgen.Upstream())
	defer up.Close()
	upURL, _ := url.Parse(up.URL)
	set, _ := jose.NewKeySet(j.Public())
	mem, _ := replay.NewMemory(replay.MemoryConfig{})
	defer mem.Close()
	h, err := loadgen.VerifyProxy(&httpsig.Partner{Name: "p", Profile: profile.InComm{}, Trust: profile.Trust{Keys: set}}, mem, upURL, 64)
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(h)
	defer gw.Close()
	plain := httptest.NewServer(loadgen.Proxy(upURL))
	defer plain.Close()

	code, out, errOut := runCLI(t, "", "bench", "--profile", "incomm", "--key", key, "--count", "12", "--concurrency", "3",
		"--url", "plain="+plain.URL+"/v1/payments", "--url", "verified="+gw.URL+"/v1/payments")
	if code != exitOK || !strings.Contains(out, "\nplain ") || !strings.Contains(out, "\nverified ") || !strings.Contains(out, "12 pre-signed requests per URL") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	// The same pool twice through one replay store: the second row fails,
	// says why, and the command exits 1.
	code, out, errOut = runCLI(t, "", "bench", "--profile", "incomm", "--key", key, "--count", "5",
		"--url", "first="+gw.URL+"/v2", "--url", "again="+gw.URL+"/v2")
	if code != exitRejected || !strings.Contains(out, "5× 409 replay_detected") || !strings.Contains(errOut, "nonrep: error: requests_failed: 5 requests") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

func TestBenchUsage(t *testing.T) {
	dir := t.TempDir()
	_, key := writeTestJWK(t, dir, "k.jwk", "p256", "k1", jose.ES256)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"nothing to do", []string{"--profile", "generic", "--key", key}, "give at least one --url, or --raw"},
		{"bad url", []string{"--profile", "generic", "--key", key, "--url", "ftp://x"}, `--url "ftp://x" is not an http(s) URL`},
		{"bad serve", []string{"--serve", "nope", "--upstream", "http://x"}, `unknown --serve mode "nope"`},
		{"serve without upstream", []string{"--serve", "proxy"}, "--serve proxy needs --upstream URL"},
		{"no profile", []string{"--key", key, "--raw"}, "--profile is required"},
		{"bad concurrency", []string{"--profile", "generic", "--key", key, "--raw", "--concurrency", "0"}, "must be positive"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, "", append([]string{"bench"}, c.args...)...)
			if code != exitUsage || !strings.Contains(errOut, c.want) {
				t.Fatalf("exit %d: %s", code, errOut)
			}
		})
	}
}
