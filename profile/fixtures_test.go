package profile

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/nonrep/nonrep/jose"
)

// The derived examples and RFC vectors shared by the repository (copied
// from ../shared/vectors; see testdata/vectors/INDEX.json).
const vectorDir = "../testdata/vectors"

type derivedExamples struct {
	EBANX struct {
		BodyUTF8        string `json:"body_utf8"`
		KeyRef          string `json:"key_ref"`
		ProtectedB64u   string `json:"protected_b64u"`
		ProtectedHeader string `json:"protected_header_utf8"`
		SignatureB64u   string `json:"signature_b64u"`
		SigningInput    string `json:"signing_input"`
		XJWSSignature   string `json:"x_jws_signature"`
	} `json:"ebanx_shaped_rs256_b64false"`
	SwiftAud struct {
		Example struct{ Aud, URL string } `json:"illustrative_example"`
	} `json:"swift_aud"`
	SwiftDigest struct {
		Cases []struct {
			BodyBase64 string `json:"body_base64_std"`
			BodyUTF8   string `json:"body_utf8"`
			Case       string `json:"case"`
			Digest     string `json:"digest_claim"`
			SHA256Hex  string `json:"sha256_of_base64_hex"`
		} `json:"cases"`
	} `json:"swift_request_digest"`
	Integrity struct {
		Digest string `json:"digest_claim"`
		JCS    string `json:"jcs"`
		Body   string `json:"response_body"`
	} `json:"swift_response_integrity_digest"`
}

func loadDerived(t *testing.T) *derivedExamples {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectorDir, "profiles", "derived_examples.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d derivedExamples
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.SwiftDigest.Cases) == 0 || d.EBANX.XJWSSignature == "" || d.Integrity.Digest == "" || d.SwiftAud.Example.Aud == "" {
		t.Fatal("derived_examples.json did not decode as expected")
	}
	return &d
}

func TestDerivedSwiftDigest(t *testing.T) {
	for _, c := range loadDerived(t).SwiftDigest.Cases {
		t.Run(c.Case, func(t *testing.T) {
			body := []byte(c.BodyUTF8)
			if got := base64.StdEncoding.EncodeToString(body); got != c.BodyBase64 {
				t.Fatalf("vector inconsistent: base64 %q, file says %q", got, c.BodyBase64)
			}
			h := sha256.Sum256([]byte(c.BodyBase64))
			if hex.EncodeToString(h[:]) != c.SHA256Hex {
				t.Fatalf("vector inconsistent: sha256 of base64")
			}
			if got := SwiftDigest(body); got != c.Digest {
				t.Fatalf("SwiftDigest = %q, want %q", got, c.Digest)
			}
		})
	}
	if SwiftDigest(nil) != "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" {
		t.Error("SwiftDigest(nil) is not the documented empty-body digest")
	}
}

