package server_test

// Helpers of the end-to-end tests: the nonrep binary built once, `nonrep
// serve` processes, fixed partner keys from internal/testkeys, an upstream
// that records what it sees, a partner that verifies what egress sends,
// and a TCP proxy that can be stopped to take a store away.

import (
	"bytes"
	"crypto"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nonrep/nonrep/internal/loadgen"
	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/profile"
)

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// nonrepBin builds cmd/nonrep once per test binary (without -race: the
// processes under test are not what the race detector is checking).
func nonrepBin(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the nonrep binary; skipped with -short")
	}
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "nonrep-e2e-"); buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "nonrep")
		gobin, err := exec.LookPath("go")
		if err != nil {
			buildErr = err
			return
		}
		cmd := exec.Command(gobin, "build", "-o", binPath, "github.com/nonrep/nonrep/cmd/nonrep")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// cleanEnv is the environment without NONREP_* variables, which would
// override the generated configurations.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NONREP_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// lockedBuffer collects a process's output and reports the first line
// matching a pattern.
type lockedBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	line  []byte
	re    *regexp.Regexp
	match chan string
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
	if l.re == nil {
		return len(p), nil
	}
	l.line = append(l.line, p...)
	for {
		i := bytes.IndexByte(l.line, '\n')
		if i < 0 {
			break
		}
		if m := l.re.FindSubmatch(l.line[:i]); m != nil && l.match != nil {
			l.match <- string(m[1])
			l.match = nil
		}
		l.line = l.line[i+1:]
	}
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serveProc is one running `nonrep serve`.
type serveProc struct {
	t      testing.TB
	cmd    *exec.Cmd
	URL    string // http://127.0.0.1:PORT
	stdout *lockedBuffer
	stderr *lockedBuffer
	exited chan struct{}
	err    error
}

var listeningRE = regexp.MustCompile(`listening on (https?://\S+)`)

// startServe runs `nonrep serve ARGS...` and waits until it listens.
func startServe(t testing.TB, args []string, env ...string) *serveProc {
	t.Helper()
	return startServeIn(t, "", args, env...)
}

// startServeIn is startServe in working directory dir.
func startServeIn(t testing.TB, dir string, args []string, env ...string) *serveProc {
	t.Helper()
	ready := make(chan string, 1)
	p := &serveProc{t: t, exited: make(chan struct{}),
		stdout: &lockedBuffer{re: listeningRE, match: ready}, stderr: &lockedBuffer{}}
	p.cmd = exec.Command(nonrepBin(t), append([]string{"serve"}, args...)...)
	p.cmd.Env = cleanEnv(env...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("nonrep serve %v (pid %d) stderr:\n%s", args, p.cmd.Process.Pid, tail(p.stderr.String(), 4000))
		}
	})
	select {
	case u := <-ready:
		p.URL = u
	case <-p.exited:
		t.Fatalf("nonrep serve exited before listening (%v)\nstdout:\n%s\nstderr:\n%s", p.err, p.stdout, p.stderr)
	case <-time.After(60 * time.Second):
		p.kill()
		t.Fatalf("nonrep serve did not listen within 60 s\nstderr:\n%s", p.stderr)
	}
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func (p *serveProc) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.t.Fatal(err)
	}
}

// kill sends SIGKILL (if still running) and waits.
func (p *serveProc) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.exited
}

// wait waits for the process to exit and returns its exit code.
func (p *serveProc) wait(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(d):
		p.t.Fatalf("nonrep serve did not exit within %v", d)
	}
	if p.err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -int(ws.Signal())
		}
		return ee.ExitCode()
	}
	p.t.Fatalf("wait: %v", p.err)
	return -1
}

