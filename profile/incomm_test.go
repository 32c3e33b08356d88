package profile

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha512"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nonrep/nonrep/jose"
)

// incommHdr is the protected header InComm.Sign makes for newMessage().
func incommHdr() members {
	return members{
		{"alg", `"PS512"`},
		{"kid", `"incomm-1"`},
		{"crit", `["http-method","http-path","http-query"]`},
		{"http-method", `"POST"`},
		{"http-path", `"/v0/payments/closed-loop/sale"`},
		{"http-query", `"?a=1&b=2"`},
		{"iat", num(t0)},
		{"exp", num(t0.Add(5 * time.Minute))},
	}
}

// incommMsg returns newMessage() carrying a Signature made over its body
// under the hand-made header h with key.
func incommMsg(t testing.TB, h members, key *jose.SigningKey) *Message {
	m := newMessage()
	m.Header.Set("Authorization", incommAuthorization)
	m.Header.Set("Signature", compact(t, m.Body, h, true, key))
	return m
}

func TestInComm(t *testing.T) {
	t.Parallel()
	fx := incommFixture(t)
	key := fx.signer.Key
	signed := mustSign(t, fx.p, newMessage(), fx.signer)
	hand := func(h members) func(t *testing.T) *Message {
		return func(t *testing.T) *Message { return incommMsg(t, h, key) }
	}
	tamper := func(f func(m *Message)) func(t *testing.T) *Message {
		return func(t *testing.T) *Message { m := signed.clone(); f(m); return m }
	}
	// forged carries a header that no signer would make (jose.Sign refuses
	// it) under another header's signature: rejected before any crypto.
	forged := func(h members) func(t *testing.T) *Message {
		return tamper(func(m *Message) { m.Header.Set("Signature", swapHeader(m.Header.Get("Signature"), h)) })
	}
	ps256 := sk(rsaKey(3072, 0), jose.PS256, "incomm-1")
	small := rsaKey(2048, 0)

	tests := []struct {
		name  string
		msg   func(t *testing.T) *Message
		p     InComm       // verifier configuration
		trust func(*Trust) // changes to fx.trust
		want  jose.Code
	}{
		{name: "valid", msg: tamper(func(*Message) {})},
		{name: "hand-made header equal to Sign's", msg: hand(incommHdr())},

		// The request parts the signature covers.
		{name: "method changed", msg: tamper(func(m *Message) { m.Method = "PUT" }), want: RequestMismatch},
		{name: "method lower case", msg: tamper(func(m *Message) { m.Method = "post" }), want: RequestMismatch},
		{name: "path changed", msg: tamper(func(m *Message) { m.Path = "/v0/payments/closed-loop/refund" }), want: RequestMismatch},
		{name: "path encoded differently", msg: tamper(func(m *Message) { m.Path = "/v0/payments/closed%2Dloop/sale" }), want: RequestMismatch},
		{name: "path with trailing slash", msg: tamper(func(m *Message) { m.Path += "/" }), want: RequestMismatch},
		{name: "query value changed", msg: tamper(func(m *Message) { m.RawQuery = "b=3&a=1" }), want: RequestMismatch},
		{name: "query parameter added", msg: tamper(func(m *Message) { m.RawQuery += "&c=3" }), want: RequestMismatch},
		{name: "query removed", msg: tamper(func(m *Message) { m.RawQuery = "" }), want: RequestMismatch},
		{name: "query malformed", msg: tamper(func(m *Message) { m.RawQuery = "a=%zz&b=2" }), want: jose.Malformed},
		{name: "query reordered", msg: tamper(func(m *Message) { m.RawQuery = "a=1&b=2" })},
		{name: "query re-encoded", msg: tamper(func(m *Message) { m.RawQuery = "%61=%31&b=2&&" })},
		{name: "host is not covered", msg: tamper(func(m *Message) { m.Host = "other.example" })},

		// The body.
		{name: "body byte changed", msg: tamper(func(m *Message) { m.Body[12] = '9' }), want: jose.SignatureInvalid},
		{name: "body newline added", msg: tamper(func(m *Message) { m.Body = append(m.Body, '\n') }), want: jose.SignatureInvalid},
		{name: "body removed", msg: tamper(func(m *Message) { m.Body = nil }), want: jose.SignatureInvalid},

		// The headers that carry the signature.
		{name: "Authorization missing", msg: tamper(func(m *Message) { m.Header.Del("Authorization") }), want: HeaderMissing},
		{name: "Authorization wrong", msg: tamper(func(m *Message) { m.Header.Set("Authorization", "Bearer abc") }), want: HeaderMissing},
		{name: "Authorization with a suffix", msg: tamper(func(m *Message) { m.Header.Set("Authorization", incommAuthorization+" x") }), want: HeaderMissing},
		{name: "Authorization repeated", msg: tamper(func(m *Message) { m.Header.Add("Authorization", incommAuthorization) }), want: HeaderMissing},
		{name: "Authorization in lower case", msg: tamper(func(m *Message) { m.Header.Set("Authorization", strings.ToLower(incommAuthorization)) })},
		{name: "Signature missing", msg: tamper(func(m *Message) { m.Header.Del("Signature") }), want: HeaderMissing},
		{name: "Signature empty", msg: tamper(func(m *Message) { m.Header.Set("Signature", "") }), want: HeaderMissing},
		{name: "Signature repeated", msg: tamper(func(m *Message) { m.Header.Add("Signature", m.Header.Get("Signature")) }), want: HeaderMissing},
		{name: "Signature garbage", msg: tamper(func(m *Message) { m.Header.Set("Signature", "not a jws") }), want: jose.Malformed},
		{name: "Signature attached", msg: func(t *testing.T) *Message {
			m := newMessage()
			m.Header.Set("Authorization", incommAuthorization)
			m.Header.Set("Signature", compact(t, m.Body, incommHdr(), false, key))
			return m
		}, want: jose.PayloadMismatch},
		{name: "protected header swapped", msg: tamper(func(m *Message) {
			// An attacker moves the request and rewrites http-path to match.
			m.Path = "/v0/payments/closed-loop/refund"
			m.Header.Set("Signature", swapHeader(m.Header.Get("Signature"), incommHdr().set("http-path", q(m.Path))))
		}), want: jose.SignatureInvalid},

		// Keys.
		{name: "kid unknown", msg: hand(incommHdr().set("kid", `"incomm-2"`)), want: jose.KeyUnknown},
		{name: "kid missing", msg: hand(incommHdr().del("kid")), want: jose.HeaderInvalid},
		{name: "right kid, different key", msg: tamper(func(*Message) {}),
			trust: func(tr *Trust) { tr.Keys = keySet(t, pub(t, rsaKey(3072, 1), "incomm-1")) }, want: jose.SignatureInvalid},
		{name: "two keys, rotation", msg: tamper(func(*Message) {}),
			trust: func(tr *Trust) {
				tr.Keys = keySet(t, pub(t, rsaKey(3072, 1), "incomm-0"), pub(t, rsaKey(3072, 0), "incomm-1"))
			}},
		{name: "RSA-2048 key", msg: hand(incommHdr().set("kid", `"small"`)), want: jose.KeyRejected,
			trust: func(tr *Trust) { tr.Keys = keySet(t, pub(t, small, "small")) }},
		{name: "RSA-3072 below a raised minimum", msg: tamper(func(*Message) {}), p: InComm{MinRSABits: 4096}, want: jose.KeyRejected},
		{name: "minimum below the floor stays 3072", msg: hand(incommHdr().set("kid", `"small"`)), p: InComm{MinRSABits: 1024}, want: jose.KeyRejected,
			trust: func(tr *Trust) { tr.Keys = keySet(t, pub(t, small, "small")) }},

		// Algorithm and header shape.
		{name: "alg PS256", msg: func(t *testing.T) *Message { return incommMsg(t, incommHdr().set("alg", `"PS256"`), ps256) }, want: jose.AlgNotAllowed},
		{name: "alg RS512", msg: func(t *testing.T) *Message {
			return incommMsg(t, incommHdr().set("alg", `"RS512"`), sk(rsaKey(3072, 0), jose.RS512, "incomm-1"))
		}, want: jose.AlgNotAllowed},
		{name: "alg none", msg: tamper(func(m *Message) {
			m.Header.Set("Signature", base64.RawURLEncoding.EncodeToString(incommHdr().set("alg", `"none"`).json())+"..")
		}), want: jose.AlgNotAllowed},
		{name: "extra crit entry", msg: hand(incommHdr().set("crit", `["http-method","http-path","http-query","x-nonce"]`).set("x-nonce", `"n"`)), want: jose.CritUnsupported},
		{name: "crit without http-query", msg: hand(incommHdr().set("crit", `["http-method","http-path"]`)), want: jose.CritUnsupported},
		{name: "crit and http-query absent", msg: hand(incommHdr().set("crit", `["http-method","http-path"]`).del("http-query")), want: jose.CritUnsupported},
		{name: "crit absent", msg: hand(incommHdr().del("crit")), want: jose.CritUnsupported},
		{name: "crit lists iat", msg: hand(incommHdr().set("crit", `["http-method","http-path","http-query","iat"]`))},
		{name: "crit lists iat and exp", msg: hand(incommHdr().set("crit", `["exp","http-method","http-path","http-query","iat"]`))},
		{name: "crit lists exp, exp absent", msg: forged(incommHdr().set("crit", `["http-method","http-path","http-query","exp"]`).del("exp")), want: jose.CritUnsupported},
		{name: "http-method a number", msg: hand(incommHdr().set("http-method", `1`)), want: jose.HeaderInvalid},
		{name: "http-method lower case", msg: hand(incommHdr().set("http-method", `"post"`)), want: RequestMismatch},
		{name: "http-query not normalized", msg: hand(incommHdr().set("http-query", `"?b=2&a=1"`)), want: RequestMismatch},
		{name: "http-query without ?", msg: hand(incommHdr().set("http-query", `"a=1&b=2"`)), want: RequestMismatch},
		{name: "b64 present, not in crit", msg: forged(incommHdr().set("b64", `true`)), want: jose.HeaderInvalid},

		// Time.
		{name: "expired", msg: tamper(func(*Message) {}), trust: func(tr *Trust) { tr.Clock = at(t0.Add(6 * time.Minute)) }, want: jose.Expired},
		{name: "expired but within skew", msg: tamper(func(*Message) {}), trust: func(tr *Trust) { tr.Clock = at(t0.Add(5*time.Minute + 59*time.Second)) }},
		{name: "expired, larger skew", msg: tamper(func(*Message) {}), trust: func(tr *Trust) {
			tr.Clock, tr.Skew = at(t0.Add(6*time.Minute)), 2*time.Minute
		}},
		{name: "iat in the future", msg: tamper(func(*Message) {}), trust: func(tr *Trust) { tr.Clock = at(t0.Add(-2 * time.Minute)) }, want: jose.IssuedInFuture},
		{name: "lifetime over max", msg: hand(incommHdr().set("exp", num(t0.Add(10*time.Minute)))), want: jose.LifetimeExceeded},
		{name: "lifetime within a raised max", msg: hand(incommHdr().set("exp", num(t0.Add(10*time.Minute)))), trust: func(tr *Trust) { tr.MaxLifetime = 10 * time.Minute }},
		{name: "exp before iat", msg: hand(incommHdr().set("exp", num(t0.Add(-time.Second)))), want: jose.ClaimsInvalid},
		{name: "iat a string", msg: hand(incommHdr().set("iat", q("1772366400"))), want: jose.ClaimsInvalid},
		{name: "exp a boolean", msg: hand(incommHdr().set("exp", `true`)), want: jose.ClaimsInvalid},
		{name: "iat only", msg: hand(incommHdr().del("exp"))},
		{name: "iat only, too old", msg: hand(incommHdr().del("exp")), trust: func(tr *Trust) { tr.Clock = at(t0.Add(7 * time.Minute)) }, want: jose.Expired},
		{name: "exp only", msg: hand(incommHdr().del("iat"))},
		{name: "neither iat nor exp", msg: hand(incommHdr().del("iat", "exp")), want: jose.ClaimMissing},
		{name: "neither iat nor exp, lenient", msg: hand(incommHdr().del("iat", "exp")), trust: func(tr *Trust) { tr.Lenient = true }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := fx.trust
			if tc.trust != nil {
				tc.trust(&tr)
			}
			v := mustVerifier(t, tc.p, tr)
			m := tc.msg(t)
			res, err := check(v, m)
			wantCode(t, err, tc.want)
			if err == nil && (res.Kid == "" || res.Profile != "incomm" || string(res.Payload) != string(m.Body)) {
				t.Fatalf("result %+v", res)
			}
		})
	}
}

