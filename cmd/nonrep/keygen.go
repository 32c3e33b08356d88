package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"

	"github.com/nonrep/nonrep/jose"
)

const (
	defaultRSABits = 3072
	minRSABits     = 2048 // jose's accepted range
	maxRSABits     = 8192
)

var keygenCmd = &command{
	name:    "keygen",
	summary: "make a signing key pair",
	usage: `Usage: nonrep keygen --alg ALG [--kid ID] [--bits N] --out PRIVATE.jwk

Generates a signing key for ALG, writes the private JWK (with "kid", "alg"
and "use": "sig") to PRIVATE.jwk with file mode 0600, and prints the public
JWK on standard output as one line. The private key is never printed.

keygen never overwrites: if PRIVATE.jwk exists it fails with an io error.

Flags:
  --alg ALG   RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA
  --kid ID    key ID (default: the key's RFC 7638 SHA-256 thumbprint)
  --bits N    RSA modulus size, 2048 to 8192, a multiple of 8 (default 3072;
              RSA algorithms only)
  --out FILE  where to write the private JWK (required)

Example:
  nonrep keygen --alg ES256 --out partner.jwk > partner.pub.jwk
`,
	run: runKeygen,
}

// keygenAlgs are the algorithms keygen makes keys for; HS* keys are
// shared secrets, not key pairs, and are not generated here.
var keygenAlgs = []jose.Alg{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

func runKeygen(e *env, args []string) error {
	fs := newFlagSet("keygen")
	alg := fs.String("alg", "", "")
	kid := fs.String("kid", "", "")
	bits := fs.Int("bits", defaultRSABits, "")
	out := fs.String("out", "", "")
	if err := parseFlags(fs, "keygen", args, false); err != nil {
		return err
	}
	const hint = `run "nonrep keygen --help"`
	if *alg == "" {
		return usageErr(hint, "--alg is required")
	}
	if *out == "" {
		return usageErr(hint, "--out is required: the private key is only ever written to a file")
	}
	if *out == "-" {
		return usageErr(hint, "--out must name a file: keygen never prints a private key")
	}
	if isSet(fs, "kid") && *kid == "" {
		return usageErr(hint, "--kid must not be empty")
	}
	a := jose.Alg(*alg)
	known := false
	for _, k := range keygenAlgs {
		if a == k {
			known = true
		}
	}
	if !known {
		return usageErr("keygen makes keys for RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA",
			"unsupported --alg %q", *alg)
	}
	isRSA := a[0] == 'R' || a[0] == 'P'
	if isSet(fs, "bits") {
		if !isRSA {
			return usageErr("--bits applies only to RSA algorithms (RS*, PS*)", "--bits given for %s", a)
		}
		if *bits < minRSABits || *bits > maxRSABits || *bits%8 != 0 {
			return usageErr(hint, "--bits must be a multiple of 8 from %d to %d, not %d", minRSABits, maxRSABits, *bits)
		}
	}

	key, err := generate(a, *bits)
	if err != nil {
		return err
	}
	priv, err := jose.NewJWK(key, "", a)
	if err != nil {
		return joseErr(err, "", "")
	}
	id := *kid
	if id == "" {
		id = priv.Thumbprint()
	}
	priv = priv.WithKid(id)
	priv.Use = "sig"
	privJSON, err := priv.MarshalJSON()
	if err != nil {
		return joseErr(err, "", "")
	}
	// Read the file's bytes back as a verifier would before anyone relies
	// on them.
	check, err := jose.ParseJWK(privJSON)
	if err != nil {
		return joseErr(err, "generated key", "")
	}
	pubJSON, err := check.Public().MarshalJSON()
	if err != nil {
		return joseErr(err, "", "")
	}
	if err := writeNewFile(*out, append(privJSON, '\n')); err != nil {
		return err
	}
	return writeLine(e.stdout, pubJSON)
}

func generate(a jose.Alg, bits int) (any, error) {
	var (
		key any
		err error
	)
	switch a {
	case jose.ES256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.ES384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case jose.ES512:
		key, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case jose.EdDSA:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		key, err = rsa.GenerateKey(rand.Reader, bits)
	}
	if err != nil {
		return nil, ioErr(fmt.Errorf("generating the key: %w", err))
	}
	return key, nil
}
