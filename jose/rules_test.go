package jose

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"
)

// This file holds one table test per group of verifier rules. Every case
// asserts the error code, never the message.

// fixture holds keys shared by the rule tests; RSA generation is slow, so
// they are made once.
type fixture struct {
	ec     *ecdsa.PrivateKey // P-256, kid "ec"
	ec384  *ecdsa.PrivateKey
	ec521  *ecdsa.PrivateKey
	ed     ed25519.PrivateKey // kid "ed"
	rsa    *rsa.PrivateKey    // 2048, kid "rsa"
	secret []byte             // 64 bytes, kid "hmac"
	set    *KeySet
}

var (
	fixOnce sync.Once
	fix     fixture
)

func getFixture(t testing.TB) *fixture {
	fixOnce.Do(func() {
		var err error
		fix.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		fix.ec384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		must(err)
		fix.ec521, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		must(err)
		_, fix.ed, err = ed25519.GenerateKey(rand.Reader)
		must(err)
		fix.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		fix.secret = []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
		fix.set, err = NewKeySet(
			mustJWK(&fix.ec.PublicKey, "ec", ""),
			mustJWK(&fix.ec384.PublicKey, "ec384", ""),
			mustJWK(&fix.ec521.PublicKey, "ec521", ""),
			mustJWK(fix.ed.Public(), "ed", ""),
			mustJWK(&fix.rsa.PublicKey, "rsa", ""),
			mustJWK(fix.secret, "hmac", ""),
		)
		must(err)
	})
	return &fix
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func mustJWK(key any, kid string, alg Alg) *JWK {
	k, err := NewJWK(key, kid, alg)
	must(err)
	return k
}

// rawSign signs b64(header) "." payloadSeg with alg and key, returning the
// decoded signature. It bypasses every header check, so tests can build
// hostile headers that still carry a valid signature.
func rawSign(t testing.TB, alg Alg, key any, header string, payloadSeg string) string {
	t.Helper()
	sk := &SigningKey{Alg: alg}
	if b, ok := key.([]byte); ok {
		sk.Secret = b
	} else {
		sk.Signer = key.(crypto.Signer)
	}
	input := encodeB64([]byte(header)) + "." + payloadSeg
	sig, err := sk.sign([]byte(input))
	if err != nil {
		t.Fatal(err)
	}
	return encodeB64(sig)
}

// compact builds a compact JWS over payload with header, signed by the
// fixture key matching alg.
func compact(t testing.TB, alg Alg, header, payload string) string {
	t.Helper()
	seg := encodeB64([]byte(payload))
	return encodeB64([]byte(header)) + "." + seg + "." + rawSign(t, alg, fixKey(t, alg), header, seg)
}

func fixKey(t testing.TB, alg Alg) any {
	f := getFixture(t)
	switch alg {
	case ES256:
		return f.ec
	case ES384:
		return f.ec384
	case ES512:
		return f.ec521
	case EdDSA:
		return f.ed
	case RS256, RS384, RS512, PS256, PS384, PS512:
		return f.rsa
	case HS256, HS384, HS512:
		return f.secret
	}
	t.Fatalf("no fixture key for %s", alg)
	return nil
}

func verifier(t testing.TB, p Policy) *Verifier {
	t.Helper()
	if p.Algs == nil {
		p.Algs = []Alg{ES256, ES384, EdDSA, RS256, PS256}
	}
	if p.Keys == nil && p.Roots == nil {
		p.Keys = getFixture(t).set
	}
	v, err := NewVerifier(p)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

type ruleCase struct {
	name     string
	in       string
	payload  *string // detached payload, when set
	policy   Policy
	wantCode Code // "" means must verify
}

func runRules(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := verifier(t, tc.policy)
			var err error
			if tc.payload != nil {
				_, err = v.VerifyDetached(context.Background(), []byte(tc.in), []byte(*tc.payload))
			} else {
				_, err = v.Verify(context.Background(), []byte(tc.in))
			}
			got := CodeOf(err)
			if got != tc.wantCode {
				t.Fatalf("got code %q (%v), want %q", got, err, tc.wantCode)
			}
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("error %T is not *jose.Error", err)
				}
				if !errors.Is(err, tc.wantCode) {
					t.Fatalf("errors.Is(err, %s) is false", tc.wantCode)
				}
			}
		})
	}
}

func ptr(s string) *string { return &s }

const okHeader = `{"alg":"ES256","kid":"ec"}`

func TestRulesSizeAndSegments(t *testing.T) {
	good := compact(t, ES256, okHeader, "hello")
	big := compact(t, ES256, okHeader, strings.Repeat("a", 2000))
	bigHeader := compact(t, ES256, `{"alg":"ES256","kid":"ec","pad":"`+strings.Repeat("x", 9000)+`"}`, "x")
	parts := strings.Split(good, ".")
	runRules(t, []ruleCase{
		{name: "baseline verifies", in: good},
		{name: "whole JWS over cap", in: big, policy: Policy{Limits: Limits{MaxBytes: 1000}}, wantCode: TooLarge},
		{name: "header over default 8 KiB", in: bigHeader, wantCode: TooLarge},
		{name: "header over configured cap", in: good, policy: Policy{Limits: Limits{MaxHeaderBytes: 10}}, wantCode: TooLarge},
		{name: "detached payload counts toward cap", in: parts[0] + ".." + parts[2], payload: ptr(strings.Repeat("a", 2000)), policy: Policy{Limits: Limits{MaxBytes: 1000}}, wantCode: TooLarge},
		{name: "one segment", in: parts[0], wantCode: Malformed},
		{name: "two segments", in: parts[0] + "." + parts[1], wantCode: Malformed},
		{name: "four segments", in: good + ".x", wantCode: Malformed},
		{name: "five segments (JWE shape)", in: parts[0] + ".a.b.c.d", wantCode: Malformed},
		{name: "empty input", in: "", wantCode: Malformed},
		{name: "empty header", in: "." + parts[1] + "." + parts[2], wantCode: Malformed},
		{name: "empty signature", in: parts[0] + "." + parts[1] + ".", wantCode: SignatureInvalid},
	})
}

