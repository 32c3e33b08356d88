package keys

import (
	"bytes"
	"context"
	"crypto"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/nonrep/nonrep/jose"
)

// SignerOpener turns a key's SignerRef into a crypto.Signer for its private
// half. [FileSigners] is the default; an HSM or KMS opener implements the
// same method and plugs into Config.Signers without changes elsewhere.
//
// OpenSigner must return a signer whose Public() is k.Public's key (the
// registry checks), and must never put key material in an error.
type SignerOpener interface {
	OpenSigner(ctx context.Context, k *Key) (crypto.Signer, error)
}

// FileRefPrefix starts a SignerRef naming a private key file.
const FileRefPrefix = "file:"

// FileRef returns the SignerRef of a private key file (made absolute).
func FileRef(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return FileRefPrefix + abs, nil
}

// maxKeyFile caps a private key file.
const maxKeyFile = 1 << 20

// FileSigners opens "file:PATH" references: a private JWK or PEM file (one
// key) that its owner alone may read. A file readable or writable by group
// or others is refused (KeyRejected) rather than used: a signing key
// someone else can read is a leaked key.
type FileSigners struct{}

var _ SignerOpener = FileSigners{}

// OpenSigner implements SignerOpener.
func (FileSigners) OpenSigner(_ context.Context, k *Key) (crypto.Signer, error) {
	path, ok := strings.CutPrefix(k.SignerRef, FileRefPrefix)
	if !ok {
		return nil, errorf(jose.SignerFailed, "key %s: FileSigners opens %q references, not %s", quote(k.Kid), FileRefPrefix, quote(k.SignerRef))
	}
	priv, err := ReadPrivateKeyFile(path)
	if err != nil {
		return nil, err
	}
	s, ok := priv.Key.(crypto.Signer)
	if !ok {
		return nil, errorf(jose.KeyRejected, "key file %s does not hold an asymmetric private key", quote(path))
	}
	return s, nil
}

// ReadPrivateKeyFile reads a private JWK or PEM file holding exactly one
// private key, refusing a file that group or others may access.
func ReadPrivateKeyFile(path string) (*jose.JWK, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &jose.Error{Code: jose.SignerFailed, Detail: fmt.Sprintf("key file %s cannot be opened", quote(path)), Err: err}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, &jose.Error{Code: jose.SignerFailed, Detail: fmt.Sprintf("key file %s cannot be read", quote(path)), Err: err}
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, errorf(jose.KeyRejected, "key file %s has mode %#o: a private key must be readable by its owner only (chmod 600)", quote(path), perm)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, &jose.Error{Code: jose.SignerFailed, Detail: fmt.Sprintf("key file %s cannot be read", quote(path)), Err: err}
	}
	if len(data) > maxKeyFile {
		return nil, errorf(jose.TooLarge, "key file %s is larger than %d bytes", quote(path), maxKeyFile)
	}
	var ks []*jose.JWK
	if bytes.Contains(data, []byte("-----BEGIN ")) {
		ks, err = jose.ParsePEM(data)
	} else {
		var k *jose.JWK
		k, err = jose.ParseJWK(data)
		ks = []*jose.JWK{k}
	}
	if err != nil {
		// jose's errors never carry key material.
		return nil, fmt.Errorf("key file %s: %w", quote(path), err)
	}
	if len(ks) != 1 || !ks[0].IsPrivate() || ks[0].Kty == "oct" {
		return nil, errorf(jose.KeyRejected, "key file %s must hold exactly one asymmetric private key", quote(path))
	}
	return ks[0], nil
}

// publicEqual reports whether a signer's public key is pub.
func publicEqual(pub crypto.PublicKey, want *jose.JWK) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := pub.(equaler)
	return ok && e.Equal(want.PublicKey())
}
