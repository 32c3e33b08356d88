package jose

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const vectorDir = "../testdata/vectors"

// vector is one file of testdata/vectors/jws (see testdata/vectors/INDEX.json).
type vector struct {
	ID                  string          `json:"id"`
	Alg                 string          `json:"alg"`
	Key                 json.RawMessage `json:"key"`
	PublicKey           json.RawMessage `json:"public_key"`
	Payload             string          `json:"payload"`
	B64                 *bool           `json:"b64"`
	Detached            bool            `json:"detached"`
	Deterministic       *bool           `json:"deterministic"`
	ProtectedHeaderUTF8 string          `json:"protected_header_utf8"`
	ProtectedB64u       string          `json:"protected_b64u"`
	SignatureB64u       string          `json:"signature_b64u"`
	SigningInput        string          `json:"signing_input"`
	Unprotected         json.RawMessage `json:"unprotected_header"`
	Expected            struct {
		Compact         string          `json:"compact"`
		CompactDetached string          `json:"compact_detached"`
		Flattened       json.RawMessage `json:"json_flattened"`
		General         json.RawMessage `json:"json_general"`
	} `json:"expected"`
	Signatures []vectorSig `json:"signatures"`
}

type vectorSig struct {
	Alg                 string          `json:"alg"`
	Key                 json.RawMessage `json:"key"`
	PublicKey           json.RawMessage `json:"public_key"`
	Deterministic       bool            `json:"deterministic"`
	ProtectedB64u       string          `json:"protected_b64u"`
	ProtectedHeaderUTF8 string          `json:"protected_header_utf8"`
	SignatureB64u       string          `json:"signature_b64u"`
	SigningInput        string          `json:"signing_input"`
	Unprotected         json.RawMessage `json:"unprotected_header"`
}

