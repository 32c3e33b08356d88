package server

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/nonrep/nonrep/evidence"
	"github.com/nonrep/nonrep/evidence/pgstore"
	"github.com/nonrep/nonrep/evidence/sqlitestore"
	"github.com/nonrep/nonrep/internal/config"
)

// OpenEvidence opens the evidence log: SQLite at DataDir/evidence.db by
// default, PostgreSQL when configured. Checkpoints are signed with the
// Ed25519 key in DataDir/keys/evidence-log.pem, generated on first start.
func OpenEvidence(ctx context.Context, cfg *config.Config, log *slog.Logger) (*evidence.Log, error) {
	key, err := logKey(filepath.Join(cfg.DataDir, "keys", "evidence-log.pem"))
	if err != nil {
		return nil, fmt.Errorf("evidence log key: %w", err)
	}
	var st evidence.Store
	switch cfg.Stores.Evidence.Backend {
	case "postgres":
		st, err = pgstore.Open(ctx, pgstore.Config{DSN: cfg.Stores.Evidence.DSN})
	default:
		path := cfg.Stores.Evidence.Path
		if path == "" {
			path = filepath.Join(cfg.DataDir, "evidence.db")
		}
		st, err = sqlitestore.Open(ctx, sqlitestore.Config{Path: path})
	}
	if err != nil {
		return nil, err
	}
	l, err := evidence.Open(ctx, evidence.Config{Store: st, Key: key, Logger: log})
	if err != nil {
		st.Close()
		return nil, err
	}
	return l, nil
}

// logKey reads, or creates (0600), the log's Ed25519 checkpoint key.
func logKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return nil, err
		}
		if err := writeExclusive(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
			return nil, err
		}
		return priv, nil
	}
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is readable by group or others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: not a PKCS#8 PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, err
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: the evidence log key must be Ed25519", path)
	}
	return priv, nil
}
