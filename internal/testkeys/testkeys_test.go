package testkeys

import (
	"crypto/rsa"
	"crypto/x509"
	"testing"
	"time"
)

func TestKeysAndPKI(t *testing.T) {
	for name, bits := range map[string]int{"rsa2048": 2048, "rsa3072": 3072, "rsa3072b": 3072, "rsa4096": 4096, "rsa4096b": 4096} {
		if got := Key(name).(*rsa.PrivateKey).N.BitLen(); got != bits {
			t.Errorf("%s: %d bits", name, got)
		}
	}
	for _, n := range []string{"p256", "p256b", "ed25519"} {
		Key(n)
	}
	inter := x509.NewCertPool()
	inter.AddCert(Cert("intermediate"))
	for _, leaf := range []string{"leaf", "server"} {
		if _, err := Cert(leaf).Verify(x509.VerifyOptions{Roots: Roots(), Intermediates: inter, CurrentTime: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("%s: %v", leaf, err)
		}
	}
}
