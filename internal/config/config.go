// Package config reads and validates nonrep serve's YAML configuration.
// Every error names the line and the field at fault; secrets and addresses
// may come from the environment.
package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/nonrep/nonrep/profile"
)

// Config is the whole file. Zero values mean the documented defaults.
type Config struct {
	// Listen is the gateway's address (default 127.0.0.1:8080).
	Listen string `yaml:"listen"`
	// DataDir holds the SQLite files and generated keys (default
	// ./nonrep-data).
	DataDir string `yaml:"data_dir"`
	// TLS, when set, serves HTTPS (and mTLS when ClientCA is set).
	TLS *TLS `yaml:"tls"`
	// Stores selects the backends.
	Stores Stores `yaml:"stores"`
	// Signing is our own signing key (JWKS, Swift response integrity).
	Signing Signing `yaml:"signing"`
	// Limits caps requests.
	Limits Limits `yaml:"limits"`
	// Identity names the headers that carry the verified identity
	// upstream; incoming copies are always removed.
	Identity Identity  `yaml:"identity"`
	Partners []Partner `yaml:"partners"`
	Routes   []Route   `yaml:"routes"`
	Egress   []Egress  `yaml:"egress"`
	// TxSign mounts the transaction-signing API at /txsign/.
	TxSign TxSign `yaml:"txsign"`
}

// TxSign configures the transaction-signing service.
type TxSign struct {
	Enabled bool `yaml:"enabled"`
	// Issuer is the iss of tokens (default http://LISTEN/txsign).
	Issuer string `yaml:"issuer"`
	// Audiences are the payment APIs tokens may be issued for; the first
	// is the default. Required when enabled.
	Audiences []string `yaml:"audiences"`
	// Clients maps relying apps' client_id to their bearer token, Users
	// user ids to theirs ("env:NAME" reads the environment). A real
	// deployment puts an OAuth validator here; these are for
	// service-to-service secrets and demos.
	Clients map[string]string `yaml:"clients"`
	Users   map[string]string `yaml:"users"`
}

// TLS configures the listener.
type TLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// ClientCA, when set, requires and verifies client certificates
	// (mTLS) against this PEM bundle.
	ClientCA string `yaml:"client_ca"`
}

// Stores selects backends.
type Stores struct {
	// Evidence: "sqlite" (default, DataDir/evidence.db) or "postgres".
	Evidence Store `yaml:"evidence"`
	// Replay: "memory" (default) or "redis".
	Replay Store `yaml:"replay"`
}

// Store is one backend choice.
type Store struct {
	Backend string `yaml:"backend"`
	// DSN for postgres (NONREP_POSTGRES_DSN overrides); Addr for redis
	// (NONREP_REDIS_ADDR overrides); Path for sqlite.
	DSN  string `yaml:"dsn"`
	Addr string `yaml:"addr"`
	Path string `yaml:"path"`
}

// Signing is our key.
type Signing struct {
	// Key is a private JWK file (default DataDir/signing.jwk, generated
	// as ES256 on first start).
	Key string `yaml:"key"`
	// Cert is a PEM chain for Swift response integrity (x5c), leaf first.
	Cert string `yaml:"cert"`
	// JWKSMaxAge is advertised on /.well-known/jwks.json (default 600 s).
	JWKSMaxAge Duration `yaml:"jwks_max_age"`
}

// Limits caps requests.
type Limits struct {
	MaxBody        int64 `yaml:"max_body"`
	MaxHeaderBytes int   `yaml:"max_header_bytes"`
	MaxConcurrent  int   `yaml:"max_concurrent"`
	// UpstreamTimeout bounds a forwarded request (default 30 s).
	UpstreamTimeout Duration `yaml:"upstream_timeout"`
}

// Identity names the upstream identity headers.
type Identity struct {
	Partner    string `yaml:"partner"`
	Kid        string `yaml:"kid"`
	Subject    string `yaml:"subject"`
	Thumbprint string `yaml:"thumbprint"`
	Evidence   string `yaml:"evidence"`
}

