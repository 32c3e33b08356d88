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

const obCritJSON = `["http://openbanking.org.uk/iat","http://openbanking.org.uk/iss","http://openbanking.org.uk/tan"]`

// obHdr is the header OpenBanking.Sign makes for the version.
func obHdr(version string) members {
	h := members{{"alg", `"PS256"`}, {"kid", `"ob-1"`}, {"typ", `"JOSE"`}}
	if version == "3.1.3" {
		h = append(h, [2]string{"b64", "false"}, [2]string{"crit", `["b64",` + obCritJSON[1:]})
	} else {
		h = append(h, [2]string{"crit", obCritJSON})
	}
	return append(h,
		[2]string{obIat, num(t0)},
		[2]string{obIss, q(obIssuer)},
		[2]string{obTan, `"openbanking.org.uk"`},
	)
}

func TestOpenBanking(t *testing.T) {
	t.Parallel()
	for _, version := range []string{"", "3.1.3"} {
		other := "3.1.3"
		if version != "" {
			other = ""
		}
		fx := obFixture(t, version)
		key := fx.signer.Key
		signed := mustSign(t, fx.p, newMessage(), fx.signer)
		hand := func(h members) func(t *testing.T) *Message {
			return func(t *testing.T) *Message {
				m := newMessage()
				m.Header.Set("x-jws-signature", compact(t, m.Body, h, true, key))
				return m
			}
		}
		tamper := func(f func(m *Message)) func(t *testing.T) *Message {
			return func(t *testing.T) *Message { m := signed.clone(); f(m); return m }
		}
		forged := func(h members) func(t *testing.T) *Message {
			return tamper(func(m *Message) { m.Header.Set("x-jws-signature", swapHeader(m.Header.Get("x-jws-signature"), h)) })
		}
		h := obHdr(version)
		critWith := func(extra ...string) string {
			c := strings.TrimSuffix(obCritJSON, "]")
			if version == "3.1.3" {
				c = `["b64",` + c[1:]
			}
			for _, e := range extra {
				c += "," + q(e)
			}
			return c + "]"
		}

		tests := []struct {
			name  string
			msg   func(t *testing.T) *Message
			p     *OpenBanking
			trust func(*Trust)
			want  jose.Code
		}{
			{name: "valid", msg: tamper(func(*Message) {})},
			{name: "hand-made header equal to Sign's", msg: hand(h)},
			{name: "typ absent", msg: hand(h.del("typ"))},
			{name: "cty present", msg: hand(h.set("cty", `"application/json"`))},
			{name: "typ JWT", msg: hand(h.set("typ", `"JWT"`)), want: jose.TypMismatch},
			{name: "signed by the other version", msg: func(t *testing.T) *Message {
				return mustSign(t, OpenBanking{Version: other, Issuer: obIssuer}, newMessage(), fx.signer)
			}, want: jose.HeaderInvalid},
			{name: "b64 present, not in crit", msg: forged(h.set("b64", "false").set("crit", obCritJSON)), want: jose.HeaderInvalid},
			{name: "extra crit entry", msg: hand(h.set("crit", critWith("x-nonce")).set("x-nonce", `"n"`)), want: jose.CritUnsupported},
			{name: "crit without tan", msg: forged(h.set("crit", strings.Replace(critWith(), `,"http://openbanking.org.uk/tan"`, "", 1))), want: jose.CritUnsupported},
			{name: "iat absent", msg: forged(h.set("crit", strings.Replace(critWith(), `"http://openbanking.org.uk/iat",`, "", 1)).del(obIat)), want: jose.CritUnsupported},

			{name: "body byte changed", msg: tamper(func(m *Message) { m.Body[12] = '9' }), want: jose.SignatureInvalid},
			{name: "body emptied", msg: tamper(func(m *Message) { m.Body = nil }), want: jose.SignatureInvalid},
			{name: "header swapped", msg: forged(h.set(obIss, `"someone-else"`)), want: jose.SignatureInvalid},
			{name: "path is not covered", msg: tamper(func(m *Message) { m.Path = "/elsewhere" })},
			{name: "header missing", msg: tamper(func(m *Message) { m.Header.Del("x-jws-signature") }), want: HeaderMissing},
			{name: "header repeated", msg: tamper(func(m *Message) { m.Header.Add("X-Jws-Signature", m.Header.Get("x-jws-signature")) }), want: HeaderMissing},
			{name: "attached instead of detached", msg: func(t *testing.T) *Message {
				m := newMessage()
				m.Header.Set("x-jws-signature", compact(t, m.Body, obHdr("").del("typ"), false, key))
				return m
			}, want: jose.PayloadMismatch},

			{name: "kid unknown", msg: hand(h.set("kid", `"ob-9"`)), want: jose.KeyUnknown},
			{name: "kid missing", msg: hand(h.del("kid")), want: jose.HeaderInvalid},
			{name: "right kid, different key", msg: tamper(func(*Message) {}),
				trust: func(tr *Trust) { tr.Keys = keySet(t, pub(t, rsaKey(2048, 0), "ob-1")) }, want: jose.SignatureInvalid},
			{name: "alg RS256", msg: func(t *testing.T) *Message {
				m := newMessage()
				m.Header.Set("x-jws-signature", compact(t, m.Body, h.set("alg", `"RS256"`), true, sk(rsaKey(2048, 1), jose.RS256, "ob-1")))
				return m
			}, want: jose.AlgNotAllowed},
			{name: "alg ES256", msg: func(t *testing.T) *Message {
				m := newMessage()
				m.Header.Set("x-jws-signature", compact(t, m.Body, h.set("alg", `"ES256"`), true, sk(ecKeys[0](), jose.ES256, "ob-1")))
				return m
			}, want: jose.AlgNotAllowed},

			{name: "iat in the future", msg: tamper(func(*Message) {}), trust: func(tr *Trust) { tr.Clock = at(t0.Add(-2 * time.Minute)) }, want: jose.IssuedInFuture},
			{name: "iat too old", msg: tamper(func(*Message) {}), trust: func(tr *Trust) { tr.Clock = at(t0.Add(7 * time.Minute)) }, want: jose.Expired},
			{name: "iat old, within a raised max", msg: tamper(func(*Message) {}), trust: func(tr *Trust) {
				tr.Clock, tr.MaxLifetime = at(t0.Add(7*time.Minute)), 10*time.Minute
			}},
			{name: "iat a string", msg: hand(h.set(obIat, q("1772366400"))), want: jose.ClaimsInvalid},
			{name: "iss empty", msg: hand(h.set(obIss, `""`)), want: jose.HeaderInvalid},
			{name: "iss a number", msg: hand(h.set(obIss, `1`)), want: jose.HeaderInvalid},
			{name: "tan empty", msg: hand(h.set(obTan, `""`)), want: jose.HeaderInvalid},
			{name: "tan expected and equal", msg: tamper(func(*Message) {}), p: &OpenBanking{TrustAnchor: "openbanking.org.uk"}},
			{name: "tan expected and different", msg: hand(h.set(obTan, `"example.org"`)), p: &OpenBanking{TrustAnchor: "openbanking.org.uk"}, want: jose.IssuerMismatch},
		}
		for _, tc := range tests {
			name := "version=" + version + "/" + tc.name
			if version == "" {
				name = "version=3.1.4+/" + tc.name
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				tr := fx.trust
				if tc.trust != nil {
					tc.trust(&tr)
				}
				p := OpenBanking{Version: version}
				if tc.p != nil {
					p.TrustAnchor = tc.p.TrustAnchor
				}
				m := tc.msg(t)
				res, err := check(mustVerifier(t, p, tr), m)
				wantCode(t, err, tc.want)
				if err == nil && (res.Profile != "openbanking" || res.Kid != "ob-1" || res.Subject != obIssuer || string(res.Payload) != string(m.Body)) {
					t.Fatalf("result %+v", res)
				}
			})
		}
	}
}

