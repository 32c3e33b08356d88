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
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

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
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", cfg.BusyTimeout.Milliseconds()))
	q.Set("_txlock", "immediate")
	memory := cfg.Path == ":memory:"
	if !memory {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
	}
	db, err := sql.Open("sqlite", "file:"+cfg.Path+"?"+q.Encode())
	if err != nil {
		return Store{}, txsign.Unavailable(err, "sqlite: open failed")
	}
	if memory {
		// Each connection would otherwise be a database of its own.
		db.SetMaxOpenConns(1)
	}
	s, err := sqltx.New(ctx, db, sqltx.Dialect{Name: "sqlite", IsUnique: isUnique})
	if err != nil {
		db.Close()
		return Store{}, err
	}
	return Store{s}, nil
}

func isUnique(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}