func TestDerivedSwiftAudience(t *testing.T) {
	ex := loadDerived(t).SwiftAud.Example
	u, err := url.Parse(ex.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got := SwiftAudience(u.Host, u.EscapedPath(), u.RawQuery); got != ex.Aud {
		t.Fatalf("SwiftAudience = %q, want %q", got, ex.Aud)
	}
	// The same through a request on the default port.
	if got := SwiftAudience(u.Host+":443", u.EscapedPath(), ""); got != ex.Aud {
		t.Fatalf("SwiftAudience with :443 = %q, want %q", got, ex.Aud)
	}
}

func TestDerivedIntegrityDigest(t *testing.T) {
	ex := loadDerived(t).Integrity
	got, err := IntegrityDigest([]byte(ex.Body))
	if err != nil {
		t.Fatal(err)
	}
	if got != ex.Digest {
		t.Fatalf("IntegrityDigest = %q, want %q", got, ex.Digest)
	}
	h := sha256.Sum256([]byte(ex.JCS))
	if hex.EncodeToString(h[:]) != ex.Digest {
		t.Fatal("vector inconsistent: digest is not SHA-256 of the jcs field")
	}
	// The canonical form digests the same as the original.
	if again, _ := IntegrityDigest([]byte(ex.JCS)); again != ex.Digest {
		t.Fatalf("IntegrityDigest(jcs) = %q", again)
	}
}

// TestDerivedEBANX: the EBANX-shaped example is signed with the RFC 7520
// §3.4 key, which is 2048-bit. The EBANX verifier must refuse it on key
// size (key_rejected); a plain JOSE verifier accepts it; and EBANX.Sign with
// that key reproduces the example byte for byte (RS256 is deterministic).
func TestDerivedEBANX(t *testing.T) {
	ex := loadDerived(t).EBANX
	raw, err := os.ReadFile(filepath.Join(vectorDir, "profiles", ex.KeyRef))
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ JWK json.RawMessage }
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	priv, err := jose.ParseJWK(file.JWK)
	if err != nil {
		t.Fatal(err)
	}
	keys := keySet(t, priv.Public())
	body := []byte(ex.BodyUTF8)

	if hdr, _ := base64.RawURLEncoding.DecodeString(ex.ProtectedB64u); string(hdr) != ex.ProtectedHeader {
		t.Fatalf("vector inconsistent: protected header")
	}
	if ex.SigningInput != ex.ProtectedB64u+"."+ex.BodyUTF8 || ex.XJWSSignature != ex.ProtectedB64u+".."+ex.SignatureB64u {
		t.Fatalf("vector inconsistent: signing input or header value")
	}

	m := newMessage()
	m.Body = body
	m.Header.Set("X-JWS-Signature", ex.XJWSSignature)
	v := mustVerifier(t, EBANX{}, Trust{Keys: keys, Clock: at(t0)})
	p, err := v.Parse(m)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	_, err = v.Verify(context.Background(), p)
	wantCode(t, err, jose.KeyRejected)

	plain, err := jose.NewVerifier(jose.Policy{Algs: []jose.Alg{jose.RS256}, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	ver, err := plain.VerifyDetached(context.Background(), []byte(ex.XJWSSignature), body)
	if err != nil {
		t.Fatalf("plain jose verifier: %v", err)
	}
	if string(ver.Payload) != ex.BodyUTF8 || ver.Header().B64 {
		t.Fatalf("plain verify payload %q b64 %v", ver.Payload, ver.Header().B64)
	}
	// A tampered body fails the plain verifier too.
	if _, err := plain.VerifyDetached(context.Background(), []byte(ex.XJWSSignature), append(body, ' ')); jose.CodeOf(err) != jose.SignatureInvalid {
		t.Fatalf("plain verifier, tampered body: %v", err)
	}

	key, err := jose.NewSigningKey(priv, jose.RS256)
	if err != nil {
		t.Fatal(err)
	}
	// EBANX.Sign refuses the 2048-bit key; the same header shape made by
	// hand reproduces the example byte for byte.
	if _, err := (EBANX{}).Sign(m, &Signer{Key: key}); jose.CodeOf(err) != jose.KeyRejected {
		t.Fatalf("EBANX.Sign with a 2048-bit key: %v", err)
	}
	j, err := jose.Sign(m.Body, jose.SignOptions{Detached: true, Unencoded: true}, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := j.CompactBytes()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != ex.XJWSSignature {
		t.Fatalf("EBANX-shaped signature\n got %s\nwant %s", got, ex.XJWSSignature)
	}
}

// TestJCSVectors: IntegrityDigest of every RFC 8785 input is the SHA-256 of
// the expected canonical output.
func TestJCSVectors(t *testing.T) {
	dir := filepath.Join(vectorDir, "jcs", "rfc8785")
	inputs, err := filepath.Glob(filepath.Join(dir, "input", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) < 6 {
		t.Fatalf("found %d JCS inputs in %s; the vectors are missing", len(inputs), dir)
	}
	for _, in := range inputs {
		name := filepath.Base(in)
		t.Run(name, func(t *testing.T) {
			input, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(dir, "output", name))
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.Sum256(want)
			got, err := IntegrityDigest(input)
			if err != nil {
				t.Fatal(err)
			}
			if got != hex.EncodeToString(h[:]) {
				t.Fatalf("IntegrityDigest = %s, want %x", got, h)
			}
		})
	}
}

func TestIntegrityDigestEdges(t *testing.T) {
	empty := sha256.Sum256(nil)
	for _, tc := range []struct {
		body string
		want string
		code jose.Code
	}{
		{"", hex.EncodeToString(empty[:]), ""},
		{" \n", hex.EncodeToString(empty[:]), ""},
		{`{"b":1,"a":2}`, mustSHA256Hex(`{"a":2,"b":1}`), ""},
		{`[1.0, 2e0, "\u0041"]`, mustSHA256Hex(`[1,2,"A"]`), ""},
		{`{`, "", jose.Malformed},
		{`{"a":1,"a":2}`, "", jose.Malformed},
		{`{} {}`, "", jose.Malformed},
	} {
		got, err := IntegrityDigest([]byte(tc.body))
		if jose.CodeOf(err) != tc.code || got != tc.want {
			t.Errorf("IntegrityDigest(%q) = %q, %v; want %q, %q", tc.body, got, err, tc.want, tc.code)
		}
	}
}

func mustSHA256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