// TestOpenBankingB64 is the version rule alone, on hand-made headers.
func TestOpenBankingB64(t *testing.T) {
	t.Parallel()
	fx := obFixture(t, "")
	key := fx.signer.Key
	base := obHdr("")
	withB64 := func(b64 string) members {
		return base.set("crit", `["b64",`+obCritJSON[1:]).set("b64", b64)
	}
	for _, tc := range []struct {
		version, b64 string // b64: "" absent, else its JSON value
		want         jose.Code
	}{
		{"", "", ""},
		{"", "false", jose.HeaderInvalid},
		{"", "true", jose.HeaderInvalid},
		{"3.1.4", "false", jose.HeaderInvalid},
		{"3.1.10", "false", jose.HeaderInvalid},
		{"3.2", "", ""},
		{"4.0.0", "", ""},
		{"3.1.3", "", jose.HeaderInvalid},
		{"3.1.3", "true", jose.HeaderInvalid},
		{"3.1.3", "false", ""},
		{"v3.1.3", "false", ""},
		{"3.1", "false", ""},
		{"3.1.2", "false", ""},
		{"3.0", "false", ""},
		{"2.9.9", "false", ""},
	} {
		h := base
		if tc.b64 != "" {
			h = withB64(tc.b64)
		}
		t.Run("version="+tc.version+"/b64="+tc.b64, func(t *testing.T) {
			m := newMessage()
			m.Header.Set("x-jws-signature", compact(t, m.Body, h, true, key))
			_, err := check(mustVerifier(t, OpenBanking{Version: tc.version}, fx.trust), m)
			wantCode(t, err, tc.want)
		})
	}
}