func TestInCommResultTimes(t *testing.T) {
	t.Parallel()
	fx := incommFixture(t)
	key := fx.signer.Key
	lenient := fx.trust
	lenient.Lenient = true
	lenient.ReplayWindow = time.Hour
	for _, tc := range []struct {
		name      string
		h         members
		tr        Trust
		iat, till time.Time
	}{
		{"iat and exp", incommHdr(), fx.trust, t0, t0.Add(6 * time.Minute)},
		{"iat only", incommHdr().del("exp"), fx.trust, t0, t0.Add(6 * time.Minute)},
		{"exp only", incommHdr().del("iat"), fx.trust, time.Time{}, t0.Add(6 * time.Minute)},
		{"neither, lenient", incommHdr().del("iat", "exp"), lenient, time.Time{}, t0.Add(time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := check(mustVerifier(t, InComm{}, tc.tr), incommMsg(t, tc.h, key))
			if err != nil {
				t.Fatal(err)
			}
			if !res.IssuedAt.Equal(tc.iat) || !res.ReplayUntil.Equal(tc.till) {
				t.Fatalf("IssuedAt %v ReplayUntil %v, want %v %v", res.IssuedAt, res.ReplayUntil, tc.iat, tc.till)
			}
		})
	}
}

// TestInCommWire checks the bytes Sign puts on the wire against the scheme
// with the standard library alone: a detached compact JWS whose signing
// input is BASE64URL(header) "." BASE64URL(body), PS512 with a 64-byte salt.
func TestInCommWire(t *testing.T) {
	t.Parallel()
	fx := incommFixture(t)
	for _, body := range []string{testBody, ""} {
		m := newMessage()
		m.Method, m.Body = "GET", []byte(body)
		sm := mustSign(t, fx.p, m, fx.signer)
		if got := sm.Header.Values("Authorization"); !slices.Equal(got, []string{"INCOMM-OLS-EAPI-SIGNATURE-JWS"}) {
			t.Fatalf("Authorization %q", got)
		}
		hdrB64, sigB64, ok := strings.Cut(sm.Header.Get("Signature"), "..")
		if !ok || strings.Contains(sigB64, ".") {
			t.Fatalf("Signature is not header..signature: %q", sm.Header.Get("Signature"))
		}
		raw, _ := base64.RawURLEncoding.DecodeString(hdrB64)
		want := incommHdr().set("http-method", `"GET"`).json()
		if string(raw) != string(want) {
			t.Errorf("header\n got %s\nwant %s", raw, want)
		}
		sig, _ := base64.RawURLEncoding.DecodeString(sigB64)
		input := hdrB64 + "." + base64.RawURLEncoding.EncodeToString(m.Body)
		h := sha512.Sum512([]byte(input))
		if err := rsa.VerifyPSS(&rsaKey(3072, 0).PublicKey, crypto.SHA512, h[:], sig, &rsa.PSSOptions{SaltLength: 64}); err != nil {
			t.Errorf("body %q: stdlib PSS verify: %v", body, err)
		}
		if sm.Header.Get("Content-Type") != "application/json" {
			t.Errorf("Sign dropped a request header")
		}
	}
}

