package jose

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"math/big"
	"strings"
)

// JWK is a parsed, validated JSON Web Key (RFC 7517) for signatures.
//
// Key holds one of *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey,
// *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey, or []byte for an
// "oct" (HMAC) key. A JWK is immutable after construction and safe for
// concurrent use.
type JWK struct {
	Kty    string // "RSA", "EC", "OKP" or "oct"
	Kid    string
	Alg    Alg      // if set, the only algorithm the key may be used with
	Use    string   // "sig", "" or (rejected at use) anything else
	KeyOps []string // if set, must allow "verify" / "sign" for that use
	Key    any
	// Certificates is the key's "x5c" chain (leaf first), if any; the leaf's
	// public key equals Key.
	Certificates []*x509.Certificate

	thumb string // RFC 7638 SHA-256 thumbprint, base64url
}

// KeyPolicy bounds the keys a verifier or importer accepts. The zero value
// is the package default: RSA 2048–8192 bits.
type KeyPolicy struct {
	// MinRSABits raises the minimum RSA modulus size (default 2048; InComm
	// uses 3072, EBANX 4096). Values below 2048 are treated as 2048.
	MinRSABits int
}

const (
	minRSABits = 2048
	maxRSABits = 8192
)

func (p KeyPolicy) minRSA() int {
	if p.MinRSABits < minRSABits {
		return minRSABits
	}
	return p.MinRSABits
}

// ParseJWK parses and validates one JWK. It accepts public and private keys;
// see [KeySet] for what a verification set accepts.
func ParseJWK(data []byte) (*JWK, error) {
	members, err := parseObject(data, "JWK")
	if err != nil {
		return nil, err
	}
	return jwkFromMembers(members)
}

// jwkMember looks up a member by name.
func jwkMember(ms []member, name string) *member {
	for i := range ms {
		if ms[i].name == name {
			return &ms[i]
		}
	}
	return nil
}

func jwkFromMembers(ms []member) (*JWK, error) {
	if err := checkCaseVariants(ms, "JWK"); err != nil {
		return nil, err
	}
	k := &JWK{}
	str := func(name string) (string, bool, error) {
		m := jwkMember(ms, name)
		if m == nil {
			return "", false, nil
		}
		s, err := m.jsonString()
		return s, true, err
	}
	var err error
	var ok bool
	if k.Kty, ok, err = str("kty"); err != nil {
		return nil, err
	} else if !ok {
		return nil, errorf(Malformed, `JWK has no "kty"`)
	}
	if k.Kid, _, err = str("kid"); err != nil {
		return nil, err
	}
	var alg string
	if alg, _, err = str("alg"); err != nil {
		return nil, err
	}
	k.Alg = Alg(alg)
	if k.Use, _, err = str("use"); err != nil {
		return nil, err
	}
	if m := jwkMember(ms, "key_ops"); m != nil {
		if k.KeyOps, err = m.stringArray(); err != nil {
			return nil, err
		}
	}
	// b64url big-endian field, required or not.
	field := func(name string) ([]byte, error) {
		s, ok, err := str(name)
		if err != nil || !ok {
			return nil, err
		}
		b, err := decodeB64(s, "JWK "+quote(name))
		if err != nil {
			return nil, err
		}
		if len(b) == 0 {
			return nil, errorf(Malformed, "JWK %s is empty", quote(name))
		}
		return b, nil
	}
	has := func(name string) bool { return jwkMember(ms, name) != nil }

	switch k.Kty {
	case "RSA":
		if k.Key, err = parseRSAJWK(field, has); err != nil {
			return nil, err
		}
	case "EC":
		crv, _, err := str("crv")
		if err != nil {
			return nil, err
		}
		if k.Key, err = parseECJWK(crv, field, has); err != nil {
			return nil, err
		}
	case "OKP":
		crv, _, err := str("crv")
		if err != nil {
			return nil, err
		}
		if k.Key, err = parseOKPJWK(crv, field, has); err != nil {
			return nil, err
		}
	case "oct":
		kb, err := field("k")
		if err != nil {
			return nil, err
		}
		if kb == nil {
			return nil, errorf(Malformed, `oct JWK has no "k"`)
		}
		k.Key = kb
	default:
		return nil, errorf(KeyRejected, "unsupported kty %s", quote(k.Kty))
	}
	if m := jwkMember(ms, "x5c"); m != nil {
		ders, err := parseX5C(m)
		if err != nil {
			return nil, err
		}
		for _, der := range ders {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, wrapf(Malformed, err, `JWK "x5c" holds an unparsable certificate`)
			}
			k.Certificates = append(k.Certificates, c)
		}
		if !publicEqual(k.public(), k.Certificates[0].PublicKey) {
			return nil, errorf(KeyRejected, `JWK "x5c" leaf certificate does not hold the JWK's key`)
		}
		for _, t := range []struct {
			name string
			sum  func([]byte) []byte
		}{
			{"x5t", func(b []byte) []byte { s := sha1.Sum(b); return s[:] }},
			{"x5t#S256", func(b []byte) []byte { s := sha256.Sum256(b); return s[:] }},
		} {
			if m := jwkMember(ms, t.name); m != nil {
				size := 20
				if t.name == "x5t#S256" {
					size = 32
				}
				want, err := decodeThumbParam(m, size)
				if err != nil {
					return nil, err
				}
				if !bytes.Equal(want, t.sum(ders[0])) {
					return nil, errorf(KeyRejected, "JWK %q does not match its x5c leaf", t.name)
				}
			}
		}
	}
	if err := k.validateMeta(); err != nil {
		return nil, err
	}
	k.thumb = k.computeThumbprint()
	return k, nil
}