// Partner is one partner we verify.
type Partner struct {
	Name    string `yaml:"name"`
	Profile string `yaml:"profile"`
	// OBVersion is the Open Banking API version (profile openbanking).
	OBVersion string `yaml:"ob_version"`
	// Keys are JWK, JWKS or PEM files with the partner's public keys.
	Keys []string `yaml:"keys"`
	// JWKSURL is the partner's JWKS endpoint (https), cached with
	// stale-while-revalidate; JWKSCA, a PEM bundle, replaces the system
	// roots for it (a private CA).
	JWKSURL string `yaml:"jwks_url"`
	JWKSCA  string `yaml:"jwks_ca"`
	// Roots is a PEM bundle of trust anchors (Swift x5c).
	Roots string `yaml:"roots"`
	// Algs narrows the allowed algorithms (Generic).
	Algs        []string `yaml:"algs"`
	Skew        Duration `yaml:"skew"`
	MaxLifetime Duration `yaml:"max_lifetime"`
	Lenient     bool     `yaml:"lenient"`
	// Detect puts the partner in detection mode: verify and record, never
	// block.
	Detect        bool    `yaml:"detect"`
	Rate          float64 `yaml:"rate"`
	Burst         int     `yaml:"burst"`
	MaxConcurrent int     `yaml:"max_concurrent"`
	// APIKeys identify the partner on routes that resolve by API key.
	// Write "env:NAME" to read a key from the environment.
	APIKeys []string `yaml:"api_keys"`
	// ClientCertSubject identifies the partner on mTLS routes by its
	// client certificate's subject DN (as Go prints it).
	ClientCertSubject string `yaml:"client_cert_subject"`
}

// Route is one verified path.
type Route struct {
	// Path is a net/http ServeMux pattern, e.g. "/partners/acme/".
	Path string `yaml:"path"`
	// Partner resolution: "fixed" (default; Partner names it), "api_key"
	// (header APIKeyHeader, default X-API-Key) or "mtls". "txn_token"
	// guards a payment API with transaction tokens instead: each request
	// carries a token issued by our txsign service (Authorization:
	// Bearer), whose aud must be Audience, and a body whose
	// "authorization_details" are exactly the ones the customer approved;
	// the token is consumed once.
	Resolve      string `yaml:"resolve"`
	Partner      string `yaml:"partner"`
	APIKeyHeader string `yaml:"api_key_header"`
	// Upstream is the URL requests are forwarded to, or "echo" for the
	// built-in echo service.
	Upstream string `yaml:"upstream"`
	// Audience is this API's aud for txn_token routes.
	Audience string `yaml:"audience"`
	// StripPrefix removes Path's literal prefix before forwarding.
	StripPrefix bool `yaml:"strip_prefix"`
	// SignResponse adds X-SWIFT-Integrity to responses (needs
	// signing.cert); the audience is the partner's certificate subject.
	SignResponse bool `yaml:"sign_response"`
}

// Egress is one partner we sign for.
type Egress struct {
	// Name is the path segment apps use: /egress/NAME/...
	Name    string `yaml:"name"`
	Profile string `yaml:"profile"`
	// Target is the partner's base URL.
	Target string `yaml:"target"`
	// Key is our private JWK for this partner; Cert the PEM chain (Swift).
	Key  string `yaml:"key"`
	Cert string `yaml:"cert"`
	// OBIssuer and OBVersion for Open Banking.
	OBIssuer  string `yaml:"ob_issuer"`
	OBVersion string `yaml:"ob_version"`
	// IntegrityRoots, when set (Swift), verifies responses'
	// X-SWIFT-Integrity against these roots.
	IntegrityRoots string `yaml:"integrity_roots"`
}

// Duration is a time.Duration written as "30s", "5m".
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a duration like 30s or 5m", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Error is a configuration error at a line.
type Error struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
	}
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

// Errors is every problem found, in file order.
type Errors []*Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Load reads, decodes, applies environment overrides and defaults, and
// validates the file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, os.Getenv)
}