func TestInCommCustomQuery(t *testing.T) {
	t.Parallel()
	fx := incommFixture(t)
	raw := InComm{Query: func(q string) (string, error) { return q, nil }}
	sm := mustSign(t, raw, newMessage(), fx.signer)
	if _, err := check(mustVerifier(t, raw, fx.trust), sm); err != nil {
		t.Fatalf("custom normalizer: %v", err)
	}
	_, err := check(mustVerifier(t, InComm{}, fx.trust), sm)
	wantCode(t, err, RequestMismatch)
}

func TestInCommSignErrors(t *testing.T) {
	t.Parallel()
	fx := incommFixture(t)
	for _, tc := range []struct {
		name string
		m    func(*Message)
		s    *Signer
		want jose.Code
	}{
		{"no key", nil, &Signer{}, jose.KeyRejected},
		{"RS256 key", nil, &Signer{Key: sk(rsaKey(3072, 0), jose.RS256, "k")}, jose.KeyRejected},
		{"lower-case method", func(m *Message) { m.Method = "post" }, fx.signer, jose.Malformed},
		{"malformed query", func(m *Message) { m.RawQuery = "a=%" }, fx.signer, jose.Malformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMessage()
			if tc.m != nil {
				tc.m(m)
			}
			_, err := InComm{}.Sign(m, tc.s)
			wantCode(t, err, tc.want)
		})
	}
	// Sign leaves the message alone.
	m := newMessage()
	before := m.clone()
	if _, err := (InComm{}).Sign(m, fx.signer); err != nil {
		t.Fatal(err)
	}
	if len(m.Header) != len(before.Header) || string(m.Body) != string(before.Body) {
		t.Fatal("Sign modified the message")
	}
}