func loadVectors(t *testing.T) map[string]*vector {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(vectorDir, "jws", "*", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 18 {
		t.Fatalf("found %d JWS vector files under %s; expected 18", len(files), vectorDir)
	}
	out := map[string]*vector{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v vector
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if v.ID == "" {
			t.Fatalf("%s: no id", f)
		}
		out[v.ID] = &v
	}
	return out
}

// vkey parses a vector key; a vector's "key" may be private or, for oct,
// the secret.
func vkey(t *testing.T, raw json.RawMessage) *JWK {
	t.Helper()
	k, err := ParseJWK(raw)
	if err != nil {
		t.Fatalf("key: %v", err)
	}
	return k
}

func verifyKey(t *testing.T, pub, priv json.RawMessage) *JWK {
	if len(pub) > 0 && string(pub) != "null" {
		return vkey(t, pub)
	}
	k := vkey(t, priv)
	if k.Kty == "oct" {
		return k
	}
	return k.Public()
}

// serializations returns each expected serialization of v as bytes.
func serializations(v *vector) map[string][]byte {
	out := map[string][]byte{}
	if v.Expected.Compact != "" {
		out["compact"] = []byte(v.Expected.Compact)
	}
	if v.Expected.CompactDetached != "" {
		out["compact_detached"] = []byte(v.Expected.CompactDetached)
	}
	if len(v.Expected.Flattened) > 0 {
		out["flattened"] = v.Expected.Flattened
	}
	if len(v.Expected.General) > 0 {
		out["general"] = v.Expected.General
	}
	return out
}

// TestVectorsVerify: every RFC vector verifies under the strict default
// policy, except where the vector puts a verification parameter in the
// unprotected header, which the default policy refuses with a stated code
// (and AllowUnprotectedKid admits where only kid is unprotected).
func TestVectorsVerify(t *testing.T) {
	vs := loadVectors(t)
	type want struct {
		code      Code // strict default policy
		allowKid  bool // verifies with AllowUnprotectedKid
		selectKid string
	}
	special := map[string]want{
		"rfc7515-A.5": {code: AlgNotAllowed},
		"rfc7515-A.6": {code: HeaderInvalid, allowKid: true},
		"rfc7515-A.7": {code: HeaderInvalid, allowKid: true},
		"rfc7520-4.6": {code: HeaderInvalid, allowKid: true},
		"rfc7520-4.7": {code: HeaderInvalid},
		"rfc7520-4.8": {code: HeaderInvalid, selectKid: "018c0ae5-4d9b-471b-bfd6-eef314bc7037"},
	}
	checked := 0
	for id, v := range vs {
		t.Run(id, func(t *testing.T) {
			var keys []*JWK
			algs := []Alg{}
			if len(v.Signatures) > 0 {
				seen := map[string]bool{}
				for _, s := range v.Signatures {
					k := verifyKey(t, s.PublicKey, s.Key)
					// RFC 7520 4.8 gives an RSA and an EC key the same kid;
					// a KeySet refuses duplicate kids, so keep the first.
					if kid := k.Kid + unprotectedKidOf(s.Unprotected); seen[kid] {
						continue
					} else {
						seen[kid] = true
					}
					if kid := unprotectedKidOf(s.Unprotected); kid != "" && k.Kid == "" {
						k = k.WithKid(kid)
					}
					keys = append(keys, k)
					algs = append(algs, Alg(s.Alg))
				}
			} else if v.Alg != "none" {
				k := verifyKey(t, v.PublicKey, v.Key)
				if kid := unprotectedKidOf(v.Unprotected); kid != "" && k.Kid == "" {
					k = k.WithKid(kid)
				}
				keys = append(keys, k)
				algs = append(algs, Alg(v.Alg))
			} else {
				algs = append(algs, HS256)
			}
			set, err := NewKeySet(keys...)
			if err != nil {
				t.Fatal(err)
			}
			sp, isSpecial := special[id]
			for name, ser := range serializations(v) {
				verify := func(p Policy) (*Verified, error) {
					p.Algs, p.Keys = algs, set
					ver, err := NewVerifier(p)
					if err != nil {
						t.Fatal(err)
					}
					if v.Detached && !bytes.Contains(ser, []byte(`"payload"`)) {
						return ver.VerifyDetached(context.Background(), ser, []byte(v.Payload))
					}
					return ver.Verify(context.Background(), ser)
				}
				res, err := verify(Policy{})
				if isSpecial {
					if CodeOf(err) != sp.code {
						t.Fatalf("%s: strict policy: got %v, want code %s", name, err, sp.code)
					}
					switch {
					case sp.allowKid:
						res, err = verify(Policy{AllowUnprotectedKid: true})
					case sp.selectKid != "":
						res, err = verify(Policy{SelectKid: sp.selectKid})
					default:
						checked++
						return
					}
				}
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if !bytes.Equal(res.Payload, []byte(v.Payload)) {
					t.Fatalf("%s: payload %q, want %q", name, res.Payload, v.Payload)
				}
				checked++
			}
		})
	}
	if checked < 30 {
		t.Fatalf("only %d serializations checked", checked)
	}
}

func unprotectedKidOf(raw json.RawMessage) string {
	var h struct {
		Kid string `json:"kid"`
	}
	_ = json.Unmarshal(raw, &h)
	return h.Kid
}

// TestVectorsResign: deterministic vectors (RSA PKCS#1 v1.5, HMAC, Ed25519)
// re-sign to identical bytes from the same header and payload.
func TestVectorsResign(t *testing.T) {
	vs := loadVectors(t)
	n := 0
	for id, v := range vs {
		if v.Alg == "none" {
			continue
		}
		sigs := v.Signatures
		if len(sigs) == 0 {
			sigs = []vectorSig{{Alg: v.Alg, Key: v.Key, Deterministic: v.Deterministic != nil && *v.Deterministic,
				ProtectedB64u: v.ProtectedB64u, ProtectedHeaderUTF8: v.ProtectedHeaderUTF8, SignatureB64u: v.SignatureB64u, SigningInput: v.SigningInput}}
		}
		for i, s := range sigs {
			if !s.Deterministic || s.ProtectedB64u == "" {
				// RFC 7520 4.7 has no protected header at all; Sign always
				// protects alg, so it cannot reproduce that vector.
				continue
			}
			t.Run(id, func(t *testing.T) {
				k := vkey(t, s.Key)
				sk, err := NewSigningKey(k, Alg(s.Alg))
				if err != nil {
					t.Fatal(err)
				}
				raw, err := decodeB64(s.ProtectedB64u, "vector header")
				if err != nil {
					t.Fatal(err)
				}
				if s.ProtectedHeaderUTF8 != "" && string(raw) != s.ProtectedHeaderUTF8 {
					t.Fatalf("vector %d: protected_b64u does not decode to protected_header_utf8", i)
				}
				unencoded := v.B64 != nil && !*v.B64
				j, err := SignWithHeader([]byte(v.Payload), raw, v.Detached || unencoded, Compact, sk)
				if err != nil {
					t.Fatal(err)
				}
				if got := encodeB64(j.Signature(0)); got != s.SignatureB64u {
					t.Fatalf("signature %s, want %s", got, s.SignatureB64u)
				}
				if s.SigningInput != "" && !strings.HasPrefix(s.SigningInput, s.ProtectedB64u+".") {
					t.Fatalf("signing_input does not start with the protected header")
				}
				if v.Expected.Compact != "" {
					c, err := j.CompactBytes()
					if err != nil {
						t.Fatal(err)
					}
					if string(c) != v.Expected.Compact {
						t.Fatalf("compact %s, want %s", c, v.Expected.Compact)
					}
				}
				if v.Expected.CompactDetached != "" {
					c, err := j.CompactBytes()
					if err != nil {
						t.Fatal(err)
					}
					if string(c) != v.Expected.CompactDetached {
						t.Fatalf("compact %s, want %s", c, v.Expected.CompactDetached)
					}
				}
				n++
			})
		}
	}
	if n < 8 {
		t.Fatalf("only %d deterministic signatures re-signed", n)
	}
}

// TestVectorsNone: alg "none" is refused whatever the policy lists.
func TestVectorsNone(t *testing.T) {
	vs := loadVectors(t)
	v := vs["rfc7515-A.5"]
	if v == nil {
		t.Fatal("rfc7515-A.5 missing")
	}
	if _, err := NewVerifier(Policy{Algs: []Alg{"none"}, Keys: &KeySet{}}); CodeOf(err) != PolicyInvalid {
		t.Fatalf("policy listing none: %v", err)
	}
	k, _ := NewJWK(bytes.Repeat([]byte{1}, 32), "", "")
	set, _ := NewKeySet(k)
	ver, err := NewVerifier(Policy{Algs: Algs(), Keys: set})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ver.Verify(context.Background(), []byte(v.Expected.Compact)); CodeOf(err) != AlgNotAllowed {
		t.Fatalf("none: %v", err)
	}
}

// TestVectorsThumbprints: RFC 7638 §3.1 and RFC 8037 A.3.
func TestVectorsThumbprints(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(vectorDir, "jwk", "*", "*.json"))
	if len(files) != 2 {
		t.Fatalf("expected 2 JWK vector files, found %d", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			JWK        json.RawMessage `json:"jwk"`
			Private    json.RawMessage `json:"private_key"`
			Public     json.RawMessage `json:"public_key"`
			Thumbprint string          `json:"thumbprint_b64u"`
			Input      string          `json:"thumbprint_input"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			found := 0
			for _, raw := range []json.RawMessage{doc.JWK, doc.Private, doc.Public} {
				if len(raw) == 0 {
					continue
				}
				k, err := ParseJWK(raw)
				if err != nil {
					t.Fatalf("ParseJWK: %v", err)
				}
				if k.Thumbprint() != doc.Thumbprint {
					t.Fatalf("thumbprint %s, want %s", k.Thumbprint(), doc.Thumbprint)
				}
				if string(k.thumbprintInput()) != doc.Input {
					t.Fatalf("thumbprint input %s, want %s", k.thumbprintInput(), doc.Input)
				}
				found++
			}
			if found == 0 {
				t.Fatalf("no JWK in %s", f)
			}
		})
	}
}
