package jwkscache_test

import (
	"context"
	"testing"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/keys/jwkscache"
)

// BenchmarkResolveHit is the lookup httpsig makes twice per request: a kid
// present in a fresh set. Target ≤ 100 ns, 0 allocs.
func BenchmarkResolveHit(b *testing.B) {
	srv := newServer(b, set(pubJWK(b, "p256", "k1"), pubJWK(b, "p256b", "k2"), pubJWK(b, "ed25519", "k3")), "max-age=600")
	c := must(jwkscache.New(jwkscache.Config{Client: srv.srv.Client()}))
	r := must(c.Add(jwkscache.Source{Partner: "acme", URL: srv.url()}))
	ctx := context.Background()
	h := &jose.Header{Kid: "k2"}
	if _, err := r.ResolveKeys(ctx, h); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.ResolveKeys(ctx, h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolveHitParallel is the same lookup from every core at once.
func BenchmarkResolveHitParallel(b *testing.B) {
	srv := newServer(b, set(pubJWK(b, "p256", "k1")), "max-age=600")
	c := must(jwkscache.New(jwkscache.Config{Client: srv.srv.Client()}))
	r := must(c.Add(jwkscache.Source{Partner: "acme", URL: srv.url()}))
	ctx := context.Background()
	if _, err := r.ResolveKeys(ctx, &jose.Header{Kid: "k1"}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		h := &jose.Header{Kid: "k1"}
		for pb.Next() {
			if _, err := r.ResolveKeys(ctx, h); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkVerify compares verifying an ES256 compact JWS with the key
// resolved through the cache against a fixed jose.KeySet.
func BenchmarkVerify(b *testing.B) {
	srv := newServer(b, set(pubJWK(b, "p256", "k1"), pubJWK(b, "p256b", "k2")), "max-age=600")
	c := must(jwkscache.New(jwkscache.Config{Client: srv.srv.Client()}))
	cached := must(c.Add(jwkscache.Source{Partner: "acme", URL: srv.url()}))
	fixed := must(jose.NewKeySet(must(jose.NewJWK(signer("p256").Public(), "k1", "")), must(jose.NewJWK(signer("p256b").Public(), "k2", ""))))
	sk := &jose.SigningKey{Alg: jose.ES256, Kid: "k1", Signer: signer("p256")}
	payload := []byte(`{"amount":"1240.00","currency":"EUR","payee":"DE89370400440532013000","iat":1767225600}`)
	jws := must(jose.Sign(payload, jose.SignOptions{Typ: "JWT"}, sk))
	token := must(jws.CompactBytes())
	ctx := context.Background()
	if _, err := cached.ResolveKeys(ctx, &jose.Header{Kid: "k1"}); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		keys jose.KeyResolver
	}{{"keys=fixed", fixed}, {"keys=cache", cached}} {
		b.Run(tc.name, func(b *testing.B) {
			v := must(jose.NewVerifier(jose.Policy{Algs: []jose.Alg{jose.ES256}, Keys: tc.keys, RequireKid: true, Clock: func() time.Time { return t0 }}))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
