package jose

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

func TestPEMRoundTrip(t *testing.T) {
	f := getFixture(t)
	for _, key := range []any{f.ec, &f.ec.PublicKey, f.ed, f.ed.Public(), f.rsa, &f.rsa.PublicKey, f.ec521} {
		k := mustJWK(key, "", "")
		p, err := k.MarshalPEM()
		if err != nil {
			t.Fatal(err)
		}
		ks, err := ParsePEM(p)
		if err != nil || len(ks) != 1 {
			t.Fatalf("%T: %v", key, err)
		}
		if ks[0].Thumbprint() != k.Thumbprint() || ks[0].IsPrivate() != k.IsPrivate() {
			t.Fatalf("%T: round trip changed the key", key)
		}
		p2, _ := ks[0].MarshalPEM()
		if !bytes.Equal(p, p2) {
			t.Fatalf("%T: PEM not a fixed point", key)
		}
	}
	// Legacy forms.
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(f.rsa)})
	sec1, _ := x509.MarshalECPrivateKey(f.ec)
	both := append(pkcs1, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})...)
	ks, err := ParsePEM(both)
	if err != nil || len(ks) != 2 || ks[0].Kty != "RSA" || ks[1].Kty != "EC" {
		t.Fatalf("legacy PEM: %v %v", ks, err)
	}
	// A certificate chain becomes one key with its certificates.
	pki := newPKI(t, x509.KeyUsageDigitalSignature)
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.leaf.Raw}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.inter.Raw})...)
	ks, err = ParsePEM(chain)
	if err != nil || len(ks) != 1 || len(ks[0].Certificates) != 2 || !publicEqual(ks[0].Key, pki.leaf.PublicKey) {
		t.Fatalf("certificate chain: %v %v", ks, err)
	}
	// JWK with x5c survives a JSON round trip and is checked against its key.
	j, _ := ks[0].MarshalJSON()
	back, err := ParseJWK(j)
	if err != nil || len(back.Certificates) != 2 {
		t.Fatalf("JWK x5c: %v", err)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		code Code
	}{
		{"empty", nil, Malformed},
		{"not PEM", []byte("hello"), Malformed},
		{"unknown block", pem.EncodeToMemory(&pem.Block{Type: "DSA PRIVATE KEY", Bytes: []byte{1}}), Malformed},
		{"bad DER", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2}}), Malformed},
		{"encrypted", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: []byte{1}}), KeyRejected},
	} {
		if _, err := ParsePEM(tc.in); CodeOf(err) != tc.code {
			t.Fatalf("%s: %v", tc.name, err)
		}
	}
	if _, err := mustJWK(f.secret, "", "").MarshalPEM(); CodeOf(err) != KeyRejected {
		t.Fatalf("oct PEM: %v", err)
	}
}
