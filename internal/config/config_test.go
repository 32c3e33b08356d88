package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseErrorsNameLineAndField(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "acme.jwk")
	os.WriteFile(key, []byte("{}"), 0o600)
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown field", "listen: 127.0.0.1:9000\nlisen: x\n", "c.yaml:2: field lisen not found"},
		{"bad duration", "signing:\n  jwks_max_age: ten\n", `c.yaml:2: "ten" is not a duration`},
		{"bad profile", "partners:\n  - name: acme\n    profile: inkomm\n    keys: [" + key + "]\n", `c.yaml:3: partners[0].profile: "inkomm": use one of`},
		{"missing keys", "partners:\n  - name: acme\n    profile: generic\n", "c.yaml:2: partners[0].keys: at least one key file or a jwks_url is required"},
		{"route to unknown partner", "routes:\n  - path: /p/\n    partner: nobody\n    upstream: echo\n", `c.yaml:3: routes[0].partner: no partner named "nobody"`},
		{"bad upstream", "partners:\n  - name: acme\n    profile: generic\n    keys: [" + key + "]\nroutes:\n  - path: /p/\n    partner: acme\n    upstream: ftp://x\n", `c.yaml:8: routes[0].upstream`},
		{"postgres without dsn", "stores:\n  evidence:\n    backend: postgres\n", "c.yaml:3: stores.evidence.dsn: postgres needs a dsn"},
		{"api key env missing", "partners:\n  - name: acme\n    profile: generic\n    keys: [" + key + "]\n    api_keys: [env:ACME_KEY]\n", "partners[0].api_keys[0]: environment variable ACME_KEY is not set"},
		{"not yaml", "listen: [\n", "c.yaml:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(c.yaml), env(nil))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}

func TestDefaultsAndEnv(t *testing.T) {
	c, err := Parse("c.yaml", []byte("stores:\n  replay:\n    backend: redis\n"), env(map[string]string{"NONREP_REDIS_ADDR": "127.0.0.1:6379", "NONREP_LISTEN": "127.0.0.1:9999"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9999" || c.Stores.Replay.Addr != "127.0.0.1:6379" || c.Stores.Evidence.Backend != "sqlite" || c.DataDir != "nonrep-data" || c.Identity.Partner != "X-Nonrep-Partner" {
		t.Fatalf("%+v", c)
	}
	d := Default(env(nil))
	if d.Listen != "127.0.0.1:8080" || d.Signing.JWKSMaxAge.D().Seconds() != 600 {
		t.Fatalf("%+v", d)
	}
}

func TestExamplesValidate(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.yaml")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			wd, _ := os.Getwd()
			defer os.Chdir(wd)
			os.Chdir(filepath.Dir(f))
			if _, err := Load(filepath.Base(f)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