func TestOpenBankingVersions(t *testing.T) {
	for _, tc := range []struct {
		version string
		unenc   bool
		want    jose.Code
	}{
		{"", false, ""}, {"3.1.4", false, ""}, {"3.1.11", false, ""}, {"v3.1.3", true, ""},
		{"3.1.3", true, ""}, {"3.1", true, ""}, {"3.0.9", true, ""}, {"4.0", false, ""},
		{"3", false, jose.PolicyInvalid}, {"3.1.3.1", false, jose.PolicyInvalid},
		{"3.x.1", false, jose.PolicyInvalid}, {"3.-1", false, jose.PolicyInvalid}, {"latest", false, jose.PolicyInvalid},
	} {
		got, err := OpenBanking{Version: tc.version}.unencoded()
		if jose.CodeOf(err) != tc.want || err == nil && got != tc.unenc {
			t.Errorf("version %q: unencoded %v, %v; want %v, %q", tc.version, got, err, tc.unenc, tc.want)
		}
	}
}

// TestOpenBankingWire checks Sign's bytes with the standard library.
func TestOpenBankingWire(t *testing.T) {
	t.Parallel()
	for _, version := range []string{"", "3.1.3"} {
		fx := obFixture(t, version)
		m := newMessage()
		v := mustSign(t, fx.p, m, fx.signer).Header.Get("x-jws-signature")
		hdrB64, sigB64, ok := strings.Cut(v, "..")
		if !ok {
			t.Fatalf("not detached: %q", v)
		}
		raw, _ := base64.RawURLEncoding.DecodeString(hdrB64)
		if string(raw) != string(obHdr(version).json()) {
			t.Errorf("version %q header\n got %s\nwant %s", version, raw, obHdr(version).json())
		}
		payload := base64.RawURLEncoding.EncodeToString(m.Body)
		if version == "3.1.3" {
			payload = string(m.Body)
		}
		sig, _ := base64.RawURLEncoding.DecodeString(sigB64)
		h := sha256.Sum256([]byte(hdrB64 + "." + payload))
		if err := rsa.VerifyPSS(&rsaKey(2048, 1).PublicKey, crypto.SHA256, h[:], sig, &rsa.PSSOptions{SaltLength: 32}); err != nil {
			t.Errorf("version %q: %v", version, err)
		}
	}
}

func TestOpenBankingSign(t *testing.T) {
	t.Parallel()
	fx := obFixture(t, "")
	for _, tc := range []struct {
		name string
		p    OpenBanking
		s    *Signer
		want jose.Code
	}{
		{"no issuer", OpenBanking{}, fx.signer, jose.PolicyInvalid},
		{"bad version", OpenBanking{Issuer: "x", Version: "x"}, fx.signer, jose.PolicyInvalid},
		{"RS256 key", OpenBanking{Issuer: "x"}, &Signer{Key: sk(rsaKey(2048, 1), jose.RS256, "k")}, jose.KeyRejected},
		{"no key", OpenBanking{Issuer: "x"}, &Signer{}, jose.KeyRejected},
	} {
		_, err := tc.p.Sign(newMessage(), tc.s)
		if jose.CodeOf(err) != tc.want {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// A configured trust anchor is what Sign sends.
	p := OpenBanking{Issuer: "x", TrustAnchor: "example.org"}
	res, err := check(mustVerifier(t, p, fx.trust), mustSign(t, p, newMessage(), fx.signer))
	if err != nil {
		t.Fatal(err)
	}
	if tan, _ := res.Header.ParamString(obTan); tan != "example.org" || res.Subject != "x" {
		t.Fatalf("tan %q subject %q", tan, res.Subject)
	}
}