// Parse is Load on bytes; getenv supplies the environment.
func Parse(name string, data []byte, getenv func(string) string) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Errors{yamlErr(name, err)}
	}
	var c Config
	if len(root.Content) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil {
			return nil, Errors{yamlErr(name, err)}
		}
	}
	c.applyEnv(getenv)
	c.defaults()
	if errs := c.validate(name, &root, getenv); len(errs) > 0 {
		return nil, errs
	}
	return &c, nil
}

// Default is the configuration of `nonrep serve` without a file.
func Default(getenv func(string) string) *Config {
	c := &Config{}
	c.applyEnv(getenv)
	c.defaults()
	return c
}

func yamlErr(name string, err error) *Error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
	line := 0
	if strings.HasPrefix(msg, "line ") {
		rest := msg[5:]
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				line = n
				msg = strings.TrimSpace(rest[i+1:])
			}
		}
	}
	msg = strings.ReplaceAll(msg, "\n  ", "; ")
	return &Error{File: name, Line: line, Msg: msg}
}

func (c *Config) applyEnv(getenv func(string) string) {
	if v := getenv("NONREP_LISTEN"); v != "" {
		c.Listen = v
	}
	if v := getenv("NONREP_DATA_DIR"); v != "" {
		c.DataDir = v
	}
	if v := getenv("NONREP_POSTGRES_DSN"); v != "" {
		c.Stores.Evidence.DSN = v
	}
	if v := getenv("NONREP_REDIS_ADDR"); v != "" {
		c.Stores.Replay.Addr = v
	}
}

func (c *Config) defaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.DataDir == "" {
		c.DataDir = "nonrep-data"
	}
	if c.Stores.Evidence.Backend == "" {
		c.Stores.Evidence.Backend = "sqlite"
	}
	if c.Stores.Replay.Backend == "" {
		c.Stores.Replay.Backend = "memory"
	}
	if c.Signing.JWKSMaxAge == 0 {
		c.Signing.JWKSMaxAge = Duration(600 * time.Second)
	}
	if c.Limits.UpstreamTimeout == 0 {
		c.Limits.UpstreamTimeout = Duration(30 * time.Second)
	}
	id := &c.Identity
	for _, f := range []struct {
		p   *string
		def string
	}{
		{&id.Partner, "X-Nonrep-Partner"}, {&id.Kid, "X-Nonrep-Kid"}, {&id.Subject, "X-Nonrep-Subject"},
		{&id.Thumbprint, "X-Nonrep-Key-Thumbprint"}, {&id.Evidence, "X-Nonrep-Evidence"},
	} {
		if *f.p == "" {
			*f.p = f.def
		}
	}
	for i := range c.Routes {
		if c.Routes[i].Resolve == "" {
			c.Routes[i].Resolve = "fixed"
		}
		if c.Routes[i].APIKeyHeader == "" {
			c.Routes[i].APIKeyHeader = "X-API-Key"
		}
	}
}

// Secret resolves a value written as "env:NAME".
func Secret(v string, getenv func(string) string) (string, error) {
	if name, ok := strings.CutPrefix(v, "env:"); ok {
		s := getenv(name)
		if s == "" {
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
		return s, nil
	}
	return v, nil
}

// validator collects errors with their lines.
type validator struct {
	file string
	root *yaml.Node
	errs Errors
}

// line finds the line of a field by path, e.g. ("partners", 2, "profile").
func (v *validator) line(path ...any) int {
	n := v.root
	if n == nil || len(n.Content) == 0 {
		return 0
	}
	n = n.Content[0]
	last := n.Line
	for _, p := range path {
		switch k := p.(type) {
		case string:
			if n.Kind != yaml.MappingNode {
				return last
			}
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == k {
					last = n.Content[i].Line
					n = n.Content[i+1]
					found = true
					break
				}
			}
			if !found {
				return last
			}
		case int:
			if n.Kind != yaml.SequenceNode || k >= len(n.Content) {
				return last
			}
			n = n.Content[k]
			last = n.Line
		}
	}
	return last
}

