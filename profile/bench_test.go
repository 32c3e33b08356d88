package profile

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/nonrep/nonrep/jose"
)

// benchCase is one profile's valid request, and what the raw standard
// library needs to verify the same signature.
type benchCase struct {
	fx    fixture
	m     *Message
	alg   string // "PS512-3072": algorithm and key
	input []byte // the JWS signing input
	sig   []byte
	pub   crypto.PublicKey
}

func benchCases(b *testing.B) []benchCase {
	b.Helper()
	waitKeys()
	var out []benchCase
	for _, fx := range allFixtures(b) {
		m := mustSign(b, fx.p, newMessage(), fx.signer)
		c := benchCase{fx: fx, m: m, pub: fx.key.PublicKey()}
		b64 := base64.RawURLEncoding.EncodeToString
		detached := func(name string, unencoded bool) {
			h, s, _ := strings.Cut(m.Header.Get(name), "..")
			payload := b64(m.Body)
			if unencoded {
				payload = string(m.Body)
			}
			c.input, c.sig = []byte(h+"."+payload), mustB64(b, s)
		}
		switch p := fx.p.(type) {
		case InComm:
			c.alg = "PS512-3072"
			detached("Signature", false)
		case EBANX:
			c.alg = "RS256-4096"
			detached("X-JWS-Signature", true)
		case OpenBanking:
			c.alg = "PS256-2048"
			detached("x-jws-signature", p.Version != "")
		case Swift:
			c.alg = "RS256-2048"
			parts := strings.Split(m.Header.Get("X-SWIFT-Signature"), ".")
			c.input, c.sig = []byte(parts[0]+"."+parts[1]), mustB64(b, parts[2])
		case Generic:
			c.alg = string(fx.signer.Key.Alg)
			if p.Header != "" {
				detached(p.Header, false)
			} else {
				var f struct{ Payload, Protected, Signature string }
				if err := json.Unmarshal(m.Body, &f); err != nil {
					b.Fatal(err)
				}
				c.input, c.sig = []byte(f.Protected+"."+f.Payload), mustB64(b, f.Signature)
			}
		}
		if err := rawVerify(c.alg, c.pub, c.input, c.sig); err != nil {
			b.Fatalf("%s: raw verify of the profile's signature: %v", fx.name, err)
		}
		out = append(out, c)
	}
	return out
}

func mustB64(b *testing.B, s string) []byte {
	d, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

var errBadSig = jose.SignatureInvalid

// rawVerify is the bare standard-library work of checking one signature:
// hash the signing input and verify.
func rawVerify(alg string, pub crypto.PublicKey, input, sig []byte) error {
	switch alg {
	case "PS512-3072":
		h := sha512.Sum512(input)
		return rsa.VerifyPSS(pub.(*rsa.PublicKey), crypto.SHA512, h[:], sig, &rsa.PSSOptions{SaltLength: 64})
	case "PS256-2048":
		h := sha256.Sum256(input)
		return rsa.VerifyPSS(pub.(*rsa.PublicKey), crypto.SHA256, h[:], sig, &rsa.PSSOptions{SaltLength: 32})
	case "RS256-4096", "RS256-2048":
		h := sha256.Sum256(input)
		return rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, h[:], sig)
	case "ES256":
		h := sha256.Sum256(input)
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(pub.(*ecdsa.PublicKey), h[:], r, s) {
			return errBadSig
		}
		return nil
	case "EdDSA":
		if !ed25519.Verify(pub.(ed25519.PublicKey), input, sig) {
			return errBadSig
		}
		return nil
	}
	panic("unknown alg " + alg)
}

// BenchmarkVerify is Parse + Verify of one valid request per profile (the
// same request every time: replay is not this package's business). Compare
// with BenchmarkRawVerify for the same algorithm and key to see the
// profile's overhead. Swift also validates a two-certificate chain.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	for _, c := range benchCases(b) {
		b.Run("profile="+c.fx.name, func(b *testing.B) {
			v := mustVerifier(b, c.fx.p, c.fx.trust)
			b.ReportAllocs()
			for b.Loop() {
				p, err := v.Parse(c.m)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := v.Verify(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRawVerify is the standard library's hash + verify for each
// algorithm and key the profiles use.
func BenchmarkRawVerify(b *testing.B) {
	seen := map[string]bool{}
	for _, c := range benchCases(b) {
		if seen[c.alg] {
			continue
		}
		seen[c.alg] = true
		b.Run("alg="+c.alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := rawVerify(c.alg, c.pub, c.input, c.sig); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParse is the cheap gate alone: headers and strict JWS parsing.
func BenchmarkParse(b *testing.B) {
	for _, c := range benchCases(b) {
		b.Run("profile="+c.fx.name, func(b *testing.B) {
			v := mustVerifier(b, c.fx.p, c.fx.trust)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Parse(c.m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOverhead interleaves Parse + Verify with the raw verification of
// the same signature and reports their time ratio ("x-raw"): on a loaded
// machine the ratio is steadier than two separate benchmarks.
func BenchmarkOverhead(b *testing.B) {
	ctx := context.Background()
	for _, c := range benchCases(b) {
		b.Run("profile="+c.fx.name, func(b *testing.B) {
			v := mustVerifier(b, c.fx.p, c.fx.trust)
			var prof, raw time.Duration
			for b.Loop() {
				t1 := time.Now()
				p, err := v.Parse(c.m)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := v.Verify(ctx, p); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				if err := rawVerify(c.alg, c.pub, c.input, c.sig); err != nil {
					b.Fatal(err)
				}
				prof += t2.Sub(t1)
				raw += time.Since(t2)
			}
			b.ReportMetric(float64(prof)/float64(raw), "x-raw")
		})
	}
}