func TestRulesBase64URL(t *testing.T) {
	good := compact(t, ES256, okHeader, "hello")
	p := strings.Split(good, ".")
	// Flip the last character of a segment whose length leaves trailing
	// bits to a value that sets one of them.
	nonCanonical := func(seg string) string {
		last := seg[len(seg)-1]
		idx := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", last)
		return seg[:len(seg)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[idx|1])
	}
	if len(p[1])%4 == 0 || len(p[2])%4 == 0 {
		t.Fatal("fixture segments must leave trailing bits")
	}
	runRules(t, []ruleCase{
		{name: "padding in header", in: p[0] + "=." + p[1] + "." + p[2], wantCode: Malformed},
		{name: "padding in payload", in: p[0] + "." + p[1] + "==." + p[2], wantCode: Malformed},
		{name: "padding in signature", in: p[0] + "." + p[1] + "." + p[2] + "=", wantCode: Malformed},
		{name: "std alphabet '+'", in: p[0] + "." + p[1][:2] + "+" + p[1][3:] + "." + p[2], wantCode: Malformed},
		{name: "std alphabet '/'", in: p[0] + "." + p[1] + "." + p[2][:5] + "/" + p[2][6:], wantCode: Malformed},
		{name: "newline inside header", in: p[0][:4] + "\n" + p[0][4:] + "." + p[1] + "." + p[2], wantCode: Malformed},
		{name: "CR inside signature", in: p[0] + "." + p[1] + "." + p[2][:4] + "\r" + p[2][4:], wantCode: Malformed},
		{name: "space inside payload", in: p[0] + "." + p[1][:3] + " " + p[1][3:] + "." + p[2], wantCode: Malformed},
		{name: "trailing newline", in: good + "\n", wantCode: Malformed},
		{name: "non-canonical trailing bits in payload", in: p[0] + "." + nonCanonical(p[1]) + "." + p[2], wantCode: Malformed},
		{name: "non-canonical trailing bits in signature", in: p[0] + "." + p[1] + "." + nonCanonical(p[2]), wantCode: Malformed},
		{name: "impossible length 4n+1", in: p[0] + "." + p[1] + "." + p[2] + "AAA", wantCode: Malformed},
	})
}

func TestRulesProtectedHeaderJSON(t *testing.T) {
	h := func(header string) string { return compact(t, ES256, header, "x") }
	runRules(t, []ruleCase{
		{name: "array, not object", in: h(`["alg","ES256"]`), wantCode: Malformed},
		{name: "string, not object", in: h(`"ES256"`), wantCode: Malformed},
		{name: "invalid UTF-8", in: h("{\"alg\":\"ES256\",\"kid\":\"ec\",\"x\":\"\xff\"}"), wantCode: Malformed},
		{name: "lone high surrogate", in: h(`{"alg":"ES256","kid":"ec","x":"\ud800"}`), wantCode: Malformed},
		{name: "lone low surrogate", in: h(`{"alg":"ES256","kid":"ec","x":"\udc00x"}`), wantCode: Malformed},
		{name: "surrogate pair is fine", in: h(`{"alg":"ES256","kid":"ec","x":"\ud83d\ude00"}`)},
		{name: "raw control character", in: h("{\"alg\":\"ES256\",\"kid\":\"ec\",\"x\":\"a\tb\"}"), wantCode: Malformed},
		{name: "duplicate alg", in: h(`{"alg":"ES256","kid":"ec","alg":"ES256"}`), wantCode: Malformed},
		{name: "duplicate alg via escape", in: h(`{"alg":"ES256","kid":"ec","\u0061lg":"ES256"}`), wantCode: Malformed},
		{name: "duplicate in nested object", in: h(`{"alg":"ES256","kid":"ec","x":{"a":1,"a":2}}`), wantCode: Malformed},
		{name: "case variant ALG beside alg", in: h(`{"alg":"ES256","kid":"ec","ALG":"none"}`), wantCode: Malformed},
		{name: "case variant Alg alone", in: h(`{"Alg":"ES256","kid":"ec"}`), wantCode: Malformed},
		{name: "case variant Kid", in: h(`{"alg":"ES256","Kid":"ec"}`), wantCode: Malformed},
		{name: "members differing in case", in: h(`{"alg":"ES256","kid":"ec","foo":1,"FOO":2}`), wantCode: Malformed},
		{name: "trailing data", in: h(`{"alg":"ES256","kid":"ec"}{}`), wantCode: Malformed},
		{name: "trailing comma", in: h(`{"alg":"ES256","kid":"ec",}`), wantCode: Malformed},
		{name: "trailing whitespace is fine", in: h(`{"alg":"ES256","kid":"ec"} `)},
		{name: "deep nesting", in: h(`{"alg":"ES256","kid":"ec","x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`), wantCode: Malformed},
		{name: "invalid number", in: h(`{"alg":"ES256","kid":"ec","x":01}`), wantCode: Malformed},
		{name: "missing alg", in: h(`{"kid":"ec"}`), wantCode: Malformed},
		{name: "alg is a number", in: h(`{"alg":256,"kid":"ec"}`), wantCode: Malformed},
		{name: "alg is null", in: h(`{"alg":null,"kid":"ec"}`), wantCode: Malformed},
		{name: "kid is a number", in: h(`{"alg":"ES256","kid":1}`), wantCode: Malformed},
		{name: "typ is an array", in: h(`{"alg":"ES256","kid":"ec","typ":["JWT"]}`), wantCode: Malformed},
		{name: "cty is a number", in: h(`{"alg":"ES256","kid":"ec","cty":1}`), wantCode: Malformed},
		{name: "crit is a string", in: h(`{"alg":"ES256","kid":"ec","crit":"b64"}`), wantCode: Malformed},
		{name: "crit holds a number", in: h(`{"alg":"ES256","kid":"ec","crit":[1]}`), wantCode: Malformed},
		{name: "b64 is a string", in: h(`{"alg":"ES256","kid":"ec","b64":"false","crit":["b64"]}`), wantCode: Malformed},
		{name: "x5c is a string", in: h(`{"alg":"ES256","kid":"ec","x5c":"MII"}`), wantCode: Malformed},
		{name: "x5c is not standard base64", in: h(`{"alg":"ES256","kid":"ec","x5c":["MI-_"]}`), wantCode: Malformed},
		{name: "x5t wrong length", in: h(`{"alg":"ES256","kid":"ec","x5t":"AAAA"}`), wantCode: Malformed},
		{name: "jwk is a string", in: h(`{"alg":"ES256","kid":"ec","jwk":"k"}`), wantCode: Malformed},
		{name: "jku is a number", in: h(`{"alg":"ES256","kid":"ec","jku":1}`), wantCode: Malformed},
		{name: "JWE enc parameter", in: h(`{"alg":"ES256","kid":"ec","enc":"A128GCM"}`), wantCode: HeaderInvalid},
		{name: "JWE zip parameter", in: h(`{"alg":"ES256","kid":"ec","zip":"DEF"}`), wantCode: HeaderInvalid},
	})
}

