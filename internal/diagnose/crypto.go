package diagnose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"math/big"

	"github.com/nonrep/nonrep/jose"
)

// rawSig holds what a signature was computed over, from the unverified
// parsed JWS.
type rawSig struct {
	h         *jose.Header
	protected string // BASE64URL(protected header)
	payload   []byte // the payload bytes: the body when detached
	sig       []byte
}

// raw returns the parsed signature's parts, or nil when Parse failed.
func (s *state) raw() *rawSig {
	if s.parsed == nil {
		return nil
	}
	j := s.parsed.JWS
	h := j.Header(0)
	r := &rawSig{
		h: h,
		// The strict decoder accepts only canonical base64url, so
		// re-encoding the decoded header gives back the signed segment.
		protected: base64.RawURLEncoding.EncodeToString(h.Raw),
		sig:       j.Signature(0),
	}
	if j.Detached() {
		r.payload = s.msg.Body
	} else {
		p, err := j.UnsafePayloadWithoutVerification()
		if err != nil {
			return nil
		}
		r.payload = p
	}
	return r
}

// input is the signing input with the payload encoded as b64 says.
func (r *rawSig) input(b64 bool) []byte {
	out := append([]byte(r.protected), '.')
	if b64 {
		return base64.RawURLEncoding.AppendEncode(out, r.payload)
	}
	return append(out, r.payload...)
}

func algHash(a jose.Alg) crypto.Hash {
	switch a {
	case jose.RS256, jose.PS256, jose.ES256, jose.HS256:
		return crypto.SHA256
	case jose.RS384, jose.PS384, jose.ES384, jose.HS384:
		return crypto.SHA384
	case jose.RS512, jose.PS512, jose.ES512, jose.HS512:
		return crypto.SHA512
	}
	return 0
}

func ecSize(a jose.Alg) int {
	switch a {
	case jose.ES256:
		return 32
	case jose.ES384:
		return 48
	case jose.ES512:
		return 66
	}
	return 0
}

func isPSS(a jose.Alg) bool { return a == jose.PS256 || a == jose.PS384 || a == jose.PS512 }

// pssEqualsHash is the salt length JWS requires.
const pssEqualsHash = rsa.PSSSaltLengthEqualsHash

// rawVerify checks sig over input with pub under alg. For PS* salt is the
// salt length to accept (rsa.PSSSaltLength* or a byte count). ES*
// signatures are R||S. HMAC is not checked (no shared secrets here).
func rawVerify(alg jose.Alg, pub crypto.PublicKey, input, sig []byte, salt int) bool {
	switch alg {
	case jose.EdDSA:
		k, ok := pub.(ed25519.PublicKey)
		return ok && ed25519.Verify(k, input, sig)
	}
	h := algHash(alg)
	if h == 0 {
		return false
	}
	hh := h.New()
	hh.Write(input)
	d := hh.Sum(nil)
	switch alg {
	case jose.RS256, jose.RS384, jose.RS512:
		k, ok := pub.(*rsa.PublicKey)
		return ok && rsa.VerifyPKCS1v15(k, h, d, sig) == nil
	case jose.PS256, jose.PS384, jose.PS512:
		k, ok := pub.(*rsa.PublicKey)
		return ok && rsa.VerifyPSS(k, h, d, sig, &rsa.PSSOptions{SaltLength: salt}) == nil
	case jose.ES256, jose.ES384, jose.ES512:
		k, ok := pub.(*ecdsa.PublicKey)
		n := ecSize(alg)
		if !ok || len(sig) != 2*n {
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
		return ecdsa.Verify(k, d, r, s)
	}
	return false
}

// x5cLeaf returns the public key of the header's x5c leaf, unvalidated.
func x5cLeaf(h *jose.Header) *jose.JWK {
	if len(h.X5C) == 0 {
		return nil
	}
	c, err := x509.ParseCertificate(h.X5C[0])
	if err != nil {
		return nil
	}
	k, err := jose.NewJWK(c.PublicKey, "", "")
	if err != nil {
		return nil
	}
	return k
}

// derToP1363 converts an ASN.1 DER ECDSA signature to R||S of n bytes each.
func derToP1363(der []byte, n int) ([]byte, bool) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) != 0 || sig.R == nil || sig.S == nil ||
		sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.BitLen() > 8*n || sig.S.BitLen() > 8*n {
		return nil, false
	}
	out := make([]byte, 2*n)
	sig.R.FillBytes(out[:n])
	sig.S.FillBytes(out[n:])
	return out, true
}

