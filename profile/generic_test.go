package profile

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nonrep/nonrep/jose"
)

func genericHdr(alg jose.Alg) members {
	return members{{"alg", q(string(alg))}, {"kid", q("gen-" + strings.ToLower(string(alg)))}, {"typ", `"JWT"`}}
}

// genericClaims is an instruction carrying the claims Generic.Sign adds.
func genericClaims() members {
	return members{
		{"iat", num(t0)}, {"exp", num(t0.Add(5 * time.Minute))}, {"jti", `"j-1"`},
		{"amount", `"100.00"`}, {"currency", `"USD"`}, {"payee", `"ACME"`},
	}
}

func flattened(t testing.TB, payload []byte, h members, key *jose.SigningKey) []byte {
	t.Helper()
	j, err := jose.SignWithHeader(payload, h.json(), false, jose.Flattened, key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := j.FlattenedBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGeneric(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"", "X-JWS-Signature"} {
		for _, alg := range []jose.Alg{jose.ES256, jose.EdDSA} {
			fx := genericFixture(t, mode, alg)
			key := fx.signer.Key
			signed := mustSign(t, fx.p, newMessage(), fx.signer)
			hdr, claims := genericHdr(alg), genericClaims()
			// hand makes a request carrying claims signed under h.
			handWith := func(c, h members, k *jose.SigningKey) func(t *testing.T) *Message {
				return func(t *testing.T) *Message {
					m := newMessage()
					if mode == "" {
						m.Header.Set("Content-Type", GenericContentType)
						m.Body = flattened(t, c.json(), h, k)
					} else {
						m.Body = c.json()
						m.Header.Set(mode, compact(t, m.Body, h, true, k))
					}
					return m
				}
			}
			hand := func(c members, h ...members) func(t *testing.T) *Message {
				if len(h) > 0 {
					return handWith(c, h[0], key)
				}
				return handWith(c, hdr, key)
			}
			tamper := func(f func(m *Message)) func(t *testing.T) *Message {
				return func(t *testing.T) *Message { m := signed.clone(); f(m); return m }
			}
			otherAlg, otherKey := jose.EdDSA, sk(edKeys[0](), jose.EdDSA, "gen-es256")
			if alg == jose.EdDSA {
				otherAlg, otherKey = jose.ES256, sk(ecKeys[0](), jose.ES256, "gen-eddsa")
			}
			type tcase struct {
				name  string
				msg   func(t *testing.T) *Message
				trust func(*Trust)
				want  jose.Code
			}
			tests := []tcase{
				{name: "valid", msg: tamper(func(*Message) {})},
				{name: "hand-made", msg: hand(claims)},
				{name: "iss is the subject", msg: hand(claims.set("iss", `"merchant-7"`))},
				{name: "typ application/jwt", msg: hand(claims, hdr.set("typ", `"application/jwt"`))},
				{name: "typ missing", msg: hand(claims, hdr.del("typ")), want: jose.TypMismatch},
				{name: "typ JOSE", msg: hand(claims, hdr.set("typ", `"JOSE"`)), want: jose.TypMismatch},
				{name: "kid missing", msg: hand(claims, hdr.del("kid")), want: jose.HeaderInvalid},
				{name: "kid unknown", msg: hand(claims, hdr.set("kid", `"gen-x"`)), want: jose.KeyUnknown},
				{name: "right kid, different key", msg: tamper(func(*Message) {}), trust: func(tr *Trust) {
					if alg == jose.ES256 {
						tr.Keys = keySet(t, pub(t, ecKeys[1](), fx.kid))
					} else {
						tr.Keys = keySet(t, pub(t, edKeys[1](), fx.kid))
					}
				}, want: jose.SignatureInvalid},
				{name: "alg not in Trust.Algs", msg: handWith(claims, hdr.set("alg", q(string(otherAlg))), otherKey), want: jose.AlgNotAllowed},
				{name: "crit entry", msg: hand(claims, hdr.set("crit", `["x-n"]`).set("x-n", `1`)), want: jose.CritUnsupported},

				{name: "expired", msg: tamper(func(*Message) {}), trust: func(tr *Trust) { tr.Clock = at(t0.Add(6 * time.Minute)) }, want: jose.Expired},
				{name: "iat in the future", msg: tamper(func(*Message) {}), trust: func(tr *Trust) { tr.Clock = at(t0.Add(-2 * time.Minute)) }, want: jose.IssuedInFuture},
				{name: "iat in the future, guide's 300 s skew", msg: tamper(func(*Message) {}), trust: func(tr *Trust) {
					tr.Clock, tr.Skew = at(t0.Add(-2*time.Minute)), 300*time.Second
				}},
				{name: "lifetime over 5 min", msg: hand(claims.set("exp", num(t0.Add(10*time.Minute)))), want: jose.LifetimeExceeded},
				{name: "lifetime within a raised max", msg: hand(claims.set("exp", num(t0.Add(10*time.Minute)))), trust: func(tr *Trust) { tr.MaxLifetime = 10 * time.Minute }},
				{name: "exp missing", msg: hand(claims.del("exp")), want: jose.ClaimMissing},
				{name: "iat missing", msg: hand(claims.del("iat")), want: jose.ClaimMissing},
				{name: "jti missing", msg: hand(claims.del("jti")), want: jose.ClaimMissing},
				{name: "exp a string", msg: hand(claims.set("exp", q("1772366700"))), want: jose.ClaimsInvalid},
				{name: "payload without claims", msg: handWith(members{}, hdr, key), want: jose.ClaimMissing},
				{name: "audience expected and present", msg: hand(claims.set("aud", `"payments-api"`)), trust: func(tr *Trust) { tr.Audience = "payments-api" }},
				{name: "audience expected, another", msg: hand(claims.set("aud", `"other-api"`)), trust: func(tr *Trust) { tr.Audience = "payments-api" }, want: jose.AudienceMismatch},
				{name: "audience expected, missing", msg: hand(claims), trust: func(tr *Trust) { tr.Audience = "payments-api" }, want: jose.ClaimMissing},
			}
			if mode == "" {
				tests = append(tests, []tcase{
					{name: "Content-Type missing", msg: tamper(func(m *Message) { m.Header.Del("Content-Type") }), want: HeaderMissing},
					{name: "Content-Type application/json", msg: tamper(func(m *Message) { m.Header.Set("Content-Type", "application/json") }), want: HeaderMissing},
					{name: "Content-Type with parameters and case", msg: tamper(func(m *Message) { m.Header.Set("Content-Type", "Application/JOSE+JSON; charset=utf-8") })},
					{name: "Content-Type repeated", msg: tamper(func(m *Message) { m.Header.Add("Content-Type", GenericContentType) }), want: HeaderMissing},
					{name: "body a compact JWS", msg: func(t *testing.T) *Message {
						m := newMessage()
						m.Header.Set("Content-Type", GenericContentType)
						m.Body = []byte(compact(t, claims.json(), hdr, false, key))
						return m
					}, want: jose.Malformed},
					{name: "body a general JSON JWS", msg: func(t *testing.T) *Message {
						m := newMessage()
						m.Header.Set("Content-Type", GenericContentType)
						j, err := jose.SignWithHeader(claims.json(), hdr.json(), false, jose.General, key)
						if err != nil {
							t.Fatal(err)
						}
						m.Body, _ = j.GeneralBytes()
						return m
					}, want: jose.Malformed},
					{name: "body detached", msg: func(t *testing.T) *Message {
						m := newMessage()
						m.Header.Set("Content-Type", GenericContentType)
						j, err := jose.SignWithHeader(claims.json(), hdr.json(), true, jose.Flattened, key)
						if err != nil {
							t.Fatal(err)
						}
						m.Body, _ = j.FlattenedBytes()
						return m
					}, want: jose.PayloadMismatch},
					{name: "body not JSON", msg: tamper(func(m *Message) { m.Body = []byte("{") }), want: jose.Malformed},
					{name: "payload changed", msg: tamper(func(m *Message) {
						var f map[string]string
						if err := json.Unmarshal(m.Body, &f); err != nil {
							t.Fatal(err)
						}
						p, _ := base64.RawURLEncoding.DecodeString(f["payload"])
						p = bytes.Replace(p, []byte("100.00"), []byte("900.00"), 1)
						f["payload"] = base64.RawURLEncoding.EncodeToString(p)
						m.Body, _ = json.Marshal(f)
					}), want: jose.SignatureInvalid},
					{name: "kid in the unprotected header", msg: tamper(func(m *Message) {
						m.Body = bytes.Replace(m.Body, []byte(`"signature"`), []byte(`"header":{"kid":"x"},"signature"`), 1)
					}), want: jose.HeaderInvalid},
					{name: "unknown top-level member", msg: tamper(func(m *Message) {
						m.Body = bytes.Replace(m.Body, []byte(`"signature"`), []byte(`"extra":1,"signature"`), 1)
					}), want: jose.Malformed},
				}...)
			} else {
				tests = append(tests, []tcase{
					{name: "body byte changed", msg: tamper(func(m *Message) { m.Body = bytes.Replace(m.Body, []byte("100.00"), []byte("900.00"), 1) }), want: jose.SignatureInvalid},
					{name: "body whitespace added", msg: tamper(func(m *Message) { m.Body = append(m.Body, '\n') }), want: jose.SignatureInvalid},
					{name: "header missing", msg: tamper(func(m *Message) { m.Header.Del(mode) }), want: HeaderMissing},
					{name: "header repeated", msg: tamper(func(m *Message) { m.Header.Add(mode, m.Header.Get(mode)) }), want: HeaderMissing},
					{name: "attached instead of detached", msg: func(t *testing.T) *Message {
						m := newMessage()
						m.Body = claims.json()
						m.Header.Set(mode, compact(t, m.Body, hdr, false, key))
						return m
					}, want: jose.PayloadMismatch},
					{name: "Content-Type is not checked", msg: tamper(func(m *Message) { m.Header.Del("Content-Type") })},
					{name: "body not JSON", msg: func(t *testing.T) *Message {
						m := newMessage()
						m.Body = []byte("amount=1")
						m.Header.Set(mode, compact(t, m.Body, hdr, true, key))
						return m
					}, want: jose.ClaimsInvalid},
				}...)
			}
			for _, tc := range tests {
				name := "flattened"
				if mode != "" {
					name = "header"
				}
				t.Run(name+"/"+string(alg)+"/"+tc.name, func(t *testing.T) {
					t.Parallel()
					tr := fx.trust
					if tc.trust != nil {
						tc.trust(&tr)
					}
					m := tc.msg(t)
					res, err := check(mustVerifier(t, fx.p, tr), m)
					wantCode(t, err, tc.want)
					if err != nil {
						return
					}
					if res.Profile != "generic" || res.Kid != fx.kid || res.Claims == nil {
						t.Fatalf("result %+v", res)
					}
					if want := res.Claims.Issuer; want != "" && res.Subject != want || want == "" && res.Subject != fx.kid {
						t.Fatalf("Subject %q, iss %q", res.Subject, want)
					}
					if mode != "" && !bytes.Equal(res.Payload, m.Body) {
						t.Fatalf("Payload %q, body %q", res.Payload, m.Body)
					}
				})
			}
		}
	}
}

func TestGenericDefaultAlg(t *testing.T) {
	t.Parallel()
	ed := genericFixture(t, "", jose.EdDSA)
	es := genericFixture(t, "", jose.ES256)
	// Trust.Algs empty: ES256 only.
	for _, tc := range []struct {
		fx   fixture
		want jose.Code
	}{{es, ""}, {ed, jose.AlgNotAllowed}} {
		tr := tc.fx.trust
		tr.Algs = nil
		_, err := check(mustVerifier(t, Generic{}, tr), mustSign(t, Generic{}, newMessage(), tc.fx.signer))
		wantCode(t, err, tc.want)
	}
}

// TestGenericSignOutput checks what Sign returns in each mode.
func TestGenericSignOutput(t *testing.T) {
	t.Parallel()
	fx := genericFixture(t, "", jose.ES256)
	m := newMessage()
	sig, err := Generic{}.Sign(m, fx.signer)
	if err != nil {
		t.Fatal(err)
	}
	if sig.Header.Get("Content-Type") != GenericContentType || len(sig.Header) != 1 {
		t.Errorf("flattened headers %v", sig.Header)
	}
	var f map[string]json.RawMessage
	if err := json.Unmarshal(sig.Body, &f); err != nil || len(f) != 3 || f["payload"] == nil || f["protected"] == nil || f["signature"] == nil {
		t.Errorf("flattened body %s (%v)", sig.Body, err)
	}
	if string(m.Body) != testBody {
		t.Error("Sign modified the message body")
	}

	hs, err := Generic{Header: "X-Sig"}.Sign(m, fx.signer)
	if err != nil {
		t.Fatal(err)
	}
	if hs.Header.Get("Content-Type") != "application/json" || !strings.Contains(hs.Header.Get("X-Sig"), "..") {
		t.Errorf("header mode headers %v", hs.Header)
	}
	// The new body is the caller's instruction with the claims spliced in.
	if !bytes.HasSuffix(hs.Body, []byte(testBody[1:])) || !bytes.HasPrefix(hs.Body, []byte(`{"iat":`+num(t0)+`,"exp":`+num(t0.Add(5*time.Minute))+`,"jti":"`)) {
		t.Errorf("header mode body %s", hs.Body)
	}

	// A configured lifetime.
	s3, err := Generic{Header: "X-Sig", Lifetime: time.Minute}.Sign(m, fx.signer)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(s3.Body, []byte(`"exp":`+num(t0.Add(time.Minute)))) {
		t.Errorf("Lifetime ignored: %s", s3.Body)
	}

	for _, tc := range []struct {
		name string
		body string
		s    *Signer
		want jose.Code
	}{
		{"no key", testBody, &Signer{}, jose.KeyRejected},
		{"key without kid", testBody, &Signer{Key: sk(ecKeys[0](), jose.ES256, "")}, jose.KeyRejected},
		{"body an array", `[1,2]`, fx.signer, jose.ClaimsInvalid},
		{"body a string", `"x"`, fx.signer, jose.ClaimsInvalid},
		{"body not JSON", `amount=1`, fx.signer, jose.ClaimsInvalid},
		{"body with a duplicate member", `{"a":1,"a":2}`, fx.signer, jose.ClaimsInvalid},
		{"body with iat a string", `{"iat":"now"}`, fx.signer, jose.ClaimsInvalid},
	} {
		m := newMessage()
		m.Body = []byte(tc.body)
		_, err := Generic{}.Sign(m, tc.s)
		if jose.CodeOf(err) != tc.want {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestGenericPayload(t *testing.T) {
	const jti = "J"
	life := 5 * time.Minute
	iat, exp := num(t0), num(t0.Add(life))
	all := `"iat":` + iat + `,"exp":` + exp + `,"jti":"J"`
	for _, tc := range []struct {
		name, body, want string
		code             jose.Code
	}{
		{"adds all three in front", `{"amount":"1.10"}`, `{` + all + `,"amount":"1.10"}`, ""},
		{"keeps the caller's bytes", `{"amount":1.10,"note":"caf\u00e9 & <tag>","n":[1, 2 ,3]}`, `{` + all + `,"amount":1.10,"note":"caf\u00e9 & <tag>","n":[1, 2 ,3]}`, ""},
		{"keeps whitespace", "  {\n  \"a\" : 1 }\n", "{" + all + ",\"a\" : 1 }\n", ""},
		{"empty object", `{}`, `{` + all + `}`, ""},
		{"empty object with space", "{ \n}", `{` + all + `}`, ""},
		{"own jti kept", `{"jti":"mine","a":1}`, `{"iat":` + iat + `,"exp":` + exp + `,"jti":"mine","a":1}`, ""},
		{"own iat kept", `{"iat":1,"a":1}`, `{"exp":` + exp + `,"jti":"J","iat":1,"a":1}`, ""},
		{"all present: unchanged", `{"jti":"x", "iat":1,"exp":2}`, `{"jti":"x", "iat":1,"exp":2}`, ""},
		{"array", `[]`, "", jose.ClaimsInvalid},
		{"number", `1`, "", jose.ClaimsInvalid},
		{"empty", ``, "", jose.ClaimsInvalid},
		{"two objects", `{}{}`, "", jose.ClaimsInvalid},
		{"exp a string", `{"exp":"x"}`, "", jose.ClaimsInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := genericPayload([]byte(tc.body), t0, life, jti)
			wantCode(t, err, tc.code)
			if err == nil && string(got) != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
			if err == nil {
				if _, err := jose.ParseClaims(got); err != nil {
					t.Fatalf("result is not a claims set: %v", err)
				}
			}
		})
	}
}

// TestGenericEmptyBody: an empty (or blank) instruction becomes {} with the
// claims.
func TestGenericEmptyBody(t *testing.T) {
	t.Parallel()
	fx := genericFixture(t, "X-Sig", jose.ES256)
	for _, body := range []string{"", " \r\n"} {
		m := newMessage()
		m.Body = []byte(body)
		sig, err := fx.p.Sign(m, fx.signer)
		if err != nil {
			t.Fatal(err)
		}
		c, err := jose.ParseClaims(sig.Body)
		if err != nil || len(c.Names()) != 3 || !bytes.HasPrefix(sig.Body, []byte(`{"iat":`)) {
			t.Fatalf("body %q → %s (%v)", body, sig.Body, err)
		}
	}
}