func TestRulesAlg(t *testing.T) {
	f := getFixture(t)
	rsaOnly, err := NewKeySet(mustJWK(&f.rsa.PublicKey, "rsa", ""))
	if err != nil {
		t.Fatal(err)
	}
	// Classic confusion: HS256 keyed with the RSA public key's bytes.
	pubDER, _ := x509.MarshalPKIXPublicKey(&f.rsa.PublicKey)
	hsHeader := `{"alg":"HS256","kid":"rsa"}`
	seg := encodeB64([]byte("x"))
	confused := encodeB64([]byte(hsHeader)) + "." + seg + "." + rawSign(t, HS256, pubDER, hsHeader, seg)
	none := encodeB64([]byte(`{"alg":"none"}`)) + "." + seg + "."
	runRules(t, []ruleCase{
		{name: "none", in: none, wantCode: AlgNotAllowed},
		{name: "none with a signature", in: none + "AAAA", wantCode: AlgNotAllowed},
		{name: "NONE", in: encodeB64([]byte(`{"alg":"NONE"}`)) + "." + seg + ".AAAA", wantCode: AlgNotAllowed},
		{name: "empty alg", in: compact(t, ES256, `{"alg":"","kid":"ec"}`, "x"), wantCode: AlgNotAllowed},
		{name: "not in allow-list", in: compact(t, ES384, `{"alg":"ES384","kid":"ec384"}`, "x"), policy: Policy{Algs: []Alg{ES256}}, wantCode: AlgNotAllowed},
		{name: "unknown alg", in: compact(t, ES256, `{"alg":"XS256","kid":"ec"}`, "x"), wantCode: AlgNotAllowed},
		{name: "alg case variant es256", in: compact(t, ES256, `{"alg":"es256","kid":"ec"}`, "x"), wantCode: AlgNotAllowed},
		{name: "HS256 not allowed by default list", in: compact(t, HS256, `{"alg":"HS256","kid":"hmac"}`, "x"), wantCode: AlgNotAllowed},
		{name: "HS256 allowed with oct key", in: compact(t, HS256, `{"alg":"HS256","kid":"hmac"}`, "x"), policy: Policy{Algs: []Alg{HS256}}},
		{name: "HS256 keyed by an RSA public key", in: confused, policy: Policy{Algs: []Alg{HS256, RS256}, Keys: rsaOnly}, wantCode: KeyRejected},
		{name: "RS256 header with EC key", in: compact(t, RS256, `{"alg":"RS256","kid":"ec"}`, "x"), wantCode: KeyRejected},
		{name: "ES384 header with P-256 key", in: compact(t, ES384, `{"alg":"ES384","kid":"ec"}`, "x"), policy: Policy{Algs: []Alg{ES384}}, wantCode: KeyRejected},
		{name: "EdDSA header with EC key", in: compact(t, EdDSA, `{"alg":"EdDSA","kid":"ec"}`, "x"), wantCode: KeyRejected},
	})
	if _, err := NewVerifier(Policy{Algs: []Alg{"none"}, Keys: f.set}); CodeOf(err) != PolicyInvalid {
		t.Fatalf("policy allowing none: %v", err)
	}
	if _, err := NewVerifier(Policy{Keys: f.set}); CodeOf(err) != PolicyInvalid {
		t.Fatalf("empty allow-list: %v", err)
	}
	if _, err := NewVerifier(Policy{Algs: []Alg{ES256}}); CodeOf(err) != PolicyInvalid {
		t.Fatalf("no keys and no roots: %v", err)
	}
	if _, err := NewVerifier(Policy{Algs: []Alg{ES256}, Keys: f.set, Crit: []string{"alg"}}); CodeOf(err) != PolicyInvalid {
		t.Fatalf("crit listing a registered name: %v", err)
	}
}

func TestRulesCrit(t *testing.T) {
	h := func(header string) string { return compact(t, ES256, header, "x") }
	withCrit := Policy{Crit: []string{"http-method", "http-path"}}
	runRules(t, []ruleCase{
		{name: "understood crit", in: h(`{"alg":"ES256","kid":"ec","http-method":"POST","crit":["http-method"]}`), policy: withCrit},
		{name: "crit not understood", in: h(`{"alg":"ES256","kid":"ec","http-method":"POST","crit":["http-method"]}`), wantCode: CritUnsupported},
		{name: "crit empty", in: h(`{"alg":"ES256","kid":"ec","crit":[]}`), policy: withCrit, wantCode: CritUnsupported},
		{name: "crit duplicate", in: h(`{"alg":"ES256","kid":"ec","http-method":"POST","crit":["http-method","http-method"]}`), policy: withCrit, wantCode: CritUnsupported},
		{name: "crit lists alg", in: h(`{"alg":"ES256","kid":"ec","crit":["alg"]}`), policy: withCrit, wantCode: CritUnsupported},
		{name: "crit lists kid", in: h(`{"alg":"ES256","kid":"ec","crit":["kid"]}`), policy: withCrit, wantCode: CritUnsupported},
		{name: "crit lists JWE enc", in: h(`{"alg":"ES256","kid":"ec","crit":["enc"]}`), policy: withCrit, wantCode: CritUnsupported},
		{name: "crit lists absent name", in: h(`{"alg":"ES256","kid":"ec","crit":["http-path"]}`), policy: withCrit, wantCode: CritUnsupported},
		{name: "understood name present but not critical", in: h(`{"alg":"ES256","kid":"ec","http-method":"POST"}`), policy: withCrit, wantCode: CritUnsupported},
		{name: "b64 without crit", in: h(`{"alg":"ES256","kid":"ec","b64":true}`), wantCode: HeaderInvalid},
		{name: "b64 false without crit", in: h(`{"alg":"ES256","kid":"ec","b64":false}`), wantCode: HeaderInvalid},
		{name: "b64 true with crit", in: h(`{"alg":"ES256","kid":"ec","b64":true,"crit":["b64"]}`)},
		{name: "crit b64 but b64 absent", in: h(`{"alg":"ES256","kid":"ec","crit":["b64"]}`), wantCode: CritUnsupported},
	})
}

// flat builds a flattened JSON JWS from raw pieces.
func flat(payload, protected, unprotected, sig string) string {
	var b strings.Builder
	b.WriteString("{")
	if payload != "" {
		fmt.Fprintf(&b, `"payload":"%s",`, payload)
	}
	if protected != "" {
		fmt.Fprintf(&b, `"protected":"%s",`, protected)
	}
	if unprotected != "" {
		fmt.Fprintf(&b, `"header":%s,`, unprotected)
	}
	fmt.Fprintf(&b, `"signature":"%s"}`, sig)
	return b.String()
}

