package profile

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nonrep/nonrep/jose"
)

// This file holds the helpers every profile test shares (keys, a test PKI,
// messages, hand-made headers) and the tests of profile.go itself.

// t0 is the fixed "now" of every test; signers and verifiers use it unless a
// case moves one of the clocks.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(t time.Time) func() time.Time { return func() time.Time { return t } }

func TestMain(m *testing.M) {
	// RSA key generation is slow (RSA-4096 takes seconds under -race): start
	// every key the tests need at once, in the background, so that the
	// parallel tests find them ready or nearly so. Not in fuzzing runs,
	// whose targets need no keys and whose workers each run TestMain.
	flag.Parse()
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		os.Exit(m.Run())
	}
	for _, s := range warmSlots {
		go rsaKey(s.bits, s.idx)
	}
	go testPKI()
	os.Exit(m.Run())
}

// warmSlots are the RSA keys TestMain starts making.
var warmSlots = []rsaSlot{{4096, 0}, {3072, 0}, {3072, 1}, {2048, 0}, {2048, 1}}

// waitKeys returns once every key TestMain started is made (so that no key
// generation runs behind a benchmark).
func waitKeys() {
	for _, s := range warmSlots {
		rsaKey(s.bits, s.idx)
	}
	testPKI()
}

// ---- keys, generated once per test binary --------------------------------

type rsaSlot struct{ bits, idx int }

var rsaKeys sync.Map // rsaSlot → func() *rsa.PrivateKey

// rsaKey returns the idx-th cached RSA key of the given size.
func rsaKey(bits, idx int) *rsa.PrivateKey {
	f, _ := rsaKeys.LoadOrStore(rsaSlot{bits, idx}, sync.OnceValue(func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			panic(err)
		}
		return k
	}))
	return f.(func() *rsa.PrivateKey)()
}

// impostor returns an RSA public key of the same size as k's that is not
// k's: for "right kid, wrong key" cases without generating another large
// key. (N+2 is odd and has the same length; nobody holds its private key.)
func impostor(k *rsa.PrivateKey) *rsa.PublicKey {
	return &rsa.PublicKey{N: new(big.Int).Add(k.N, big.NewInt(2)), E: k.E}
}

