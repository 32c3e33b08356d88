// Package pgstore is the PostgreSQL evidence.Store (pgx), for several
// nonrep instances sharing one log.
//
// # Sequencing
//
// Every append transaction takes a transaction-scoped advisory lock
// (pg_advisory_xact_lock, keyed by the schema) and then reads the tree
// head: one integrator at a time, whichever instance it runs in, always
// extending the tree that the previous commit left. The lock is released
// by COMMIT or ROLLBACK, so a crashed instance never holds it. Each
// instance batches its concurrent appends into one transaction (group
// commit in evidence.Log), and records and hashes go in with COPY.
//
// # Durability
//
// Connections set synchronous_commit=on: COMMIT returns only after the
// WAL is flushed on the server, whatever the server's default.
//
// The records, tree hashes and checkpoints tables refuse UPDATE, DELETE
// and TRUNCATE through triggers; tampering by someone who can drop them is
// detected by evidence.Check and by checkpoints held elsewhere.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/nonrep/nonrep/evidence"
	"github.com/nonrep/nonrep/jose"
)

// Config configures a Store.
type Config struct {
	// DSN is a libpq connection string or URL. Tables are created in the
	// connection's current schema (search_path).
	DSN string
	// MaxConns caps the pool (default 8).
	MaxConns int32
}

// Store is an evidence.Store in PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
}

var _ evidence.Store = (*Store)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS evidence_meta (
	name  text PRIMARY KEY,
	value text NOT NULL
);
CREATE TABLE IF NOT EXISTS evidence_keys (
	id   bigserial PRIMARY KEY,
	vkey text NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS evidence_head (
	id   int PRIMARY KEY CHECK (id = 1),
	size bigint NOT NULL,
	root bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS evidence_records (
	idx       bigint PRIMARY KEY,
	received  bigint NOT NULL,
	direction text NOT NULL,
	kind      text NOT NULL,
	partner   text NOT NULL,
	profile   text NOT NULL,
	method    text NOT NULL,
	path      text NOT NULL,
	kid       text NOT NULL,
	verdict   text NOT NULL,
	code      text NOT NULL,
	replay_id text NOT NULL,
	entry     bytea NOT NULL,
	body      bytea NOT NULL,
	hashes    bytea NOT NULL
);
CREATE INDEX IF NOT EXISTS evidence_records_partner ON evidence_records (partner, received);
CREATE INDEX IF NOT EXISTS evidence_records_received ON evidence_records (received);
CREATE INDEX IF NOT EXISTS evidence_records_kid ON evidence_records (kid) WHERE kid <> '';
CREATE INDEX IF NOT EXISTS evidence_records_replay ON evidence_records (replay_id) WHERE replay_id <> '';
CREATE TABLE IF NOT EXISTS evidence_checkpoints (
	size bigint PRIMARY KEY,
	note bytea NOT NULL
);
CREATE OR REPLACE FUNCTION evidence_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'evidence is append-only';
END $$;
DO $$
DECLARE t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['evidence_records', 'evidence_checkpoints'] LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = t || '_append_only'
				AND tgrelid = (quote_ident(current_schema()) || '.' || t)::regclass) THEN
			EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION evidence_append_only()', t || '_append_only', t);
			EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION evidence_append_only()', t || '_no_truncate', t);
		END IF;
	END LOOP;
END $$;
`

// lockKey is the advisory lock of the log in the current schema.
const lockKey = `hashtextextended(current_schema() || '.nonrep.evidence', 0)`

// Open connects and creates the tables if needed.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	pc, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, &jose.Error{Code: jose.PolicyInvalid, Detail: "pgstore: the DSN does not parse", Err: err}
	}
	pc.MaxConns = cfg.MaxConns
	if pc.MaxConns <= 0 {
		pc.MaxConns = 8
	}
	pc.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, evidence.UnavailableError(err, "connecting to PostgreSQL")
	}
	s := &Store{pool: pool}
	// Creating the schema races with other instances doing the same:
	// serialize on the log's lock.
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+lockKey+`)`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, schema)
		return err
	})
	if err != nil {
		pool.Close()
		return nil, wrap(err, "creating the evidence schema")
	}
	return s, nil
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

func wrap(err error, format string, args ...any) error {
	if jose.CodeOf(err) != "" {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "53100" {
		return evidence.UnavailableError(err, "the database disk is full: "+format, args...)
	}
	return evidence.UnavailableError(err, format, args...)
}

// Init implements evidence.Store.
func (s *Store) Init(ctx context.Context, origin string) (string, error) {
	var stored string
	if origin == "" {
		err := s.pool.QueryRow(ctx, `SELECT value FROM evidence_meta WHERE name = 'origin'`).Scan(&stored)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return "", wrap(err, "reading the log's origin")
		}
		return stored, nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO evidence_meta (name, value) VALUES ('origin', $1) ON CONFLICT (name) DO NOTHING`, origin); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO evidence_head (id, size, root) VALUES (1, 0, $1) ON CONFLICT (id) DO NOTHING`, evidence.EmptyRoot[:]); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT value FROM evidence_meta WHERE name = 'origin'`).Scan(&stored)
	})
	if err != nil {
		return "", wrap(err, "initializing the log")
	}
	return stored, nil
}