func TestRulesJSONSerialization(t *testing.T) {
	f := getFixture(t)
	seg := encodeB64([]byte("pay"))
	ph := `{"alg":"ES256","kid":"ec"}`
	pb := encodeB64([]byte(ph))
	sig := rawSign(t, ES256, f.ec, ph, seg)
	noKid := `{"alg":"ES256"}`
	noKidSig := rawSign(t, ES256, f.ec, noKid, seg)
	single, _ := NewKeySet(mustJWK(&f.ec.PublicKey, "ec", ""))
	edHeader := `{"alg":"EdDSA","kid":"ed"}`
	edSig := rawSign(t, EdDSA, f.ed, edHeader, seg)
	general := func(sigs ...string) string {
		return `{"payload":"` + seg + `","signatures":[` + strings.Join(sigs, ",") + `]}`
	}
	sigObj := func(protected, unprotected, s string) string {
		o := `{"protected":"` + protected + `"`
		if unprotected != "" {
			o += `,"header":` + unprotected
		}
		return o + `,"signature":"` + s + `"}`
	}
	edRaw, _ := decodeB64(edSig, "sig")
	edRaw[10] ^= 1
	badEd := encodeB64(edRaw)
	runRules(t, []ruleCase{
		{name: "flattened verifies", in: flat(seg, pb, "", sig)},
		{name: "flattened with whitespace", in: " {\n \"payload\" : \"" + seg + "\", \"protected\":\"" + pb + "\",\"signature\":\"" + sig + "\"}\n"},
		{name: "unprotected informational member", in: flat(seg, pb, `{"note":"hi"}`, sig)},
		{name: "alg in unprotected", in: flat(seg, encodeB64([]byte(noKid)), `{"alg":"ES256"}`, noKidSig), wantCode: HeaderInvalid},
		{name: "kid in unprotected", in: flat(seg, encodeB64([]byte(noKid)), `{"kid":"ec"}`, noKidSig), wantCode: HeaderInvalid},
		{name: "kid in unprotected, allowed as hint", in: flat(seg, encodeB64([]byte(noKid)), `{"kid":"ec"}`, noKidSig), policy: Policy{AllowUnprotectedKid: true}},
		{name: "crit in unprotected", in: flat(seg, pb, `{"crit":["x"]}`, sig), wantCode: HeaderInvalid},
		{name: "b64 in unprotected", in: flat(seg, pb, `{"b64":false}`, sig), wantCode: HeaderInvalid},
		{name: "x5c in unprotected", in: flat(seg, pb, `{"x5c":["AAAA"]}`, sig), wantCode: HeaderInvalid},
		{name: "policy crit name in unprotected", in: flat(seg, pb, `{"http-method":"GET"}`, sig), policy: Policy{Crit: []string{"http-method"}}, wantCode: HeaderInvalid},
		{name: "same name protected and unprotected", in: flat(seg, encodeB64([]byte(`{"alg":"ES256","kid":"ec","note":1}`)), `{"note":2}`, rawSign(t, ES256, f.ec, `{"alg":"ES256","kid":"ec","note":1}`, seg)), wantCode: HeaderInvalid},
		{name: "unprotected header not an object", in: flat(seg, pb, `"x"`, sig), wantCode: Malformed},
		{name: "no protected header", in: `{"payload":"` + seg + `","header":{"alg":"ES256","kid":"ec"},"signature":"` + sig + `"}`, wantCode: HeaderInvalid},
		{name: "unknown top-level member", in: `{"payload":"` + seg + `","protected":"` + pb + `","signature":"` + sig + `","extra":1}`, wantCode: Malformed},
		{name: "duplicate payload member", in: `{"payload":"` + seg + `","payload":"` + seg + `","protected":"` + pb + `","signature":"` + sig + `"}`, wantCode: Malformed},
		{name: "payload not a string", in: `{"payload":1,"protected":"` + pb + `","signature":"` + sig + `"}`, wantCode: Malformed},
		{name: "protected not a string", in: `{"payload":"` + seg + `","protected":{},"signature":"` + sig + `"}`, wantCode: Malformed},
		{name: "signature missing", in: `{"payload":"` + seg + `","protected":"` + pb + `"}`, wantCode: Malformed},
		{name: "mixes signatures and signature", in: `{"payload":"` + seg + `","signatures":[],"protected":"` + pb + `","signature":"` + sig + `"}`, wantCode: Malformed},
		{name: "general: one signature", in: general(sigObj(pb, "", sig))},
		{name: "general: two good signatures", in: general(sigObj(pb, "", sig), sigObj(encodeB64([]byte(edHeader)), "", edSig))},
		{name: "general: one of two bad", in: general(sigObj(pb, "", sig), sigObj(encodeB64([]byte(edHeader)), "", badEd)), wantCode: SignatureInvalid},
		{name: "general: SelectKid picks the good one", in: general(sigObj(pb, "", sig), sigObj(encodeB64([]byte(edHeader)), "", badEd)), policy: Policy{SelectKid: "ec"}},
		{name: "general: SelectKid absent", in: general(sigObj(pb, "", sig)), policy: Policy{SelectKid: "zz"}, wantCode: KeyUnknown},
		{name: "general: SelectKid twice", in: general(sigObj(pb, "", sig), sigObj(pb, "", sig)), policy: Policy{SelectKid: "ec"}, wantCode: HeaderInvalid},
		{name: "general: empty signatures", in: general(), wantCode: Malformed},
		{name: "general: signatures not objects", in: general(`"x"`), wantCode: Malformed},
		{name: "general: unknown member in signature", in: general(`{"protected":"` + pb + `","signature":"` + sig + `","x":1}`), wantCode: Malformed},
		{name: "general: over MaxSignatures", in: general(sigObj(pb, "", sig), sigObj(pb, "", sig), sigObj(pb, "", sig)), policy: Policy{Limits: Limits{MaxSignatures: 2}}, wantCode: TooLarge},
		{name: "general: b64 disagrees", in: general(sigObj(pb, "", sig), sigObj(encodeB64([]byte(`{"alg":"EdDSA","kid":"ed","b64":false,"crit":["b64"]}`)), "", edSig)), wantCode: HeaderInvalid},
		{name: "no kid, single key", in: flat(seg, encodeB64([]byte(noKid)), "", noKidSig), policy: Policy{Keys: single}},
		{name: "no kid, RequireKid", in: flat(seg, encodeB64([]byte(noKid)), "", noKidSig), policy: Policy{Keys: single, RequireKid: true}, wantCode: HeaderInvalid},
		{name: "no kid, too many candidates", in: flat(seg, encodeB64([]byte(noKid)), "", noKidSig), wantCode: KeyUnknown},
		{name: "no kid, candidates within limit", in: flat(seg, encodeB64([]byte(noKid)), "", noKidSig), policy: Policy{MaxKeyCandidates: 6}},
	})
}

func TestRulesDetachedAndUnencoded(t *testing.T) {
	f := getFixture(t)
	payload := `{"amount":"1.00"}`
	seg := encodeB64([]byte(payload))
	h := `{"alg":"ES256","kid":"ec"}`
	sig := rawSign(t, ES256, f.ec, h, seg)
	det := encodeB64([]byte(h)) + ".." + sig
	uh := `{"alg":"ES256","kid":"ec","b64":false,"crit":["b64"]}`
	usig := rawSign(t, ES256, f.ec, uh, payload)
	udet := encodeB64([]byte(uh)) + ".." + usig
	uatt := encodeB64([]byte(uh)) + ".abc." + rawSign(t, ES256, f.ec, uh, "abc")
	runRules(t, []ruleCase{
		{name: "detached verifies", in: det, payload: &payload},
		{name: "detached, wrong payload", in: det, payload: ptr(payload + " "), wantCode: SignatureInvalid},
		{name: "detached compact read without payload is the empty payload", in: det, wantCode: SignatureInvalid},
		{name: "attached given a detached payload", in: encodeB64([]byte(h)) + "." + seg + "." + sig, payload: &payload, wantCode: PayloadMismatch},
		{name: "detached JSON without payload", in: flat("", encodeB64([]byte(h)), "", sig), wantCode: PayloadMismatch},
		{name: "detached JSON with payload", in: flat("", encodeB64([]byte(h)), "", sig), payload: &payload},
		{name: "unencoded detached verifies", in: udet, payload: &payload},
		{name: "unencoded detached, payload b64-encoded instead", in: udet, payload: &seg, wantCode: SignatureInvalid},
		{name: "unencoded attached compact", in: uatt},
		{name: "unencoded signature checked as encoded", in: encodeB64([]byte(h)) + ".." + usig, payload: &payload, wantCode: SignatureInvalid},
	})
}