// ecdsaDER: an ES* signature in ASN.1 DER instead of R||S.
func (s *state) ecdsaDER() bool {
	r := s.raw()
	if r == nil {
		return false
	}
	n := ecSize(r.h.Alg)
	if n == 0 || len(r.sig) == 2*n {
		return false
	}
	s.tried = append(s.tried, "DER-encoded ECDSA signature")
	p1363, ok := derToP1363(r.sig, n)
	if !ok {
		return false
	}
	for _, k := range s.kidKeys(r.h) {
		if rawVerify(r.h.Alg, k.PublicKey(), r.input(r.h.B64), p1363, 0) {
			return s.set(ECDSADER,
				fmt.Sprintf("The %s signature is ASN.1 DER-encoded; JWS requires the fixed-length R||S form (RFC 7518 §3.4).", r.h.Alg),
				fmt.Sprintf("the signer must convert its DER signature to R||S, each integer left-padded to %d bytes (Java: use \"SHA%dwithECDSAinP1363Format\"; OpenSSL, Go's ecdsa.SignASN1, AWS/GCP KMS and HSMs return DER)", n, 8*int(algHash(r.h.Alg).Size())),
				fmt.Sprintf("the signature is %d bytes and parses as a DER SEQUENCE of two INTEGERs; %s needs exactly %d bytes", len(r.sig), r.h.Alg, 2*n),
				fmt.Sprintf("converted to R||S it verifies with key %s", keyName(k)))
		}
	}
	return false
}

// pssSalt: an RSA-PSS signature with a salt length other than the hash's.
func (s *state) pssSalt() bool {
	r := s.raw()
	if r == nil || !isPSS(r.h.Alg) {
		return false
	}
	s.tried = append(s.tried, "RSA-PSS salt lengths")
	h := algHash(r.h.Alg)
	input := r.input(r.h.B64)
	for _, k := range s.kidKeys(r.h) {
		pub, ok := k.PublicKey().(*rsa.PublicKey)
		if !ok || !rawVerify(r.h.Alg, pub, input, r.sig, rsa.PSSSaltLengthAuto) {
			continue
		}
		maxSalt := (pub.N.BitLen()-1+7)/8 - h.Size() - 2
		// Go's rsa.PSSOptions reads a SaltLength of 0 as "auto": a salt
		// that no length from 1 up matches is the empty salt.
		salt := 0
		for n := 1; n <= maxSalt; n++ {
			if rawVerify(r.h.Alg, pub, input, r.sig, n) {
				salt = n
				break
			}
		}
		what := fmt.Sprintf("%d bytes", salt)
		if salt == maxSalt {
			what += " (the maximum for this key: Go's rsa.SignPSS default, OpenSSL's rsa_pss_saltlen:max)"
		}
		return s.set(PSSSaltLength,
			fmt.Sprintf("The RSA-PSS signature uses a salt of %s; %s requires a salt as long as the hash, %d bytes (RFC 7518 §3.5).", what, r.h.Alg, h.Size()),
			fmt.Sprintf("sign with salt length = hash length (%d): Go rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}, OpenSSL -sigopt rsa_pss_saltlen:digest, Java PSSParameterSpec(\"SHA-%d\", \"MGF1\", …, %d, 1)", h.Size(), 8*h.Size(), h.Size()),
			fmt.Sprintf("with the salt length detected automatically the signature verifies with key %s", keyName(k)),
			fmt.Sprintf("the salt is %d bytes; the verifier accepts only %d", salt, h.Size()))
	}
	return false
}

