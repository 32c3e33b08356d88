// Package sqlitestore is the embedded evidence.Store: one SQLite file
// (modernc.org/sqlite, pure Go) in WAL mode.
//
// # Durability
//
// The database runs with journal_mode=WAL and synchronous=FULL: every
// commit fsyncs the write-ahead log before Integrate returns, so an
// acknowledged append survives a process crash and a power loss. (With
// synchronous=NORMAL a WAL commit is only fsynced at the next checkpoint:
// it survives a crash of the process but not of the machine, which would
// break the evidence contract.) Group commit in evidence.Log amortizes the
// fsync over every append waiting at that moment.
//
// Writes begin with BEGIN IMMEDIATE, which takes SQLite's write lock: one
// writer at a time, across every process using the file, and the tree head
// is read under that lock. Readers use a separate read-only pool and are
// never blocked by the writer (WAL).
//
// The records, tree hashes and checkpoints tables refuse UPDATE and DELETE
// through triggers. That stops accidents, not an attacker with the file:
// tampering is detected by evidence.Check and by checkpoints held
// elsewhere.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/nonrep/nonrep/evidence"
	"github.com/nonrep/nonrep/jose"
)

// Config configures a Store.
type Config struct {
	// Path is the database file; it and its directory are created (modes
	// 0600 and 0700) when absent.
	Path string
	// MaxSizeBytes, when positive, caps the database file; appends that
	// would grow it beyond fail with evidence.Unavailable ("full").
	MaxSizeBytes int64
	// BusyTimeout is how long a writer waits for another process's write
	// lock (default 10 s).
	BusyTimeout time.Duration
}

// Store is an evidence.Store in one SQLite file.
type Store struct {
	w, r *sql.DB
	path string
	// ins[k] inserts insertRows[k] records in one statement.
	ins [len(insertRows)]*sql.Stmt
}

// insertRows are the row counts of the prepared multi-row INSERTs: a
// batch is written with as few statements as these sizes allow (the
// per-statement cost dominates in pure-Go SQLite).
var insertRows = [...]int{64, 8, 1}

const insertCols = 15

func insertSQL(rows int) string {
	var sb strings.Builder
	sb.WriteString(`INSERT INTO evidence_records (idx, received, direction, kind, partner, profile, method, path, kid, verdict, code, replay_id, entry, body, hashes) VALUES `)
	for i := 0; i < rows; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
	}
	return sb.String()
}

