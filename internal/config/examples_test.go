package config

import (
	"bytes"
	"encoding/pem"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
)

var regenExamples = flag.Bool("regen-examples", false, "rewrite examples/keys from internal/testkeys")

// ExampleKeys are the public test keys and certificates shipped in
// examples/keys: the public halves of internal/testkeys' publicly known
// keys, so that tests (and people trying the examples) can sign requests
// the examples accept. They must never be trusted in production.
var exampleKeys = []struct {
	file, testkey, kid string
	alg                jose.Alg
}{
	{"test-incomm-partner.pub.jwk", "rsa3072", "incomm-test-2026-1", jose.PS512},
	{"test-ebanx-merchant-a.pub.jwk", "rsa4096", "merchant-7001-a", jose.RS256},
	{"test-ebanx-merchant-b.pub.jwk", "rsa4096b", "merchant-7001-b", jose.RS256},
	{"test-openbanking-tpp.pub.jwk", "rsa2048", "tpp-test-signing-1", jose.PS256},
	{"test-generic-partner.pub.jwk", "p256", "partner-test-es256-1", jose.ES256},
	{"test-generic-partner-b.pub.jwk", "p256b", "partner-b-test-es256-1", jose.ES256},
}

const exampleRootHeader = `PUBLIC TEST ROOT CA of the nonrep examples (internal/testkeys "root").
Its private key is published in the nonrep repository: never trust it in
production. Replace this file with SWIFTNet PKI's (or your partner's) roots.
`

func exampleKeyFiles(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, k := range exampleKeys {
		j, err := jose.NewJWK(testkeys.Key(k.testkey), k.kid, k.alg)
		if err != nil {
			t.Fatal(err)
		}
		b, err := j.Public().MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		out[k.file] = append(b, '\n')
	}
	root := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: testkeys.Cert("root").Raw})
	out["test-swift-root.pem"] = append([]byte(exampleRootHeader), root...)
	return out
}

// TestExampleKeys: examples/keys holds exactly the public halves of the
// test keys it says it does (go test ./internal/config -run
// TestExampleKeys -regen-examples rewrites them), and no private key.
func TestExampleKeys(t *testing.T) {
	dir := filepath.Join("..", "..", "examples", "keys")
	want := exampleKeyFiles(t)
	if *regenExamples {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range want {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, b := range want {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, b) {
			t.Errorf("examples/keys/%s is not the public half of its test key (rerun with -regen-examples)", name)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte("PRIVATE KEY")) || bytes.Contains(data, []byte(`"d":`)) {
			t.Errorf("examples/keys/%s holds a private key: examples ship public keys only", e.Name())
		}
	}
}

// createdRE finds the files an example tells the reader to create or
// supply, in its header comment ("--out FILE" or "> FILE" of a command, or
// "supply: FILE").
var createdRE = regexp.MustCompile(`(?m)^#.*?(?:--out |> |supply: )(\S+)`)

// TestExamplesNameTheirFiles: every file an example refers to is either
// shipped in examples/ or created by a command its header comment gives;
// every example checks (config check's rules) and carries a header.
func TestExamplesNameTheirFiles(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.yaml")
	if len(files) < 6 {
		t.Fatalf("%d examples, want one per scheme and postgres-redis.yaml", len(files))
	}
	for _, name := range []string{"incomm", "ebanx", "swift", "openbanking", "generic", "postgres-redis"} {
		if _, err := os.Stat("../../examples/" + name + ".yaml"); err != nil {
			t.Errorf("examples/%s.yaml: %v", name, err)
		}
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(data, []byte("# ")) {
				t.Error("no header comment saying what the example is for")
			}
			created := map[string]bool{}
			for _, m := range createdRE.FindAllSubmatch(data, -1) {
				created[string(m[1])] = true
			}
			wd, _ := os.Getwd()
			defer os.Chdir(wd)
			os.Chdir(filepath.Dir(f))
			c, err := Parse(filepath.Base(f), data, func(string) string { return "" })
			if err != nil {
				t.Fatal(err)
			}
			var refs []string
			for _, p := range c.Partners {
				refs = append(refs, p.Keys...)
				refs = append(refs, p.Roots, p.JWKSCA)
			}
			for _, e := range c.Egress {
				refs = append(refs, e.Key, e.Cert, e.IntegrityRoots)
			}
			refs = append(refs, c.Signing.Key, c.Signing.Cert)
			if c.TLS != nil {
				refs = append(refs, c.TLS.Cert, c.TLS.Key, c.TLS.ClientCA)
			}
			for _, r := range refs {
				if r == "" {
					continue
				}
				if _, err := os.Stat(r); err == nil {
					if !strings.HasPrefix(r, "keys/test-") {
						t.Errorf("%s exists but is not a shipped test key (keys/test-*)", r)
					}
					continue
				}
				if !created[r] {
					t.Errorf("%s: neither shipped nor created by a command in the header", r)
				}
			}
		})
	}
}

// TestExampleKeysREADME: the keys directory says what its files are.
func TestExampleKeysREADME(t *testing.T) {
	b, err := os.ReadFile("../../examples/keys/README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range exampleKeys {
		if !bytes.Contains(b, []byte(k.file)) {
			t.Errorf("examples/keys/README.md does not list %s", k.file)
		}
	}
}
