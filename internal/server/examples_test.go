package server_test

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nonrep/nonrep/internal/config"
	"github.com/nonrep/nonrep/internal/loadgen"
	"github.com/nonrep/nonrep/internal/testenv"
	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/profile"
	"go.yaml.in/yaml/v3"
)

// keygenRE reads the key-creation commands in an example's header.
var keygenRE = regexp.MustCompile(`(?m)^#\s+nonrep keygen (.*?)--out (\S+)`)

// testKeyFor stands in for `nonrep keygen --alg ALG [--bits N]`: a fixed
// test key of that kind (RSA generation would cost seconds per example).
func testKeyFor(args string) string {
	switch {
	case strings.Contains(args, "--alg ES256"):
		return "p256b"
	case strings.Contains(args, "--bits 4096"):
		return "rsa4096b"
	case strings.Contains(args, "--bits 2048"):
		return "rsa2048"
	}
	return "rsa3072b"
}

// TestExamplesServe starts every example configuration for real, as its
// header says (files created, environment set), from a copy of examples/
// with its upstream pointed at a recording server, and sends each route a
// request signed with the test key whose public half the example ships:
// each is verified and forwarded. postgres-redis.yaml runs on the test
// PostgreSQL and Redis through NONREP_POSTGRES_DSN and NONREP_REDIS_ADDR.
func TestExamplesServe(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("../../examples/*.yaml")
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var env []string
			if name == "postgres-redis.yaml" {
				testenv.Redis(t)
				env = append(env, "NONREP_POSTGRES_DSN="+testenv.Postgres(t), "NONREP_REDIS_ADDR="+testenv.RedisAddr())
			}
			up := newUpstream(t)
			dir := t.TempDir()
			copyExamples(t, filepath.Dir(file), dir)
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			// The example's own upstreams are placeholders: point them here.
			text := regexp.MustCompile(`upstream: http://\S+`).ReplaceAllString(string(data), "upstream: "+up.URL)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, m := range keygenRE.FindAllStringSubmatch(text, -1) {
				alg := jose.Alg(regexp.MustCompile(`--alg (\S+)`).FindStringSubmatch(m[1])[1])
				kid := regexp.MustCompile(`--kid (\S+)`).FindStringSubmatch(m[1])[1]
				writeFile(t, filepath.Join(dir, m[2]), mustJSON(t, mustJWK(t, testkeys.Key(testKeyFor(m[1])), kid, alg)))
			}
			if name == "swift.yaml" {
				// The files it says to supply: the test PKI's server
				// certificate as ours, its root as Swift's.
				writeFile(t, filepath.Join(dir, "keys/our-swift.jwk"), mustJSON(t, mustJWK(t, testkeys.Key("server"), "", jose.RS256)))
				writeFile(t, filepath.Join(dir, "keys/our-swift-chain.pem"), certPEM("server", "intermediate"))
				writeFile(t, filepath.Join(dir, "keys/swift-roots.pem"), certPEM("root"))
			}
			env = append(env, "NONREP_LISTEN=127.0.0.1:0", "NONREP_DATA_DIR="+filepath.Join(dir, "data"))
			if out, errOut, code := runNonrepDir(t, dir, env, "config", "check", name); code != 0 {
				t.Fatalf("config check: %s%s", out, errOut)
			}
			srv := startServeIn(t, dir, []string{"--config", name}, env...)

			cfg := loadExample(t, text)
			sent := 0
			for _, r := range cfg.Routes {
				src := exampleSigner(t, dir, cfg, r.Partner)
				if src == nil {
					continue // keys from a jwks_url
				}
				s := src.signFor(t, srv.URL+r.Path+"v1/payments", bodyN(name))
				res := send(t, s)
				if res.Status != http.StatusOK {
					t.Errorf("%s (%s): %d %s", r.Path, r.Partner, res.Status, res.Body)
					continue
				}
				idHeader := cfg.Identity.Partner
				if idHeader == "" {
					idHeader = "X-Nonrep-Partner"
				}
				if got := up.last().Header.Values(idHeader); len(got) != 1 || got[0] != r.Partner {
					t.Errorf("%s: the upstream got %s %q, want %q", r.Path, idHeader, got, r.Partner)
				}
				if r.SignResponse && res.Header.Get("X-SWIFT-Integrity") == "" {
					t.Errorf("%s: no X-SWIFT-Integrity on the response", r.Path)
				}
				sent++
			}
			if sent == 0 || up.count() != sent {
				t.Errorf("%d signed requests, upstream saw %d", sent, up.count())
			}
			if r := get(t, srv.URL+"/readyz"); r.Status != http.StatusOK {
				t.Errorf("readyz %d %s", r.Status, r.Body)
			}
			srv.signal(syscall.SIGTERM)
			if code := srv.wait(30 * time.Second); code != 0 {
				t.Errorf("exit %d", code)
			}
		})
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func copyExamples(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(to, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	keys, _ := filepath.Glob(filepath.Join(from, "keys", "*"))
	for _, k := range keys {
		b, err := os.ReadFile(k)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(to, "keys", filepath.Base(k)), b)
	}
}

// loadExample decodes the example's YAML without validating it (its
// relative paths name files in dir, not in the test's directory; the CLI
// check above validated it in dir).
func loadExample(t *testing.T, text string) *config.Config {
	t.Helper()
	var c config.Config
	if err := yaml.Unmarshal([]byte(text), &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

// testKeyNames are every private key in internal/testkeys.
var testKeyNames = []string{"rsa2048", "rsa3072", "rsa3072b", "rsa4096", "rsa4096b", "p256", "p256b", "ed25519"}

// exampleSigner returns a signer for the example's partner: the test key
// whose public half the example ships (nil for a partner known only by
// jwks_url).
func exampleSigner(t *testing.T, dir string, c *config.Config, name string) *signerFor {
	t.Helper()
	var p *config.Partner
	for i := range c.Partners {
		if c.Partners[i].Name == name {
			p = &c.Partners[i]
		}
	}
	if p == nil {
		t.Fatalf("no partner %q", name)
	}
	prof, _ := profile.ByName(p.Profile)
	if p.Profile == "swift" {
		leaf := mustJWK(t, testkeys.Key("leaf"), "", jose.RS256)
		return &signerFor{prof, &profile.Signer{Key: mustSigningKey(t, leaf, jose.RS256), Chain: testkeys.Chain("leaf")}}
	}
	if ob, ok := prof.(profile.OpenBanking); ok {
		ob.Issuer, ob.Version = "test-tpp", p.OBVersion
		prof = ob
	}
	if len(p.Keys) == 0 {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(dir, p.Keys[0]))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := jose.ParseJWK(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range testKeyNames {
		j, err := jose.NewJWK(testkeys.Key(n), pub.Kid, pub.Alg)
		if err == nil && j.Thumbprint() == pub.Thumbprint() {
			return &signerFor{prof, &profile.Signer{Key: mustSigningKey(t, j, pub.Alg)}}
		}
	}
	t.Fatalf("%s is not the public half of a test key", p.Keys[0])
	return nil
}

type signerFor struct {
	prof   profile.Profile
	signer *profile.Signer
}

func (s *signerFor) signFor(t *testing.T, rawURL string, body []byte) *loadgen.Signed {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	src := loadgen.Source{Profile: s.prof, Signer: s.signer, Body: func(int) []byte { return body }}
	r, err := src.Sign(u, 0)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
