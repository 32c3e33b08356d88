// Package testkeys holds fixed, PUBLICLY KNOWN test keys and a small PKI
// (root → intermediate → leaf) so that tests across packages need not
// generate RSA-3072/4096 keys at run time. Never use them for anything
// else. Regenerate with: go test ./internal/testkeys -run TestRegen -regen
package testkeys

import (
	"crypto"
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"fmt"
	"sync"
)

//go:embed testdata/keys.pem
var keysPEM []byte

var (
	once  sync.Once
	keys  map[string]crypto.Signer
	certs map[string]*x509.Certificate
)

func load() {
	keys = map[string]crypto.Signer{}
	certs = map[string]*x509.Certificate{}
	rest := keysPEM
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return
		}
		name := b.Headers["Name"]
		switch b.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				panic(fmt.Sprintf("testkeys: %s: %v", name, err))
			}
			keys[name] = k.(crypto.Signer)
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				panic(fmt.Sprintf("testkeys: %s: %v", name, err))
			}
			certs[name] = c
		}
	}
}

// Key returns the named private key: rsa2048, rsa3072, rsa3072b, rsa4096,
// rsa4096b, p256, p256b, ed25519, and the PKI's root, intermediate, leaf,
// server, otherroot.
func Key(name string) crypto.Signer {
	once.Do(load)
	k, ok := keys[name]
	if !ok {
		panic("testkeys: no key " + name)
	}
	return k
}

// Cert returns the named certificate: root, intermediate, leaf (signed by
// intermediate), server (signed by intermediate), otherroot.
func Cert(name string) *x509.Certificate {
	once.Do(load)
	c, ok := certs[name]
	if !ok {
		panic("testkeys: no certificate " + name)
	}
	return c
}

// Chain returns the DER chain leaf-first for x5c: name, intermediate.
func Chain(name string) [][]byte {
	return [][]byte{Cert(name).Raw, Cert("intermediate").Raw}
}

// Roots returns a pool holding the test root.
func Roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(Cert("root"))
	return p
}
