package httpsig_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nonrep/nonrep/httpsig"
	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
)

// acceptAll is a replay store that accepts everything, so the benchmark
// can resend one request and measure verification alone (replay Claim has
// its own benchmarks in package replay).
type acceptAll struct{}

func (acceptAll) Claim(context.Context, string, time.Duration) error { return nil }

// BenchmarkMiddleware measures the whole middleware per request (gates,
// strict parse, key lookup, crypto, policy, context) with an
// httptest.ResponseRecorder, beside BenchmarkRawVerify for the same key.
func BenchmarkMiddleware(b *testing.B) {
	for _, f := range fixtures(b) {
		b.Run("profile="+f.name, func(b *testing.B) {
			rec := &recorder{dontSend: true}
			req, _ := http.NewRequest("POST", "http://api.bank.example/v1/payments?b=2&a=1", strings.NewReader(payment))
			resp, err := (&httpsig.Transport{Base: rec, Profile: f.prof, Signer: f.signer}).RoundTrip(req)
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			p := &httpsig.Partner{Name: "acme", Profile: f.prof, Trust: f.trust}
			mw, err := httpsig.Middleware(httpsig.Config{Partners: httpsig.Fixed{Partner: p}, Replay: acceptAll{}})
			if err != nil {
				b.Fatal(err)
			}
			h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if _, ok := httpsig.FromContext(r.Context()); !ok {
					b.Fatal("not verified")
				}
			}))
			r := httptest.NewRequest("POST", rec.url, nil)
			r.Header = rec.header
			body := rec.body
			b.ReportAllocs()
			for b.Loop() {
				r.Body = io.NopCloser(bytes.NewReader(body))
				r.ContentLength = int64(len(body))
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != 200 {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}

// BenchmarkRawVerify is the stdlib primitive each profile ends in: hash the
// signing input and verify, with the same key sizes as BenchmarkMiddleware.
func BenchmarkRawVerify(b *testing.B) {
	msg := []byte(strings.Repeat("a", 200) + "." + payment)
	rsaCase := func(name, key string, h crypto.Hash, pss bool) {
		b.Run("alg="+name, func(b *testing.B) {
			k := testkeys.Key(key).(*rsa.PrivateKey)
			hh := h.New()
			hh.Write(msg)
			d := hh.Sum(nil)
			var sig []byte
			if pss {
				sig, _ = rsa.SignPSS(rand.Reader, k, h, d, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
			} else {
				sig, _ = rsa.SignPKCS1v15(nil, k, h, d)
			}
			b.ReportAllocs()
			for b.Loop() {
				hh := h.New()
				hh.Write(msg)
				d := hh.Sum(nil)
				var err error
				if pss {
					err = rsa.VerifyPSS(&k.PublicKey, h, d, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
				} else {
					err = rsa.VerifyPKCS1v15(&k.PublicKey, h, d, sig)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	rsaCase("PS512-3072", "rsa3072", crypto.SHA512, true)
	rsaCase("RS256-4096", "rsa4096", crypto.SHA256, false)
	rsaCase("PS256-2048", "rsa2048", crypto.SHA256, true)
	rsaCase("RS256-2048", "leaf", crypto.SHA256, false)
	b.Run("alg=ES256", func(b *testing.B) {
		k := testkeys.Key("p256").(*ecdsa.PrivateKey)
		d := sha256.Sum256(msg)
		r, s, _ := ecdsa.Sign(rand.Reader, k, d[:])
		_ = sha512.New
		b.ReportAllocs()
		for b.Loop() {
			d := sha256.Sum256(msg)
			if !ecdsa.Verify(&k.PublicKey, d[:], new(big.Int).Set(r), new(big.Int).Set(s)) {
				b.Fatal("bad")
			}
		}
	})
	_ = jose.ES256
}
