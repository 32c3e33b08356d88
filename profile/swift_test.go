package profile

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nonrep/nonrep/jose"
)

// swiftHdr is a Swift JWT header carrying chain in x5c.
func swiftHdr(chain [][]byte) members {
	x5c := make([]string, len(chain))
	for i, der := range chain {
		x5c[i] = base64.StdEncoding.EncodeToString(der)
	}
	b, _ := json.Marshal(x5c)
	return members{{"alg", `"RS256"`}, {"typ", `"JWT"`}, {"x5c", string(b)}}
}

// swiftClaims are the claims Swift.Sign makes for m (with a fixed jti).
func swiftClaims(m *Message) members {
	return members{
		{"sub", q(subjectString(testPKI().leaf))},
		{"aud", q(SwiftAudience(m.Host, m.Path, m.RawQuery))},
		{"iat", num(t0)},
		{"nbf", num(t0)},
		{"exp", num(t0.Add(5 * time.Minute))},
		{"jti", `"jti-1_A"`},
		{"digest", q(SwiftDigest(m.Body))},
	}
}

// swiftJWT signs claims under header h with key.
func swiftJWT(t testing.TB, h, claims members, key crypto.Signer) string {
	return compact(t, claims.json(), h, false, sk(key, jose.RS256, ""))
}

