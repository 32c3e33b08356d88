package jose

import (
	"crypto"
	"crypto/elliptic"
	_ "crypto/sha256" // register SHA-256 for crypto.Hash.New
	_ "crypto/sha512" // register SHA-384 and SHA-512
)

// Alg is a JWS "alg" value (RFC 7518 §3.1, RFC 8037 §3.1).
type Alg string

// The algorithms the package signs and verifies. "none" is deliberately
// absent: it is rejected everywhere, with AlgNotAllowed.
const (
	RS256 Alg = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256
	RS384 Alg = "RS384"
	RS512 Alg = "RS512"
	PS256 Alg = "PS256" // RSASSA-PSS, MGF1 and hash SHA-256, salt length 32
	PS384 Alg = "PS384"
	PS512 Alg = "PS512"
	ES256 Alg = "ES256" // ECDSA P-256 SHA-256, IEEE P1363 R||S signature
	ES384 Alg = "ES384"
	ES512 Alg = "ES512" // ECDSA P-521 SHA-512
	EdDSA Alg = "EdDSA" // Ed25519 (RFC 8037); Ed448 is not supported
	HS256 Alg = "HS256" // HMAC; only with an explicit oct key
	HS384 Alg = "HS384"
	HS512 Alg = "HS512"
)

// family is the key type an algorithm needs.
type family uint8

const (
	famUnknown family = iota
	famRSA            // RS*
	famPSS            // PS*
	famEC             // ES*
	famEd             // EdDSA
	famHMAC           // HS*
)

type algInfo struct {
	family family
	hash   crypto.Hash
	curve  elliptic.Curve // ES* only
	size   int            // ES*: byte length of R and of S
}

// info returns what the package knows about a, or ok=false for an
// unsupported algorithm (including "none").
func (a Alg) info() (algInfo, bool) {
	switch a {
	case RS256:
		return algInfo{famRSA, crypto.SHA256, nil, 0}, true
	case RS384:
		return algInfo{famRSA, crypto.SHA384, nil, 0}, true
	case RS512:
		return algInfo{famRSA, crypto.SHA512, nil, 0}, true
	case PS256:
		return algInfo{famPSS, crypto.SHA256, nil, 0}, true
	case PS384:
		return algInfo{famPSS, crypto.SHA384, nil, 0}, true
	case PS512:
		return algInfo{famPSS, crypto.SHA512, nil, 0}, true
	case ES256:
		return algInfo{famEC, crypto.SHA256, elliptic.P256(), 32}, true
	case ES384:
		return algInfo{famEC, crypto.SHA384, elliptic.P384(), 48}, true
	case ES512:
		return algInfo{famEC, crypto.SHA512, elliptic.P521(), 66}, true
	case EdDSA:
		return algInfo{famEd, 0, nil, 0}, true
	case HS256:
		return algInfo{famHMAC, crypto.SHA256, nil, 0}, true
	case HS384:
		return algInfo{famHMAC, crypto.SHA384, nil, 0}, true
	case HS512:
		return algInfo{famHMAC, crypto.SHA512, nil, 0}, true
	}
	return algInfo{}, false
}

// Supported reports whether the package can sign and verify with a.
func (a Alg) Supported() bool {
	_, ok := a.info()
	return ok
}

// Algs returns every supported algorithm in a stable order.
func Algs() []Alg {
	return []Alg{RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, HS256, HS384, HS512}
}

// curveAlg returns the ES algorithm of a curve.
func curveAlg(c elliptic.Curve) Alg {
	switch c {
	case elliptic.P256():
		return ES256
	case elliptic.P384():
		return ES384
	case elliptic.P521():
		return ES512
	}
	return ""
}
