package server

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nonrep/nonrep/internal/config"
	"github.com/nonrep/nonrep/jose"
)

// DemoPartner is one partner of the embedded default setup.
type DemoPartner struct {
	Profile string
	// Key is the partner's private JWK (the demo client signs with it);
	// Cert its chain (Swift).
	Key, Cert string
	Path      string
	// Flags are the extra `nonrep request send` flags it needs.
	Flags string
}

// demoKeys lists the partners of the embedded default and their keys.
var demoKeys = []struct {
	profile string
	alg     jose.Alg
	bits    int
}{
	{"generic", jose.ES256, 0},
	{"openbanking", jose.PS256, 2048},
	{"incomm", jose.PS512, 3072},
	{"ebanx", jose.RS256, 4096},
	{"swift", jose.RS256, 2048},
}

// Demo fills cfg with one demo partner per profile, each with its keys in
// DataDir/demo (generated on first start, kept after), routed at
// /demo/PROFILE/ to the built-in echo upstream.
func Demo(cfg *config.Config, progress func(string)) ([]DemoPartner, error) {
	dir := filepath.Join(cfg.DataDir, "demo")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var out []DemoPartner
	for _, d := range demoKeys {
		priv := filepath.Join(dir, d.profile+".jwk")
		pub := filepath.Join(dir, d.profile+".pub.jwk")
		if _, err := os.Stat(priv); errors.Is(err, fs.ErrNotExist) {
			if progress != nil {
				progress(fmt.Sprintf("generating the demo %s partner's %s key (first start only)", d.profile, d.alg))
			}
			if err := writeDemoKey(dir, d.profile, d.alg, d.bits); err != nil {
				return nil, err
			}
		} else if err != nil {
			return nil, err
		}
		p := config.Partner{Name: "demo-" + d.profile, Profile: d.profile}
		dp := DemoPartner{Profile: d.profile, Key: priv, Path: "/demo/" + d.profile + "/"}
		switch d.profile {
		case "swift":
			p.Roots = filepath.Join(dir, "swift-root.pem")
			dp.Cert = filepath.Join(dir, "swift-chain.pem")
			dp.Flags = "--cert " + dp.Cert
		case "openbanking":
			p.Keys = []string{pub}
			dp.Flags = "--ob-iss demo-tpp"
		default:
			p.Keys = []string{pub}
		}
		cfg.Partners = append(cfg.Partners, p)
		cfg.Routes = append(cfg.Routes, config.Route{Path: dp.Path, Resolve: "fixed", Partner: p.Name, Upstream: "echo", StripPrefix: true})
		out = append(out, dp)
	}
	return out, nil
}

func writeDemoKey(dir, name string, alg jose.Alg, bits int) error {
	var key crypto.Signer
	var err error
	if bits > 0 {
		key, err = rsa.GenerateKey(rand.Reader, bits)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return err
	}
	kid := "demo-" + name + "-1"
	if name == "swift" {
		kid = ""
		if err := writeDemoPKI(dir, key); err != nil {
			return err
		}
	}
	j, err := jose.NewJWK(key, kid, alg)
	if err != nil {
		return err
	}
	privJSON, err := j.MarshalJSON()
	if err != nil {
		return err
	}
	pubJSON, err := j.Public().MarshalJSON()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, name+".pub.jwk"), append(pubJSON, '\n'), 0o644); err != nil {
		return err
	}
	// The private key last: its presence means the partner is complete.
	return writeExclusive(filepath.Join(dir, name+".jwk"), append(privJSON, '\n'))
}

// writeDemoPKI makes a root and a leaf certificate for the Swift demo
// partner (SWIFTNet PKI stand-in), valid ten years.
func writeDemoPKI(dir string, leafKey crypto.Signer) error {
	rootKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	now := time.Now().Add(-time.Hour)
	serial := func() *big.Int { n, _ := rand.Int(rand.Reader, big.NewInt(1<<62)); return n }
	root := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "nonrep demo root", Organization: []string{"nonrep demo"}},
		NotBefore: now, NotAfter: now.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	rootDER, err := x509.CreateCertificate(rand.Reader, root, root, &rootKey.PublicKey, rootKey)
	if err != nil {
		return err
	}
	leaf := &x509.Certificate{SerialNumber: serial(),
		Subject:   pkix.Name{CommonName: "demo-partner", OrganizationalUnit: []string{"payments"}, Organization: []string{"demobank"}, Country: []string{"BE"}},
		NotBefore: now, NotAfter: now.AddDate(10, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature}
	rootCert, _ := x509.ParseCertificate(rootDER)
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, rootCert, leafKey.Public(), rootKey)
	if err != nil {
		return err
	}
	enc := func(der ...[]byte) []byte {
		var b []byte
		for _, d := range der {
			b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d})...)
		}
		return b
	}
	if err := os.WriteFile(filepath.Join(dir, "swift-root.pem"), enc(rootDER), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "swift-chain.pem"), enc(leafDER), 0o644)
}

func writeExclusive(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// DemoInstructions tells a newcomer how to send a signed request.
func DemoInstructions(base string, ps []DemoPartner) string {
	var b strings.Builder
	fmt.Fprintf(&b, "nonrep serve is listening on %s (embedded defaults: SQLite evidence and keys in the data directory, in-memory replay store, built-in echo upstream)\n\n", base)
	fmt.Fprintf(&b, "Send a signed payment instruction through the gateway (in another terminal):\n\n")
	fmt.Fprintf(&b, "  echo '{\"amount\":\"1240.00\",\"currency\":\"EUR\",\"creditorName\":\"ACME Ltd\"}' > payment.json\n")
	for i, p := range ps {
		flags := ""
		if p.Flags != "" {
			flags = " " + p.Flags
		}
		fmt.Fprintf(&b, "  go run ./cmd/nonrep request send --profile %s --key %s%s --url %s%spayments --body payment.json\n", p.Profile, p.Key, flags, base, p.Path)
		if i == 0 {
			fmt.Fprintf(&b, "\n  The same for the other schemes:\n")
		}
	}
	fmt.Fprintf(&b, "\nSend the same signed request twice and the second is refused (replay_detected); change a byte and it is refused (signature_invalid).\n")
	fmt.Fprintf(&b, "Our public keys: %s/.well-known/jwks.json   metrics: %s/metrics   health: %s/readyz\n", base, base, base)
	return b.String()
}
