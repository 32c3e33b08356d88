//go:build unix

package jose_test

// Benchmarks of Verify and Sign, nonrep beside the bare standard-library
// primitive and two JOSE libraries, named so that
//
//	benchstat -col '/impl@(raw nonrep gojose jwx)' bench.txt
//
// makes one column per implementation (see scripts/bench.sh, docs/bench.md):
//
//	BenchmarkVerify/alg=ES256/form=compact/impl=raw
//	BenchmarkVerify/alg=ES256/form=compact/impl=nonrep
//	BenchmarkVerify/alg=ES256/form=compact/impl=gojose
//	BenchmarkVerify/alg=ES256/form=compact/impl=jwx
//
// Forms: compact; flattened JSON; detached (compact "h..s" with the payload
// given separately, RFC 7515 App. F); b64false (detached compact with
// "b64": false, RFC 7797 — the pairing go-jose and jwx both support).
//
// Every Verify impl checks the same token bytes, made once by nonrep's Sign
// outside the timed loop (TestDifferential shows both peers accept them),
// and each impl is run once before timing and must succeed.
//
// impl=raw is the floor: hashing the signing input plus the stdlib verify
// (or sign) call, on the already-decoded signature and an already-built
// signing input. For ECDSA it is sha2 + ecdsa.VerifyASN1 on a DER signature
// converted from the P1363 R||S once, outside the loop: VerifyASN1 is the
// fastest public stdlib path (ecdsa.Verify with big.Int r, s DER-encodes
// them and calls it). The raw ECDSA sign is SignASN1 (no P1363 conversion).
// Everything else a JOSE verifier does — splitting, base64url, header JSON,
// policy, key lookup — is what the other columns add.
//
// Besides time/op (wall clock) each benchmark reports cpu-ns/op: the
// process's user+system CPU time per operation (getrusage), which includes
// GC work and is far less sensitive than wall time to other load on a shared
// machine. (Hence the unix build constraint.)
//
// Peers are used as their documentation shows, with per-call objects that
// can be built once (signers, option slices, token strings) built outside
// the loop. jwx runs with its default options (crit validation off).

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"math/big"
	"strings"
	"sync"
	"syscall"
	"testing"

	gojose "github.com/go-jose/go-jose/v4"
	jwxjws "github.com/lestrrat-go/jwx/v3/jws"

	"github.com/nonrep/nonrep/jose"
)

// benchPayload is a typical API request body.
var benchPayload = []byte(`{"iss":"partner-42","iat":1764460800,"jti":"5f0c6a2e-9b1d-4e7a-8c3f-2d6b7a9e1f04","amount":"1240.00","currency":"EUR","creditor":{"iban":"DE89370400440532013000","name":"ACME GmbH"}}`)

var (
	rsa3072Once sync.Once
	rsa3072Key  *rsa.PrivateKey
)

type benchAlg struct {
	name string
	alg  jose.Alg
	key  func(tb testing.TB) crypto.Signer
}

var benchAlgs = []benchAlg{
	{"ES256", jose.ES256, func(tb testing.TB) crypto.Signer { return keys(tb).p256 }},
	{"ES384", jose.ES384, func(tb testing.TB) crypto.Signer { return keys(tb).p384 }},
	{"RS256-2048", jose.RS256, func(tb testing.TB) crypto.Signer { return keys(tb).rsa2048 }},
	{"PS256-2048", jose.PS256, func(tb testing.TB) crypto.Signer { return keys(tb).rsa2048 }},
	{"PS512-3072", jose.PS512, func(tb testing.TB) crypto.Signer {
		rsa3072Once.Do(func() {
			var err error
			if rsa3072Key, err = rsa.GenerateKey(rand.Reader, 3072); err != nil {
				panic(err)
			}
		})
		return rsa3072Key
	}},
	{"EdDSA", jose.EdDSA, func(tb testing.TB) crypto.Signer { return keys(tb).ed }},
}

var benchForms = []struct {
	name string
	c    cell
}{
	{"compact", cell{form: jose.Compact}},
	{"flattened", cell{form: jose.Flattened}},
	{"detached", cell{form: jose.Compact, detached: true}},
	{"b64false", cell{form: jose.Compact, detached: true, unencoded: true}},
}

var benchImpls = []string{"raw", "nonrep", "gojose", "jwx"}

// signingInput returns the JWS signing input and the decoded signature of
// tok (made by nonrep in form c over benchPayload).
func signingInput(tb testing.TB, c cell, tok []byte) (input, sig []byte) {
	tb.Helper()
	var h, p, s string
	if c.form == jose.Compact {
		parts := strings.Split(string(tok), ".")
		h, p, s = parts[0], parts[1], parts[2]
	} else {
		var m map[string]string
		if err := json.Unmarshal(tok, &m); err != nil {
			tb.Fatal(err)
		}
		h, p, s = m["protected"], m["payload"], m["signature"]
	}
	if c.detached {
		p = b64u.EncodeToString(benchPayload)
		if c.unencoded {
			p = string(benchPayload)
		}
	}
	sig, err := b64u.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return []byte(h + "." + p), sig
}

