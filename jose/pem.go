package jose

import (
	"crypto/x509"
	"encoding/pem"
)

// ParsePEM imports every key in a PEM document as a JWK: "PUBLIC KEY"
// (PKIX), "PRIVATE KEY" (PKCS#8), "CERTIFICATE" (X.509; the JWK's
// Certificates holds it and any certificates that follow it), and the
// legacy "RSA PUBLIC KEY", "RSA PRIVATE KEY" (PKCS#1) and "EC PRIVATE KEY"
// (SEC 1) forms. Every key is validated as ParseJWK validates. Encrypted PEM
// is refused. The JWKs have no kid; set one with WithKid.
func ParsePEM(data []byte) ([]*JWK, error) {
	var out []*JWK
	var chainOwner *JWK // the key whose certificate chain is being read
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if _, enc := b.Headers["Proc-Type"]; enc {
			return nil, errorf(KeyRejected, "encrypted PEM is not supported")
		}
		var key any
		var err error
		switch b.Type {
		case "PUBLIC KEY":
			key, err = x509.ParsePKIXPublicKey(b.Bytes)
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PUBLIC KEY":
			key, err = x509.ParsePKCS1PublicKey(b.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
		case "CERTIFICATE":
			c, cerr := x509.ParseCertificate(b.Bytes)
			if cerr != nil {
				return nil, wrapf(Malformed, cerr, "PEM certificate does not parse")
			}
			if chainOwner != nil {
				// A certificate after a certificate: the next link of a chain.
				chainOwner.Certificates = append(chainOwner.Certificates, c)
				continue
			}
			k, kerr := NewJWK(c.PublicKey, "", "")
			if kerr != nil {
				return nil, kerr
			}
			k.Certificates = []*x509.Certificate{c}
			out = append(out, k)
			chainOwner = k
			continue
		default:
			return nil, errorf(Malformed, "unsupported PEM block %s", quote(b.Type))
		}
		if err != nil {
			return nil, wrapf(Malformed, err, "PEM %s does not parse", b.Type)
		}
		k, err := NewJWK(key, "", "")
		if err != nil {
			return nil, err
		}
		out = append(out, k)
		chainOwner = nil
	}
	if len(out) == 0 {
		return nil, errorf(Malformed, "no PEM key or certificate found")
	}
	return out, nil
}

// MarshalPEM exports the key: "PRIVATE KEY" (PKCS#8) for a private key,
// "PUBLIC KEY" (PKIX) for a public one, followed by its certificates.
// oct keys have no PEM form.
func (k *JWK) MarshalPEM() ([]byte, error) {
	var b *pem.Block
	switch {
	case k.Kty == "oct":
		return nil, errorf(KeyRejected, "an oct key has no PEM form")
	case k.IsPrivate():
		der, err := x509.MarshalPKCS8PrivateKey(k.Key)
		if err != nil {
			return nil, wrapf(KeyRejected, err, "cannot encode the private key")
		}
		b = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	default:
		der, err := x509.MarshalPKIXPublicKey(k.Key)
		if err != nil {
			return nil, wrapf(KeyRejected, err, "cannot encode the public key")
		}
		b = &pem.Block{Type: "PUBLIC KEY", Bytes: der}
	}
	out := pem.EncodeToMemory(b)
	for _, c := range k.Certificates {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out, nil
}
