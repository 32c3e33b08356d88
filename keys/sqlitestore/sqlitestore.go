// Package sqlitestore is the embedded keys.Store: one SQLite file (pure Go,
// no cgo), the default for a laptop or a single gateway.
//
// The database runs in WAL mode with a busy timeout, and every write
// transaction takes the write lock at BEGIN (BEGIN IMMEDIATE), so that
// several processes sharing the file (a gateway and the nonrep CLI) queue
// rather than fail. The one-active-key-per-purpose rule is a partial unique
// index, enforced by SQLite itself.
package sqlitestore

import (
	"context"
	"time"

	"github.com/nonrep/nonrep/internal/sqldb"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/keys"
	"github.com/nonrep/nonrep/keys/internal/sqlkeys"
)

// Config configures Open.
type Config struct {
	// Path is the database file, created if absent. It holds public keys
	// and references to private keys, never private key material.
	// ":memory:" is a private in-memory database (tests).
	Path string
	// BusyTimeout is how long a write waits for another writer (default
	// 10 s).
	BusyTimeout time.Duration
}

// Store is a keys.Store on SQLite. It is safe for concurrent use.
type Store struct {
	*sqlkeys.Store
}

var _ keys.Store = Store{}

// Open opens (creating if needed) the database and its schema.
func Open(ctx context.Context, cfg Config) (Store, error) {
	if cfg.Path == "" {
		return Store{}, &jose.Error{Code: jose.PolicyInvalid, Detail: "sqlitestore: Config.Path is required"}
	}
	if cfg.BusyTimeout <= 0 {
		cfg.BusyTimeout = 10 * time.Second
	}
	db, err := sqldb.OpenSQLite(cfg.Path, cfg.BusyTimeout, true)
	if err != nil {
		return Store{}, keys.Unavailable(err, "sqlite: open failed")
	}
	s, err := sqlkeys.New(ctx, db, sqlkeys.Dialect{
		Name:     "sqlite",
		Schema:   sqlkeys.Schema("INTEGER PRIMARY KEY AUTOINCREMENT"),
		IsUnique: sqldb.SQLiteUnique,
	})
	if err != nil {
		db.Close()
		return Store{}, err
	}
	return Store{s}, nil
}
