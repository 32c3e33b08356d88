package jwkscache_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/keys/jwkscache"
	"github.com/nonrep/nonrep/profile"
)

// A partner's JWKS URL becomes the key resolver of its profile.Trust.
func ExampleCache() {
	partner := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=600")
		w.Write([]byte(`{"keys":[{"kty":"OKP","kid":"acme-2026","use":"sig","alg":"EdDSA","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	}))
	defer partner.Close()

	// In a server: jwkscache.Config{} (system roots), and go cache.Run(ctx).
	cache, err := jwkscache.New(jwkscache.Config{Client: partner.Client()})
	if err != nil {
		panic(err)
	}
	acme, err := cache.Add(jwkscache.Source{Partner: "acme", URL: partner.URL + "/.well-known/jwks.json"})
	if err != nil {
		panic(err)
	}
	trust := profile.Trust{Keys: acme, Algs: []jose.Alg{jose.EdDSA}}

	ks, err := trust.Keys.ResolveKeys(context.Background(), &jose.Header{Kid: "acme-2026"})
	fmt.Println(len(ks), ks[0].Kid, err)
	_, err = trust.Keys.ResolveKeys(context.Background(), &jose.Header{Kid: "forged"})
	fmt.Println(string(jose.CodeOf(err)))
	fmt.Println(acme.Status().TTL, acme.Status().Bucket)
	// Output:
	// 1 acme-2026 <nil>
	// key_unknown
	// 10m0s fresh
}