// b64Mismatch: the signing input encoded the payload the other way from
// what the header's b64 says.
func (s *state) b64Mismatch() bool {
	r := s.raw()
	if r == nil {
		return false
	}
	s.tried = append(s.tried, "payload signed with the other b64 encoding")
	input := r.input(!r.h.B64)
	for _, k := range s.kidKeys(r.h) {
		if !rawVerify(r.h.Alg, k.PublicKey(), input, r.sig, pssEqualsHash) {
			continue
		}
		if r.h.B64 {
			return s.set(B64Mismatch,
				"The signer signed the raw payload bytes (as with \"b64\": false), but the header does not say \"b64\": false, so the verifier builds the signing input with BASE64URL(payload).",
				"make the header and the signing input agree: either add \"b64\": false with \"crit\": [\"b64\"] (RFC 7797), or sign BASE64URL(header) + \".\" + BASE64URL(body)",
				"the protected header has no \"b64\": false",
				fmt.Sprintf("the signature verifies over BASE64URL(header) \".\" raw body with key %s", keyName(k)))
		}
		return s.set(B64Mismatch,
			"The header says \"b64\": false (sign the raw body), but the signer signed BASE64URL(body).",
			"with \"b64\": false the signing input is BASE64URL(header) + \".\" + the raw body bytes (RFC 7797 §3): the signer must not base64url-encode the body (or must drop b64 from the header where the scheme allows)",
			"the protected header has \"b64\": false",
			fmt.Sprintf("the signature verifies over BASE64URL(header) \".\" BASE64URL(body) with key %s", keyName(k)))
	}
	return false
}

// keyRotated: the signature verifies with a key of the set published under
// another kid.
func (s *state) keyRotated() bool {
	r := s.raw()
	if r == nil || len(r.h.X5C) > 0 || len(s.keys) == 0 {
		return false
	}
	s.tried = append(s.tried, fmt.Sprintf("every key of the key set (%d)", len(s.keys)))
	input := r.input(r.h.B64)
	for _, k := range s.keys {
		if k.Kid == r.h.Kid || !rawVerify(r.h.Alg, k.PublicKey(), input, r.sig, pssEqualsHash) {
			continue
		}
		// Confirm: the same request verifies once that key carries the
		// header's kid.
		keys := []*jose.JWK{k.WithKid(r.h.Kid)}
		var old *jose.JWK
		for _, o := range s.keys {
			switch {
			case o.Kid == r.h.Kid:
				old = o
			case o != k:
				keys = append(keys, o)
			}
		}
		set, err := jose.NewKeySet(keys...)
		if err != nil {
			continue
		}
		t := s.trust
		t.Keys = set
		if !s.confirms(s.prof, t, s.msg) {
			continue
		}
		ev := []string{fmt.Sprintf("the protected header names kid %q", r.h.Kid)}
		if old != nil {
			ev = append(ev, fmt.Sprintf("the key set's %q is another key (thumbprint %s) and does not verify the signature", old.Kid, old.Thumbprint()))
		} else {
			ev = append(ev, fmt.Sprintf("kid %q is not in the key set (%s)", r.h.Kid, s.kidList()))
		}
		ev = append(ev, fmt.Sprintf("the signature verifies with the key published as %s", keyName(k)))
		return s.set(KeyRotated,
			fmt.Sprintf("The request is signed with the partner's key %q but labelled kid %q: a key rotation left the kid and the key out of step.", k.Kid, r.h.Kid),
			fmt.Sprintf("the sender must put kid %q in the header when it signs with that key (the kid changes with the key); or, if %q was re-keyed, the partner must publish the new key under it", k.Kid, r.h.Kid),
			ev...)
	}
	return false
}