func pubOf(t testing.TB, key any, kid string) *jose.JWK {
	t.Helper()
	k, err := jose.NewJWK(key, kid, "")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var (
	ecKeys = [2]func() *ecdsa.PrivateKey{sync.OnceValue(newEC), sync.OnceValue(newEC)}
	edKeys = [2]func() ed25519.PrivateKey{sync.OnceValue(newEd), sync.OnceValue(newEd)}
)

func newEC() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

func newEd() ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

func sk(priv crypto.Signer, alg jose.Alg, kid string) *jose.SigningKey {
	return &jose.SigningKey{Alg: alg, Kid: kid, Signer: priv}
}

func pub(t testing.TB, priv crypto.Signer, kid string) *jose.JWK {
	t.Helper()
	k, err := jose.NewJWK(priv.Public(), kid, "")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keySet(t testing.TB, keys ...*jose.JWK) *jose.KeySet {
	t.Helper()
	s, err := jose.NewKeySet(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ---- a test PKI for Swift: root → intermediate → leaf --------------------

type pki struct {
	root, inter, leaf *x509.Certificate
	leafKey           *rsa.PrivateKey
	chain             [][]byte // x5c: leaf, intermediate
	roots             *x509.CertPool
}

var serial int64 = 100

var serialMu sync.Mutex

func nextSerial() *big.Int {
	serialMu.Lock()
	defer serialMu.Unlock()
	serial++
	return big.NewInt(serial)
}

func mustCert(tmpl, parent *x509.Certificate, pubKey any, signer crypto.Signer) *x509.Certificate {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pubKey, signer)
	if err != nil {
		panic(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return c
}

// swiftLeafDN is the default leaf subject, SWIFTNet style.
var swiftLeafDN = pkix.Name{
	CommonName:         "api-client",
	OrganizationalUnit: []string{"payments"},
	Organization:       []string{"bankbebb", "swift"},
	Country:            []string{"BE"},
}

// newPKI builds a CA hierarchy whose leaf (subject, key usage) holds
// leafKey. The root and intermediate keys are P-256: cheap to make.
func newPKI(subject pkix.Name, usage x509.KeyUsage, leafKey *rsa.PrivateKey) *pki {
	return newPKIRaw(subject, nil, usage, leafKey)
}

// newPKIRaw is newPKI with the leaf subject given as DER when rawSubject is
// set (to make subjects pkix.Name cannot express).
func newPKIRaw(subject pkix.Name, rawSubject []byte, usage x509.KeyUsage, leafKey *rsa.PrivateKey) *pki {
	rootKey, interKey := newEC(), newEC()
	nb, na := t0.Add(-24*time.Hour), t0.Add(5*365*24*time.Hour)
	rootT := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: "Test Root", Organization: []string{"nonrep tests"}},
		NotBefore: nb, NotAfter: na, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	root := mustCert(rootT, rootT, rootKey.Public(), rootKey)
	interT := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: "Test Intermediate", Organization: []string{"nonrep tests"}},
		NotBefore: nb, NotAfter: na, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	inter := mustCert(interT, root, interKey.Public(), rootKey)
	leafT := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: subject, RawSubject: rawSubject,
		NotBefore: nb, NotAfter: na, KeyUsage: usage,
	}
	leaf := mustCert(leafT, inter, leafKey.Public(), interKey)
	roots := x509.NewCertPool()
	roots.AddCert(root)
	return &pki{root: root, inter: inter, leaf: leaf, leafKey: leafKey, chain: [][]byte{leaf.Raw, inter.Raw}, roots: roots}
}

var testPKI = sync.OnceValue(func() *pki {
	return newPKI(swiftLeafDN, x509.KeyUsageDigitalSignature, rsaKey(2048, 0))
})

// otherPKI is an unrelated hierarchy with the same leaf key and subject.
var otherPKI = sync.OnceValue(func() *pki {
	return newPKI(swiftLeafDN, x509.KeyUsageDigitalSignature, rsaKey(2048, 0))
})

// ---- messages ------------------------------------------------------------

const testBody = `{"amount":"100.00","currency":"USD","payee":"ACME"}`

func newMessage() *Message {
	return &Message{
		Method:   "POST",
		Host:     "api.example.com",
		Path:     "/v0/payments/closed-loop/sale",
		RawQuery: "b=2&a=1",
		Header:   http.Header{"Content-Type": {"application/json"}},
		Body:     []byte(testBody),
	}
}

func (m *Message) clone() *Message {
	c := *m
	c.Header = m.Header.Clone()
	if c.Header == nil {
		c.Header = http.Header{}
	}
	c.Body = bytes.Clone(m.Body)
	return &c
}

// apply returns a copy of m carrying the signature.
func apply(m *Message, s *Signature) *Message {
	c := m.clone()
	for name, vs := range s.Header {
		c.Header[name] = slices.Clone(vs)
	}
	if s.Body != nil {
		c.Body = bytes.Clone(s.Body)
	}
	return c
}

func mustSign(t testing.TB, p Profile, m *Message, s *Signer) *Message {
	t.Helper()
	sig, err := p.Sign(m, s)
	if err != nil {
		t.Fatalf("%s Sign: %v", p.Name(), err)
	}
	return apply(m, sig)
}

func mustVerifier(t testing.TB, p Profile, tr Trust) Verifier {
	t.Helper()
	v, err := p.NewVerifier(tr)
	if err != nil {
		t.Fatalf("%s NewVerifier: %v", p.Name(), err)
	}
	return v
}

// check runs Parse then Verify.
func check(v Verifier, m *Message) (*Result, error) {
	p, err := v.Parse(m)
	if err != nil {
		return nil, err
	}
	return v.Verify(context.Background(), p)
}

func wantCode(t testing.TB, err error, want jose.Code) {
	t.Helper()
	if got := jose.CodeOf(err); got != want {
		t.Fatalf("code = %q, want %q (err: %v)", string(got), string(want), err)
	}
	if want != "" && !strings.HasPrefix(err.Error(), "jose: "+string(want)) {
		t.Fatalf("error %q does not start with its code %q", err, want)
	}
}

// ---- hand-made protected headers and claims ------------------------------

// members is an ordered JSON object: name and raw JSON value pairs.
type members [][2]string

func (ms members) set(name, raw string) members {
	out := slices.Clone(ms)
	for i := range out {
		if out[i][0] == name {
			out[i][1] = raw
			return out
		}
	}
	return append(out, [2]string{name, raw})
}

func (ms members) del(names ...string) members {
	return slices.DeleteFunc(slices.Clone(ms), func(m [2]string) bool { return slices.Contains(names, m[0]) })
}

func (ms members) json() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		n, _ := json.Marshal(m[0])
		b.Write(n)
		b.WriteByte(':')
		b.WriteString(m[1])
	}
	b.WriteByte('}')
	return b.Bytes()
}