var _ evidence.Store = (*Store)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS evidence_meta (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS evidence_keys (
	id   INTEGER PRIMARY KEY,
	vkey TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS evidence_head (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	size INTEGER NOT NULL,
	root BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS evidence_records (
	idx       INTEGER PRIMARY KEY,
	received  INTEGER NOT NULL,
	direction TEXT NOT NULL,
	kind      TEXT NOT NULL,
	partner   TEXT NOT NULL,
	profile   TEXT NOT NULL,
	method    TEXT NOT NULL,
	path      TEXT NOT NULL,
	kid       TEXT NOT NULL,
	verdict   TEXT NOT NULL,
	code      TEXT NOT NULL,
	replay_id TEXT NOT NULL,
	entry     BLOB NOT NULL,
	body      BLOB NOT NULL,
	hashes    BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS evidence_records_partner ON evidence_records (partner, received);
CREATE INDEX IF NOT EXISTS evidence_records_received ON evidence_records (received);
CREATE INDEX IF NOT EXISTS evidence_records_kid ON evidence_records (kid) WHERE kid <> '';
CREATE INDEX IF NOT EXISTS evidence_records_replay ON evidence_records (replay_id) WHERE replay_id <> '';
CREATE TABLE IF NOT EXISTS evidence_checkpoints (
	size INTEGER PRIMARY KEY,
	note BLOB NOT NULL
);
CREATE TRIGGER IF NOT EXISTS evidence_records_no_update BEFORE UPDATE ON evidence_records
	BEGIN SELECT RAISE(ABORT, 'evidence is append-only'); END;
CREATE TRIGGER IF NOT EXISTS evidence_records_no_delete BEFORE DELETE ON evidence_records
	BEGIN SELECT RAISE(ABORT, 'evidence is append-only'); END;
CREATE TRIGGER IF NOT EXISTS evidence_checkpoints_no_update BEFORE UPDATE ON evidence_checkpoints
	BEGIN SELECT RAISE(ABORT, 'evidence is append-only'); END;
CREATE TRIGGER IF NOT EXISTS evidence_checkpoints_no_delete BEFORE DELETE ON evidence_checkpoints
	BEGIN SELECT RAISE(ABORT, 'evidence is append-only'); END;
`

// Open opens (creating if needed) the database at cfg.Path.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Path == "" {
		return nil, &jose.Error{Code: jose.PolicyInvalid, Detail: "sqlitestore: Config.Path is required"}
	}
	if cfg.BusyTimeout <= 0 {
		cfg.BusyTimeout = 10 * time.Second
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o700); err != nil {
		return nil, evidence.UnavailableError(err, "creating the directory of %s", cfg.Path)
	}
	if f, err := os.OpenFile(cfg.Path, os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, evidence.UnavailableError(err, "opening %s", cfg.Path)
	} else {
		f.Close()
	}
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(cfg.BusyTimeout.Milliseconds()))
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_txlock", "immediate")
	q.Add("_pragma", "foreign_keys(0)")
	// Larger pages: fewer B-tree splits and WAL frames per record (takes
	// effect when the file is created).
	q.Add("_pragma", "page_size(16384)")
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Add("_pragma", "temp_store(MEMORY)")
	file := "file:" + (&url.URL{Path: cfg.Path}).EscapedPath() + "?"
	w, err := sql.Open("sqlite", file+q.Encode())
	if err != nil {
		return nil, evidence.UnavailableError(err, "opening %s", cfg.Path)
	}
	if cfg.MaxSizeBytes > 0 {
		// The cap is a page count (max_page_count, set on every new
		// connection), so it needs the file's page size, fixed when the
		// schema is first written.
		if _, err := w.ExecContext(ctx, schema); err != nil {
			w.Close()
			return nil, (&Store{path: cfg.Path}).err(err, "creating the evidence schema in %s", cfg.Path)
		}
		var pageSize int64
		if err := w.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil || pageSize <= 0 {
			w.Close()
			return nil, evidence.UnavailableError(err, "reading the page size of %s", cfg.Path)
		}
		w.Close()
		q.Add("_pragma", fmt.Sprintf("max_page_count(%d)", max(cfg.MaxSizeBytes/pageSize, 16)))
		if w, err = sql.Open("sqlite", file+q.Encode()); err != nil {
			return nil, evidence.UnavailableError(err, "opening %s", cfg.Path)
		}
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	rq := url.Values{}
	rq.Set("_busy_timeout", fmt.Sprint(cfg.BusyTimeout.Milliseconds()))
	rq.Set("_query_only", "1")
	r, err := sql.Open("sqlite", "file:"+(&url.URL{Path: cfg.Path}).EscapedPath()+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, evidence.UnavailableError(err, "opening %s", cfg.Path)
	}
	r.SetMaxOpenConns(4)
	s := &Store{w: w, r: r, path: cfg.Path}
	if _, err := w.ExecContext(ctx, schema); err != nil {
		s.Close()
		return nil, s.err(err, "creating the evidence schema in %s", cfg.Path)
	}
	for k, n := range insertRows {
		if s.ins[k], err = w.PrepareContext(ctx, insertSQL(n)); err != nil {
			s.Close()
			return nil, s.err(err, "preparing statements")
		}
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	for _, st := range s.ins {
		if st != nil {
			st.Close()
		}
	}
	err := s.w.Close()
	if rerr := s.r.Close(); err == nil {
		err = rerr
	}
	return err
}

// err wraps a database error as Unavailable, naming a full database.
func (s *Store) err(err error, format string, args ...any) error {
	if jose.CodeOf(err) != "" {
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_FULL:
			return evidence.UnavailableError(err, "the evidence database %s is full: "+format, append([]any{s.path}, args...)...)
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return evidence.UnavailableError(err, "the evidence database %s is locked by another writer: "+format, append([]any{s.path}, args...)...)
		}
	}
	return evidence.UnavailableError(err, format, args...)
}

// Init implements evidence.Store.
func (s *Store) Init(ctx context.Context, origin string) (string, error) {
	if origin == "" {
		var stored string
		err := s.r.QueryRowContext(ctx, `SELECT value FROM evidence_meta WHERE name = 'origin'`).Scan(&stored)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return "", s.err(err, "reading the log's origin")
		}
		return stored, nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return "", s.err(err, "initializing the log")
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO evidence_meta (name, value) VALUES ('origin', ?) ON CONFLICT (name) DO NOTHING`, origin); err != nil {
		return "", s.err(err, "initializing the log")
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO evidence_head (id, size, root) VALUES (1, 0, ?) ON CONFLICT (id) DO NOTHING`, evidence.EmptyRoot[:]); err != nil {
		return "", s.err(err, "initializing the log")
	}
	var stored string
	if err := tx.QueryRowContext(ctx, `SELECT value FROM evidence_meta WHERE name = 'origin'`).Scan(&stored); err != nil {
		return "", s.err(err, "initializing the log")
	}
	if err := tx.Commit(); err != nil {
		return "", s.err(err, "initializing the log")
	}
	return stored, nil
}

// AddVerifierKey implements evidence.Store.
func (s *Store) AddVerifierKey(ctx context.Context, vkey string) error {
	if _, err := s.w.ExecContext(ctx, `INSERT INTO evidence_keys (vkey) VALUES (?) ON CONFLICT (vkey) DO NOTHING`, vkey); err != nil {
		return s.err(err, "recording the log key")
	}
	return nil
}

// VerifierKeys implements evidence.Store.
func (s *Store) VerifierKeys(ctx context.Context) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT vkey FROM evidence_keys ORDER BY id`)
	if err != nil {
		return nil, s.err(err, "reading the log keys")
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, s.err(err, "reading the log keys")
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, s.err(err, "reading the log keys")
	}
	return out, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func head(ctx context.Context, q querier) (evidence.Tree, error) {
	var t evidence.Tree
	var root []byte
	err := q.QueryRowContext(ctx, `SELECT size, root FROM evidence_head WHERE id = 1`).Scan(&t.Size, &root)
	if errors.Is(err, sql.ErrNoRows) {
		return evidence.Tree{Root: evidence.EmptyRoot}, nil
	}
	if err != nil {
		return t, err
	}
	if len(root) != tlog.HashSize {
		return t, &jose.Error{Code: evidence.LogInconsistent, Detail: fmt.Sprintf("the stored tree head's root is %d bytes", len(root))}
	}
	copy(t.Root[:], root)
	return t, nil
}

// Head implements evidence.Store.
func (s *Store) Head(ctx context.Context) (evidence.Tree, error) {
	t, err := head(ctx, s.r)
	if err != nil {
		return t, s.err(err, "reading the tree head")
	}
	return t, nil
}

// readHashes reads stored tree hashes: each record keeps the hashes
// written with it (evidence.HashLocation).
func readHashes(ctx context.Context, q querier, indexes []int64) ([]tlog.Hash, error) {
	return evidence.ReadPackedHashes(indexes, func(recs []int64) (map[int64][]byte, error) {
		var sb strings.Builder
		sb.WriteString(`SELECT idx, hashes FROM evidence_records WHERE idx IN (`)
		args := make([]any, len(recs))
		for i, n := range recs {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteByte('?')
			args[i] = n
		}
		sb.WriteByte(')')
		rows, err := q.QueryContext(ctx, sb.String(), args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := make(map[int64][]byte, len(recs))
		for rows.Next() {
			var n int64
			var h []byte
			if err := rows.Scan(&n, &h); err != nil {
				return nil, err
			}
			out[n] = h
		}
		return out, rows.Err()
	})
}

// ReadHashes implements evidence.Store.
func (s *Store) ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	hs, err := readHashes(ctx, s.r, indexes)
	if err != nil {
		return nil, s.err(err, "reading tree hashes")
	}
	return hs, nil
}

type txHashes struct {
	ctx context.Context
	tx  *sql.Tx
}

func (h txHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	return readHashes(h.ctx, h.tx, indexes)
}

// Integrate implements evidence.Store.
func (s *Store) Integrate(ctx context.Context, fn evidence.IntegrateFunc) error {
	tx, err := s.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the write lock
	if err != nil {
		return s.err(err, "beginning an append")
	}
	defer tx.Rollback()
	h, err := head(ctx, tx)
	if err != nil {
		return s.err(err, "reading the tree head")
	}
	b, err := fn(h, txHashes{ctx, tx})
	if err != nil {
		return s.err(err, "preparing the batch")
	}
	if err := evidence.CheckBatch(h, b); err != nil {
		return err
	}
	args := make([]any, 0, insertRows[0]*insertCols)
	for lo := 0; lo < len(b.Leaves); {
		k := 0
		for insertRows[k] > len(b.Leaves)-lo {
			k++
		}
		hi := lo + insertRows[k]
		args = args[:0]
		for i := lo; i < hi; i++ {
			l := &b.Leaves[i]
			body := l.Body
			if body == nil {
				body = []byte{}
			}
			args = append(args, l.Index, l.Received.UnixNano(), string(l.Direction), string(l.Kind),
				l.Partner, l.Profile, l.Method, l.Path, l.Kid, string(l.Verdict), string(l.Code), l.ReplayID,
				l.Entry, body, evidence.PackHashes(b.LeafHashes(i)))
		}
		if _, err := tx.StmtContext(ctx, s.ins[k]).ExecContext(ctx, args...); err != nil {
			return s.err(err, "appending records %d to %d", b.Leaves[lo].Index, b.Leaves[hi-1].Index)
		}
		lo = hi
	}
	if _, err := tx.ExecContext(ctx, `UPDATE evidence_head SET size = ?, root = ? WHERE id = 1`, b.Head.Size, b.Head.Root[:]); err != nil {
		return s.err(err, "updating the tree head")
	}
	if b.Checkpoint != nil {
		if _, err := tx.ExecContext(ctx, `INSERT INTO evidence_checkpoints (size, note) VALUES (?, ?) ON CONFLICT (size) DO NOTHING`, b.Head.Size, b.Checkpoint); err != nil {
			return s.err(err, "storing the checkpoint")
		}
	}
	if err := tx.Commit(); err != nil {
		return s.err(err, "committing %d records", len(b.Leaves))
	}
	return nil
}

const leafColumns = `idx, received, direction, kind, partner, profile, method, path, kid, verdict, code, replay_id`

func scanSummary(sc interface{ Scan(...any) error }, extra ...any) (evidence.Summary, error) {
	var m evidence.Summary
	var ns int64
	var dir, kind, verdict, code string
	dest := append([]any{&m.Index, &ns, &dir, &kind, &m.Partner, &m.Profile, &m.Method, &m.Path, &m.Kid, &verdict, &code, &m.ReplayID}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return m, err
	}
	m.Received = time.Unix(0, ns).UTC()
	m.Direction, m.Kind, m.Verdict, m.Code = evidence.Direction(dir), evidence.Kind(kind), evidence.Verdict(verdict), jose.Code(code)
	return m, nil
}

// Leaf implements evidence.Store.
func (s *Store) Leaf(ctx context.Context, index int64) (*evidence.Leaf, error) {
	var l evidence.Leaf
	var err error
	l.Summary, err = scanSummary(s.r.QueryRowContext(ctx, `SELECT `+leafColumns+`, entry, body FROM evidence_records WHERE idx = ?`, index), &l.Entry, &l.Body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &jose.Error{Code: evidence.RecordNotFound, Detail: fmt.Sprintf("no record %d", index)}
	}
	if err != nil {
		return nil, s.err(err, "reading record %d", index)
	}
	return &l, nil
}

// Leaves implements evidence.Store.
func (s *Store) Leaves(ctx context.Context, start int64, fn func(*evidence.Leaf) error) error {
	const chunk = 1000
	for {
		rows, err := s.r.QueryContext(ctx, `SELECT `+leafColumns+`, entry, body FROM evidence_records WHERE idx >= ? ORDER BY idx LIMIT ?`, start, chunk)
		if err != nil {
			return s.err(err, "reading records from %d", start)
		}
		n := 0
		for rows.Next() {
			var l evidence.Leaf
			if l.Summary, err = scanSummary(rows, &l.Entry, &l.Body); err != nil {
				rows.Close()
				return s.err(err, "reading records from %d", start)
			}
			n++
			start = l.Index + 1
			if err := fn(&l); err != nil {
				rows.Close()
				return err
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return s.err(err, "reading records")
		}
		if n < chunk {
			return nil
		}
	}
}

// Search implements evidence.Store.
func (s *Store) Search(ctx context.Context, q evidence.Query) ([]evidence.Summary, error) {
	where, args := q.SQL(func(int) string { return "?" })
	rows, err := s.r.QueryContext(ctx, `SELECT `+leafColumns+` FROM evidence_records WHERE `+where+` ORDER BY idx LIMIT ?`, args...)
	if err != nil {
		return nil, s.err(err, "searching records")
	}
	defer rows.Close()
	var out []evidence.Summary
	for rows.Next() {
		m, err := scanSummary(rows)
		if err != nil {
			return nil, s.err(err, "searching records")
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, s.err(err, "searching records")
	}
	return out, nil
}

// AddCheckpoint implements evidence.Store.
func (s *Store) AddCheckpoint(ctx context.Context, size int64, note []byte) error {
	if _, err := s.w.ExecContext(ctx, `INSERT INTO evidence_checkpoints (size, note) VALUES (?, ?) ON CONFLICT (size) DO NOTHING`, size, note); err != nil {
		return s.err(err, "storing the checkpoint of size %d", size)
	}
	return nil
}

// Checkpoint implements evidence.Store.
func (s *Store) Checkpoint(ctx context.Context, size int64) (int64, []byte, error) {
	var row *sql.Row
	if size < 0 {
		row = s.r.QueryRowContext(ctx, `SELECT size, note FROM evidence_checkpoints ORDER BY size DESC LIMIT 1`)
	} else {
		row = s.r.QueryRowContext(ctx, `SELECT size, note FROM evidence_checkpoints WHERE size = ?`, size)
	}
	var n int64
	var note []byte
	err := row.Scan(&n, &note)
	if errors.Is(err, sql.ErrNoRows) {
		if size < 0 {
			return 0, nil, &jose.Error{Code: evidence.RecordNotFound, Detail: "the log has no checkpoint yet"}
		}
		return 0, nil, &jose.Error{Code: evidence.RecordNotFound, Detail: fmt.Sprintf("no checkpoint of size %d", size)}
	}
	if err != nil {
		return 0, nil, s.err(err, "reading a checkpoint")
	}
	return n, note, nil
}

// Checkpoints implements evidence.Store.
func (s *Store) Checkpoints(ctx context.Context, fn func(size int64, note []byte) error) error {
	rows, err := s.r.QueryContext(ctx, `SELECT size, note FROM evidence_checkpoints ORDER BY size`)
	if err != nil {
		return s.err(err, "reading checkpoints")
	}
	defer rows.Close()
	for rows.Next() {
		var n int64
		var note []byte
		if err := rows.Scan(&n, &note); err != nil {
			return s.err(err, "reading checkpoints")
		}
		if err := fn(n, note); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.err(err, "reading checkpoints")
	}
	return nil
}