func TestSwift(t *testing.T) {
	t.Parallel()
	fx := swiftFixture(t)
	pk := testPKI()
	signed := mustSign(t, fx.p, newMessage(), fx.signer)
	base := newMessage()
	claims := swiftClaims(base)
	hdr := swiftHdr(pk.chain)
	tamper := func(f func(m *Message)) func(t *testing.T) *Message {
		return func(t *testing.T) *Message { m := signed.clone(); f(m); return m }
	}
	// hand signs hand-made claims (and header) with the leaf key.
	hand := func(c members, h ...members) func(t *testing.T) *Message {
		return func(t *testing.T) *Message {
			hh := hdr
			if len(h) > 0 {
				hh = h[0]
			}
			m := newMessage()
			m.Header.Set("X-SWIFT-Signature", swiftJWT(t, hh, c, pk.leafKey))
			return m
		}
	}
	// A leaf without digitalSignature, and chains that do not reach the roots.
	noSig := newPKI(swiftLeafDN, x509.KeyUsageKeyEncipherment, pk.leafKey)
	noSigRoots := noSig.roots
	other := otherPKI()

	tests := []struct {
		name  string
		msg   func(t *testing.T) *Message
		trust func(*Trust)
		want  jose.Code
	}{
		{name: "valid", msg: tamper(func(*Message) {})},
		{name: "hand-made claims equal to Sign's", msg: hand(claims)},
		{name: "aud without the query", msg: hand(claims.set("aud", q("api.example.com/v0/payments/closed-loop/sale")))},
		{name: "request on port 443", msg: tamper(func(m *Message) { m.Host += ":443" })},

		// The body: digest.
		{name: "body byte changed", msg: tamper(func(m *Message) { m.Body[12] = '9' }), want: DigestMismatch},
		{name: "body emptied", msg: tamper(func(m *Message) { m.Body = nil }), want: DigestMismatch},
		{name: "body re-serialized", msg: tamper(func(m *Message) { m.Body = []byte(strings.ReplaceAll(testBody, ",", ", ")) }), want: DigestMismatch},
		{name: "digest missing", msg: hand(claims.del("digest")), want: jose.ClaimMissing},
		{name: "digest of the raw body (not of its base64)", msg: hand(claims.set("digest", q(stdSHA256(base.Body)))), want: DigestMismatch},

		// The request: aud.
		{name: "method is not covered", msg: tamper(func(m *Message) { m.Method = "PUT" })},
		{name: "path changed", msg: tamper(func(m *Message) { m.Path = "/v0/payments/closed-loop/refund" }), want: RequestMismatch},
		{name: "query changed", msg: tamper(func(m *Message) { m.RawQuery = "b=2&a=2" }), want: RequestMismatch},
		{name: "query reordered", msg: tamper(func(m *Message) { m.RawQuery = "a=1&b=2" }), want: RequestMismatch},
		// SCHEMES.md: the verifier accepts aud with or without the query, so
		// an aud without one does not cover the query: this is accepted.
		{name: "query added to a query-less aud", msg: func(t *testing.T) *Message {
			m := newMessage()
			m.RawQuery = ""
			m = mustSign(t, Swift{}, m, fx.signer)
			m.RawQuery = "x=1"
			return m
		}},
		{name: "query removed from the request", msg: tamper(func(m *Message) { m.RawQuery = "" }), want: RequestMismatch},
		{name: "host changed", msg: tamper(func(m *Message) { m.Host = "evil.example.com" }), want: RequestMismatch},
		{name: "non-default port", msg: tamper(func(m *Message) { m.Host += ":8443" }), want: RequestMismatch},
		{name: "aud with https://", msg: hand(claims.set("aud", q("https://"+SwiftAudience(base.Host, base.Path, base.RawQuery)))), want: jose.AudienceMismatch},
		{name: "aud with http://", msg: hand(claims.set("aud", q("http://"+SwiftAudience(base.Host, base.Path, "")))), want: jose.AudienceMismatch},
		{name: "aud as two values", msg: hand(claims.set("aud", `["api.example.com/v0/payments/closed-loop/sale","x"]`)), want: jose.AudienceMismatch},
		{name: "aud as a one-element array", msg: hand(claims.set("aud", `["api.example.com/v0/payments/closed-loop/sale"]`))},
		{name: "aud missing", msg: hand(claims.del("aud")), want: jose.ClaimMissing},

		// sub and the chain.
		{name: "sub not the leaf DN", msg: hand(claims.set("sub", q("CN=someone-else,O=swift"))), want: jose.SubjectMismatch},
		{name: "sub with one RDN fewer", msg: hand(claims.set("sub", q("CN=api-client,OU=payments"))), want: jose.SubjectMismatch},
		{name: "sub unparsable", msg: hand(claims.set("sub", q("not a DN"))), want: jose.SubjectMismatch},
		{name: "sub missing", msg: hand(claims.del("sub")), want: jose.ClaimMissing},
		{name: "sub in another case and spacing", msg: hand(claims.set("sub", q("cn=API-CLIENT, ou=Payments, o=SWIFT + o=BankBEBB, c=be")))},
		{name: "sub with OID types", msg: hand(claims.set("sub", q("2.5.4.3=api-client,2.5.4.11=payments,o=bankbebb+o=swift,2.5.4.6=BE")))},
		{name: "chain to other roots", msg: tamper(func(*Message) {}), trust: func(tr *Trust) { tr.Roots = other.roots }, want: jose.X5CInvalid},
		{name: "chain from another CA", msg: hand(claims, swiftHdr(other.chain)), want: jose.X5CInvalid},
		{name: "chain without the intermediate", msg: hand(claims, swiftHdr(pk.chain[:1])), want: jose.X5CInvalid},
		{name: "chain is the root itself", msg: hand(claims, swiftHdr([][]byte{pk.root.Raw})), want: jose.X5CInvalid},
		{name: "leaf without digitalSignature", msg: hand(claims, swiftHdr(noSig.chain)), trust: func(tr *Trust) { tr.Roots = noSigRoots }, want: jose.X5CInvalid},
		{name: "leaf expired", msg: tamper(func(*Message) {}), trust: func(tr *Trust) { tr.Clock = at(t0.Add(6 * 365 * 24 * time.Hour)) }, want: jose.X5CInvalid},
		{name: "x5c not a certificate", msg: func(t *testing.T) *Message {
			m := signed.clone()
			m.Header.Set("X-SWIFT-Signature", swapHeader(m.Header.Get("X-SWIFT-Signature"), swiftHdr([][]byte{[]byte("junk")})))
			return m
		}, want: jose.X5CInvalid},
		{name: "x5c missing", msg: hand(claims, hdr.del("x5c")), want: jose.HeaderInvalid},
		{name: "leaf key does not match the signing key", msg: func(t *testing.T) *Message {
			m := newMessage()
			m.Header.Set("X-SWIFT-Signature", swiftJWT(t, hdr, claims, rsaKey(2048, 1)))
			return m
		}, want: jose.SignatureInvalid},
		{name: "kid is ignored", msg: hand(claims, hdr.set("kid", `"x"`))},

		// Header shape.
		{name: "typ missing", msg: hand(claims, hdr.del("typ")), want: jose.TypMismatch},
		{name: "typ JOSE", msg: hand(claims, hdr.set("typ", `"JOSE"`)), want: jose.TypMismatch},
		{name: "alg PS256", msg: func(t *testing.T) *Message {
			m := newMessage()
			m.Header.Set("X-SWIFT-Signature", compact(t, claims.json(), hdr.set("alg", `"PS256"`), false, sk(pk.leafKey, jose.PS256, "")))
			return m
		}, want: jose.AlgNotAllowed},
		{name: "crit entry", msg: hand(claims, hdr.set("crit", `["x-nonce"]`).set("x-nonce", `1`)), want: jose.CritUnsupported},
		{name: "claims changed under the same signature", msg: tamper(func(m *Message) {
			v := m.Header.Get("X-SWIFT-Signature")
			parts := strings.Split(v, ".")
			parts[1] = base64.RawURLEncoding.EncodeToString(claims.set("jti", `"other"`).json())
			m.Header.Set("X-SWIFT-Signature", strings.Join(parts, "."))
		}), want: jose.SignatureInvalid},
		{name: "detached JWT", msg: func(t *testing.T) *Message {
			m := newMessage()
			m.Header.Set("X-SWIFT-Signature", compact(t, claims.json(), hdr, true, sk(pk.leafKey, jose.RS256, "")))
			return m
		}, want: jose.PayloadMismatch},
		{name: "header missing", msg: tamper(func(m *Message) { m.Header.Del("X-SWIFT-Signature") }), want: HeaderMissing},
		{name: "header repeated", msg: tamper(func(m *Message) { m.Header.Add("X-Swift-Signature", m.Header.Get("X-SWIFT-Signature")) }), want: HeaderMissing},
		{name: "header garbage", msg: tamper(func(m *Message) { m.Header.Set("X-SWIFT-Signature", "a.b") }), want: jose.Malformed},

		// Time and jti.
		{name: "expired", msg: tamper(func(*Message) {}), trust: func(tr *Trust) { tr.Clock = at(t0.Add(6 * time.Minute)) }, want: jose.Expired},
		{name: "expired but within skew", msg: tamper(func(*Message) {}), trust: func(tr *Trust) { tr.Clock = at(t0.Add(5*time.Minute + 30*time.Second)) }},
		{name: "not yet valid", msg: tamper(func(*Message) {}), trust: func(tr *Trust) { tr.Clock = at(t0.Add(-2 * time.Minute)) }, want: jose.NotYetValid},
		{name: "iat in the future", msg: hand(claims.set("iat", num(t0.Add(2*time.Minute))).set("exp", num(t0.Add(6*time.Minute)))), want: jose.IssuedInFuture},
		{name: "lifetime over 15 min", msg: hand(claims.set("exp", num(t0.Add(16*time.Minute)))), want: jose.LifetimeExceeded},
		{name: "lifetime 15 min", msg: hand(claims.set("exp", num(t0.Add(15*time.Minute))))},
		{name: "MaxLifetime cannot exceed 15 min", msg: hand(claims.set("exp", num(t0.Add(16*time.Minute)))),
			trust: func(tr *Trust) { tr.MaxLifetime = time.Hour }, want: jose.LifetimeExceeded},
		{name: "MaxLifetime lowered", msg: tamper(func(*Message) {}), trust: func(tr *Trust) { tr.MaxLifetime = time.Minute }, want: jose.LifetimeExceeded},
		{name: "exp equal to iat", msg: hand(claims.set("exp", num(t0))), want: jose.ClaimsInvalid},
		{name: "exp missing", msg: hand(claims.del("exp")), want: jose.ClaimMissing},
		{name: "iat missing", msg: hand(claims.del("iat")), want: jose.ClaimMissing},
		{name: "nbf missing", msg: hand(claims.del("nbf")), want: jose.ClaimMissing},
		{name: "nbf missing, lenient", msg: hand(claims.del("nbf")), trust: func(tr *Trust) { tr.Lenient = true }},
		{name: "jti missing", msg: hand(claims.del("jti")), want: jose.ClaimMissing},
		{name: "jti with '/'", msg: hand(claims.set("jti", `"abc/def"`)), want: jose.ClaimsInvalid},
		{name: "jti with '+' and '='", msg: hand(claims.set("jti", `"ab+c=="`)), want: jose.ClaimsInvalid},
		{name: "jti with a space", msg: hand(claims.set("jti", `"ab c"`)), want: jose.ClaimsInvalid},
		{name: "jti a number", msg: hand(claims.set("jti", `12`)), want: jose.ClaimsInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := fx.trust
			if tc.trust != nil {
				tc.trust(&tr)
			}
			res, err := check(mustVerifier(t, Swift{}, tr), tc.msg(t))
			wantCode(t, err, tc.want)
			if err == nil && (res.Profile != "swift" || res.Kid != "" || res.Subject != fx.subject || len(res.Chain) != 3) {
				t.Fatalf("result %+v", res)
			}
		})
	}
}