// AddVerifierKey implements evidence.Store.
func (s *Store) AddVerifierKey(ctx context.Context, vkey string) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO evidence_keys (vkey) VALUES ($1) ON CONFLICT (vkey) DO NOTHING`, vkey); err != nil {
		return wrap(err, "recording the log key")
	}
	return nil
}

// VerifierKeys implements evidence.Store.
func (s *Store) VerifierKeys(ctx context.Context) ([]string, error) {
	rows, _ := s.pool.Query(ctx, `SELECT vkey FROM evidence_keys ORDER BY id`)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrap(err, "reading the log keys")
	}
	return out, nil
}

func head(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, lock bool) (evidence.Tree, error) {
	var t evidence.Tree
	var root []byte
	sql := `SELECT size, root FROM evidence_head WHERE id = 1`
	if lock {
		sql += ` FOR UPDATE`
	}
	err := q.QueryRow(ctx, sql).Scan(&t.Size, &root)
	if errors.Is(err, pgx.ErrNoRows) {
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
	t, err := head(ctx, s.pool, false)
	if err != nil {
		return t, wrap(err, "reading the tree head")
	}
	return t, nil
}

type queryer interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}

// readHashes reads stored tree hashes: each record keeps the hashes
// written with it (evidence.HashLocation).
func readHashes(ctx context.Context, q queryer, indexes []int64) ([]tlog.Hash, error) {
	return evidence.ReadPackedHashes(indexes, func(recs []int64) (map[int64][]byte, error) {
		rows, err := q.Query(ctx, `SELECT idx, hashes FROM evidence_records WHERE idx = ANY($1)`, recs)
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
	hs, err := readHashes(ctx, s.pool, indexes)
	if err != nil {
		return nil, wrap(err, "reading tree hashes")
	}
	return hs, nil
}

type txHashes struct {
	ctx  context.Context
	conn *pgx.Conn
}

func (h txHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	return readHashes(h.ctx, h.conn, indexes)
}

var recordColumns = []string{"idx", "received", "direction", "kind", "partner", "profile", "method", "path", "kid", "verdict", "code", "replay_id", "entry", "body", "hashes"}

// Integrate implements evidence.Store. It costs three round trips: BEGIN,
// the lock and the head in one pipeline; COPY; the head, the checkpoint
// and COMMIT in another.
func (s *Store) Integrate(ctx context.Context, fn evidence.IntegrateFunc) (err error) {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return wrap(err, "connecting to append")
	}
	conn := c.Conn()
	open := false
	defer func() {
		if open {
			// Roll back; a connection that cannot is not reused.
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if _, rerr := conn.Exec(rctx, "ROLLBACK"); rerr != nil {
				conn.Close(rctx)
			}
			cancel()
		}
		c.Release()
	}()
	var h evidence.Tree
	var root []byte
	var first pgx.Batch
	first.Queue(`BEGIN`)
	first.Queue(`SELECT pg_advisory_xact_lock(` + lockKey + `)`)
	first.Queue(`SELECT size, root FROM evidence_head WHERE id = 1 FOR UPDATE`).QueryRow(func(r pgx.Row) error {
		return r.Scan(&h.Size, &root)
	})
	open = true
	if err := conn.SendBatch(ctx, &first).Close(); err != nil {
		return wrap(err, "taking the log's write lock")
	}
	if len(root) != tlog.HashSize {
		return &jose.Error{Code: evidence.LogInconsistent, Detail: fmt.Sprintf("the stored tree head's root is %d bytes", len(root))}
	}
	copy(h.Root[:], root)
	b, err := fn(h, txHashes{ctx, conn})
	if err != nil {
		return wrap(err, "preparing the batch")
	}
	if err := evidence.CheckBatch(h, b); err != nil {
		return err
	}
	rows := make([][]any, len(b.Leaves))
	for i := range b.Leaves {
		l := &b.Leaves[i]
		body := l.Body
		if body == nil {
			body = []byte{}
		}
		rows[i] = []any{l.Index, l.Received.UnixNano(), string(l.Direction), string(l.Kind), l.Partner, l.Profile,
			l.Method, l.Path, l.Kid, string(l.Verdict), string(l.Code), l.ReplayID, l.Entry, body,
			evidence.PackHashes(b.LeafHashes(i))}
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"evidence_records"}, recordColumns, pgx.CopyFromRows(rows)); err != nil {
		return wrap(err, "appending %d records", len(rows))
	}
	var last pgx.Batch
	last.Queue(`UPDATE evidence_head SET size = $1, root = $2 WHERE id = 1`, b.Head.Size, b.Head.Root[:])
	if b.Checkpoint != nil {
		last.Queue(`INSERT INTO evidence_checkpoints (size, note) VALUES ($1, $2) ON CONFLICT (size) DO NOTHING`, b.Head.Size, b.Checkpoint)
	}
	last.Queue(`COMMIT`)
	err = conn.SendBatch(ctx, &last).Close()
	open = false
	if err != nil {
		// The outcome of a COMMIT whose answer was lost is unknown: the
		// caller was not told it succeeded, and a connection in doubt is
		// not reused.
		conn.Close(context.Background())
		return wrap(err, "committing %d records", len(b.Leaves))
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
	l.Summary, err = scanSummary(s.pool.QueryRow(ctx, `SELECT `+leafColumns+`, entry, body FROM evidence_records WHERE idx = $1`, index), &l.Entry, &l.Body)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &jose.Error{Code: evidence.RecordNotFound, Detail: fmt.Sprintf("no record %d", index)}
	}
	if err != nil {
		return nil, wrap(err, "reading record %d", index)
	}
	return &l, nil
}

// Leaves implements evidence.Store.
func (s *Store) Leaves(ctx context.Context, start int64, fn func(*evidence.Leaf) error) error {
	const chunk = 256
	for {
		rows, err := s.pool.Query(ctx, `SELECT `+leafColumns+`, entry, body FROM evidence_records WHERE idx >= $1 ORDER BY idx LIMIT $2`, start, chunk)
		if err != nil {
			return wrap(err, "reading records from %d", start)
		}
		var leaves []*evidence.Leaf
		for rows.Next() {
			l := new(evidence.Leaf)
			if l.Summary, err = scanSummary(rows, &l.Entry, &l.Body); err != nil {
				rows.Close()
				return wrap(err, "reading records from %d", start)
			}
			leaves = append(leaves, l)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return wrap(err, "reading records from %d", start)
		}
		for _, l := range leaves {
			if err := fn(l); err != nil {
				return err
			}
			start = l.Index + 1
		}
		if len(leaves) < chunk {
			return nil
		}
	}
}

// Search implements evidence.Store.
func (s *Store) Search(ctx context.Context, q evidence.Query) ([]evidence.Summary, error) {
	where, args := q.SQL(func(n int) string { return "$" + strconv.Itoa(n) })
	rows, err := s.pool.Query(ctx, `SELECT `+leafColumns+` FROM evidence_records WHERE `+where+` ORDER BY idx LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, wrap(err, "searching records")
	}
	defer rows.Close()
	var out []evidence.Summary
	for rows.Next() {
		m, err := scanSummary(rows)
		if err != nil {
			return nil, wrap(err, "searching records")
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err, "searching records")
	}
	return out, nil
}

