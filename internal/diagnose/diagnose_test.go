package diagnose

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/profile"
)

var t0 = time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)

func at(t time.Time) func() time.Time { return func() time.Time { return t } }

func signer(alg jose.Alg, key string, kid string) *profile.Signer {
	return &profile.Signer{Key: &jose.SigningKey{Alg: alg, Kid: kid, Signer: testkeys.Key(key)}, Clock: at(t0)}
}

type pub struct {
	kid string
	alg jose.Alg
	key string
}

func keySet(t *testing.T, ks ...pub) *jose.KeySet {
	t.Helper()
	var jwks []*jose.JWK
	for _, k := range ks {
		j, err := jose.NewJWK(testkeys.Key(k.key).Public(), k.kid, k.alg)
		if err != nil {
			t.Fatal(err)
		}
		jwks = append(jwks, j)
	}
	set, err := jose.NewKeySet(jwks...)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func newMessage(t *testing.T, method, rawURL string, body string) *profile.Message {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return &profile.Message{Method: method, Host: u.Host, Path: u.EscapedPath(), RawQuery: u.RawQuery, Header: http.Header{}, Body: []byte(body)}
}

// sign signs m with p and returns the signed request (headers set, body
// replaced where the scheme does).
func sign(t *testing.T, p profile.Profile, m *profile.Message, s *profile.Signer) *profile.Message {
	t.Helper()
	sig, err := p.Sign(m, s)
	if err != nil {
		t.Fatal(err)
	}
	out := *m
	out.Header = m.Header.Clone()
	for k, v := range sig.Header {
		out.Header[k] = v
	}
	if sig.Body != nil {
		out.Body = sig.Body
	}
	return &out
}

func diagnose(t *testing.T, p profile.Profile, tr profile.Trust, m *profile.Message) *Report {
	t.Helper()
	if tr.Clock == nil {
		tr.Clock = at(t0)
	}
	rep, err := Run(context.Background(), Input{Profile: p, Trust: tr, Message: m})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func wantCause(t *testing.T, rep *Report, code jose.Code, cause string, evidence ...string) {
	t.Helper()
	if rep.Verified {
		t.Fatalf("verified; want rejected with %s", code)
	}
	all := rep.Summary + "\n" + strings.Join(rep.Evidence, "\n") + "\n" + rep.Fix
	if rep.Code != code || rep.Cause != cause {
		t.Fatalf("code %s, cause %s; want %s, %s\n%s", rep.Code, rep.Cause, code, cause, all)
	}
	if rep.Summary == "" || rep.Fix == "" || len(rep.Evidence) == 0 {
		t.Errorf("incomplete report:\n%s", all)
	}
	for _, e := range evidence {
		if !strings.Contains(all, e) {
			t.Errorf("report lacks %q:\n%s", e, all)
		}
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// resign replaces the signature of a compact JWS header value with one over
// input made with key under alg; salt is the PSS salt length.
func resign(t *testing.T, value string, alg jose.Alg, key string, input []byte, salt int) string {
	t.Helper()
	h := algHash(alg).New()
	h.Write(input)
	d := h.Sum(nil)
	var sig []byte
	var err error
	switch alg {
	case jose.PS256, jose.PS512:
		sig, err = rsa.SignPSS(rand.Reader, testkeys.Key(key).(*rsa.PrivateKey), algHash(alg), d, &rsa.PSSOptions{SaltLength: salt})
	case jose.RS256:
		sig, err = rsa.SignPKCS1v15(rand.Reader, testkeys.Key(key).(*rsa.PrivateKey), algHash(alg), d)
	default:
		t.Fatalf("resign: %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(value, ".")
	return parts[0] + "." + parts[1] + "." + b64(sig)
}

var (
	ob     = profile.OpenBanking{Issuer: "0015800001041REAAY"}
	ob313  = profile.OpenBanking{Issuer: "0015800001041REAAY", Version: "3.1.3"}
	obKeys = []pub{{"ob1", jose.PS256, "rsa2048"}}
)

func obRequest(t *testing.T, p profile.OpenBanking, body string) *profile.Message {
	return sign(t, p, newMessage(t, "POST", "https://api.bank.example/open-banking/v3.1/pisp/domestic-payments", body), signer(jose.PS256, "rsa2048", "ob1"))
}

func TestVerified(t *testing.T) {
	m := obRequest(t, ob, `{"a":1}`)
	rep := diagnose(t, ob, profile.Trust{Keys: keySet(t, obKeys...)}, m)
	if !rep.Verified || rep.Result == nil || rep.Result.Kid != "ob1" {
		t.Fatalf("%+v", rep)
	}
}

func TestConfigError(t *testing.T) {
	if _, err := Run(context.Background(), Input{Profile: profile.Swift{}, Message: &profile.Message{}}); jose.CodeOf(err) != jose.PolicyInvalid {
		t.Fatalf("err %v", err)
	}
}

func TestBodyTrailingNewline(t *testing.T) {
	for _, c := range []struct{ signed, received, evidence string }{
		{`{"amount":"10.00"}`, "{\"amount\":\"10.00\"}\n", `a trailing "\n" was added`},
		{`{"amount":"10.00"}`, "{\"amount\":\"10.00\"}\r\n", `a trailing "\r\n" was added`},
		{"{\"amount\":\"10.00\"}\n", `{"amount":"10.00"}`, `the trailing "\n" the sender signed was removed`},
		{`{"amount":"10.00"}`, "{\"amount\":\"10.00\"}\n\n\n", "trailing newlines were added"},
	} {
		m := obRequest(t, ob, c.signed)
		m.Body = []byte(c.received)
		rep := diagnose(t, ob, profile.Trust{Keys: keySet(t, obKeys...)}, m)
		wantCause(t, rep, jose.SignatureInvalid, BodyTrailingNewline, c.evidence, "the body as received: ")
	}
}

func TestBodyLineEndings(t *testing.T) {
	m := obRequest(t, ob, "{\n  \"a\": 1\n}")
	m.Body = []byte("{\r\n  \"a\": 1\r\n}")
	wantCause(t, diagnose(t, ob, profile.Trust{Keys: keySet(t, obKeys...)}, m), jose.SignatureInvalid, BodyLineEndings, "LF line endings were converted to CRLF")

	m = obRequest(t, ob, "{\r\n  \"a\": 1\r\n}")
	m.Body = []byte("{\n  \"a\": 1\n}")
	wantCause(t, diagnose(t, ob, profile.Trust{Keys: keySet(t, obKeys...)}, m), jose.SignatureInvalid, BodyLineEndings, "CRLF line endings were converted to LF")
}

func TestBodyWhitespace(t *testing.T) {
	m := obRequest(t, ob, `{"a":1}`)
	m.Body = []byte("  \t{\"a\":1}")
	wantCause(t, diagnose(t, ob, profile.Trust{Keys: keySet(t, obKeys...)}, m), jose.SignatureInvalid, BodyWhitespace, "whitespace was added")
}

func TestBodyReserializedJSON(t *testing.T) {
	for _, c := range []struct{ name, signed, received, evidence string }{
		{"indented", "{\n  \"amount\": \"10.00\",\n  \"currency\": \"EUR\"\n}", `{"amount":"10.00","currency":"EUR"}`, "indented with 2 spaces"},
		{"compacted", `{"amount":"10.00","currency":"EUR"}`, "{\n    \"amount\": \"10.00\",\n    \"currency\": \"EUR\"\n}\n", "compact JSON"},
		{"python", `{"amount": "10.00", "currency": "EUR"}`, `{"amount":"10.00","currency":"EUR"}`, "Python"},
		{"escapes", `{"name":"José","note":"<b>"}`, `{"name": "Jos\u00e9", "note": "\u003cb\u003e"}`, "minimal escapes"},
		{"sorted", `{"a":1,"b":{"c":2,"d":3}}`, `{"b":{"d":3,"c":2},"a":1}`, "sorted"},
		{"ascii", `{"name": "Jos\u00e9"}`, `{"name":"José"}`, `\u escapes`},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := obRequest(t, ob, c.signed)
			m.Body = []byte(c.received)
			wantCause(t, diagnose(t, ob, profile.Trust{Keys: keySet(t, obKeys...)}, m), jose.SignatureInvalid, BodyReserializedJSON, c.evidence)
		})
	}
}

func TestBodyCharset(t *testing.T) {
	// Signed as UTF-8, arrived as Latin-1.
	m := obRequest(t, ob, `{"name":"José Müller"}`)
	m.Body = []byte("{\"name\":\"Jos\xe9 M\xfcller\"}")
	wantCause(t, diagnose(t, ob, profile.Trust{Keys: keySet(t, obKeys...)}, m), jose.SignatureInvalid, BodyCharset, "signed UTF-8 and the body was re-encoded to Latin-1")

	// Signed as Latin-1, arrived as UTF-8.
	m = obRequest(t, ob, "{\"name\":\"Jos\xe9\"}")
	m.Body = []byte(`{"name":"José"}`)
	wantCause(t, diagnose(t, ob, profile.Trust{Keys: keySet(t, obKeys...)}, m), jose.SignatureInvalid, BodyCharset, "signed Latin-1")

	// A byte order mark added.
	m = obRequest(t, ob, `{"a":1}`)
	m.Body = []byte("\xef\xbb\xbf{\"a\":1}")
	wantCause(t, diagnose(t, ob, profile.Trust{Keys: keySet(t, obKeys...)}, m), jose.SignatureInvalid, BodyCharset, "byte order mark")
}

func TestB64Mismatch(t *testing.T) {
	body := `{"amount":"10.00"}`
	// The header says b64:false; the signer signed BASE64URL(body).
	m := obRequest(t, ob313, body)
	v := m.Header.Get("x-jws-signature")
	prot := strings.Split(v, ".")[0]
	m.Header.Set("x-jws-signature", resign(t, v, jose.PS256, "rsa2048", []byte(prot+"."+b64([]byte(body))), rsa.PSSSaltLengthEqualsHash))
	wantCause(t, diagnose(t, ob313, profile.Trust{Keys: keySet(t, obKeys...)}, m), jose.SignatureInvalid, B64Mismatch, `the protected header has "b64": false`)

	// EBANX accepts b64 absent; here the signer then signed the raw body.
	hdr := b64([]byte(`{"alg":"RS256","kid":"e1"}`))
	m = newMessage(t, "POST", "https://api.ebanx.example/ws/direct", body)
	m.Header.Set("X-JWS-Signature", resign(t, hdr+"..", jose.RS256, "rsa4096", []byte(hdr+"."+body), 0))
	wantCause(t, diagnose(t, profile.EBANX{}, profile.Trust{Keys: keySet(t, pub{"e1", jose.RS256, "rsa4096"})}, m), jose.SignatureInvalid, B64Mismatch, `has no "b64": false`)
}

var (
	generic     = profile.Generic{}
	genericURL  = "https://api.bank.example/v1/payments"
	genericBody = `{"amount":"10.00","currency":"EUR"}`
)

func TestKidUnknown(t *testing.T) {
	m := sign(t, generic, newMessage(t, "POST", genericURL, genericBody), signer(jose.ES256, "p256b", "k9"))
	rep := diagnose(t, generic, profile.Trust{Keys: keySet(t, pub{"k1", jose.ES256, "p256"})}, m)
	wantCause(t, rep, jose.KeyUnknown, KidUnknown, `kid "k9"`, `the key set has 1 key(s): "k1"`, "no key of the set verifies")
}

func TestKeyRotated(t *testing.T) {
	keys := keySet(t, pub{"k1", jose.ES256, "p256"}, pub{"k2", jose.ES256, "p256b"})
	// Signed with k2's key but labelled k1.
	m := sign(t, generic, newMessage(t, "POST", genericURL, genericBody), signer(jose.ES256, "p256b", "k1"))
	wantCause(t, diagnose(t, generic, profile.Trust{Keys: keys}, m), jose.SignatureInvalid, KeyRotated, `published as "k2"`, `the key set's "k1" is another key`)

	// Signed with k2's key under a kid nobody published.
	m = sign(t, generic, newMessage(t, "POST", genericURL, genericBody), signer(jose.ES256, "p256b", "k3"))
	wantCause(t, diagnose(t, generic, profile.Trust{Keys: keys}, m), jose.KeyUnknown, KeyRotated, `kid "k3" is not in the key set`, `published as "k2"`)
}

var incommKeys = []pub{{"i1", jose.PS512, "rsa3072"}}

func incommRequest(t *testing.T, p profile.InComm, method, rawURL string) *profile.Message {
	return sign(t, p, newMessage(t, method, rawURL, `{"card":"6000"}`), signer(jose.PS512, "rsa3072", "i1"))
}

func TestQueryNormalization(t *testing.T) {
	trust := profile.Trust{Keys: keySet(t, incommKeys...)}
	// '+' for a space on the way.
	m := incommRequest(t, profile.InComm{}, "GET", "https://api.incomm.example/v1/cards?q=a%20b&x=1")
	m.RawQuery = "q=a+b&x=1"
	wantCause(t, diagnose(t, profile.InComm{}, trust, m), profile.RequestMismatch, QueryNormalization, "%20 became '+'", `"q=a%20b&x=1"`)

	// The signer does not sort.
	unsorted := profile.InComm{Query: func(r string) (string, error) { return unsortedQuery(r), nil }}
	m = incommRequest(t, unsorted, "GET", "https://api.incomm.example/v1/cards?b=2&a=1")
	wantCause(t, diagnose(t, profile.InComm{}, trust, m), profile.RequestMismatch, QueryNormalization, "request order", `"?b=2&a=1"`)

	// Swift: the query re-ordered on the way.
	m = swiftRequest(t, "https://api.swift.example/v1/pay?b=2&a=1", `{}`)
	m.RawQuery = "a=1&b=2"
	wantCause(t, diagnose(t, profile.Swift{}, swiftTrust(), m), profile.RequestMismatch, QueryNormalization, "same parameters")
}

func TestPathNormalization(t *testing.T) {
	trust := profile.Trust{Keys: keySet(t, incommKeys...)}
	m := incommRequest(t, profile.InComm{}, "GET", "https://api.incomm.example/v1/cards/a%2Fb")
	m.Path = "/v1/cards/a/b"
	wantCause(t, diagnose(t, profile.InComm{}, trust, m), profile.RequestMismatch, PathNormalization, `both decode to "/v1/cards/a/b"`)

	m = swiftRequest(t, "https://api.swift.example/v1//pay/./x", `{}`)
	m.Path = "/v1/pay/x"
	wantCause(t, diagnose(t, profile.Swift{}, swiftTrust(), m), profile.RequestMismatch, PathNormalization, `both normalize to "/v1/pay/x"`)
}

func TestMethodCase(t *testing.T) {
	m := incommRequest(t, profile.InComm{}, "POST", "https://api.incomm.example/v1/cards")
	m.Method = "post"
	wantCause(t, diagnose(t, profile.InComm{}, profile.Trust{Keys: keySet(t, incommKeys...)}, m), profile.RequestMismatch, MethodCase, `signed "POST", the request says "post"`)
}

func TestRequestTarget(t *testing.T) {
	m := incommRequest(t, profile.InComm{}, "POST", "https://api.incomm.example/v1/cards/1")
	m.Path = "/v1/cards/2"
	wantCause(t, diagnose(t, profile.InComm{}, profile.Trust{Keys: keySet(t, incommKeys...)}, m), profile.RequestMismatch, RequestTarget, "it is genuine")

	m = incommRequest(t, profile.InComm{}, "POST", "https://api.incomm.example/api/v1/cards")
	m.Path = "/v1/cards"
	wantCause(t, diagnose(t, profile.InComm{}, profile.Trust{Keys: keySet(t, incommKeys...)}, m), profile.RequestMismatch, RequestTarget, `stripped the prefix "/api"`)
}

func TestClockSkew(t *testing.T) {
	keys := keySet(t, pub{"k1", jose.ES256, "p256"})
	m := sign(t, generic, newMessage(t, "POST", genericURL, genericBody), signer(jose.ES256, "p256", "k1"))
	// Checked an hour later: exp (t0+5m) passed 3300 s ago.
	rep := diagnose(t, generic, profile.Trust{Keys: keys, Clock: at(t0.Add(time.Hour))}, m)
	wantCause(t, rep, jose.Expired, ClockSkew, "expired 3300 s (55m0s) before", "--skew 3301s", "--at 2027-03-01T12:00:00Z")

	// Checked ten minutes early.
	rep = diagnose(t, generic, profile.Trust{Keys: keys, Clock: at(t0.Add(-10 * time.Minute))}, m)
	wantCause(t, rep, jose.IssuedInFuture, ClockSkew, "600 s (10m0s) in the future", "--skew 601s")

	// Open Banking carries only iat: too old.
	ob := obRequest(t, ob, `{}`)
	rep = diagnose(t, profile.OpenBanking{}, profile.Trust{Keys: keySet(t, obKeys...), Clock: at(t0.Add(7 * time.Minute))}, ob)
	wantCause(t, rep, jose.Expired, ClockSkew, "issued 420 s (7m0s) before", "--skew 121s")
}

func TestECDSADER(t *testing.T) {
	m := sign(t, generic, newMessage(t, "POST", genericURL, genericBody), signer(jose.ES256, "p256", "k1"))
	var jws map[string]string
	if err := json.Unmarshal(m.Body, &jws); err != nil {
		t.Fatal(err)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(jws["signature"])
	der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])})
	if err != nil {
		t.Fatal(err)
	}
	jws["signature"] = b64(der)
	m.Body, _ = json.Marshal(jws)
	rep := diagnose(t, generic, profile.Trust{Keys: keySet(t, pub{"k1", jose.ES256, "p256"})}, m)
	wantCause(t, rep, jose.SignatureInvalid, ECDSADER, "DER SEQUENCE", `verifies with key "k1"`)

	// A DER signature from ecdsa.SignASN1 over a detached header.
	g := profile.Generic{Header: "X-Signature"}
	m = sign(t, g, newMessage(t, "POST", genericURL, genericBody), signer(jose.ES256, "p256", "k1"))
	parts := strings.Split(m.Header.Get("X-Signature"), ".")
	input := parts[0] + "." + b64(m.Body)
	d := sha256.Sum256([]byte(input))
	der, err = ecdsa.SignASN1(rand.Reader, testkeys.Key("p256").(*ecdsa.PrivateKey), d[:])
	if err != nil {
		t.Fatal(err)
	}
	m.Header.Set("X-Signature", parts[0]+".."+b64(der))
	wantCause(t, diagnose(t, g, profile.Trust{Keys: keySet(t, pub{"k1", jose.ES256, "p256"})}, m), jose.SignatureInvalid, ECDSADER, "R||S")
}

func TestPSSSaltLength(t *testing.T) {
	body := `{"amount":"10.00"}`
	m := obRequest(t, ob, body)
	v := m.Header.Get("x-jws-signature")
	input := []byte(strings.Split(v, ".")[0] + "." + b64([]byte(body)))
	for _, c := range []struct {
		salt int
		want string
	}{{rsa.PSSSaltLengthAuto, "222 bytes (the maximum"}, {20, "a salt of 20 bytes"}, {64, "a salt of 64 bytes"}} {
		m.Header.Set("x-jws-signature", resign(t, v, jose.PS256, "rsa2048", input, c.salt))
		wantCause(t, diagnose(t, ob, profile.Trust{Keys: keySet(t, obKeys...)}, m), jose.SignatureInvalid, PSSSaltLength, c.want, "32 bytes")
	}
}

// Swift: the testkeys PKI (valid 2026–2036), leaf signs.
func swiftTrust() profile.Trust { return profile.Trust{Roots: testkeys.Roots()} }

func swiftSigner() *profile.Signer {
	s := signer(jose.RS256, "leaf", "")
	s.Chain = testkeys.Chain("leaf")
	return s
}

func swiftRequest(t *testing.T, rawURL, body string) *profile.Message {
	return sign(t, profile.Swift{}, newMessage(t, "POST", rawURL, body), swiftSigner())
}

func TestDigestEncoding(t *testing.T) {
	body := []byte(`{"amount":"10.00"}`)
	sum := sha256.Sum256(body)
	claims := `{"sub":"` + testkeys.Cert("leaf").Subject.String() + `","aud":"api.swift.example/v1/pay","iat":` +
		jsonNum(t0) + `,"nbf":` + jsonNum(t0) + `,"exp":` + jsonNum(t0.Add(5*time.Minute)) + `,"jti":"abc","digest":"` + hex.EncodeToString(sum[:]) + `"}`
	j, err := jose.Sign([]byte(claims), jose.SignOptions{Typ: "JWT", X5C: testkeys.Chain("leaf")}, &jose.SigningKey{Alg: jose.RS256, Signer: testkeys.Key("leaf")})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := j.CompactBytes()
	m := newMessage(t, "POST", "https://api.swift.example/v1/pay", string(body))
	m.Header.Set("X-SWIFT-Signature", string(v))
	wantCause(t, diagnose(t, profile.Swift{}, swiftTrust(), m), profile.DigestMismatch, DigestEncoding, "hex of SHA-256 of the raw body", profile.SwiftDigest(body))
}

func jsonNum(t time.Time) string { return big.NewInt(t.Unix()).String() }

func TestSwiftBody(t *testing.T) {
	m := swiftRequest(t, "https://api.swift.example/v1/pay", `{"amount":"10.00"}`)
	m.Body = append(m.Body, '\n')
	wantCause(t, diagnose(t, profile.Swift{}, swiftTrust(), m), profile.DigestMismatch, BodyTrailingNewline)
}

func TestOBVersion(t *testing.T) {
	m := obRequest(t, ob313, `{"a":1}`)
	wantCause(t, diagnose(t, profile.OpenBanking{}, profile.Trust{Keys: keySet(t, obKeys...)}, m), jose.HeaderInvalid, OBVersion, "verifies when the partner's version is 3.1.3")
}

func TestHeaderMissing(t *testing.T) {
	m := incommRequest(t, profile.InComm{}, "POST", "https://api.incomm.example/v1/cards")
	m.Header.Del("Authorization")
	wantCause(t, diagnose(t, profile.InComm{}, profile.Trust{Keys: keySet(t, incommKeys...)}, m), profile.HeaderMissing, HeaderMissing, "headers present: Signature")

	m = obRequest(t, ob, `{}`)
	wantCause(t, diagnose(t, profile.InComm{}, profile.Trust{Keys: keySet(t, incommKeys...)}, m), profile.HeaderMissing, HeaderMissing, "ebanx or openbanking")
}

func TestSchemeRule(t *testing.T) {
	m := sign(t, generic, newMessage(t, "POST", genericURL, genericBody), signer(jose.EdDSA, "ed25519", "k1"))
	wantCause(t, diagnose(t, generic, profile.Trust{Keys: keySet(t, pub{"k1", jose.ES256, "p256"})}, m), jose.AlgNotAllowed, SchemeRule, "scheme")
}

func TestUnexplained(t *testing.T) {
	m := obRequest(t, ob, `{"amount":"10.00"}`)
	m.Body = []byte(`{"amount":"99.00"}`)
	wantCause(t, diagnose(t, ob, profile.Trust{Keys: keySet(t, obKeys...)}, m), jose.SignatureInvalid, Unexplained, "tested and ruled out", "RSA-PSS salt lengths", "variants of the body")
}

// A cause found while another check still fails reports the follow-up.
func TestFollowUp(t *testing.T) {
	m := obRequest(t, ob, `{"a":1}`)
	m.Body = []byte("{\"a\":1}\n")
	rep := diagnose(t, ob, profile.Trust{Keys: keySet(t, obKeys...), Clock: at(t0.Add(time.Hour))}, m)
	wantCause(t, rep, jose.SignatureInvalid, BodyTrailingNewline, "still fails: expired")
}

func TestCauseIDs(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Causes() {
		if seen[c] || c == "" || strings.ToLower(c) != c {
			t.Errorf("bad or duplicate cause id %q", c)
		}
		seen[c] = true
	}
}
