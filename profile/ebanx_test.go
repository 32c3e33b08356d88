package profile

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/nonrep/nonrep/jose"
)

func ebanxHdr() members {
	return members{{"alg", `"RS256"`}, {"kid", `"ebanx-1"`}, {"b64", "false"}, {"crit", `["b64"]`}}
}

func ebanxMsg(t testing.TB, h members, key *jose.SigningKey) *Message {
	m := newMessage()
	m.Header.Set("X-JWS-Signature", compact(t, m.Body, h, true, key))
	return m
}

func TestEBANX(t *testing.T) {
	t.Parallel()
	fx := ebanxFixture(t)
	key := fx.signer.Key
	signed := mustSign(t, fx.p, newMessage(), fx.signer)
	hand := func(h members) func(t *testing.T) *Message {
		return func(t *testing.T) *Message { return ebanxMsg(t, h, key) }
	}
	tamper := func(f func(m *Message)) func(t *testing.T) *Message {
		return func(t *testing.T) *Message { m := signed.clone(); f(m); return m }
	}
	forged := func(h members) func(t *testing.T) *Message {
		return tamper(func(m *Message) { m.Header.Set("X-JWS-Signature", swapHeader(m.Header.Get("X-JWS-Signature"), h)) })
	}
	k3072 := rsaKey(3072, 0)

	tests := []struct {
		name  string
		msg   func(t *testing.T) *Message
		p     EBANX
		trust func(*Trust)
		want  jose.Code
	}{
		{name: "valid", msg: tamper(func(*Message) {})},
		{name: "hand-made header equal to Sign's", msg: hand(ebanxHdr())},
		{name: "b64 absent (ordinary detached)", msg: hand(ebanxHdr().del("b64", "crit"))},
		{name: "b64 true, in crit", msg: hand(ebanxHdr().set("b64", "true"))},
		{name: "b64 present, not in crit", msg: forged(ebanxHdr().del("crit")), want: jose.HeaderInvalid},
		{name: "b64 true, not in crit", msg: forged(ebanxHdr().set("b64", "true").del("crit")), want: jose.HeaderInvalid},
		{name: "b64 a string", msg: forged(ebanxHdr().set("b64", `"false"`)), want: jose.Malformed},
		{name: "extra crit entry", msg: hand(ebanxHdr().set("crit", `["b64","x-nonce"]`).set("x-nonce", `"n"`)), want: jose.CritUnsupported},
		{name: "crit without b64", msg: forged(ebanxHdr().set("crit", `["x-nonce"]`).set("x-nonce", `"n"`)), want: jose.HeaderInvalid},

		// EBANX covers the body only.
		{name: "body byte changed", msg: tamper(func(m *Message) { m.Body[12] = '9' }), want: jose.SignatureInvalid},
		{name: "body emptied", msg: tamper(func(m *Message) { m.Body = nil }), want: jose.SignatureInvalid},
		{name: "body with trailing newline", msg: tamper(func(m *Message) { m.Body = append(m.Body, '\n') }), want: jose.SignatureInvalid},
		{name: "method, path and query are not covered", msg: tamper(func(m *Message) { m.Method, m.Path, m.RawQuery = "PUT", "/other", "x=1" })},

		{name: "header missing", msg: tamper(func(m *Message) { m.Header.Del("X-JWS-Signature") }), want: HeaderMissing},
		{name: "header repeated", msg: tamper(func(m *Message) { m.Header.Add("X-JWS-Signature", m.Header.Get("X-JWS-Signature")) }), want: HeaderMissing},
		{name: "header empty", msg: tamper(func(m *Message) { m.Header.Set("X-JWS-Signature", "") }), want: HeaderMissing},
		{name: "attached instead of detached", msg: func(t *testing.T) *Message {
			m := newMessage()
			m.Header.Set("X-JWS-Signature", compact(t, m.Body, ebanxHdr().del("b64", "crit"), false, key))
			return m
		}, want: jose.PayloadMismatch},
		{name: "header swapped", msg: forged(ebanxHdr().set("kid", `"ebanx-1"`).set("x", `1`)), want: jose.SignatureInvalid},

		{name: "kid unknown", msg: hand(ebanxHdr().set("kid", `"ebanx-9"`)), want: jose.KeyUnknown},
		{name: "kid missing", msg: hand(ebanxHdr().del("kid")), want: jose.HeaderInvalid},
		{name: "right kid, different key", msg: tamper(func(*Message) {}),
			trust: func(tr *Trust) { tr.Keys = keySet(t, pubOf(t, impostor(rsaKey(4096, 0)), "ebanx-1")) }, want: jose.SignatureInvalid},
		{name: "rotation: old and new key", msg: tamper(func(*Message) {}),
			trust: func(tr *Trust) {
				tr.Keys = keySet(t, pubOf(t, impostor(rsaKey(4096, 0)), "ebanx-0"), pub(t, rsaKey(4096, 0), "ebanx-1"))
			}},
		{name: "RSA-3072 key", msg: func(t *testing.T) *Message {
			return ebanxMsg(t, ebanxHdr().set("kid", `"k3072"`), sk(k3072, jose.RS256, "k3072"))
		},
			trust: func(tr *Trust) { tr.Keys = keySet(t, pub(t, k3072, "k3072")) }, want: jose.KeyRejected},
		{name: "RSA-3072 key, minimum below the floor", p: EBANX{MinRSABits: 2048},
			msg: func(t *testing.T) *Message {
				return ebanxMsg(t, ebanxHdr().set("kid", `"k3072"`), sk(k3072, jose.RS256, "k3072"))
			},
			trust: func(tr *Trust) { tr.Keys = keySet(t, pub(t, k3072, "k3072")) }, want: jose.KeyRejected},
		{name: "alg PS256", msg: func(t *testing.T) *Message {
			return ebanxMsg(t, ebanxHdr().set("alg", `"PS256"`), sk(rsaKey(4096, 0), jose.PS256, "ebanx-1"))
		}, want: jose.AlgNotAllowed},
		{name: "alg RS512", msg: func(t *testing.T) *Message {
			return ebanxMsg(t, ebanxHdr().set("alg", `"RS512"`), sk(rsaKey(4096, 0), jose.RS512, "ebanx-1"))
		}, want: jose.AlgNotAllowed},
		{name: "alg HS256", msg: forged(ebanxHdr().set("alg", `"HS256"`)), want: jose.AlgNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := fx.trust
			if tc.trust != nil {
				tc.trust(&tr)
			}
			m := tc.msg(t)
			res, err := check(mustVerifier(t, tc.p, tr), m)
			wantCode(t, err, tc.want)
			if err == nil && (res.Profile != "ebanx" || res.Subject != res.Kid || string(res.Payload) != string(m.Body)) {
				t.Fatalf("result %+v", res)
			}
		})
	}
}