func parseRSAJWK(field func(string) ([]byte, error), has func(string) bool) (any, error) {
	n, err := field("n")
	if err != nil {
		return nil, err
	}
	e, err := field("e")
	if err != nil {
		return nil, err
	}
	if n == nil || e == nil {
		return nil, errorf(Malformed, `RSA JWK needs "n" and "e"`)
	}
	// RFC 7518 §6.3.1.1/§6.3.1.2: minimum number of octets.
	if n[0] == 0 || e[0] == 0 {
		return nil, errorf(KeyRejected, "RSA JWK modulus or exponent has leading zero octets")
	}
	if len(e) > 4 {
		return nil, errorf(KeyRejected, "RSA public exponent is too large")
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	if err := checkRSAPublic(pub, KeyPolicy{}); err != nil {
		return nil, err
	}
	if has("oth") {
		return nil, errorf(KeyRejected, "multi-prime RSA keys are not supported")
	}
	priv := []string{"d", "p", "q", "dp", "dq", "qi"}
	present := 0
	for _, name := range priv {
		if has(name) {
			present++
		}
	}
	if present == 0 {
		return pub, nil
	}
	if present != len(priv) {
		return nil, errorf(KeyRejected, "RSA private JWK must carry all of d, p, q, dp, dq, qi")
	}
	vals := make([]*big.Int, len(priv))
	for i, name := range priv {
		b, err := field(name)
		if err != nil {
			return nil, err
		}
		// RFC 7518 §6.3.2: Base64urlUInt, the minimum number of octets.
		if len(b) == 0 || b[0] == 0 {
			return nil, errorf(KeyRejected, "RSA private member %q is empty or has leading zero octets", name)
		}
		vals[i] = new(big.Int).SetBytes(b)
	}
	key := &rsa.PrivateKey{PublicKey: *pub, D: vals[0], Primes: []*big.Int{vals[1], vals[2]}}
	if err := key.Validate(); err != nil {
		return nil, wrapf(KeyRejected, err, "RSA private key is inconsistent")
	}
	key.Precompute()
	if key.Precomputed.Dp.Cmp(vals[3]) != 0 || key.Precomputed.Dq.Cmp(vals[4]) != 0 || key.Precomputed.Qinv.Cmp(vals[5]) != 0 {
		return nil, errorf(KeyRejected, "RSA private key CRT values are inconsistent")
	}
	return key, nil
}

// checkRSAPublic enforces modulus size and exponent: 2048 (or the policy's
// minimum) to 8192 bits, odd e ≥ 65537.
func checkRSAPublic(pub *rsa.PublicKey, p KeyPolicy) error {
	bits := pub.N.BitLen()
	if bits < p.minRSA() || bits > maxRSABits {
		return errorf(KeyRejected, "RSA key is %d bits; accepted %d to %d", bits, p.minRSA(), maxRSABits)
	}
	if pub.E < 65537 || pub.E%2 == 0 {
		return errorf(KeyRejected, "RSA public exponent %d is not an odd number ≥ 65537", pub.E)
	}
	return nil
}

func curveByName(crv string) (elliptic.Curve, int) {
	switch crv {
	case "P-256":
		return elliptic.P256(), 32
	case "P-384":
		return elliptic.P384(), 48
	case "P-521":
		return elliptic.P521(), 66
	}
	return nil, 0
}

func parseECJWK(crv string, field func(string) ([]byte, error), has func(string) bool) (any, error) {
	curve, size := curveByName(crv)
	if curve == nil {
		return nil, errorf(KeyRejected, "unsupported EC curve %s", quote(crv))
	}
	x, err := field("x")
	if err != nil {
		return nil, err
	}
	y, err := field("y")
	if err != nil {
		return nil, err
	}
	if x == nil || y == nil {
		return nil, errorf(Malformed, `EC JWK needs "x" and "y"`)
	}
	// RFC 7518 §6.2.1.2: x and y are exactly the curve's coordinate length.
	if len(x) != size || len(y) != size {
		return nil, errorf(KeyRejected, "EC coordinates must be %d bytes for %s", size, crv)
	}
	point := make([]byte, 0, 1+2*size)
	point = append(append(append(point, 4), x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, wrapf(KeyRejected, err, "EC point is not on %s", crv)
	}
	if !has("d") {
		return pub, nil
	}
	d, err := field("d")
	if err != nil {
		return nil, err
	}
	if len(d) != size {
		return nil, errorf(KeyRejected, "EC private scalar must be %d bytes for %s", size, crv)
	}
	priv, err := ecdsa.ParseRawPrivateKey(curve, d)
	if err != nil {
		return nil, wrapf(KeyRejected, err, "EC private scalar is invalid")
	}
	if !priv.PublicKey.Equal(pub) {
		return nil, errorf(KeyRejected, "EC private scalar does not match x and y")
	}
	return priv, nil
}

func parseOKPJWK(crv string, field func(string) ([]byte, error), has func(string) bool) (any, error) {
	switch crv {
	case "Ed25519":
	case "X25519", "X448":
		return nil, errorf(KeyRejected, "%s is a key-agreement curve, not for signatures", crv)
	default:
		return nil, errorf(KeyRejected, "unsupported OKP curve %s", quote(crv))
	}
	x, err := field("x")
	if err != nil {
		return nil, err
	}
	if len(x) != ed25519.PublicKeySize {
		return nil, errorf(KeyRejected, "Ed25519 public key must be %d bytes", ed25519.PublicKeySize)
	}
	pub := ed25519.PublicKey(x)
	if !has("d") {
		return pub, nil
	}
	d, err := field("d")
	if err != nil {
		return nil, err
	}
	if len(d) != ed25519.SeedSize {
		return nil, errorf(KeyRejected, "Ed25519 private key must be %d bytes", ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(d)
	if !bytes.Equal(priv.Public().(ed25519.PublicKey), pub) {
		return nil, errorf(KeyRejected, "Ed25519 private key does not match x")
	}
	return priv, nil
}

// validateMeta checks alg, use and key_ops against the key type.
func (k *JWK) validateMeta() error {
	if k.Alg != "" {
		if err := k.fitsAlg(k.Alg); err != nil {
			return err
		}
	}
	if k.Use != "" && k.Use != "sig" && k.Use != "enc" {
		return errorf(KeyRejected, "unknown JWK use %s", quote(k.Use))
	}
	for i, op := range k.KeyOps {
		for _, o := range k.KeyOps[:i] {
			if o == op {
				return errorf(KeyRejected, "JWK key_ops lists %s twice", quote(op))
			}
		}
	}
	if k.Use == "sig" && len(k.KeyOps) > 0 {
		for _, op := range k.KeyOps {
			if op != "sign" && op != "verify" {
				return errorf(KeyRejected, "JWK use \"sig\" conflicts with key_ops %s", quote(op))
			}
		}
	}
	if k.Kty == "oct" && k.Alg != "" {
		info, _ := k.Alg.info()
		if len(k.Key.([]byte)) < info.hash.Size() {
			return errorf(KeyRejected, "%s needs an oct key of at least %d bytes", k.Alg, info.hash.Size())
		}
	}
	return nil
}

// fitsAlg reports whether the key's type fits alg, ignoring use/key_ops.
func (k *JWK) fitsAlg(alg Alg) error {
	info, ok := alg.info()
	if !ok {
		return errorf(AlgNotAllowed, "unsupported alg %s", quote(string(alg)))
	}
	var ok2 bool
	switch info.family {
	case famRSA, famPSS:
		ok2 = k.Kty == "RSA"
	case famEC:
		if k.Kty == "EC" {
			ok2 = k.ecdsaPublic().Curve == info.curve
		}
	case famEd:
		ok2 = k.Kty == "OKP"
	case famHMAC:
		ok2 = k.Kty == "oct"
	}
	if !ok2 {
		return errorf(KeyRejected, "key type %s does not fit alg %s", k.describe(), alg)
	}
	return nil
}

// usableFor checks that k may be used with alg for op ("verify" or "sign"):
// key type, the key's own alg, use, key_ops and the key policy.
func (k *JWK) usableFor(alg Alg, op string, p KeyPolicy) error {
	if k.Alg != "" && k.Alg != alg {
		return errorf(KeyRejected, "key %s is bound to alg %s, not %s", quote(k.Kid), k.Alg, alg)
	}
	if err := k.fitsAlg(alg); err != nil {
		return err
	}
	if k.Use != "" && k.Use != "sig" {
		return errorf(KeyRejected, "key %s has use %s, not \"sig\"", quote(k.Kid), quote(k.Use))
	}
	if len(k.KeyOps) > 0 {
		found := false
		for _, o := range k.KeyOps {
			if o == op {
				found = true
			}
		}
		if !found {
			return errorf(KeyRejected, "key %s key_ops does not allow %q", quote(k.Kid), op)
		}
	}
	switch pub := k.public().(type) {
	case *rsa.PublicKey:
		if err := checkRSAPublic(pub, p); err != nil {
			return err
		}
	case []byte:
		info, _ := alg.info()
		if len(pub) < info.hash.Size() {
			return errorf(KeyRejected, "%s needs an oct key of at least %d bytes", alg, info.hash.Size())
		}
	}
	return nil
}

func (k *JWK) describe() string {
	if k.Kty == "EC" {
		return "EC " + k.ecdsaPublic().Curve.Params().Name
	}
	return k.Kty
}

func (k *JWK) ecdsaPublic() *ecdsa.PublicKey {
	switch key := k.Key.(type) {
	case *ecdsa.PublicKey:
		return key
	case *ecdsa.PrivateKey:
		return &key.PublicKey
	}
	return nil
}

// public returns the public half of Key (the []byte secret for oct).
func (k *JWK) public() any {
	switch key := k.Key.(type) {
	case *rsa.PrivateKey:
		return &key.PublicKey
	case *ecdsa.PrivateKey:
		return &key.PublicKey
	case ed25519.PrivateKey:
		return key.Public()
	}
	return k.Key
}

// PublicKey returns the crypto public key (or the oct secret).
func (k *JWK) PublicKey() crypto.PublicKey { return k.public() }

// IsPrivate reports whether the JWK carries private (or secret) material.
func (k *JWK) IsPrivate() bool {
	switch k.Key.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey, []byte:
		return true
	}
	return false
}

// Public returns a copy of the JWK with private members removed. For an oct
// key it returns nil: a secret has no public part.
func (k *JWK) Public() *JWK {
	if k.Kty == "oct" {
		return nil
	}
	c := *k
	c.Key = k.public()
	c.KeyOps = publicOps(k.KeyOps)
	return &c
}

// publicOps keeps the key_ops that apply to a public key.
func publicOps(ops []string) []string {
	if ops == nil {
		return nil
	}
	out := []string{}
	for _, o := range ops {
		if o == "verify" || o == "encrypt" || o == "wrapKey" {
			out = append(out, o)
		}
	}
	return out
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint, base64url encoded.
func (k *JWK) Thumbprint() string { return k.thumb }

// ThumbprintHash returns the RFC 7638 thumbprint under hash h.
func (k *JWK) ThumbprintHash(h crypto.Hash) []byte {
	d := h.New()
	d.Write(k.thumbprintInput())
	return d.Sum(nil)
}

// thumbprintInput is the RFC 7638 §3.2 JSON: required members only,
// lexicographic order, no whitespace.
func (k *JWK) thumbprintInput() []byte {
	var b strings.Builder
	switch pub := k.public().(type) {
	case *rsa.PublicKey:
		b.WriteString(`{"e":"` + encodeB64(big.NewInt(int64(pub.E)).Bytes()) + `","kty":"RSA","n":"` + encodeB64(pub.N.Bytes()) + `"}`)
	case *ecdsa.PublicKey:
		x, y := ecCoords(pub)
		b.WriteString(`{"crv":"` + pub.Curve.Params().Name + `","kty":"EC","x":"` + encodeB64(x) + `","y":"` + encodeB64(y) + `"}`)
	case ed25519.PublicKey:
		b.WriteString(`{"crv":"Ed25519","kty":"OKP","x":"` + encodeB64(pub) + `"}`)
	case []byte:
		b.WriteString(`{"k":"` + encodeB64(pub) + `","kty":"oct"}`)
	}
	return []byte(b.String())
}

func (k *JWK) computeThumbprint() string {
	s := sha256.Sum256(k.thumbprintInput())
	return encodeB64(s[:])
}

// ecCoords returns fixed-length big-endian x and y.
func ecCoords(pub *ecdsa.PublicKey) (x, y []byte) {
	raw, err := pub.Bytes()
	if err != nil {
		panic("jose: invalid ECDSA public key: " + err.Error())
	}
	size := (len(raw) - 1) / 2
	return raw[1 : 1+size], raw[1+size:]
}

func publicEqual(a, b any) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if e, ok := a.(equaler); ok {
		return e.Equal(b)
	}
	return false
}

// NewJWK wraps a Go key (public, private, or a []byte HMAC secret) as a
// validated JWK with the given kid and alg ("" for none). An empty kid
// stays empty; use Thumbprint for a default.
func NewJWK(key any, kid string, alg Alg) (*JWK, error) {
	k := &JWK{Kid: kid, Alg: alg, Key: key}
	switch key := key.(type) {
	case *rsa.PublicKey:
		k.Kty = "RSA"
		if err := checkRSAPublic(key, KeyPolicy{}); err != nil {
			return nil, err
		}
	case *rsa.PrivateKey:
		k.Kty = "RSA"
		if err := checkRSAPublic(&key.PublicKey, KeyPolicy{}); err != nil {
			return nil, err
		}
		if len(key.Primes) != 2 {
			return nil, errorf(KeyRejected, "multi-prime RSA keys are not supported")
		}
		if err := key.Validate(); err != nil {
			return nil, wrapf(KeyRejected, err, "RSA private key is inconsistent")
		}
	case *ecdsa.PublicKey:
		k.Kty = "EC"
		if curveAlg(key.Curve) == "" {
			return nil, errorf(KeyRejected, "unsupported EC curve")
		}
		if _, err := key.Bytes(); err != nil {
			return nil, wrapf(KeyRejected, err, "invalid EC public key")
		}
	case *ecdsa.PrivateKey:
		k.Kty = "EC"
		if curveAlg(key.Curve) == "" {
			return nil, errorf(KeyRejected, "unsupported EC curve")
		}
		if _, err := key.Bytes(); err != nil {
			return nil, wrapf(KeyRejected, err, "invalid EC private key")
		}
	case ed25519.PublicKey:
		k.Kty = "OKP"
		if len(key) != ed25519.PublicKeySize {
			return nil, errorf(KeyRejected, "Ed25519 public key must be %d bytes", ed25519.PublicKeySize)
		}
	case ed25519.PrivateKey:
		k.Kty = "OKP"
		if len(key) != ed25519.PrivateKeySize {
			return nil, errorf(KeyRejected, "Ed25519 private key must be %d bytes", ed25519.PrivateKeySize)
		}
	case []byte:
		k.Kty = "oct"
		if len(key) == 0 {
			return nil, errorf(KeyRejected, "empty oct key")
		}
		k.Key = bytes.Clone(key)
	default:
		return nil, errorf(KeyRejected, "unsupported key type %T", key)
	}
	if err := k.validateMeta(); err != nil {
		return nil, err
	}
	k.thumb = k.computeThumbprint()
	return k, nil
}

// WithKid returns a copy of k with kid set.
func (k *JWK) WithKid(kid string) *JWK {
	c := *k
	c.Kid = kid
	return &c
}

// MarshalJSON serializes the JWK with members in a fixed order: kty, kid,
// use, key_ops, alg, then the key members, then x5c. Private members are
// included when the JWK holds a private key; call Public first to publish.
func (k *JWK) MarshalJSON() ([]byte, error) {
	out := []byte(`{"kty":`)
	out = appendJSONString(out, []byte(k.Kty))
	if k.Kid != "" {
		out = append(out, `,"kid":`...)
		out = appendJSONString(out, []byte(k.Kid))
	}
	if k.Use != "" {
		out = append(out, `,"use":`...)
		out = appendJSONString(out, []byte(k.Use))
	}
	if k.KeyOps != nil {
		out = append(out, `,"key_ops":[`...)
		for i, op := range k.KeyOps {
			if i > 0 {
				out = append(out, ',')
			}
			out = appendJSONString(out, []byte(op))
		}
		out = append(out, ']')
	}
	if k.Alg != "" {
		out = append(out, `,"alg":`...)
		out = appendJSONString(out, []byte(k.Alg))
	}
	field := func(name string, v []byte) {
		out = append(out, `,"`+name+`":"`...)
		out = appendB64(out, v)
		out = append(out, '"')
	}
	switch key := k.Key.(type) {
	case *rsa.PublicKey:
		field("n", key.N.Bytes())
		field("e", big.NewInt(int64(key.E)).Bytes())
	case *rsa.PrivateKey:
		field("n", key.N.Bytes())
		field("e", big.NewInt(int64(key.E)).Bytes())
		// CRT values are computed here rather than read from Precomputed so
		// that marshaling never mutates a shared key.
		p, q := key.Primes[0], key.Primes[1]
		one := big.NewInt(1)
		dp := new(big.Int).Mod(key.D, new(big.Int).Sub(p, one))
		dq := new(big.Int).Mod(key.D, new(big.Int).Sub(q, one))
		qi := new(big.Int).ModInverse(q, p)
		field("d", key.D.Bytes())
		field("p", p.Bytes())
		field("q", q.Bytes())
		field("dp", dp.Bytes())
		field("dq", dq.Bytes())
		field("qi", qi.Bytes())
	case *ecdsa.PublicKey, *ecdsa.PrivateKey:
		pub := k.ecdsaPublic()
		out = append(out, `,"crv":"`+pub.Curve.Params().Name+`"`...)
		x, y := ecCoords(pub)
		field("x", x)
		field("y", y)
		if priv, ok := key.(*ecdsa.PrivateKey); ok {
			d, err := priv.Bytes()
			if err != nil {
				return nil, wrapf(KeyRejected, err, "invalid EC private key")
			}
			field("d", d)
		}
	case ed25519.PublicKey:
		out = append(out, `,"crv":"Ed25519"`...)
		field("x", key)
	case ed25519.PrivateKey:
		out = append(out, `,"crv":"Ed25519"`...)
		field("x", key.Public().(ed25519.PublicKey))
		field("d", key.Seed())
	case []byte:
		field("k", key)
	}
	if len(k.Certificates) > 0 {
		out = append(out, `,"x5c":[`...)
		for i, c := range k.Certificates {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, '"')
			out = base64.StdEncoding.AppendEncode(out, c.Raw)
			out = append(out, '"')
		}
		out = append(out, ']')
	}
	return append(out, '}'), nil
}