func (v *validator) fail(field string, path []any, format string, args ...any) {
	v.errs = append(v.errs, &Error{File: v.file, Line: v.line(path...), Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (c *Config) validate(file string, root *yaml.Node, getenv func(string) string) Errors {
	v := &validator{file: file, root: root}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		v.fail("listen", []any{"listen"}, "%q is not host:port", c.Listen)
	}
	if t := c.TLS; t != nil && (t.Cert == "" || t.Key == "") {
		v.fail("tls", []any{"tls"}, "cert and key are both required")
	}
	switch c.Stores.Evidence.Backend {
	case "sqlite":
	case "postgres":
		if c.Stores.Evidence.DSN == "" {
			v.fail("stores.evidence.dsn", []any{"stores", "evidence", "backend"}, "postgres needs a dsn (or NONREP_POSTGRES_DSN)")
		}
	default:
		v.fail("stores.evidence.backend", []any{"stores", "evidence", "backend"}, "%q: use sqlite or postgres", c.Stores.Evidence.Backend)
	}
	switch c.Stores.Replay.Backend {
	case "memory":
	case "redis":
		if c.Stores.Replay.Addr == "" {
			v.fail("stores.replay.addr", []any{"stores", "replay", "backend"}, "redis needs an addr (or NONREP_REDIS_ADDR)")
		}
	default:
		v.fail("stores.replay.backend", []any{"stores", "replay", "backend"}, "%q: use memory or redis", c.Stores.Replay.Backend)
	}
	partners := map[string]*Partner{}
	for i := range c.Partners {
		p := &c.Partners[i]
		at := func(f string) []any { return []any{"partners", i, f} }
		field := func(f string) string { return fmt.Sprintf("partners[%d].%s", i, f) }
		switch {
		case p.Name == "":
			v.fail(field("name"), at("name"), "required")
		case partners[p.Name] != nil:
			v.fail(field("name"), at("name"), "partner %q is defined twice", p.Name)
		default:
			partners[p.Name] = p
		}
		if _, ok := profile.ByName(p.Profile); !ok {
			v.fail(field("profile"), at("profile"), "%q: use one of %s", p.Profile, strings.Join(profile.Names(), ", "))
		}
		if p.Profile == "swift" {
			if p.Roots == "" {
				v.fail(field("roots"), at("roots"), "swift partners need trust roots (a PEM file)")
			}
		} else if len(p.Keys) == 0 && p.JWKSURL == "" {
			v.fail(field("keys"), at("keys"), "at least one key file or a jwks_url is required")
		}
		if p.JWKSURL != "" {
			if u, err := url.Parse(p.JWKSURL); err != nil || u.Scheme != "https" || u.Host == "" {
				v.fail(field("jwks_url"), at("jwks_url"), "%q is not an https URL", p.JWKSURL)
			}
		}
		for _, k := range append(slices.Clone(p.Keys), p.Roots, p.JWKSCA) {
			if k == "" {
				continue
			}
			if _, err := os.Stat(k); err != nil {
				v.fail(field("keys"), at("keys"), "%v", err)
			}
		}
		for j, k := range p.APIKeys {
			if _, err := Secret(k, getenv); err != nil {
				v.fail(fmt.Sprintf("partners[%d].api_keys[%d]", i, j), at("api_keys"), "%v", err)
			}
		}
		if p.Rate < 0 || p.Burst < 0 || p.MaxConcurrent < 0 {
			v.fail(field("rate"), at("rate"), "rate, burst and max_concurrent must not be negative")
		}
	}
	paths := map[string]bool{}
	for i := range c.Routes {
		r := &c.Routes[i]
		at := func(f string) []any { return []any{"routes", i, f} }
		field := func(f string) string { return fmt.Sprintf("routes[%d].%s", i, f) }
		if !strings.HasPrefix(r.Path, "/") {
			v.fail(field("path"), at("path"), "%q must start with /", r.Path)
		} else if paths[r.Path] {
			v.fail(field("path"), at("path"), "%q is routed twice", r.Path)
		}
		paths[r.Path] = true
		switch r.Resolve {
		case "fixed":
			if partners[r.Partner] == nil {
				v.fail(field("partner"), at("partner"), "no partner named %q", r.Partner)
			}
		case "txn_token":
			if !c.TxSign.Enabled {
				v.fail(field("resolve"), at("resolve"), "txn_token needs txsign.enabled")
			}
			if r.Audience == "" {
				v.fail(field("audience"), at("resolve"), "txn_token needs the audience tokens are issued for")
			}
		case "api_key", "mtls":
			if r.Resolve == "mtls" && (c.TLS == nil || c.TLS.ClientCA == "") {
				v.fail(field("resolve"), at("resolve"), "mtls needs tls.client_ca")
			}
		default:
			v.fail(field("resolve"), at("resolve"), "%q: use fixed, api_key, mtls or txn_token", r.Resolve)
		}
		if r.Upstream != "echo" {
			if u, err := url.Parse(r.Upstream); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				v.fail(field("upstream"), at("upstream"), "%q: an http(s) URL or echo", r.Upstream)
			}
		}
		if r.SignResponse && c.Signing.Cert == "" {
			v.fail(field("sign_response"), at("sign_response"), "needs signing.cert (the chain for x5c)")
		}
	}
	if t := c.TxSign; t.Enabled {
		if len(t.Audiences) == 0 {
			v.fail("txsign.audiences", []any{"txsign", "enabled"}, "at least one audience (a payment API) is required")
		}
		if len(t.Clients) == 0 {
			v.fail("txsign.clients", []any{"txsign", "enabled"}, "at least one client (client_id: token) is required")
		}
		for _, m := range []map[string]string{t.Clients, t.Users} {
			for id, tok := range m {
				if _, err := Secret(tok, getenv); err != nil {
					v.fail("txsign."+id, []any{"txsign"}, "%v", err)
				}
			}
		}
	}
	names := map[string]bool{}
	for i := range c.Egress {
		e := &c.Egress[i]
		at := func(f string) []any { return []any{"egress", i, f} }
		field := func(f string) string { return fmt.Sprintf("egress[%d].%s", i, f) }
		if e.Name == "" || strings.ContainsAny(e.Name, "/ ") {
			v.fail(field("name"), at("name"), "%q: a path segment is required", e.Name)
		} else if names[e.Name] {
			v.fail(field("name"), at("name"), "%q is defined twice", e.Name)
		}
		names[e.Name] = true
		if _, ok := profile.ByName(e.Profile); !ok {
			v.fail(field("profile"), at("profile"), "%q: use one of %s", e.Profile, strings.Join(profile.Names(), ", "))
		}
		if u, err := url.Parse(e.Target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.fail(field("target"), at("target"), "%q is not an http(s) URL", e.Target)
		}
		if e.Key == "" {
			v.fail(field("key"), at("key"), "required: our private JWK for this partner")
		}
		if e.Profile == "swift" && e.Cert == "" {
			v.fail(field("cert"), at("cert"), "swift needs the certificate chain")
		}
		if strings.HasPrefix(e.Profile, "openbanking") && e.OBIssuer == "" {
			v.fail(field("ob_issuer"), at("ob_issuer"), "openbanking needs ob_issuer")
		}
	}
	return v.errs
}

// TxSignIssuer is the iss of our transaction tokens.
func (c *Config) TxSignIssuer() string {
	if c.TxSign.Issuer != "" {
		return c.TxSign.Issuer
	}
	return "http://" + c.Listen + "/txsign"
}

// PolicyVersion names this configuration in evidence records: a digest of
// the partners' verification settings, so a record says which policy
// judged it.
func (c *Config) PolicyVersion() string {
	h := sha256.New()
	for _, p := range c.Partners {
		fmt.Fprintf(h, "%s|%s|%s|%v|%v|%v|%v|%v|%s|%s\n", p.Name, p.Profile, p.OBVersion, p.Keys, p.Roots, p.Algs, p.Skew, p.MaxLifetime, strconv.FormatBool(p.Lenient), strconv.FormatBool(p.Detect))
	}
	return "config-sha256:" + hex.EncodeToString(h.Sum(nil))[:16]
}