func stdSHA256(b []byte) string {
	h := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(h[:])
}

// TestSwiftSubjects signs and verifies with leaf certificates whose subjects
// pkix.Name does not round-trip: repeated RDNs of one type (SWIFTNet's
// o=<bic>,o=swift), and types it has no name for (DC, emailAddress, UID).
func TestSwiftSubjects(t *testing.T) {
	t.Parallel()
	var (
		oidCN    = asn1.ObjectIdentifier{2, 5, 4, 3}
		oidOU    = asn1.ObjectIdentifier{2, 5, 4, 11}
		oidO     = asn1.ObjectIdentifier{2, 5, 4, 10}
		oidDC    = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
		oidEmail = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	)
	atv := func(oid asn1.ObjectIdentifier, v string) []pkix.AttributeTypeAndValue {
		return []pkix.AttributeTypeAndValue{{Type: oid, Value: v}}
	}
	for _, tc := range []struct {
		name string
		seq  pkix.RDNSequence // DER order: most significant first
		sub  []string         // what a partner may send as sub; all must match
	}{
		{"SWIFTNet", pkix.RDNSequence{atv(oidO, "swift"), atv(oidO, "bankbebb"), atv(oidOU, "payments"), atv(oidCN, "api-client")},
			[]string{"cn=api-client,ou=payments,o=bankbebb,o=swift", "CN=api-client,OU=payments,O=bankbebb,O=swift"}},
		{"DC and email", pkix.RDNSequence{atv(oidDC, "com"), atv(oidDC, "example"), atv(oidCN, "x"), atv(oidEmail, "ops@example.com")},
			[]string{"emailAddress=ops@example.com,CN=x,DC=example,DC=com", "1.2.840.113549.1.9.1=ops@example.com,cn=x,dc=example,dc=com"}},
		{"multi-valued RDN", pkix.RDNSequence{atv(oidO, "bank"), {{Type: oidOU, Value: "a"}, {Type: oidCN, Value: "b"}}},
			[]string{"CN=b+OU=a,O=bank", "OU=a+CN=b,O=bank"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := asn1.Marshal(tc.seq)
			if err != nil {
				t.Fatal(err)
			}
			pk := newPKIRaw(pkix.Name{}, raw, x509.KeyUsageDigitalSignature, rsaKey(2048, 0))
			s := &Signer{Key: sk(pk.leafKey, jose.RS256, ""), Chain: pk.chain, Clock: at(t0)}
			v := mustVerifier(t, Swift{}, Trust{Roots: pk.roots, Clock: at(t0)})
			// Our own signer's sub.
			res, err := check(v, mustSign(t, Swift{}, newMessage(), s))
			if err != nil {
				t.Fatalf("own sub: %v", err)
			}
			if sub := res.Claims.Subject; res.Subject != sub {
				t.Errorf("Result.Subject %q, sub %q", res.Subject, sub)
			}
			// A partner's spelling of the same DN.
			for _, sub := range tc.sub {
				c := swiftClaims(newMessage()).set("sub", q(sub))
				m := newMessage()
				m.Header.Set("X-SWIFT-Signature", swiftJWT(t, swiftHdr(pk.chain), c, pk.leafKey))
				if _, err := check(v, m); err != nil {
					t.Errorf("sub %q: %v", sub, err)
				}
			}
		})
	}
}

