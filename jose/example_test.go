package jose_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/nonrep/nonrep/jose"
)

// A partner signs a payment instruction; we verify it with their public key
// and an allow-list that names exactly the algorithm we expect.
func Example() {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	// Partner side: sign with any crypto.Signer (a file key, an HSM, a KMS).
	signer := &jose.SigningKey{Alg: jose.ES256, Kid: "partner-2026-11", Signer: priv}
	jws, err := jose.Sign([]byte(`{"amount":"1240.00","currency":"EUR"}`), jose.SignOptions{}, signer)
	if err != nil {
		panic(err)
	}
	token, _ := jws.CompactBytes()

	// Our side: the partner's published key, and a strict policy.
	pub, _ := jose.NewJWK(&priv.PublicKey, "partner-2026-11", jose.ES256)
	keys, _ := jose.NewKeySet(pub)
	v, err := jose.NewVerifier(jose.Policy{Algs: []jose.Alg{jose.ES256}, Keys: keys, RequireKid: true})
	if err != nil {
		panic(err)
	}
	res, err := v.Verify(context.Background(), token)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s signed by %s\n", res.Payload, res.Header().Kid)

	// A tampered instruction is rejected with a stable code.
	token[len(token)-5] ^= 1
	_, err = v.Verify(context.Background(), token)
	fmt.Println(errors.Is(err, jose.SignatureInvalid) || errors.Is(err, jose.Malformed))
	// Output:
	// {"amount":"1240.00","currency":"EUR"} signed by partner-2026-11
	// true
}

// EBANX-style: a detached JWS over the raw body with "b64": false.
func ExampleSign_detachedUnencoded() {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	body := []byte(`{"amount":12.5}`)
	jws, _ := jose.Sign(body, jose.SignOptions{Detached: true, Unencoded: true},
		&jose.SigningKey{Alg: jose.ES256, Kid: "m1", Signer: priv})
	header, _ := jws.CompactBytes()

	pub, _ := jose.NewJWK(&priv.PublicKey, "m1", "")
	keys, _ := jose.NewKeySet(pub)
	v, _ := jose.NewVerifier(jose.Policy{Algs: []jose.Alg{jose.ES256}, Keys: keys})
	res, err := v.VerifyDetached(context.Background(), header, body)
	fmt.Println(err == nil, string(res.Header().Raw))
	// Output:
	// true {"alg":"ES256","kid":"m1","b64":false,"crit":["b64"]}
}