// rawVerifier returns the stdlib hash-and-verify of alg for one signature.
func rawVerifier(tb testing.TB, alg jose.Alg, pub crypto.PublicKey, sig []byte) func(input []byte) bool {
	tb.Helper()
	switch alg {
	case jose.ES256, jose.ES384:
		size := len(sig) / 2
		der, err := asn1Sig(new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:]))
		if err != nil {
			tb.Fatal(err)
		}
		k := pub.(*ecdsa.PublicKey)
		if alg == jose.ES256 {
			return func(in []byte) bool { d := sha256.Sum256(in); return ecdsa.VerifyASN1(k, d[:], der) }
		}
		return func(in []byte) bool { d := sha512.Sum384(in); return ecdsa.VerifyASN1(k, d[:], der) }
	case jose.RS256:
		k := pub.(*rsa.PublicKey)
		return func(in []byte) bool {
			d := sha256.Sum256(in)
			return rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig) == nil
		}
	case jose.PS256:
		k := pub.(*rsa.PublicKey)
		opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}
		return func(in []byte) bool {
			d := sha256.Sum256(in)
			return rsa.VerifyPSS(k, crypto.SHA256, d[:], sig, opts) == nil
		}
	case jose.PS512:
		k := pub.(*rsa.PublicKey)
		opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}
		return func(in []byte) bool {
			d := sha512.Sum512(in)
			return rsa.VerifyPSS(k, crypto.SHA512, d[:], sig, opts) == nil
		}
	case jose.EdDSA:
		k := pub.(ed25519.PublicKey)
		return func(in []byte) bool { return ed25519.Verify(k, in, sig) }
	}
	tb.Fatalf("no raw verifier for %s", alg)
	return nil
}

// rawSigner returns the stdlib hash-and-sign of alg.
func rawSigner(tb testing.TB, alg jose.Alg, priv crypto.Signer) func(input []byte) ([]byte, error) {
	tb.Helper()
	switch alg {
	case jose.ES256:
		k := priv.(*ecdsa.PrivateKey)
		return func(in []byte) ([]byte, error) { d := sha256.Sum256(in); return ecdsa.SignASN1(rand.Reader, k, d[:]) }
	case jose.ES384:
		k := priv.(*ecdsa.PrivateKey)
		return func(in []byte) ([]byte, error) { d := sha512.Sum384(in); return ecdsa.SignASN1(rand.Reader, k, d[:]) }
	case jose.RS256:
		k := priv.(*rsa.PrivateKey)
		return func(in []byte) ([]byte, error) {
			d := sha256.Sum256(in)
			return rsa.SignPKCS1v15(nil, k, crypto.SHA256, d[:])
		}
	case jose.PS256:
		k := priv.(*rsa.PrivateKey)
		opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}
		return func(in []byte) ([]byte, error) {
			d := sha256.Sum256(in)
			return rsa.SignPSS(rand.Reader, k, crypto.SHA256, d[:], opts)
		}
	case jose.PS512:
		k := priv.(*rsa.PrivateKey)
		opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}
		return func(in []byte) ([]byte, error) {
			d := sha512.Sum512(in)
			return rsa.SignPSS(rand.Reader, k, crypto.SHA512, d[:], opts)
		}
	case jose.EdDSA:
		k := priv.(ed25519.PrivateKey)
		return func(in []byte) ([]byte, error) { return ed25519.Sign(k, in), nil }
	}
	tb.Fatalf("no raw signer for %s", alg)
	return nil
}

// verifyFunc returns impl's verification of tok in form c; it reports
// success.
func verifyFunc(b *testing.B, impl string, a benchAlg, c cell, tok []byte) func() bool {
	priv := a.key(b)
	pub := priv.Public()
	switch impl {
	case "raw":
		input, sig := signingInput(b, c, tok)
		verify := rawVerifier(b, a.alg, pub, sig)
		return func() bool { return verify(input) }
	case "nonrep":
		k, err := jose.NewJWK(pub, "a", "")
		if err != nil {
			b.Fatal(err)
		}
		set, err := jose.NewKeySet(k)
		if err != nil {
			b.Fatal(err)
		}
		v, err := jose.NewVerifier(jose.Policy{Algs: []jose.Alg{a.alg}, Keys: set, RequireKid: true})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		if c.detached {
			return func() bool { _, err := v.VerifyDetached(ctx, tok, benchPayload); return err == nil }
		}
		return func() bool { _, err := v.Verify(ctx, tok); return err == nil }
	case "gojose":
		algs := []gojose.SignatureAlgorithm{gojose.SignatureAlgorithm(a.alg)}
		s := string(tok)
		if c.detached {
			return func() bool {
				obj, err := gojose.ParseDetached(s, benchPayload, algs)
				if err != nil {
					return false
				}
				_, err = obj.Verify(pub)
				return err == nil
			}
		}
		return func() bool {
			obj, err := gojose.ParseSigned(s, algs)
			if err != nil {
				return false
			}
			_, err = obj.Verify(pub)
			return err == nil
		}
	case "jwx":
		opts := []jwxjws.VerifyOption{jwxjws.WithKey(jwxAlg(a.alg), pub)}
		if c.detached {
			opts = append(opts, jwxjws.WithDetachedPayload(benchPayload))
		}
		return func() bool { _, err := jwxjws.Verify(tok, opts...); return err == nil }
	}
	b.Fatalf("unknown impl %s", impl)
	return nil
}

