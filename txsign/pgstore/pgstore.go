// Package pgstore is the txsign.Store on PostgreSQL, for several service
// instances sharing one state.
//
// Each state change is one conditional UPDATE (package sqltx), which
// PostgreSQL serializes on the row under READ COMMITTED: of concurrent
// decisions, polls or PIN attempts, exactly the ones the conditions allow
// win. The schema is created at Open under an advisory lock, so that
// instances starting together do not race.
package pgstore

import (
	"context"
	"fmt"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/nonrep/nonrep/internal/sqldb"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/txsign"
	"github.com/nonrep/nonrep/txsign/internal/sqltx"
)

// Config configures Open.
type Config struct {
	// DSN is a PostgreSQL connection string (URL or key=value form).
	DSN string
	// MaxConns bounds open connections (default 16).
	MaxConns int
	// ConnectTimeout bounds Open's first connection (default 10 s).
	ConnectTimeout time.Duration
}

// Store is a txsign.Store on PostgreSQL. It is safe for concurrent use.
type Store struct {
	*sqltx.Store
}

var _ txsign.Store = Store{}

// lockID is the advisory lock taken while creating the schema ("nonrep:t").
const lockID = 0x6e6f6e7265703a74

// Open connects and creates the schema if needed.
func Open(ctx context.Context, cfg Config) (Store, error) {
	if cfg.DSN == "" {
		return Store{}, &jose.Error{Code: jose.PolicyInvalid, Detail: "pgstore: Config.DSN is required"}
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 16
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	pctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	db, err := sqldb.OpenPostgres(pctx, cfg.DSN, cfg.MaxConns)
	if err != nil {
		return Store{}, txsign.Unavailable(err, "postgres: cannot connect")
	}
	s, err := sqltx.New(pctx, db, sqltx.Dialect{
		Name:     "postgres",
		Lock:     fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", lockID),
		Dollar:   true,
		IsUnique: sqldb.PostgresUnique,
	})
	if err != nil {
		db.Close()
		return Store{}, err
	}
	return Store{s}, nil
}