// AddCheckpoint implements evidence.Store.
func (s *Store) AddCheckpoint(ctx context.Context, size int64, note []byte) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO evidence_checkpoints (size, note) VALUES ($1, $2) ON CONFLICT (size) DO NOTHING`, size, note); err != nil {
		return wrap(err, "storing the checkpoint of size %d", size)
	}
	return nil
}

// Checkpoint implements evidence.Store.
func (s *Store) Checkpoint(ctx context.Context, size int64) (int64, []byte, error) {
	var row pgx.Row
	if size < 0 {
		row = s.pool.QueryRow(ctx, `SELECT size, note FROM evidence_checkpoints ORDER BY size DESC LIMIT 1`)
	} else {
		row = s.pool.QueryRow(ctx, `SELECT size, note FROM evidence_checkpoints WHERE size = $1`, size)
	}
	var n int64
	var note []byte
	err := row.Scan(&n, &note)
	if errors.Is(err, pgx.ErrNoRows) {
		if size < 0 {
			return 0, nil, &jose.Error{Code: evidence.RecordNotFound, Detail: "the log has no checkpoint yet"}
		}
		return 0, nil, &jose.Error{Code: evidence.RecordNotFound, Detail: fmt.Sprintf("no checkpoint of size %d", size)}
	}
	if err != nil {
		return 0, nil, wrap(err, "reading a checkpoint")
	}
	return n, note, nil
}

// Checkpoints implements evidence.Store.
func (s *Store) Checkpoints(ctx context.Context, fn func(size int64, note []byte) error) error {
	var after int64 = -1
	for {
		rows, err := s.pool.Query(ctx, `SELECT size, note FROM evidence_checkpoints WHERE size > $1 ORDER BY size LIMIT 1000`, after)
		if err != nil {
			return wrap(err, "reading checkpoints")
		}
		type cp struct {
			size int64
			note []byte
		}
		var cps []cp
		for rows.Next() {
			var c cp
			if err := rows.Scan(&c.size, &c.note); err != nil {
				rows.Close()
				return wrap(err, "reading checkpoints")
			}
			cps = append(cps, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return wrap(err, "reading checkpoints")
		}
		for _, c := range cps {
			if err := fn(c.size, c.note); err != nil {
				return err
			}
			after = c.size
		}
		if len(cps) < 1000 {
			return nil
		}
	}
}