func TestEBANXReplayWindow(t *testing.T) {
	t.Parallel()
	fx := ebanxFixture(t)
	tr := fx.trust
	tr.ReplayWindow = 10 * time.Minute
	tr.Clock = at(t0.Add(time.Hour)) // EBANX carries no time: any clock is fine
	res, err := check(mustVerifier(t, EBANX{}, tr), mustSign(t, EBANX{}, newMessage(), fx.signer))
	if err != nil {
		t.Fatal(err)
	}
	if !res.ReplayUntil.Equal(t0.Add(70*time.Minute)) || !res.IssuedAt.IsZero() {
		t.Fatalf("ReplayUntil %v IssuedAt %v", res.ReplayUntil, res.IssuedAt)
	}
}

// TestEBANXWire checks Sign's bytes with the standard library: header
// {"alg":"RS256","kid":…,"b64":false,"crit":["b64"]}, signing input
// BASE64URL(header) "." raw body.
func TestEBANXWire(t *testing.T) {
	t.Parallel()
	fx := ebanxFixture(t)
	for _, body := range []string{testBody, "", "a.b.c"} {
		m := newMessage()
		m.Body = []byte(body)
		v := mustSign(t, fx.p, m, fx.signer).Header.Get("X-JWS-Signature")
		hdrB64, sigB64, ok := strings.Cut(v, "..")
		if !ok {
			t.Fatalf("not detached: %q", v)
		}
		raw, _ := base64.RawURLEncoding.DecodeString(hdrB64)
		if string(raw) != string(ebanxHdr().json()) {
			t.Errorf("header %s", raw)
		}
		sig, _ := base64.RawURLEncoding.DecodeString(sigB64)
		h := sha256.Sum256([]byte(hdrB64 + "." + body))
		if err := rsa.VerifyPKCS1v15(&rsaKey(4096, 0).PublicKey, crypto.SHA256, h[:], sig); err != nil {
			t.Errorf("body %q: %v", body, err)
		}
	}
}

func TestEBANXSignErrors(t *testing.T) {
	t.Parallel()
	for _, s := range []*Signer{{}, {Key: sk(rsaKey(2048, 0), jose.PS256, "k")}} {
		_, err := EBANX{}.Sign(newMessage(), s)
		wantCode(t, err, jose.KeyRejected)
	}
}
