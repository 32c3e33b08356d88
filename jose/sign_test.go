package jose

import (
	"bytes"
	"context"
	"crypto"
	"strings"
	"testing"
)

// TestSignVerifyRoundTrip signs with every algorithm in every form and
// verifies the result.
func TestSignVerifyRoundTrip(t *testing.T) {
	keys := map[Alg]*SigningKey{}
	for _, a := range Algs() {
		sk := &SigningKey{Alg: a, Kid: kidFor(a)}
		if b, ok := fixKey(t, a).([]byte); ok {
			sk.Secret = b
		} else {
			sk.Signer = fixKey(t, a).(crypto.Signer)
		}
		keys[a] = sk
	}
	payloads := [][]byte{[]byte(`{"amount":"1240.00","currency":"EUR"}`), {}, []byte("a.b.c"), {0xff, 0x00, 0x80}}
	for _, alg := range Algs() {
		for _, form := range []Form{Compact, Flattened, General} {
			for _, detached := range []bool{false, true} {
				for _, unencoded := range []bool{false, true} {
					for _, p := range payloads {
						name := strings.Join([]string{string(alg), form.String(), map[bool]string{true: "detached", false: "attached"}[detached], map[bool]string{true: "b64false", false: "b64"}[unencoded]}, "/")
						j, err := Sign(p, SignOptions{Form: form, Detached: detached, Unencoded: unencoded, Typ: "JWT"}, keys[alg])
						// Refusals Sign must make, with their codes.
						switch {
						case form == Compact && unencoded && !detached && (bytes.Contains(p, []byte(".")) || len(p) == 0):
							if CodeOf(err) != PolicyInvalid {
								t.Fatalf("%s %q: got %v, want policy_invalid", name, p, err)
							}
							continue
						}
						if err != nil {
							t.Fatalf("%s %q: %v", name, p, err)
						}
						ser, err := j.Bytes()
						if unencoded && !detached && form != Compact && !isUTF8(p) {
							if CodeOf(err) != PolicyInvalid {
								t.Fatalf("%s %q: got %v, want policy_invalid for non-UTF-8 unencoded JSON", name, p, err)
							}
							continue
						}
						if err != nil {
							t.Fatalf("%s %q: serialize: %v", name, p, err)
						}
						v := verifier(t, Policy{Algs: []Alg{alg}})
						var res *Verified
						if detached {
							res, err = v.VerifyDetached(context.Background(), ser, p)
						} else {
							res, err = v.Verify(context.Background(), ser)
						}
						if err != nil {
							t.Fatalf("%s %q: verify %s: %v", name, p, ser, err)
						}
						if !bytes.Equal(res.Payload, p) {
							t.Fatalf("%s: payload %q, want %q", name, res.Payload, p)
						}
						if res.Form != form || res.Header().Alg != alg || res.Header().Kid != kidFor(alg) || res.Header().B64 == unencoded {
							t.Fatalf("%s: result %+v", name, res.Header())
						}
						if res.Signatures[0].Thumbprint == "" || res.Signatures[0].Thumbprint != res.Signatures[0].Key.Thumbprint() {
							t.Fatalf("%s: thumbprint missing", name)
						}
						// Parse → serialize is the identity on our own output.
						j2, err := Parse(ser, Limits{})
						if err != nil {
							t.Fatal(err)
						}
						ser2, err := j2.Bytes()
						if err != nil || !bytes.Equal(ser, ser2) {
							t.Fatalf("%s: re-serialization differs:\n%s\n%s", name, ser, ser2)
						}
					}
				}
			}
		}
	}
}

func kidFor(a Alg) string {
	switch a {
	case ES256:
		return "ec"
	case ES384:
		return "ec384"
	case EdDSA:
		return "ed"
	case HS256, HS384, HS512:
		return "hmac"
	case ES512:
		return "ec521"
	}
	return "rsa"
}

func isUTF8(b []byte) bool { return strings.ToValidUTF8(string(b), "\uFFFD") == string(b) }

func TestSignRefusals(t *testing.T) {
	f := getFixture(t)
	ec := &SigningKey{Alg: ES256, Kid: "ec", Signer: f.ec}
	cases := []struct {
		name     string
		opts     SignOptions
		key      *SigningKey
		wantCode Code
	}{
		{"extension param", SignOptions{Header: []HeaderParam{{"http-method", []byte(`"POST"`)}}, Crit: []string{"http-method"}}, ec, ""},
		{"header param duplicates alg", SignOptions{Header: []HeaderParam{{"alg", []byte(`"none"`)}}}, ec, Malformed},
		{"header param case variant", SignOptions{Header: []HeaderParam{{"ALG", []byte(`"x"`)}}}, ec, Malformed},
		{"header param not JSON", SignOptions{Header: []HeaderParam{{"x", []byte(`{`)}}}, ec, Malformed},
		{"crit names an absent param", SignOptions{Crit: []string{"http-method"}}, ec, CritUnsupported},
		{"crit names a registered param", SignOptions{Crit: []string{"kid"}}, ec, CritUnsupported},
		{"signer does not fit alg", SignOptions{}, &SigningKey{Alg: RS256, Signer: f.ec}, KeyRejected},
		{"EC signer on wrong curve", SignOptions{}, &SigningKey{Alg: ES384, Signer: f.ec}, KeyRejected},
		{"HS secret too short", SignOptions{}, &SigningKey{Alg: HS512, Secret: f.secret[:32]}, KeyRejected},
		{"no signer", SignOptions{}, &SigningKey{Alg: ES256}, PolicyInvalid},
		{"alg none", SignOptions{}, &SigningKey{Alg: "none", Signer: f.ec}, AlgNotAllowed},
		{"compact with two keys", SignOptions{Form: Compact}, nil, PolicyInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			keys := []*SigningKey{tc.key}
			if tc.key == nil {
				keys = []*SigningKey{ec, ec}
			}
			_, err := Sign([]byte("x"), tc.opts, keys...)
			if CodeOf(err) != tc.wantCode {
				t.Fatalf("got %v, want %q", err, tc.wantCode)
			}
		})
	}
	if _, err := SignWithHeader([]byte("x"), []byte(`{"alg":"ES384"}`), false, Compact, ec); CodeOf(err) != PolicyInvalid {
		t.Fatalf("header alg differs from key: %v", err)
	}
	if _, err := Sign([]byte("x"), SignOptions{}); CodeOf(err) != PolicyInvalid {
		t.Fatalf("no keys: %v", err)
	}
}

// TestSignHeaderOrder pins the protected header Sign writes.
func TestSignHeaderOrder(t *testing.T) {
	f := getFixture(t)
	k := &SigningKey{Alg: EdDSA, Kid: "ed", Signer: f.ed}
	j, err := Sign([]byte("x"), SignOptions{Typ: "JWT", Cty: "json", Unencoded: true, Detached: true,
		Crit: []string{"http-method"}, Header: []HeaderParam{{"http-method", []byte(`"POST"`)}}}, k)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"alg":"EdDSA","kid":"ed","typ":"JWT","cty":"json","b64":false,"crit":["b64","http-method"],"http-method":"POST"}`
	if got := string(j.Header(0).Raw); got != want {
		t.Fatalf("header\n%s\nwant\n%s", got, want)
	}
}
