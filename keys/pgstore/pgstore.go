// Package pgstore is the keys.Store on PostgreSQL, for a fleet of gateways
// sharing one registry.
//
// Transitions run in one transaction of conditional updates (UPDATE …
// WHERE state = from), so that concurrent operators cannot both win; the
// one-active-key-per-purpose rule is a partial unique index. The schema is
// created at Open under an advisory lock, so that instances starting
// together do not race.
package pgstore

import (
	"context"
	"fmt"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/nonrep/nonrep/internal/sqldb"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/keys"
	"github.com/nonrep/nonrep/keys/internal/sqlkeys"
)

// Config configures Open.
type Config struct {
	// DSN is a PostgreSQL connection string (URL or key=value form).
	DSN string
	// MaxConns bounds open connections (default 4: the registry is not
	// on a hot path).
	MaxConns int
	// ConnectTimeout bounds Open's first connection (default 10 s).
	ConnectTimeout time.Duration
}

// Store is a keys.Store on PostgreSQL. It is safe for concurrent use.
type Store struct {
	*sqlkeys.Store
}

var _ keys.Store = Store{}

// lockID is the advisory lock taken while creating the schema ("nonrep:k").
const lockID = 0x6e6f6e7265703a6b

// Open connects and creates the schema if needed.
func Open(ctx context.Context, cfg Config) (Store, error) {
	if cfg.DSN == "" {
		return Store{}, &jose.Error{Code: jose.PolicyInvalid, Detail: "pgstore: Config.DSN is required"}
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 4
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	pctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	db, err := sqldb.OpenPostgres(pctx, cfg.DSN, cfg.MaxConns)
	if err != nil {
		return Store{}, keys.Unavailable(err, "postgres: cannot connect")
	}
	s, err := sqlkeys.New(pctx, db, sqlkeys.Dialect{
		Name:     "postgres",
		Schema:   sqlkeys.Schema("BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"),
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