func TestRulesKeys(t *testing.T) {
	f := getFixture(t)
	rsaPS, _ := NewKeySet(mustJWK(&f.rsa.PublicKey, "rsa", RS256))
	ecEnc := mustJWK(&f.ec.PublicKey, "ec", "")
	ecEnc.Use = "enc"
	encSet, _ := NewKeySet(ecEnc)
	ecSignOnly := mustJWK(&f.ec.PublicKey, "ec", "")
	ecSignOnly.KeyOps = []string{"sign"}
	opsSet, _ := NewKeySet(ecSignOnly)
	// An attacker's key in the header's jwk must never be used.
	attacker, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ajwk, _ := mustJWK(&attacker.PublicKey, "", "").MarshalJSON()
	jwkHeader := `{"alg":"ES256","kid":"ec","jwk":` + string(ajwk) + `,"jku":"https://evil.example/jwks","x5u":"https://evil.example/c"}`
	seg := encodeB64([]byte("x"))
	viaJWK := encodeB64([]byte(jwkHeader)) + "." + seg + "." + rawSign(t, ES256, attacker, jwkHeader, seg)
	noKidJWK := `{"alg":"ES256","jwk":` + string(ajwk) + `}`
	viaJWKNoKid := encodeB64([]byte(noKidJWK)) + "." + seg + "." + rawSign(t, ES256, attacker, noKidJWK, seg)
	single, _ := NewKeySet(mustJWK(&f.ec.PublicKey, "ec", ""))
	runRules(t, []ruleCase{
		{name: "unknown kid", in: compact(t, ES256, `{"alg":"ES256","kid":"nope"}`, "x"), wantCode: KeyUnknown},
		{name: "key alg binding", in: compact(t, PS256, `{"alg":"PS256","kid":"rsa"}`, "x"), policy: Policy{Keys: rsaPS}, wantCode: KeyRejected},
		{name: "key alg binding satisfied", in: compact(t, RS256, `{"alg":"RS256","kid":"rsa"}`, "x"), policy: Policy{Keys: rsaPS}},
		{name: "use enc", in: compact(t, ES256, okHeader, "x"), policy: Policy{Keys: encSet}, wantCode: KeyRejected},
		{name: "key_ops without verify", in: compact(t, ES256, okHeader, "x"), policy: Policy{Keys: opsSet}, wantCode: KeyRejected},
		{name: "RSA below policy minimum", in: compact(t, RS256, `{"alg":"RS256","kid":"rsa"}`, "x"), policy: Policy{KeyPolicy: KeyPolicy{MinRSABits: 3072}}, wantCode: KeyRejected},
		{name: "header jwk/jku/x5u never used", in: viaJWK, wantCode: SignatureInvalid},
		{name: "header jwk without kid never used", in: viaJWKNoKid, policy: Policy{Keys: single}, wantCode: SignatureInvalid},
		{name: "resolver failure fails closed", in: compact(t, ES256, okHeader, "x"), policy: Policy{Keys: failingResolver{}}, wantCode: KeyUnavailable},
		{name: "resolver returns nothing", in: compact(t, ES256, okHeader, "x"), policy: Policy{Keys: emptyResolver{}}, wantCode: KeyUnknown},
		{name: "resolver returns a private key", in: compact(t, ES256, okHeader, "x"), policy: Policy{Keys: privateResolver{mustJWK(f.ec, "ec", "")}}, wantCode: KeyRejected},
	})
	if _, err := NewKeySet(mustJWK(f.ec, "ec", "")); CodeOf(err) != KeyRejected {
		t.Fatalf("private key in a KeySet: %v", err)
	}
	if _, err := NewKeySet(mustJWK(&f.ec.PublicKey, "a", ""), mustJWK(f.ed.Public(), "a", "")); CodeOf(err) != KeyRejected {
		t.Fatalf("duplicate kid: %v", err)
	}
}

type failingResolver struct{}

func (failingResolver) ResolveKeys(context.Context, *Header) ([]*JWK, error) {
	return nil, errors.New("database is down")
}

type emptyResolver struct{}

func (emptyResolver) ResolveKeys(context.Context, *Header) ([]*JWK, error) { return nil, nil }

type privateResolver struct{ k *JWK }

func (r privateResolver) ResolveKeys(context.Context, *Header) ([]*JWK, error) {
	return []*JWK{r.k}, nil
}

func TestRulesSignatureEncoding(t *testing.T) {
	f := getFixture(t)
	h := okHeader
	seg := encodeB64([]byte("x"))
	input := []byte(encodeB64([]byte(h)) + "." + seg)
	d := sha256.Sum256(input)
	der, _ := ecdsa.SignASN1(rand.Reader, f.ec, d[:])
	p1363, _ := derToP1363(der, 32)
	n := elliptic.P256().Params().N
	rAsN := append(n.FillBytes(make([]byte, 32)), p1363[32:]...)
	rPlusN := new(big.Int).Add(new(big.Int).SetBytes(p1363[:32]), n)
	zeroR := append(make([]byte, 32), p1363[32:]...)
	mk := func(sig []byte) string { return string(input) + "." + encodeB64(sig) }
	// PS256 with a salt of 0 and of 64 bytes: valid RSA-PSS, wrong for JWS.
	ps := func(salt int) string {
		hh := `{"alg":"PS256","kid":"rsa"}`
		in := []byte(encodeB64([]byte(hh)) + "." + seg)
		dd := sha256.Sum256(in)
		s, err := rsa.SignPSS(rand.Reader, f.rsa, crypto.SHA256, dd[:], &rsa.PSSOptions{SaltLength: salt})
		if err != nil {
			t.Fatal(err)
		}
		return string(in) + "." + encodeB64(s)
	}
	edh := `{"alg":"EdDSA","kid":"ed"}`
	edIn := encodeB64([]byte(edh)) + "." + seg
	edSig := ed25519.Sign(f.ed, []byte(edIn))
	runRules(t, []ruleCase{
		{name: "P1363 verifies", in: mk(p1363)},
		{name: "DER signature refused", in: mk(der), wantCode: SignatureInvalid},
		{name: "r = 0", in: mk(zeroR), wantCode: SignatureInvalid},
		{name: "r = n", in: mk(rAsN), wantCode: SignatureInvalid},
		{name: "r + n does not fit", in: mk(append(rPlusN.FillBytes(make([]byte, 33)), p1363[32:]...)), wantCode: SignatureInvalid},
		{name: "short by one byte", in: mk(p1363[:63]), wantCode: SignatureInvalid},
		{name: "long by one byte", in: mk(append(append([]byte{}, p1363...), 0)), wantCode: SignatureInvalid},
		{name: "bit flipped", in: mk(append(append([]byte{}, p1363[:10]...), append([]byte{p1363[10] ^ 1}, p1363[11:]...)...)), wantCode: SignatureInvalid},
		{name: "PS256 salt 32 verifies", in: ps(32)},
		{name: "PS256 salt 0 refused", in: ps(0), wantCode: SignatureInvalid},
		{name: "PS256 salt 64 refused", in: ps(64), wantCode: SignatureInvalid},
		{name: "EdDSA verifies", in: edIn + "." + encodeB64(edSig)},
		{name: "EdDSA short", in: edIn + "." + encodeB64(edSig[:63]), wantCode: SignatureInvalid},
		{name: "tampered payload", in: encodeB64([]byte(h)) + "." + encodeB64([]byte("y")) + "." + encodeB64(p1363), wantCode: SignatureInvalid},
	})
}