// q is s as a JSON string, without HTML escaping.
func q(s string) string {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	_ = e.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

func num(t time.Time) string { return jsonNum(t.Unix()) }

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }

// compact signs payload under the exact protected header and returns the
// compact serialization (detached: "header..signature").
func compact(t testing.TB, payload []byte, header members, detached bool, key *jose.SigningKey) string {
	t.Helper()
	j, err := jose.SignWithHeader(payload, header.json(), detached, jose.Compact, key)
	if err != nil {
		t.Fatalf("SignWithHeader(%s): %v", header.json(), err)
	}
	b, err := j.CompactBytes()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// swapHeader replaces the protected header of a compact JWS, keeping its
// payload and signature: the signature no longer covers the header.
func swapHeader(value string, header members) string {
	i := strings.IndexByte(value, '.')
	return base64.RawURLEncoding.EncodeToString(header.json()) + value[i:]
}

// ---- tests of profile.go ---------------------------------------------------

func TestCodes(t *testing.T) {
	want := []jose.Code{"header_missing", "request_mismatch", "digest_mismatch"}
	if got := Codes(); !slices.Equal(got, want) {
		t.Fatalf("Codes() = %q, want %q", got, want)
	}
	for _, c := range Codes() {
		if slices.Contains(jose.Codes(), c) {
			t.Errorf("code %q collides with a jose code", c)
		}
	}
}

func TestByName(t *testing.T) {
	for _, name := range Names() {
		p, ok := ByName(name)
		if !ok {
			t.Fatalf("ByName(%q) not found", name)
		}
		base, _, _ := strings.Cut(name, "-")
		if p.Name() != base {
			t.Errorf("ByName(%q).Name() = %q, want %q", name, p.Name(), base)
		}
	}
	if ob, _ := ByName("openbanking-3.1.3"); ob.(OpenBanking).Version != "3.1.3" {
		t.Errorf("openbanking-3.1.3 has version %q", ob.(OpenBanking).Version)
	}
	if ob, _ := ByName("openbanking"); ob.(OpenBanking).Version != "" {
		t.Errorf("openbanking has version %q", ob.(OpenBanking).Version)
	}
	for _, bad := range []string{"", "InComm", "rfc9421", "openbanking-3.1.4"} {
		if _, ok := ByName(bad); ok {
			t.Errorf("ByName(%q) found a profile", bad)
		}
	}
}

func TestFromRequest(t *testing.T) {
	r, err := http.NewRequest("PUT", "https://api.example.com:8443/v1/a%2Fb/c?x=1&y=%20", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("X-Test", "1")
	body := []byte("exact bytes")
	m := FromRequest(r, body)
	if m.Method != "PUT" || m.Host != "api.example.com:8443" || m.Path != "/v1/a%2Fb/c" || m.RawQuery != "x=1&y=%20" {
		t.Errorf("FromRequest = %+v", m)
	}
	if m.Header.Get("X-Test") != "1" || !bytes.Equal(m.Body, body) {
		t.Errorf("FromRequest lost the header or body: %+v", m)
	}

	// A server request: the path exactly as received, even where
	// URL.EscapedPath would re-encode it.
	for _, target := range []string{"/a%2fb?x=1", "/a{b}|c^d?q=%7e", "/café", "/plain", "/a%41"} {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: h:443\r\n\r\n")))
		if err != nil {
			t.Fatal(err)
		}
		m := FromRequest(r, nil)
		path, query, _ := strings.Cut(target, "?")
		if m.Path != path || m.RawQuery != query || m.Host != "h:443" || m.Method != "GET" {
			t.Errorf("request-target %q: Path %q RawQuery %q Host %q", target, m.Path, m.RawQuery, m.Host)
		}
	}
	// A proxy-style absolute-form target falls back to the URL.
	r, err = http.ReadRequest(bufio.NewReader(strings.NewReader("GET http://h/a%2Fb?x HTTP/1.1\r\nHost: h\r\n\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	if m := FromRequest(r, nil); m.Path != "/a%2Fb" || m.RawQuery != "x" {
		t.Errorf("absolute-form: Path %q RawQuery %q", m.Path, m.RawQuery)
	}
}

// TestConcurrentVerify shares one Verifier between goroutines (run with
// -race).
func TestConcurrentVerify(t *testing.T) {
	t.Parallel()
	for _, fx := range allFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			t.Parallel()
			v := mustVerifier(t, fx.p, fx.trust)
			good := mustSign(t, fx.p, newMessage(), fx.signer)
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for i := range 8 {
				wg.Go(func() {
					m := good
					if i%2 == 1 {
						m = corrupt(t, fx, good)
					}
					_, err := check(v, m)
					if i%2 == 0 && err != nil || i%2 == 1 && jose.CodeOf(err) != jose.SignatureInvalid {
						errs <- fmt.Errorf("goroutine %d: %v", i, err)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

func TestNewVerifierNeedsKeys(t *testing.T) {
	for _, p := range []Profile{InComm{}, EBANX{}, OpenBanking{}, OpenBanking{Version: "3.1.3"}, Generic{}, Generic{Header: "X-JWS-Signature"}} {
		_, err := p.NewVerifier(Trust{})
		wantCode(t, err, jose.PolicyInvalid)
	}
	_, err := Swift{}.NewVerifier(Trust{Keys: keySet(t)})
	wantCode(t, err, jose.PolicyInvalid)
	_, err = OpenBanking{Version: "three"}.NewVerifier(Trust{Keys: keySet(t)})
	wantCode(t, err, jose.PolicyInvalid)
	_, err = Generic{}.NewVerifier(Trust{Keys: keySet(t), Algs: []jose.Alg{"none"}})
	wantCode(t, err, jose.PolicyInvalid)
}

func TestOneHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.Header
		want jose.Code
	}{
		{"present", http.Header{"X-A": {"v"}}, ""},
		{"missing", http.Header{}, HeaderMissing},
		{"nil header", nil, HeaderMissing},
		{"repeated", http.Header{"X-A": {"v", "v"}}, HeaderMissing},
		{"empty", http.Header{"X-A": {""}}, HeaderMissing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := oneHeader(tc.h, "x-a")
			wantCode(t, err, tc.want)
			if err == nil && v != "v" {
				t.Fatalf("value %q", v)
			}
		})
	}
}

func TestSignerJTI(t *testing.T) {
	s := &Signer{}
	a, err := s.jti()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.jti()
	if a == b || len(a) != 22 || !base64urlChars(a) {
		t.Fatalf("jti %q, %q", a, b)
	}
	s.Rand = bytes.NewReader([]byte("short"))
	_, err = s.jti()
	wantCode(t, err, jose.SignerFailed)
}

func TestSignatureReplayID(t *testing.T) {
	a, b := signatureReplayID("x..y"), signatureReplayID("x..z")
	if a == b || !strings.HasPrefix(a, "sig:") || len(a) != 4+64 || a != signatureReplayID("x..y") {
		t.Fatalf("replay ids %q %q", a, b)
	}
}

// TestWindow is the time policy shared by InComm and Open Banking.
func TestWindow(t *testing.T) {
	const skew, life = time.Minute, 5 * time.Minute
	now := t0
	for _, tc := range []struct {
		name           string
		iat, exp       time.Duration // relative to now
		hasIat, hasExp bool
		want           jose.Code
		until          time.Duration
	}{
		{"both fresh", 0, 5 * time.Minute, true, true, "", 6 * time.Minute},
		{"both, iat within skew ahead", 59 * time.Second, 5 * time.Minute, true, true, "", 6 * time.Minute},
		{"iat beyond skew ahead", 61 * time.Second, 5 * time.Minute, true, true, jose.IssuedInFuture, 0},
		{"expired beyond skew", -10 * time.Minute, -61 * time.Second, true, true, jose.Expired, 0},
		{"expired exactly at exp+skew", -6 * time.Minute, -time.Minute, true, true, jose.Expired, 0},
		{"exp within skew", -5 * time.Minute, -59 * time.Second, true, true, "", 1 * time.Second},
		{"exp not after iat", 0, 0, true, true, jose.ClaimsInvalid, 0},
		{"lifetime over max", 0, 5*time.Minute + time.Second, true, true, jose.LifetimeExceeded, 0},
		{"exp only", 0, 5 * time.Minute, false, true, "", 6 * time.Minute},
		{"exp only, too far", 0, 6*time.Minute + time.Second, false, true, jose.LifetimeExceeded, 0},
		{"iat only", -time.Minute, 0, true, false, "", 5 * time.Minute},
		{"iat only, too old", -6*time.Minute - time.Second, 0, true, false, jose.Expired, 0},
		{"neither", 0, 0, false, false, jose.ClaimMissing, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			until, err := window(now.Add(tc.iat), now.Add(tc.exp), tc.hasIat, tc.hasExp, now, skew, life)
			wantCode(t, err, tc.want)
			if err == nil && !until.Equal(now.Add(tc.until)) {
				t.Fatalf("until = now%+v, want now%+v", until.Sub(now), tc.until)
			}
		})
	}
}

func TestTrustDefaults(t *testing.T) {
	var tr Trust
	if tr.skew() != time.Minute || tr.lifetime(5*time.Minute) != 5*time.Minute || tr.replayWindow() != 24*time.Hour {
		t.Fatal("zero Trust defaults wrong")
	}
	tr = Trust{Skew: time.Second, MaxLifetime: time.Hour, ReplayWindow: time.Minute, Clock: at(t0)}
	if tr.skew() != time.Second || tr.lifetime(5*time.Minute) != time.Hour || tr.replayWindow() != time.Minute || !tr.clock()().Equal(t0) {
		t.Fatal("Trust overrides ignored")
	}
}

// ---- one valid configuration per profile ---------------------------------

type fixture struct {
	name   string
	p      Profile
	signer *Signer
	trust  Trust
	// kid, subject and key are what the Result must report.
	kid, subject string
	key          *jose.JWK
}

const obIssuer = "0015800001041REAAY/5ZN1E9ZfyNo3WqKGbVOyk1"

func incommFixture(t testing.TB) fixture {
	k := rsaKey(3072, 0)
	return fixture{
		name: "incomm", p: InComm{},
		signer: &Signer{Key: sk(k, jose.PS512, "incomm-1"), Clock: at(t0)},
		trust:  Trust{Keys: keySet(t, pub(t, k, "incomm-1")), Clock: at(t0)},
		kid:    "incomm-1", subject: "incomm-1", key: pub(t, k, "incomm-1"),
	}
}

func ebanxFixture(t testing.TB) fixture {
	k := rsaKey(4096, 0)
	return fixture{
		name: "ebanx", p: EBANX{},
		signer: &Signer{Key: sk(k, jose.RS256, "ebanx-1"), Clock: at(t0)},
		trust:  Trust{Keys: keySet(t, pub(t, k, "ebanx-1")), Clock: at(t0)},
		kid:    "ebanx-1", subject: "ebanx-1", key: pub(t, k, "ebanx-1"),
	}
}

func swiftFixture(t testing.TB) fixture {
	pk := testPKI()
	return fixture{
		name: "swift", p: Swift{},
		// The kid is dropped by Swift signing: the key is named by x5c.
		signer: &Signer{Key: sk(pk.leafKey, jose.RS256, "ignored"), Chain: pk.chain, Clock: at(t0)},
		trust:  Trust{Roots: pk.roots, Clock: at(t0)},
		kid:    "", subject: pk.leaf.Subject.String(), key: pub(t, pk.leafKey, ""),
	}
}

func obFixture(t testing.TB, version string) fixture {
	k := rsaKey(2048, 1)
	name := "openbanking"
	if version != "" {
		name += "-" + version
	}
	return fixture{
		name: name, p: OpenBanking{Version: version, Issuer: obIssuer},
		signer: &Signer{Key: sk(k, jose.PS256, "ob-1"), Clock: at(t0)},
		trust:  Trust{Keys: keySet(t, pub(t, k, "ob-1")), Clock: at(t0)},
		kid:    "ob-1", subject: obIssuer, key: pub(t, k, "ob-1"),
	}
}

func genericFixture(t testing.TB, header string, alg jose.Alg) fixture {
	var priv crypto.Signer = ecKeys[0]()
	if alg == jose.EdDSA {
		priv = edKeys[0]()
	}
	kid := "gen-" + strings.ToLower(string(alg))
	name := "generic"
	if header != "" {
		name += "-header"
	}
	return fixture{
		name: name + "-" + string(alg), p: Generic{Header: header},
		signer: &Signer{Key: sk(priv, alg, kid), Clock: at(t0)},
		trust:  Trust{Keys: keySet(t, pub(t, priv, kid)), Algs: []jose.Alg{alg}, Clock: at(t0)},
		kid:    kid, subject: kid, key: pub(t, priv, kid),
	}
}

func allFixtures(t testing.TB) []fixture {
	return []fixture{
		incommFixture(t),
		ebanxFixture(t),
		swiftFixture(t),
		obFixture(t, ""),
		obFixture(t, "3.1.3"),
		genericFixture(t, "", jose.ES256),
		genericFixture(t, "", jose.EdDSA),
		genericFixture(t, "X-JWS-Signature", jose.ES256),
		genericFixture(t, "X-JWS-Signature", jose.EdDSA),
	}
}

// TestRoundTrip signs and verifies a request under every profile and checks
// every Result field.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, fx := range allFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			t.Parallel()
			for _, body := range []string{testBody, ""} {
				m := newMessage()
				m.Body = []byte(body)
				sm := mustSign(t, fx.p, m, fx.signer)
				v := mustVerifier(t, fx.p, fx.trust)
				res, err := check(v, sm)
				if err != nil {
					t.Fatalf("body %q: %v", body, err)
				}
				checkResult(t, fx, sm, res)

				// The same signature gives the same replay id; a new one another.
				res2, err := check(v, sm.clone())
				if err != nil {
					t.Fatal(err)
				}
				if res2.ReplayID != res.ReplayID {
					t.Errorf("replay id not stable: %q then %q", res.ReplayID, res2.ReplayID)
				}
				// Signing the same request again gives a new replay id, except
				// under EBANX: RS256 is deterministic and EBANX signs nothing
				// but the body, so byte-identical requests share a signature.
				sm3 := mustSign(t, fx.p, m, fx.signer)
				res3, err := check(v, sm3)
				if err != nil {
					t.Fatal(err)
				}
				if _, ebanx := fx.p.(EBANX); ebanx == (res3.ReplayID != res.ReplayID) {
					t.Errorf("re-signing: replay ids %q and %q", res.ReplayID, res3.ReplayID)
				}
				m4 := m.clone()
				m4.Body = append(m4.Body, ' ')
				res4, err := check(v, mustSign(t, fx.p, m4, fx.signer))
				if err != nil {
					t.Fatal(err)
				}
				if res4.ReplayID == res.ReplayID {
					t.Errorf("two signatures share replay id %q", res.ReplayID)
				}
			}
		})
	}
}

func checkResult(t *testing.T, fx fixture, sm *Message, res *Result) {
	t.Helper()
	base, _, _ := strings.Cut(fx.name, "-")
	if res.Profile != base {
		t.Errorf("Profile = %q, want %q", res.Profile, base)
	}
	if res.Kid != fx.kid {
		t.Errorf("Kid = %q, want %q", res.Kid, fx.kid)
	}
	if res.Subject != fx.subject {
		t.Errorf("Subject = %q, want %q", res.Subject, fx.subject)
	}
	if res.Key == nil || res.Thumbprint != fx.key.Thumbprint() || res.Key.Thumbprint() != res.Thumbprint {
		t.Errorf("Thumbprint = %q, want %q", res.Thumbprint, fx.key.Thumbprint())
	}
	if res.Header == nil || len(res.Header.Raw) == 0 {
		t.Errorf("no verified header")
	}
	// The signature as received, verbatim.
	switch g := fx.p.(type) {
	case Generic:
		if g.Header == "" {
			if res.SignatureHeader != "" || res.SignatureValue != string(sm.Body) {
				t.Errorf("SignatureHeader/Value = %q/%q, want the body", res.SignatureHeader, res.SignatureValue)
			}
		} else if res.SignatureHeader != g.Header || res.SignatureValue != sm.Header.Get(g.Header) {
			t.Errorf("SignatureHeader/Value = %q/%q", res.SignatureHeader, res.SignatureValue)
		}
	default:
		if res.SignatureHeader == "" || res.SignatureValue == "" || res.SignatureValue != sm.Header.Get(res.SignatureHeader) || len(sm.Header.Values(res.SignatureHeader)) != 1 {
			t.Errorf("SignatureHeader/Value = %q/%q", res.SignatureHeader, res.SignatureValue)
		}
	}
	now := t0
	switch fx.p.(type) {
	case InComm:
		if !bytes.Equal(res.Payload, sm.Body) {
			t.Errorf("Payload = %q, want the body %q", res.Payload, sm.Body)
		}
		if !res.IssuedAt.Equal(now) || !res.ReplayUntil.Equal(now.Add(6*time.Minute)) {
			t.Errorf("IssuedAt %v ReplayUntil %v", res.IssuedAt, res.ReplayUntil)
		}
		wantPrefix(t, res.ReplayID, "sig:")
	case EBANX:
		if !bytes.Equal(res.Payload, sm.Body) {
			t.Errorf("Payload = %q, want the body %q", res.Payload, sm.Body)
		}
		if len(sm.Body) == 0 {
			// Every empty-body EBANX signature of a key is the same:
			// nothing to claim.
			if res.ReplayID != "" || !res.ReplayUntil.IsZero() {
				t.Errorf("empty body: ReplayID %q ReplayUntil %v", res.ReplayID, res.ReplayUntil)
			}
			break
		}
		if !res.IssuedAt.IsZero() || !res.ReplayUntil.Equal(now.Add(24*time.Hour)) {
			t.Errorf("IssuedAt %v ReplayUntil %v", res.IssuedAt, res.ReplayUntil)
		}
		wantPrefix(t, res.ReplayID, "sig:")
	case OpenBanking:
		if !bytes.Equal(res.Payload, sm.Body) {
			t.Errorf("Payload = %q, want the body %q", res.Payload, sm.Body)
		}
		if !res.IssuedAt.Equal(now) || !res.ReplayUntil.Equal(now.Add(6*time.Minute)) {
			t.Errorf("IssuedAt %v ReplayUntil %v", res.IssuedAt, res.ReplayUntil)
		}
		wantPrefix(t, res.ReplayID, "sig:")
	case Swift:
		c := res.Claims
		if c == nil || !bytes.HasPrefix(res.Payload, []byte(`{"sub":`)) {
			t.Fatalf("Claims %v Payload %q", c, res.Payload)
		}
		if len(res.Chain) != 3 || !res.Chain[0].Equal(testPKI().leaf) || !res.Chain[2].Equal(testPKI().root) {
			t.Errorf("Chain has %d certificates", len(res.Chain))
		}
		if d, _ := c.GetString("digest"); d != SwiftDigest(sm.Body) {
			t.Errorf("digest %q", d)
		}
		if !c.NotBefore.Equal(c.IssuedAt) || !c.IssuedAt.Equal(now) || !c.Expiry.Equal(now.Add(5*time.Minute)) {
			t.Errorf("iat %v nbf %v exp %v", c.IssuedAt, c.NotBefore, c.Expiry)
		}
		if len(c.Audience) != 1 || c.Audience[0] != "api.example.com/v0/payments/closed-loop/sale?b=2&a=1" {
			t.Errorf("aud %q", c.Audience)
		}
		if !res.IssuedAt.Equal(now) || !res.ReplayUntil.Equal(c.Expiry.Add(time.Minute)) {
			t.Errorf("IssuedAt %v ReplayUntil %v", res.IssuedAt, res.ReplayUntil)
		}
		if res.ReplayID != "jti:"+c.ID || !base64urlChars(c.ID) {
			t.Errorf("ReplayID %q jti %q", res.ReplayID, c.ID)
		}
		if _, ok := res.Header.Param("kid"); ok {
			t.Errorf("Swift header carries a kid: %s", res.Header.Raw)
		}
	case Generic:
		c := res.Claims
		if c == nil {
			t.Fatal("no claims")
		}
		if fx.p.(Generic).Header != "" && !bytes.Equal(res.Payload, sm.Body) {
			t.Errorf("Payload = %q, want the body %q", res.Payload, sm.Body)
		}
		if !res.IssuedAt.Equal(now) || !c.Expiry.Equal(now.Add(5*time.Minute)) || !res.ReplayUntil.Equal(c.Expiry.Add(time.Minute)) {
			t.Errorf("IssuedAt %v exp %v ReplayUntil %v", res.IssuedAt, c.Expiry, res.ReplayUntil)
		}
		if res.ReplayID != "jti:"+c.ID || c.ID == "" {
			t.Errorf("ReplayID %q jti %q", res.ReplayID, c.ID)
		}
	}
}

func wantPrefix(t *testing.T, s, prefix string) {
	t.Helper()
	if !strings.HasPrefix(s, prefix) {
		t.Errorf("%q does not start with %q", s, prefix)
	}
}

// corrupt returns a copy of the signed message m whose signature value has
// its first byte changed.
func corrupt(t testing.TB, fx fixture, m *Message) *Message {
	t.Helper()
	c := m.clone()
	flip := func(sig string) string {
		if sig[0] == 'A' {
			return "B" + sig[1:]
		}
		return "A" + sig[1:]
	}
	name := map[string]string{"incomm": "Signature", "ebanx": "X-JWS-Signature", "swift": "X-SWIFT-Signature", "openbanking": "x-jws-signature"}[fx.p.Name()]
	if g, ok := fx.p.(Generic); ok {
		if name = g.Header; name == "" {
			var f map[string]string
			if err := json.Unmarshal(c.Body, &f); err != nil {
				t.Fatal(err)
			}
			f["signature"] = flip(f["signature"])
			c.Body, _ = json.Marshal(f)
			return c
		}
	}
	v := c.Header.Get(name)
	i := strings.LastIndexByte(v, '.') + 1
	c.Header.Set(name, v[:i]+flip(v[i:]))
	return c
}

// TestLimits: Trust.Limits reaches the parser of every profile.
func TestLimits(t *testing.T) {
	t.Parallel()
	for _, fx := range allFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			t.Parallel()
			tr := fx.trust
			tr.Limits = jose.Limits{MaxBytes: 64}
			_, err := check(mustVerifier(t, fx.p, tr), mustSign(t, fx.p, newMessage(), fx.signer))
			wantCode(t, err, jose.TooLarge)
		})
	}
}
