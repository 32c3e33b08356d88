// Package sqldb opens the database/sql handles the SQL-backed stores share
// (keys, txsign): SQLite with the same pragmas everywhere, PostgreSQL
// through pgx with a bounded pool, and the bits of dialect they differ in.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// OpenSQLite opens the SQLite file at path (":memory:" for a private
// in-memory database): WAL and synchronous=FULL for a file, a busy
// timeout, and BEGIN IMMEDIATE for every transaction so that writers from
// several processes queue rather than fail.
func OpenSQLite(path string, busy time.Duration, foreignKeys bool) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	if foreignKeys {
		q.Add("_pragma", "foreign_keys(1)")
	}
	q.Set("_txlock", "immediate")
	memory := path == ":memory:"
	if !memory {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	if memory {
		// Each connection would otherwise be a database of its own.
		db.SetMaxOpenConns(1)
	}
	return db, nil
}

// OpenPostgres opens a pool of at most maxConns connections to dsn and
// checks, within ctx, that the server answers.
func OpenPostgres(ctx context.Context, dsn string, maxConns int) (*sql.DB, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// SQLiteUnique reports whether err is a SQLite unique or primary-key
// constraint violation.
func SQLiteUnique(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// PostgresUnique reports whether err is a PostgreSQL unique violation.
func PostgresUnique(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}

// Dollar rewrites ? placeholders as $1, $2, … for PostgreSQL. The query
// must hold no literal '?'.
func Dollar(query string) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}