// TestSwiftWire checks the token Sign makes: header, claim order and
// values, and the RS256 signature with the standard library.
func TestSwiftWire(t *testing.T) {
	t.Parallel()
	fx := swiftFixture(t)
	pk := testPKI()
	m := newMessage()
	v := mustSign(t, Swift{}, m, fx.signer).Header.Get("X-SWIFT-Signature")
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", v)
	}
	h, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if string(h) != string(swiftHdr(pk.chain).json()) {
		t.Errorf("header %s", h)
	}
	c, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var got map[string]any
	if err := json.Unmarshal(c, &got); err != nil {
		t.Fatal(err)
	}
	jti, _ := got["jti"].(string)
	want := swiftClaims(m).set("jti", q(jti)).json()
	if string(c) != string(want) || len(jti) != 22 {
		t.Errorf("claims\n got %s\nwant %s", c, want)
	}
	if !strings.Contains(string(c), `"aud":"api.example.com/v0/payments/closed-loop/sale?b=2&a=1"`) {
		t.Errorf("aud is not host+path+?query verbatim: %s", c)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	d := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&pk.leafKey.PublicKey, crypto.SHA256, d[:], sig); err != nil {
		t.Error(err)
	}
}

func TestSwiftSign(t *testing.T) {
	t.Parallel()
	pk := testPKI()
	for _, tc := range []struct {
		name string
		s    *Signer
		want jose.Code
	}{
		{"no key", &Signer{Chain: pk.chain}, jose.KeyRejected},
		{"PS256 key", &Signer{Key: sk(pk.leafKey, jose.PS256, ""), Chain: pk.chain}, jose.KeyRejected},
		{"no chain", &Signer{Key: sk(pk.leafKey, jose.RS256, "")}, jose.PolicyInvalid},
		{"chain not a certificate", &Signer{Key: sk(pk.leafKey, jose.RS256, ""), Chain: [][]byte{[]byte("x")}}, jose.X5CInvalid},
	} {
		_, err := Swift{}.Sign(newMessage(), tc.s)
		if jose.CodeOf(err) != tc.want {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// Lifetime: default 5 min, as configured, and never above 15 min.
	for _, tc := range []struct{ set, want time.Duration }{{0, 5 * time.Minute}, {10 * time.Minute, 10 * time.Minute}, {time.Hour, 15 * time.Minute}} {
		s := &Signer{Key: sk(pk.leafKey, jose.RS256, ""), Chain: pk.chain, Clock: at(t0)}
		res, err := check(mustVerifier(t, Swift{}, Trust{Roots: pk.roots, Clock: at(t0)}), mustSign(t, Swift{Lifetime: tc.set}, newMessage(), s))
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Claims.Expiry.Sub(res.Claims.IssuedAt); got != tc.want {
			t.Errorf("Lifetime %v: exp − iat = %v, want %v", tc.set, got, tc.want)
		}
	}
}

func TestSwiftAudience(t *testing.T) {
	for _, tc := range []struct{ host, path, query, want string }{
		{"sandbox.swift.com", "/swift-apitracker/v5/payments/status", "", "sandbox.swift.com/swift-apitracker/v5/payments/status"},
		{"sandbox.swift.com:443", "/a", "", "sandbox.swift.com/a"},
		{"sandbox.swift.com:8443", "/a", "", "sandbox.swift.com:8443/a"},
		{"h", "/a%2Fb", "x=1&y=%20", "h/a%2Fb?x=1&y=%20"},
	} {
		if got := SwiftAudience(tc.host, tc.path, tc.query); got != tc.want {
			t.Errorf("SwiftAudience(%q, %q, %q) = %q, want %q", tc.host, tc.path, tc.query, got, tc.want)
		}
	}
}

// ---- response integrity ----------------------------------------------------

const clientDN = "CN=client,O=bankbebb,O=swift"

const responseBody = `{"status":"ACCC","amount":1.50,"currency":"EUR","b":[3,2,1],"a":{"z":true,"y":null}}`

func integrityClaims(body []byte) members {
	d, _ := IntegrityDigest(body)
	return members{
		{"sub", q(subjectString(testPKI().leaf))},
		{"aud", q(clientDN)},
		{"iat", num(t0)}, {"nbf", num(t0)}, {"exp", num(t0.Add(5 * time.Minute))},
		{"jti", `"r-1"`},
		{"digestalg", `"SHA256"`},
		{"digest", q(d)},
	}
}

func TestSwiftResponse(t *testing.T) {
	t.Parallel()
	fx := swiftFixture(t)
	pk := testPKI()
	h, err := Swift{}.SignResponse([]byte(responseBody), clientDN, fx.signer)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 || len(h.Values("X-SWIFT-Integrity")) != 1 {
		t.Fatalf("SignResponse headers %v", h)
	}
	hand := func(c members) http.Header {
		return http.Header{"X-Swift-Integrity": {swiftJWT(t, swiftHdr(pk.chain), c, pk.leafKey)}}
	}
	claims := integrityClaims([]byte(responseBody))
	tests := []struct {
		name   string
		header http.Header
		body   string
		trust  func(*Trust)
		want   jose.Code
	}{
		{name: "valid", header: h, body: responseBody},
		{name: "hand-made", header: hand(claims), body: responseBody},
		{name: "members re-ordered, whitespace, number spelling", header: h,
			body: " {\n \"a\": {\"y\": null, \"z\": true},\n \"b\": [3, 2, 1], \"currency\": \"EUR\", \"amount\": 1.5, \"status\": \"ACCC\"}\n"},
		{name: "a value changed", header: h, body: strings.Replace(responseBody, "ACCC", "RJCT", 1), want: DigestMismatch},
		{name: "array re-ordered", header: h, body: strings.Replace(responseBody, "[3,2,1]", "[1,2,3]", 1), want: DigestMismatch},
		{name: "member added", header: h, body: strings.Replace(responseBody, `{"status"`, `{"x":1,"status"`, 1), want: DigestMismatch},
		{name: "body not JSON", header: h, body: "not json", want: jose.Malformed},
		{name: "body empty", header: h, body: "", want: DigestMismatch},
		{name: "empty body signed empty", header: hand(integrityClaims(nil)), body: ""},
		{name: "audience matches", header: h, body: responseBody, trust: func(tr *Trust) { tr.Audience = clientDN }},
		{name: "audience matches, other spelling", header: h, body: responseBody, trust: func(tr *Trust) { tr.Audience = "cn=Client, o=BANKBEBB, o=swift" }},
		{name: "audience mismatch", header: h, body: responseBody, trust: func(tr *Trust) { tr.Audience = "CN=other,O=bankbebb,O=swift" }, want: jose.AudienceMismatch},
		{name: "audience expected, aud not a DN", header: hand(claims.set("aud", `"api.example.com/x"`)), body: responseBody,
			trust: func(tr *Trust) { tr.Audience = clientDN }, want: jose.AudienceMismatch},
		{name: "audience expected, two auds", header: hand(claims.set("aud", `["`+clientDN+`","x"]`)), body: responseBody,
			trust: func(tr *Trust) { tr.Audience = clientDN }, want: jose.AudienceMismatch},
		{name: "audience not a DN", header: h, body: responseBody, trust: func(tr *Trust) { tr.Audience = "junk" }, want: jose.PolicyInvalid},
		{name: "digestalg missing", header: hand(claims.del("digestalg")), body: responseBody, want: jose.ClaimsInvalid},
		{name: "digestalg SHA512", header: hand(claims.set("digestalg", `"SHA512"`)), body: responseBody, want: jose.ClaimsInvalid},
		{name: "digest upper-case hex", header: hand(claims.set("digest", q(strings.ToUpper(mustDigest(t, responseBody))))), body: responseBody, want: DigestMismatch},
		{name: "digest missing", header: hand(claims.del("digest")), body: responseBody, want: DigestMismatch},
		{name: "sub not the leaf", header: hand(claims.set("sub", q("CN=x"))), body: responseBody, want: jose.SubjectMismatch},
		{name: "chain to other roots", header: h, body: responseBody, trust: func(tr *Trust) { tr.Roots = otherPKI().roots }, want: jose.X5CInvalid},
		{name: "no roots", header: h, body: responseBody, trust: func(tr *Trust) { tr.Roots = nil }, want: jose.PolicyInvalid},
		{name: "expired", header: h, body: responseBody, trust: func(tr *Trust) { tr.Clock = at(t0.Add(time.Hour)) }, want: jose.Expired},
		{name: "nbf missing", header: hand(claims.del("nbf")), body: responseBody, want: jose.ClaimMissing},
		{name: "nbf missing, lenient", header: hand(claims.del("nbf")), body: responseBody, trust: func(tr *Trust) { tr.Lenient = true }},
		{name: "lifetime over 15 min", header: hand(claims.set("exp", num(t0.Add(20*time.Minute)))), body: responseBody, want: jose.LifetimeExceeded},
		{name: "jti bad chars", header: hand(claims.set("jti", `"a.b"`)), body: responseBody, want: jose.ClaimsInvalid},
		{name: "header missing", header: http.Header{}, body: responseBody, want: HeaderMissing},
		{name: "request header instead", header: http.Header{"X-Swift-Signature": h.Values("X-SWIFT-Integrity")}, body: responseBody, want: HeaderMissing},
		{name: "signature broken", header: http.Header{"X-Swift-Integrity": {h.Get("X-SWIFT-Integrity") + "A"}}, body: responseBody, want: jose.SignatureInvalid},
		{name: "signature not base64url", header: http.Header{"X-Swift-Integrity": {h.Get("X-SWIFT-Integrity") + "="}}, body: responseBody, want: jose.Malformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := fx.trust
			if tc.trust != nil {
				tc.trust(&tr)
			}
			res, err := Swift{}.VerifyResponse(context.Background(), tc.header, []byte(tc.body), tr)
			wantCode(t, err, tc.want)
			if err == nil && (res.SignatureHeader != "X-SWIFT-Integrity" || res.SignatureValue != tc.header.Get("X-SWIFT-Integrity") ||
				!res.ReplayUntil.Equal(res.Claims.Expiry.Add(time.Minute)) || res.Subject != fx.subject) {
				t.Fatalf("result %+v", res)
			}
		})
	}
}

func mustDigest(t testing.TB, body string) string {
	d, err := IntegrityDigest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSwiftSignResponseErrors(t *testing.T) {
	fx := swiftFixture(t)
	_, err := Swift{}.SignResponse([]byte("{"), clientDN, fx.signer)
	wantCode(t, err, jose.Malformed)
	_, err = Swift{}.SignResponse([]byte("{}"), clientDN, &Signer{Key: fx.signer.Key})
	wantCode(t, err, jose.PolicyInvalid)
}