// testPKI makes a root, an intermediate and a leaf (EC P-256 for speed;
// Swift uses RSA, which the same code path handles).
type testPKI struct {
	root, inter, leaf *x509.Certificate
	leafKey           *ecdsa.PrivateKey
	roots             *x509.CertPool
}

func newPKI(t testing.TB, leafUsage x509.KeyUsage) *testPKI {
	t.Helper()
	now := time.Now()
	mkCert := func(tmpl, parent *x509.Certificate, pub any, signer any) *x509.Certificate {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	rk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ik, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	lk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rt := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "root"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	root := mkCert(rt, rt, &rk.PublicKey, rk)
	it := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "inter"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	inter := mkCert(it, root, &ik.PublicKey, rk)
	lt := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "partner", Organization: []string{"Bank"}}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: leafUsage}
	leaf := mkCert(lt, inter, &lk.PublicKey, ik)
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return &testPKI{root: root, inter: inter, leaf: leaf, leafKey: lk, roots: pool}
}

func x5cHeader(alg string, certs ...*x509.Certificate) string {
	parts := make([]string, len(certs))
	for i, c := range certs {
		parts[i] = `"` + string(appendStdB64(nil, c.Raw)) + `"`
	}
	return `{"alg":"` + alg + `","x5c":[` + strings.Join(parts, ",") + `]}`
}

