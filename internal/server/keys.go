package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"github.com/nonrep/nonrep/internal/config"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/keys"
	"github.com/nonrep/nonrep/keys/jwksserver"
	"github.com/nonrep/nonrep/keys/pgstore"
	"github.com/nonrep/nonrep/keys/sqlitestore"
	"github.com/nonrep/nonrep/profile"
)

// Keys is our key registry as the server uses it.
type Keys struct {
	Registry *keys.Registry
	JWKS     http.Handler
	store    keys.Store
}

// Close closes the key store.
func (k *Keys) Close() error { return k.store.Close() }

// OpenKeys opens the key store named by the configuration (SQLite in the
// data directory by default; PostgreSQL when the evidence store is), and
// makes sure we have an active signing key: on first start one is
// generated (ES256, a 0600 file in DataDir/keys) and bootstrapped.
func OpenKeys(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Keys, error) {
	if log == nil {
		log = slog.Default()
	}
	var (
		st  keys.Store
		err error
	)
	if cfg.Stores.Evidence.Backend == "postgres" {
		st, err = pgstore.Open(ctx, pgstore.Config{DSN: cfg.Stores.Evidence.DSN})
	} else {
		st, err = sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(cfg.DataDir, "keys.db")})
	}
	if err != nil {
		return nil, err
	}
	reg, err := keys.New(keys.Config{Store: st, MaxAge: cfg.Signing.JWKSMaxAge.D()})
	if err != nil {
		st.Close()
		return nil, err
	}
	if _, err := reg.Active(ctx, keys.DefaultPurpose); jose.CodeOf(err) == keys.KeyNotFound {
		if err := bootstrapKey(ctx, cfg, reg, log); err != nil {
			st.Close()
			return nil, err
		}
	} else if err != nil {
		st.Close()
		return nil, err
	}
	h, err := jwksserver.New(jwksserver.Config{Source: reg, MaxAge: cfg.Signing.JWKSMaxAge.D(), Logger: log})
	if err != nil {
		st.Close()
		return nil, err
	}
	return &Keys{Registry: reg, JWKS: h, store: st}, nil
}

func bootstrapKey(ctx context.Context, cfg *config.Config, reg *keys.Registry, log *slog.Logger) error {
	path := cfg.Signing.Key
	var j *jose.JWK
	if path != "" {
		k, err := keys.ReadPrivateKeyFile(path)
		if err != nil {
			return fmt.Errorf("signing.key: %w", err)
		}
		j = k
	} else {
		dir := filepath.Join(cfg.DataDir, "keys")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		j, err = jose.NewJWK(priv, "", jose.ES256)
		if err != nil {
			return err
		}
		j = j.WithKid("nonrep-" + j.Thumbprint()[:16])
		b, err := j.MarshalJSON()
		if err != nil {
			return err
		}
		path = filepath.Join(dir, j.Kid+".jwk")
		if err := writeExclusive(path, append(b, '\n')); err != nil {
			return err
		}
	}
	ref, err := keys.FileRef(path)
	if err != nil {
		return err
	}
	k, err := reg.Bootstrap(ctx, keys.NewKey{Key: j, SignerRef: ref, Actor: "nonrep serve", Reason: "first start: no signing key yet"})
	if err != nil {
		return err
	}
	log.Info("signing key created and active", "kid", k.Kid, "alg", k.Alg)
	return nil
}

// SwiftSigner is our signer for Swift response integrity: the configured
// key and certificate chain (signing.key / signing.cert).
func SwiftSigner(cfg *config.Config) (*profile.Signer, error) {
	if cfg.Signing.Cert == "" || cfg.Signing.Key == "" {
		return nil, nil
	}
	return loadSigner(cfg.Signing.Key, cfg.Signing.Cert, profile.Swift{})
}