// signFunc returns impl's signing of benchPayload in form c, serialized.
func signFunc(b *testing.B, impl string, a benchAlg, c cell) func() ([]byte, error) {
	priv := a.key(b)
	switch impl {
	case "raw":
		tok, err := ourSign(a.alg, priv, c, benchPayload)
		if err != nil {
			b.Fatal(err)
		}
		input, _ := signingInput(b, c, tok)
		sign := rawSigner(b, a.alg, priv)
		return func() ([]byte, error) { return sign(input) }
	case "nonrep":
		sk := signingKey(a.alg, "a", priv)
		opts := jose.SignOptions{Form: c.form, Detached: c.detached, Unencoded: c.unencoded}
		return func() ([]byte, error) {
			j, err := jose.Sign(benchPayload, opts, sk)
			if err != nil {
				return nil, err
			}
			return j.Bytes()
		}
	case "gojose":
		opts := &gojose.SignerOptions{}
		if c.unencoded {
			opts.WithBase64(false)
		}
		s, err := gojose.NewSigner(gojose.SigningKey{Algorithm: gojose.SignatureAlgorithm(a.alg), Key: gojose.JSONWebKey{Key: priv, KeyID: "a"}}, opts)
		if err != nil {
			b.Fatal(err)
		}
		return func() ([]byte, error) {
			obj, err := s.Sign(benchPayload)
			if err != nil {
				return nil, err
			}
			var out string
			switch {
			case c.form != jose.Compact:
				out = obj.FullSerialize()
			case c.detached:
				out, err = obj.DetachedCompactSerialize()
			default:
				out, err = obj.CompactSerialize()
			}
			return []byte(out), err
		}
	case "jwx":
		h := jwxjws.NewHeaders()
		if err := h.Set(jwxjws.KeyIDKey, "a"); err != nil {
			b.Fatal(err)
		}
		if c.unencoded {
			if err := h.Set(jwxjws.B64Key, false); err != nil {
				b.Fatal(err)
			}
		}
		opts := []jwxjws.SignOption{jwxjws.WithKey(jwxAlg(a.alg), priv, jwxjws.WithProtectedHeaders(h))}
		if c.form != jose.Compact {
			opts = append(opts, jwxjws.WithJSON())
		}
		if c.detached {
			opts = append(opts, jwxjws.WithDetachedPayload(benchPayload))
			return func() ([]byte, error) { return jwxjws.Sign(nil, opts...) }
		}
		return func() ([]byte, error) { return jwxjws.Sign(benchPayload, opts...) }
	}
	b.Fatalf("unknown impl %s", impl)
	return nil
}

func BenchmarkVerify(b *testing.B) {
	for _, a := range benchAlgs {
		for _, f := range benchForms {
			for _, impl := range benchImpls {
				b.Run("alg="+a.name+"/form="+f.name+"/impl="+impl, func(b *testing.B) {
					tok, err := ourSign(a.alg, a.key(b), f.c, benchPayload)
					if err != nil {
						b.Fatal(err)
					}
					verify := verifyFunc(b, impl, a, f.c, tok)
					if !verify() {
						b.Fatalf("%s does not accept the token %s", impl, tok)
					}
					b.ReportAllocs()
					cpu := cpuNanos()
					for b.Loop() {
						if !verify() {
							b.Fatal("verification failed")
						}
					}
					reportCPU(b, cpu)
				})
			}
		}
	}
}

func BenchmarkSign(b *testing.B) {
	for _, a := range benchAlgs {
		for _, f := range benchForms {
			for _, impl := range benchImpls {
				b.Run("alg="+a.name+"/form="+f.name+"/impl="+impl, func(b *testing.B) {
					sign := signFunc(b, impl, a, f.c)
					if _, err := sign(); err != nil {
						b.Fatalf("%s: %v", impl, err)
					}
					b.ReportAllocs()
					cpu := cpuNanos()
					for b.Loop() {
						if _, err := sign(); err != nil {
							b.Fatal(err)
						}
					}
					reportCPU(b, cpu)
				})
			}
		}
	}
}

// cpuNanos returns the process's user+system CPU time in nanoseconds.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// reportCPU reports the CPU time per operation since start.
func reportCPU(b *testing.B, start int64) {
	if b.N > 0 {
		b.ReportMetric(float64(cpuNanos()-start)/float64(b.N), "cpu-ns/op")
	}
}
