package jose

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"math/big"
)

// digest hashes in with h without allocating.
func digest(h crypto.Hash, in []byte) (d [64]byte, n int) {
	switch h {
	case crypto.SHA256:
		s := sha256.Sum256(in)
		copy(d[:], s[:])
		return d, 32
	case crypto.SHA384:
		s := sha512.Sum384(in)
		copy(d[:], s[:])
		return d, 48
	case crypto.SHA512:
		return sha512.Sum512(in), 64
	}
	panic("jose: unsupported hash")
}

// pssOpts: salt length equal to the hash length, exactly (RFC 7518 §3.5).
// Go's VerifyPSS with an explicit length rejects any other salt length.
var pssOpts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}

// curveOrders holds each curve's order n, big-endian and fixed length, to
// range-check P1363 r and s without big.Int allocations.
var curveOrders = map[elliptic.Curve][]byte{
	elliptic.P256(): elliptic.P256().Params().N.FillBytes(make([]byte, 32)),
	elliptic.P384(): elliptic.P384().Params().N.FillBytes(make([]byte, 48)),
	elliptic.P521(): elliptic.P521().Params().N.FillBytes(make([]byte, 66)),
}

// verifySig checks sig over the signing input with pub for alg. The caller
// has checked that pub's type fits alg.
func verifySig(alg Alg, pub any, input, sig []byte) error {
	info, _ := alg.info()
	switch info.family {
	case famRSA, famPSS:
		d, n := digest(info.hash, input)
		key := pub.(*rsa.PublicKey)
		var err error
		if info.family == famRSA {
			err = rsa.VerifyPKCS1v15(key, info.hash, d[:n], sig)
		} else {
			err = rsa.VerifyPSS(key, info.hash, d[:n], sig, pssOpts)
		}
		if err != nil {
			return errorf(SignatureInvalid, "%s signature does not verify", alg)
		}
		return nil
	case famEC:
		key := pub.(*ecdsa.PublicKey)
		// RFC 7518 §3.4: R and S as fixed-length big-endian octet strings
		// (IEEE P1363). A DER signature has another length and fails here.
		if len(sig) != 2*info.size {
			return errorf(SignatureInvalid, "%s signature must be %d bytes (R||S), got %d", alg, 2*info.size, len(sig))
		}
		r, s := sig[:info.size], sig[info.size:]
		order := curveOrders[info.curve]
		if isZero(r) || isZero(s) || bytes.Compare(r, order) >= 0 || bytes.Compare(s, order) >= 0 {
			return errorf(SignatureInvalid, "%s signature r or s is out of range [1, n-1]", alg)
		}
		d, n := digest(info.hash, input)
		var der [2*66 + 16]byte
		if !ecdsa.VerifyASN1(key, d[:n], appendDERSignature(der[:0], r, s)) {
			return errorf(SignatureInvalid, "%s signature does not verify", alg)
		}
		return nil
	case famEd:
		if len(sig) != ed25519.SignatureSize {
			return errorf(SignatureInvalid, "EdDSA signature must be %d bytes", ed25519.SignatureSize)
		}
		if !ed25519.Verify(pub.(ed25519.PublicKey), input, sig) {
			return errorf(SignatureInvalid, "EdDSA signature does not verify")
		}
		return nil
	case famHMAC:
		m := hmac.New(info.hash.New, pub.([]byte))
		m.Write(input)
		if !hmac.Equal(m.Sum(nil), sig) {
			return errorf(SignatureInvalid, "%s signature does not verify", alg)
		}
		return nil
	}
	return errorf(AlgNotAllowed, "unsupported alg %s", quote(string(alg)))
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// appendDERSignature encodes r and s (unsigned big-endian) as an ASN.1
// ECDSA-Sig-Value SEQUENCE { INTEGER r, INTEGER s }.
func appendDERSignature(out, r, s []byte) []byte {
	r, s = trimInt(r), trimInt(s)
	lr, ls := len(r), len(s)
	if r[0]&0x80 != 0 {
		lr++
	}
	if s[0]&0x80 != 0 {
		ls++
	}
	body := 2 + lr + 2 + ls
	out = append(out, 0x30)
	if body >= 0x80 {
		out = append(out, 0x81)
	}
	out = append(out, byte(body))
	out = appendDERInt(out, r)
	return appendDERInt(out, s)
}

func trimInt(b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

func appendDERInt(out, v []byte) []byte {
	out = append(out, 0x02)
	if v[0]&0x80 != 0 {
		return append(append(out, byte(len(v)+1), 0), v...)
	}
	return append(append(out, byte(len(v))), v...)
}

// derToP1363 converts a DER ECDSA signature, as crypto.Signer returns it,
// to fixed-length R||S.
func derToP1363(der []byte, size int) ([]byte, error) {
	var v struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &v)
	if err != nil || len(rest) != 0 || v.R.Sign() <= 0 || v.S.Sign() <= 0 ||
		v.R.BitLen() > 8*size || v.S.BitLen() > 8*size {
		return nil, errorf(SignerFailed, "signer returned a malformed ECDSA signature")
	}
	out := make([]byte, 2*size)
	v.R.FillBytes(out[:size])
	v.S.FillBytes(out[size:])
	return out, nil
}