// running reports whether the process has not exited.
func (p *serveProc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// runNonrep runs a nonrep command to completion.
func runNonrep(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runNonrepDir(t, "", nil, args...)
}

// runNonrepDir runs a nonrep command in dir with extra environment.
func runNonrepDir(t testing.TB, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(nonrepBin(t), args...)
	cmd.Env = cleanEnv(env...)
	cmd.Dir = dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("nonrep %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// --- keys and signers ---

// fixture holds the partner keys (files) and our signers, all from
// internal/testkeys.
type fixture struct {
	dir string
	// Files by role: "generic.pub" etc. for partners; "egress-incomm" etc.
	// for our egress keys; "roots" (test root), "swift-chain" (leaf +
	// intermediate), "server-chain".
	files map[string]string
	// signers of the partners, by profile name.
	partners map[string]*loadgen.Source
	// egressPub verifies what our egress signs, by profile name.
	egressPub map[string]*jose.JWK
}

type keySpec struct {
	profile, key, kid string
	alg               jose.Alg
}

// Partner keys (they sign, we verify) and our egress keys (we sign).
var (
	partnerKeys = []keySpec{
		{"generic", "p256", "gen-1", jose.ES256},
		{"incomm", "rsa3072", "incomm-1", jose.PS512},
		{"ebanx", "rsa4096", "ebanx-1", jose.RS256},
		{"openbanking", "rsa2048", "ob-1", jose.PS256},
	}
	egressKeys = []keySpec{
		{"generic", "p256b", "us-gen-1", jose.ES256},
		{"incomm", "rsa3072b", "us-incomm-1", jose.PS512},
		{"ebanx", "rsa4096b", "us-ebanx-1", jose.RS256},
		{"openbanking", "rsa2048", "us-ob-1", jose.PS256},
	}
	profiles = []string{"generic", "incomm", "ebanx", "openbanking", "swift"}
)

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir(), files: map[string]string{}, partners: map[string]*loadgen.Source{}, egressPub: map[string]*jose.JWK{}}
	for _, k := range partnerKeys {
		j := mustJWK(t, testkeys.Key(k.key), k.kid, k.alg)
		f.write(t, k.profile+".pub", ".jwk", mustJSON(t, j.Public()))
		prof, _ := profile.ByName(k.profile)
		if k.profile == "openbanking" {
			prof = profile.OpenBanking{Issuer: "tpp-1"}
		}
		f.partners[k.profile] = &loadgen.Source{Profile: prof, Signer: &profile.Signer{Key: mustSigningKey(t, j, k.alg)}}
	}
	leaf := mustJWK(t, testkeys.Key("leaf"), "", jose.RS256)
	f.partners["swift"] = &loadgen.Source{Profile: profile.Swift{}, Signer: &profile.Signer{Key: mustSigningKey(t, leaf, jose.RS256), Chain: testkeys.Chain("leaf")}}
	for _, k := range egressKeys {
		j := mustJWK(t, testkeys.Key(k.key), k.kid, k.alg)
		f.write(t, "egress-"+k.profile, ".jwk", mustJSON(t, j))
		f.egressPub[k.profile] = j.Public()
	}
	f.write(t, "egress-swift", ".jwk", mustJSON(t, leaf))
	f.write(t, "roots", ".pem", certPEM("root"))
	f.write(t, "swift-chain", ".pem", certPEM("leaf", "intermediate"))
	f.write(t, "server-chain", ".pem", certPEM("server", "intermediate"))
	f.write(t, "server-key", ".jwk", mustJSON(t, mustJWK(t, testkeys.Key("server"), "", jose.RS256)))
	return f
}

func (f *fixture) write(t testing.TB, name, ext string, data []byte) {
	path := filepath.Join(f.dir, name+ext)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f.files[name] = path
}

func certPEM(names ...string) []byte {
	var b []byte
	for _, n := range names {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: testkeys.Cert(n).Raw})...)
	}
	return b
}