func TestRulesX5C(t *testing.T) {
	pki := newPKI(t, x509.KeyUsageDigitalSignature)
	other := newPKI(t, x509.KeyUsageDigitalSignature)
	noSig := newPKI(t, x509.KeyUsageKeyEncipherment)
	seg := encodeB64([]byte("x"))
	mk := func(p *testPKI, header string) string {
		return encodeB64([]byte(header)) + "." + seg + "." + rawSign(t, ES256, p.leafKey, header, seg)
	}
	good := mk(pki, x5cHeader("ES256", pki.leaf, pki.inter))
	leafSum := sha256.Sum256(pki.leaf.Raw)
	withThumb := `{"alg":"ES256","x5t#S256":"` + encodeB64(leafSum[:]) + `","x5c":["` + string(appendStdB64(nil, pki.leaf.Raw)) + `","` + string(appendStdB64(nil, pki.inter.Raw)) + `"]}`
	badThumb := `{"alg":"ES256","x5t#S256":"` + encodeB64(make([]byte, 32)) + `","x5c":["` + string(appendStdB64(nil, pki.leaf.Raw)) + `","` + string(appendStdB64(nil, pki.inter.Raw)) + `"]}`
	roots := Policy{Algs: []Alg{ES256}, Roots: pki.roots}
	runRules(t, []ruleCase{
		{name: "chain validates", in: good, policy: roots},
		{name: "x5t#S256 matches", in: mk(pki, withThumb), policy: roots},
		{name: "x5t#S256 mismatch", in: mk(pki, badThumb), policy: roots, wantCode: HeaderInvalid},
		{name: "chain to another root", in: mk(other, x5cHeader("ES256", other.leaf, other.inter)), policy: roots, wantCode: X5CInvalid},
		{name: "missing intermediate", in: mk(pki, x5cHeader("ES256", pki.leaf)), policy: roots, wantCode: X5CInvalid},
		{name: "leaf not for signatures", in: mk(noSig, x5cHeader("ES256", noSig.leaf, noSig.inter)), policy: Policy{Algs: []Alg{ES256}, Roots: noSig.roots}, wantCode: X5CInvalid},
		{name: "expired at policy time", in: good, policy: Policy{Algs: []Alg{ES256}, Roots: pki.roots, Clock: func() time.Time { return time.Now().Add(48 * time.Hour) }}, wantCode: X5CInvalid},
		{name: "garbage certificate", in: mk(pki, `{"alg":"ES256","x5c":["AAAA"]}`), policy: roots, wantCode: X5CInvalid},
		{name: "x5c ignored without roots: key from resolver", in: mk(pki, x5cHeader("ES256", pki.leaf, pki.inter)), policy: Policy{Keys: getFixture(t).set, MaxKeyCandidates: 6}, wantCode: SignatureInvalid},
		{name: "roots but no x5c and no resolver", in: compact(t, ES256, okHeader, "x"), policy: roots, wantCode: KeyUnknown},
	})
	v := verifier(t, roots)
	res, err := v.Verify(context.Background(), []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	s := res.Signatures[0]
	if len(s.Chain) != 3 || !s.Chain[0].Equal(pki.leaf) || !s.Chain[2].Equal(pki.root) {
		t.Fatalf("chain not returned leaf-to-root: %d certs", len(s.Chain))
	}
	if s.Chain[0].Subject.CommonName != "partner" {
		t.Fatalf("leaf subject %v", s.Chain[0].Subject)
	}
}

func TestRulesJWT(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	tok := func(claims string) string { return compact(t, ES256, `{"alg":"ES256","kid":"ec","typ":"JWT"}`, claims) }
	base := ClaimsPolicy{Audience: []string{"payments"}, Issuer: "partner"}
	p := func(mod func(*ClaimsPolicy)) Policy {
		c := base
		if mod != nil {
			mod(&c)
		}
		return Policy{JWT: &c, Clock: clock}
	}
	claims := func(extra string) string {
		return `{"iss":"partner","aud":"payments","iat":1800000000,"exp":1800000300` + extra + `}`
	}
	runRules(t, []ruleCase{
		{name: "valid", in: tok(claims("")), policy: p(nil)},
		{name: "aud array", in: tok(`{"iss":"partner","aud":["x","payments"],"exp":1800000300}`), policy: p(nil)},
		{name: "fractional exp", in: tok(`{"iss":"partner","aud":"payments","exp":1800000300.5}`), policy: p(nil)},
		{name: "payload not JSON", in: tok(`hello`), policy: p(nil), wantCode: ClaimsInvalid},
		{name: "payload an array", in: tok(`[1]`), policy: p(nil), wantCode: ClaimsInvalid},
		{name: "duplicate claim", in: tok(`{"iss":"partner","aud":"payments","exp":1800000300,"exp":1900000000}`), policy: p(nil), wantCode: ClaimsInvalid},
		{name: "exp as string", in: tok(`{"iss":"partner","aud":"payments","exp":"1800000300"}`), policy: p(nil), wantCode: ClaimsInvalid},
		{name: "exp as boolean", in: tok(`{"iss":"partner","aud":"payments","exp":true}`), policy: p(nil), wantCode: ClaimsInvalid},
		{name: "exp 1e400", in: tok(`{"iss":"partner","aud":"payments","exp":1e400}`), policy: p(nil), wantCode: ClaimsInvalid},
		{name: "exp beyond 2^53", in: tok(`{"iss":"partner","aud":"payments","exp":9007199254740993}`), policy: p(nil), wantCode: ClaimsInvalid},
		{name: "nbf as string", in: tok(claims(`,"nbf":"1"`)), policy: p(nil), wantCode: ClaimsInvalid},
		{name: "iat as null", in: tok(`{"iss":"partner","aud":"payments","exp":1800000300,"iat":null}`), policy: p(nil), wantCode: ClaimsInvalid},
		{name: "iss as number", in: tok(`{"iss":1,"aud":"payments","exp":1800000300}`), policy: p(nil), wantCode: ClaimsInvalid},
		{name: "aud as number", in: tok(`{"iss":"partner","aud":1,"exp":1800000300}`), policy: p(nil), wantCode: ClaimsInvalid},
		{name: "aud array of numbers", in: tok(`{"iss":"partner","aud":[1],"exp":1800000300}`), policy: p(nil), wantCode: ClaimsInvalid},
		{name: "expired beyond skew", in: tok(`{"iss":"partner","aud":"payments","exp":1799999939}`), policy: p(nil), wantCode: Expired},
		{name: "expired within skew", in: tok(`{"iss":"partner","aud":"payments","exp":1799999941}`), policy: p(nil)},
		{name: "expired exactly at exp+skew", in: tok(`{"iss":"partner","aud":"payments","exp":1799999940}`), policy: p(nil), wantCode: Expired},
		{name: "custom skew", in: tok(`{"iss":"partner","aud":"payments","exp":1799999941}`), policy: p(func(c *ClaimsPolicy) { c.Skew = time.Second }), wantCode: Expired},
		{name: "exp missing", in: tok(`{"iss":"partner","aud":"payments"}`), policy: p(nil), wantCode: ClaimMissing},
		{name: "exp missing allowed", in: tok(`{"iss":"partner","aud":"payments"}`), policy: p(func(c *ClaimsPolicy) { c.AllowNoExp = true })},
		{name: "nbf in future", in: tok(claims(`,"nbf":1800000100`)), policy: p(nil), wantCode: NotYetValid},
		{name: "nbf within skew", in: tok(claims(`,"nbf":1800000030`)), policy: p(nil)},
		{name: "nbf required", in: tok(claims("")), policy: p(func(c *ClaimsPolicy) { c.RequireNbf = true }), wantCode: ClaimMissing},
		{name: "iat in future", in: tok(`{"iss":"partner","aud":"payments","iat":1800000100,"exp":1800000300}`), policy: p(nil), wantCode: IssuedInFuture},
		{name: "iat required", in: tok(`{"iss":"partner","aud":"payments","exp":1800000300}`), policy: p(func(c *ClaimsPolicy) { c.RequireIat = true }), wantCode: ClaimMissing},
		{name: "lifetime exceeded", in: tok(`{"iss":"partner","aud":"payments","iat":1800000000,"exp":1800000900}`), policy: p(func(c *ClaimsPolicy) { c.MaxLifetime = 5 * time.Minute }), wantCode: LifetimeExceeded},
		{name: "lifetime needs iat", in: tok(`{"iss":"partner","aud":"payments","exp":1800000100}`), policy: p(func(c *ClaimsPolicy) { c.MaxLifetime = 5 * time.Minute }), wantCode: ClaimMissing},
		{name: "exp before iat", in: tok(`{"iss":"partner","aud":"payments","iat":1800000000,"exp":1799999990}`), policy: p(nil), wantCode: ClaimsInvalid},
		{name: "aud mismatch", in: tok(`{"iss":"partner","aud":"other","exp":1800000300}`), policy: p(nil), wantCode: AudienceMismatch},
		{name: "aud missing", in: tok(`{"iss":"partner","exp":1800000300}`), policy: p(nil), wantCode: ClaimMissing},
		{name: "aud empty array", in: tok(`{"iss":"partner","aud":[],"exp":1800000300}`), policy: p(nil), wantCode: AudienceMismatch},
		{name: "any audience", in: tok(`{"iss":"partner","exp":1800000300}`), policy: p(func(c *ClaimsPolicy) { c.Audience = nil; c.AnyAudience = true })},
		{name: "iss mismatch", in: tok(`{"iss":"mallory","aud":"payments","exp":1800000300}`), policy: p(nil), wantCode: IssuerMismatch},
		{name: "iss missing", in: tok(`{"aud":"payments","exp":1800000300}`), policy: p(nil), wantCode: ClaimMissing},
		{name: "sub mismatch", in: tok(claims(`,"sub":"bob"`)), policy: p(func(c *ClaimsPolicy) { c.Subject = "alice" }), wantCode: SubjectMismatch},
		{name: "sub missing", in: tok(claims("")), policy: p(func(c *ClaimsPolicy) { c.Subject = "alice" }), wantCode: ClaimMissing},
		{name: "jti required", in: tok(claims("")), policy: p(func(c *ClaimsPolicy) { c.RequireJTI = true }), wantCode: ClaimMissing},
		{name: "jti present", in: tok(claims(`,"jti":"abc"`)), policy: p(func(c *ClaimsPolicy) { c.RequireJTI = true })},
		{name: "typ required and matching (case, application/)", in: tok(claims("")), policy: Policy{JWT: &base, Clock: clock, Typ: "application/jwt"}},
		{name: "typ mismatch", in: tok(claims("")), policy: Policy{JWT: &base, Clock: clock, Typ: "txn+jwt"}, wantCode: TypMismatch},
	})
	for _, bad := range []ClaimsPolicy{{Issuer: "x"}, {Audience: []string{"a"}}, {AnyAudience: true, AnyIssuer: true, Skew: -1}} {
		if _, err := NewVerifier(Policy{Algs: []Alg{ES256}, Keys: getFixture(t).set, JWT: &bad}); CodeOf(err) != PolicyInvalid {
			t.Fatalf("claims policy %+v: %v", bad, err)
		}
	}
}

func TestRulesJWK(t *testing.T) {
	f := getFixture(t)
	ecJ, _ := mustJWK(&f.ec.PublicKey, "", "").MarshalJSON()
	x, y := ecCoords(&f.ec.PublicKey)
	badY := append([]byte{}, y...)
	badY[31] ^= 1
	rsaN := encodeB64(f.rsa.N.Bytes())
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	ecPriv, _ := mustJWK(f.ec, "", "").MarshalJSON()
	cases := []struct {
		name     string
		in       string
		wantCode Code
	}{
		{"EC public", string(ecJ), ""},
		{"EC private", string(ecPriv), ""},
		{"not an object", `[]`, Malformed},
		{"duplicate member", `{"kty":"EC","kty":"EC"}`, Malformed},
		{"case variant KTY", `{"kty":"EC","KTY":"RSA","crv":"P-256","x":"` + encodeB64(x) + `","y":"` + encodeB64(y) + `"}`, Malformed},
		{"kty missing", `{"crv":"P-256"}`, Malformed},
		{"kty unknown", `{"kty":"DSA"}`, KeyRejected},
		{"EC point off curve", `{"kty":"EC","crv":"P-256","x":"` + encodeB64(x) + `","y":"` + encodeB64(badY) + `"}`, KeyRejected},
		{"EC short coordinate", `{"kty":"EC","crv":"P-256","x":"` + encodeB64(x[1:]) + `","y":"` + encodeB64(y) + `"}`, KeyRejected},
		{"EC padded coordinate", `{"kty":"EC","crv":"P-256","x":"` + encodeB64(append([]byte{0}, x...)) + `","y":"` + encodeB64(y) + `"}`, KeyRejected},
		{"EC unknown curve", `{"kty":"EC","crv":"secp256k1","x":"` + encodeB64(x) + `","y":"` + encodeB64(y) + `"}`, KeyRejected},
		{"EC alg for other curve", `{"kty":"EC","alg":"ES384","crv":"P-256","x":"` + encodeB64(x) + `","y":"` + encodeB64(y) + `"}`, KeyRejected},
		{"EC x not base64url", `{"kty":"EC","crv":"P-256","x":"` + encodeB64(x) + `=","y":"` + encodeB64(y) + `"}`, Malformed},
		{"EC x a number", `{"kty":"EC","crv":"P-256","x":1,"y":"` + encodeB64(y) + `"}`, Malformed},
		{"EC d zero", `{"kty":"EC","crv":"P-256","x":"` + encodeB64(x) + `","y":"` + encodeB64(y) + `","d":"` + encodeB64(make([]byte, 32)) + `"}`, KeyRejected},
		{"EC d short", `{"kty":"EC","crv":"P-256","x":"` + encodeB64(x) + `","y":"` + encodeB64(y) + `","d":"` + encodeB64(make([]byte, 31)) + `"}`, KeyRejected},
		{"EC d of another key", `{"kty":"EC","crv":"P-256","x":"` + encodeB64(x) + `","y":"` + encodeB64(y) + `","d":"` + encodeB64(bytes32(7)) + `"}`, KeyRejected},
		{"RSA 1024", `{"kty":"RSA","n":"` + encodeB64(small.N.Bytes()) + `","e":"AQAB"}`, KeyRejected},
		{"RSA e=3", `{"kty":"RSA","n":"` + rsaN + `","e":"Aw"}`, KeyRejected},
		{"RSA e even", `{"kty":"RSA","n":"` + rsaN + `","e":"AQAC"}`, KeyRejected},
		{"RSA n leading zero", `{"kty":"RSA","n":"` + encodeB64(append([]byte{0}, f.rsa.N.Bytes()...)) + `","e":"AQAB"}`, KeyRejected},
		{"RSA e missing", `{"kty":"RSA","n":"` + rsaN + `"}`, Malformed},
		{"RSA partial private", `{"kty":"RSA","n":"` + rsaN + `","e":"AQAB","d":"` + encodeB64(f.rsa.D.Bytes()) + `"}`, KeyRejected},
		{"RSA alg EdDSA", `{"kty":"RSA","alg":"EdDSA","n":"` + rsaN + `","e":"AQAB"}`, KeyRejected},
		{"RSA alg none", `{"kty":"RSA","alg":"none","n":"` + rsaN + `","e":"AQAB"}`, AlgNotAllowed},
		{"OKP X25519", `{"kty":"OKP","crv":"X25519","x":"` + encodeB64(make([]byte, 32)) + `"}`, KeyRejected},
		{"OKP Ed448", `{"kty":"OKP","crv":"Ed448","x":"` + encodeB64(make([]byte, 57)) + `"}`, KeyRejected},
		{"OKP short", `{"kty":"OKP","crv":"Ed25519","x":"` + encodeB64(make([]byte, 31)) + `"}`, KeyRejected},
		{"oct", `{"kty":"oct","k":"` + encodeB64(f.secret) + `"}`, ""},
		{"oct too short for HS256", `{"kty":"oct","alg":"HS256","k":"` + encodeB64(f.secret[:16]) + `"}`, KeyRejected},
		{"oct empty", `{"kty":"oct","k":""}`, Malformed},
		{"use unknown", `{"kty":"oct","use":"wrap","k":"` + encodeB64(f.secret) + `"}`, KeyRejected},
		{"key_ops duplicate", `{"kty":"oct","key_ops":["sign","sign"],"k":"` + encodeB64(f.secret) + `"}`, KeyRejected},
		{"use sig with key_ops encrypt", `{"kty":"oct","use":"sig","key_ops":["encrypt"],"k":"` + encodeB64(f.secret) + `"}`, KeyRejected},
		{"key_ops not an array", `{"kty":"oct","key_ops":"sign","k":"` + encodeB64(f.secret) + `"}`, Malformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseJWK([]byte(tc.in))
			if got := CodeOf(err); got != tc.wantCode {
				t.Fatalf("got %q (%v), want %q", got, err, tc.wantCode)
			}
		})
	}
	// A verification set refuses private members and duplicate kids.
	for _, tc := range []struct{ name, in string }{
		{"private key", `{"keys":[` + string(ecPriv) + `]}`},
		{"duplicate kid", `{"keys":[{"kty":"oct","kid":"a","k":"` + encodeB64(f.secret) + `"},{"kty":"oct","kid":"a","k":"` + encodeB64(f.secret) + `"}]}`},
	} {
		if _, err := ParseJWKS([]byte(tc.in)); CodeOf(err) != KeyRejected {
			t.Fatalf("%s: %v", tc.name, err)
		}
	}
	set, rejected, err := ParseJWKSPartial([]byte(`{"keys":[` + string(ecJ) + `,{"kty":"OKP","crv":"X25519","x":"` + encodeB64(make([]byte, 32)) + `"}]}`))
	if err != nil || len(rejected) != 1 || len(set.Keys()) != 1 {
		t.Fatalf("partial: set %v, rejected %v, err %v", set, rejected, err)
	}
	if _, err := ParseJWKS([]byte(`{"kys":[]}`)); CodeOf(err) != Malformed {
		t.Fatalf("no keys member: %v", err)
	}
}

func bytes32(b byte) []byte {
	out := make([]byte, 32)
	out[31] = b
	return out
}
