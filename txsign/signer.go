package txsign

import (
	"context"
	"crypto"

	"github.com/nonrep/nonrep/jose"
)

// TokenSigner gives the service its active signing key: for transaction
// tokens and for the notifications it pushes to devices. A key registry
// (package keys) satisfies it through a small adapter; StaticSigner is the
// in-process one. Implementations are safe for concurrent use and return
// an error rather than a key they cannot use (the step answers 503).
type TokenSigner interface {
	SigningKey(ctx context.Context) (*jose.SigningKey, error)
}

// TokenSignerFunc adapts a function to TokenSigner, for example a key
// registry's signer for one purpose:
//
//	txsign.TokenSignerFunc(func(ctx context.Context) (*jose.SigningKey, error) {
//		return registry.Signer(ctx, "txsign")
//	})
type TokenSignerFunc func(ctx context.Context) (*jose.SigningKey, error)

// SigningKey calls f.
func (f TokenSignerFunc) SigningKey(ctx context.Context) (*jose.SigningKey, error) { return f(ctx) }

// JWKSPublisher is the optional interface of a TokenSigner that publishes
// its public keys: the service serves them at /.well-known/jwks.json
// (Config.JWKS overrides it).
type JWKSPublisher interface {
	JWKS(ctx context.Context) ([]byte, error)
}

// StaticSigner signs with one fixed key and publishes its public half. It
// is a TokenSigner, a JWKSPublisher and a jose.KeyResolver (for a gateway
// in the same process). Safe for concurrent use.
type StaticSigner struct {
	key  *jose.SigningKey
	pub  *jose.JWK
	set  *jose.KeySet
	jwks []byte
}

var (
	_ TokenSigner      = (*StaticSigner)(nil)
	_ JWKSPublisher    = (*StaticSigner)(nil)
	_ jose.KeyResolver = (*StaticSigner)(nil)
)

// NewStaticSigner wraps an ES256/ES384/ES512/EdDSA/PS*/RS* signer. kid
// defaults to the key's RFC 7638 thumbprint.
func NewStaticSigner(signer crypto.Signer, alg jose.Alg, kid string) (*StaticSigner, error) {
	pub, err := jose.NewJWK(signer.Public(), kid, alg)
	if err != nil {
		return nil, err
	}
	if kid == "" {
		pub = pub.WithKid(pub.Thumbprint())
	}
	pub.Use = "sig"
	set, err := jose.NewKeySet(pub)
	if err != nil {
		return nil, err
	}
	jwks, err := jose.MarshalJWKS(pub)
	if err != nil {
		return nil, err
	}
	return &StaticSigner{
		key:  &jose.SigningKey{Alg: alg, Kid: pub.Kid, Signer: signer},
		pub:  pub,
		set:  set,
		jwks: jwks,
	}, nil
}

// NewStaticSignerJWK wraps a private JWK (its alg and kid are used; kid
// defaults to the thumbprint).
func NewStaticSignerJWK(k *jose.JWK) (*StaticSigner, error) {
	s, ok := k.Key.(crypto.Signer)
	if !ok || !k.IsPrivate() {
		return nil, &jose.Error{Code: jose.KeyRejected, Detail: "not an asymmetric private key"}
	}
	if k.Alg == "" {
		return nil, &jose.Error{Code: jose.PolicyInvalid, Detail: "the key has no alg"}
	}
	return NewStaticSigner(s, k.Alg, k.Kid)
}

// SigningKey implements TokenSigner.
func (s *StaticSigner) SigningKey(context.Context) (*jose.SigningKey, error) { return s.key, nil }

// JWKS implements JWKSPublisher.
func (s *StaticSigner) JWKS(context.Context) ([]byte, error) { return s.jwks, nil }

// Public returns the public JWK.
func (s *StaticSigner) Public() *jose.JWK { return s.pub }

// ResolveKeys implements jose.KeyResolver.
func (s *StaticSigner) ResolveKeys(ctx context.Context, h *jose.Header) ([]*jose.JWK, error) {
	return s.set.ResolveKeys(ctx, h)
}