func mustJWK(t testing.TB, k crypto.Signer, kid string, alg jose.Alg) *jose.JWK {
	t.Helper()
	j, err := jose.NewJWK(k, kid, alg)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func mustSigningKey(t testing.TB, j *jose.JWK, alg jose.Alg) *jose.SigningKey {
	t.Helper()
	k, err := jose.NewSigningKey(j, alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustJSON(t testing.TB, v json.Marshaler) []byte {
	t.Helper()
	b, err := v.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// partnersYAML is the partners section: one partner per profile, named
// acme-PROFILE, each with its own max_lifetime.
func (f *fixture) partnersYAML() string {
	var b strings.Builder
	b.WriteString("partners:\n")
	for _, p := range profiles {
		fmt.Fprintf(&b, "  - name: acme-%s\n    profile: %s\n", p, p)
		if p == "swift" {
			fmt.Fprintf(&b, "    roots: %s\n", f.files["roots"])
		} else {
			fmt.Fprintf(&b, "    keys: [%s]\n", f.files[p+".pub"])
		}
	}
	return b.String()
}

// routesYAML routes /PROFILE/ to upstream with the prefix stripped.
func routesYAML(upstream string) string {
	var b strings.Builder
	b.WriteString("routes:\n")
	for _, p := range profiles {
		fmt.Fprintf(&b, "  - path: /%s/\n    partner: acme-%s\n    upstream: %s\n    strip_prefix: true\n", p, p, upstream)
	}
	return b.String()
}

func writeConfig(t testing.TB, dir, yaml string) string {
	t.Helper()
	path := filepath.Join(dir, "nonrep.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// --- requests ---

// signFor signs body for profile p to url.
func (f *fixture) signFor(t testing.TB, p, rawURL string, body []byte) *loadgen.Signed {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	src := *f.partners[p]
	src.Body = func(int) []byte { return body }
	s, err := src.Sign(u, 0)
	if err != nil {
		t.Fatalf("sign %s: %v", p, err)
	}
	return s
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// problemCode is the code of a problem+json response ("" otherwise).
func (r *response) problemCode() string {
	if r.Header.Get("Content-Type") != "application/problem+json" {
		return ""
	}
	var p struct {
		Code string `json:"code"`
	}
	json.Unmarshal(r.Body, &p)
	return p.Code
}

var client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 32}}

func send(t testing.TB, s *loadgen.Signed) *response {
	t.Helper()
	r, err := trySend(client, s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func trySend(c *http.Client, s *loadgen.Signed) (*response, error) {
	req, err := http.NewRequest(s.Method, s.URL.String(), bytes.NewReader(s.Body))
	if err != nil {
		return nil, err
	}
	for k, v := range s.Header {
		req.Header[k] = v
	}
	return do(c, req)
}

func do(c *http.Client, req *http.Request) (*response, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

func get(t testing.TB, u string, h ...string) *response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(h); i += 2 {
		req.Header.Set(h[i], h[i+1])
	}
	r, err := do(client, req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// --- upstream ---

// seen is one request as the upstream received it.
type seen struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
}

// upstream records every request; hold, when set, is called before it
// answers (to keep a request in flight).
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
	hold func(r *http.Request)
}

func newUpstream(t testing.TB) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
		hold := u.hold
		u.mu.Unlock()
		if hold != nil {
			hold(r)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"accepted"}`))
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

func (u *upstream) last() seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.reqs[len(u.reqs)-1]
}

func (u *upstream) all() []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seen(nil), u.reqs...)
}

// --- a stoppable TCP proxy (a store going away and coming back) ---

type tcpProxy struct {
	t      testing.TB
	target string
	Addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

func newTCPProxy(t testing.TB, target string) *tcpProxy {
	p := &tcpProxy{t: t, target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.Addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.Stop)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
}

func (p *tcpProxy) pipe(c net.Conn) {
	u, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // stopped meanwhile
		p.mu.Unlock()
		c.Close()
		u.Close()
		return
	}
	p.conns[c], p.conns[u] = true, true
	p.mu.Unlock()
	go func() { io.Copy(u, c); u.Close(); c.Close() }()
	io.Copy(c, u)
	c.Close()
	u.Close()
}

// Stop closes the listener and every connection: the store is gone.
func (p *tcpProxy) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

// Start listens again on the same address: the store is back.
func (p *tcpProxy) Start() {
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", p.Addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy: listen again on %s: %v", p.Addr, err)
	}
	p.serve(ln)
}

// eventually retries f until it returns nil or d passes.
func eventually(t testing.TB, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
