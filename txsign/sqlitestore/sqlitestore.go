// Package sqlitestore is the embedded txsign.Store: one SQLite file (pure
// Go, no cgo), the default for a laptop or a single service instance.
//
// The database runs in WAL mode with a busy timeout, and every write
// transaction takes the write lock at BEGIN (BEGIN IMMEDIATE), so that
// concurrent callers queue rather than fail; each state change is a
// conditional UPDATE (package sqltx), atomic under SQLite's single writer.
package sqlitestore

import (
	"context"
	"time"

	"github.com/nonrep/nonrep/internal/sqldb"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/txsign"
	"github.com/nonrep/nonrep/txsign/internal/sqltx"
)

// Config configures Open.
type Config struct {
	// Path is the database file, created if absent. ":memory:" is a
	// private in-memory database (tests).
	Path string
	// BusyTimeout is how long a write waits for another writer (10 s).
	BusyTimeout time.Duration
}

// Store is a txsign.Store on SQLite. It is safe for concurrent use.
type Store struct {
	*sqltx.Store
}

var _ txsign.Store = Store{}

// Open opens (creating if needed) the database and its schema.
func Open(ctx context.Context, cfg Config) (Store, error) {
	if cfg.Path == "" {
		return Store{}, &jose.Error{Code: jose.PolicyInvalid, Detail: "sqlitestore: Config.Path is required"}
	}
	if cfg.BusyTimeout <= 0 {
		cfg.BusyTimeout = 10 * time.Second
	}
	db, err := sqldb.OpenSQLite(cfg.Path, cfg.BusyTimeout, false)
	if err != nil {
		return Store{}, txsign.Unavailable(err, "sqlite: open failed")
	}
	s, err := sqltx.New(ctx, db, sqltx.Dialect{Name: "sqlite", IsUnique: sqldb.SQLiteUnique})
	if err != nil {
		db.Close()
		return Store{}, err
	}
	return Store{s}, nil
}
