package testkeys

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"math/big"
	"os"
	"testing"
	"time"
)

var regen = flag.Bool("regen", false, "regenerate the key files in testdata")

// TestRegen writes fresh keys and a Swift-like PKI when run with -regen.
func TestRegen(t *testing.T) {
	if !*regen {
		t.Skip("run with -regen to regenerate")
	}
	var out []byte
	add := func(typ string, der []byte, name string) {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: typ, Headers: map[string]string{"Name": name}, Bytes: der})...)
	}
	pk := func(k any) []byte { b, err := x509.MarshalPKCS8PrivateKey(k); must(t, err); return b }
	for _, n := range []struct {
		name string
		bits int
	}{{"rsa2048", 2048}, {"rsa3072", 3072}, {"rsa3072b", 3072}, {"rsa4096", 4096}, {"rsa4096b", 4096}} {
		k, err := rsa.GenerateKey(rand.Reader, n.bits)
		must(t, err)
		add("PRIVATE KEY", pk(k), n.name)
	}
	for _, name := range []string{"p256", "p256b"} {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		add("PRIVATE KEY", pk(k), name)
	}
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	add("PRIVATE KEY", pk(ed), "ed25519")
	// PKI: root -> intermediate -> leaf (RSA 2048 leaf), plus another root.
	notBefore := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	notAfter := time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(name string, subj pkix.Name, parent *x509.Certificate, parentKey any, ca bool) (*x509.Certificate, *rsa.PrivateKey) {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		must(t, err)
		serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
		tmpl := &x509.Certificate{SerialNumber: serial, Subject: subj, NotBefore: notBefore, NotAfter: notAfter,
			KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: ca}
		if ca {
			tmpl.KeyUsage |= x509.KeyUsageCertSign
		}
		if parent == nil {
			parent, parentKey = tmpl, k
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &k.PublicKey, parentKey)
		must(t, err)
		c, _ := x509.ParseCertificate(der)
		add("CERTIFICATE", der, name)
		add("PRIVATE KEY", pk(k), name)
		return c, k
	}
	root, rk := mk("root", pkix.Name{CommonName: "nonrep test root", Organization: []string{"nonrep test"}}, nil, nil, true)
	inter, ik := mk("intermediate", pkix.Name{CommonName: "nonrep test intermediate", Organization: []string{"nonrep test"}}, root, rk, true)
	mk("leaf", pkix.Name{CommonName: "api.partner.example", OrganizationalUnit: []string{"payments"}, Organization: []string{"partnerbank"}, Country: []string{"BE"}}, inter, ik, false)
	mk("server", pkix.Name{CommonName: "api.nonrep.example", Organization: []string{"nonrep bank"}, Country: []string{"GB"}}, inter, ik, false)
	mk("otherroot", pkix.Name{CommonName: "other root"}, nil, nil, true)
	must(t, os.WriteFile("testdata/keys.pem", out, 0o644))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
