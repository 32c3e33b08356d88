// Package sqlkeys is the keys.Store both SQL backends share: the queries,
// the lifecycle checks and the mapping of rows to keys. A backend supplies
// its driver's *sql.DB and a Dialect (schema, placeholders, how its driver
// reports a unique violation).
package sqlkeys

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nonrep/nonrep/internal/sqldb"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/keys"
)

// Dialect is what differs between SQL backends.
type Dialect struct {
	// Name appears in error details ("sqlite", "postgres").
	Name string
	// Schema holds the statements creating the tables and indexes, each
	// idempotent (IF NOT EXISTS); run in one transaction at Open.
	Schema []string
	// Lock, if set, runs first in the schema transaction (PostgreSQL: an
	// advisory lock, so that two processes starting together do not race).
	Lock string
	// Dollar makes placeholders $1, $2, … instead of ?.
	Dollar bool
	// IsUnique reports whether err is a unique-constraint violation.
	IsUnique func(error) bool
}

// Store is a keys.Store over database/sql.
type Store struct {
	db *sql.DB
	d  Dialect
}

var _ keys.Store = (*Store)(nil)

// New creates the schema if needed and returns the store. It owns db.
func New(ctx context.Context, db *sql.DB, d Dialect) (*Store, error) {
	s := &Store{db: db, d: d}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if d.Lock != "" {
			if _, err := tx.ExecContext(ctx, d.Lock); err != nil {
				return err
			}
		}
		for _, q := range d.Schema {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", firstLine(q), err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, keys.Unavailable(err, d.Name+": creating the schema failed")
	}
	return s, nil
}

func firstLine(q string) string {
	q = strings.TrimSpace(q)
	if i := strings.IndexByte(q, '\n'); i > 0 {
		return q[:i]
	}
	return q
}

// DB returns the underlying database (for tests).
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// q rewrites ? placeholders for the dialect. Queries here never hold a
// literal '?'.
func (s *Store) q(query string) string {
	if !s.d.Dollar {
		return query
	}
	return sqldb.Dollar(query)
}

func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (s *Store) unavailable(err error, what string) error {
	var je *jose.Error
	if errors.As(err, &je) {
		return err // already a verdict
	}
	return keys.Unavailable(err, s.d.Name+": "+what)
}

// micros stores a time as Unix microseconds, the zero time as 0.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// stateColumn is the timestamp column of each state. The names are
// constants, never input.
var stateColumn = map[keys.State]string{
	keys.Pending:  "published_us",
	keys.Active:   "activated_us",
	keys.Retiring: "retiring_us",
	keys.Retired:  "retired_us",
	keys.Revoked:  "revoked_us",
}

const keyColumns = `kid, purpose, alg, jwk, signer_ref, state, published_us, activated_us, retiring_us, retired_us, revoked_us`

type scanner interface{ Scan(...any) error }

func scanKey(row scanner) (*keys.Key, error) {
	var k keys.Key
	var alg, jwk, state string
	var pub, act, ret, red, rev int64
	if err := row.Scan(&k.Kid, &k.Purpose, &alg, &jwk, &k.SignerRef, &state, &pub, &act, &ret, &red, &rev); err != nil {
		return nil, err
	}
	pk, err := jose.ParseJWK([]byte(jwk))
	if err != nil {
		return nil, fmt.Errorf("stored JWK of %q does not parse: %w", k.Kid, err)
	}
	k.Alg, k.Public, k.State = jose.Alg(alg), pk, keys.State(state)
	k.Published, k.Activated, k.RetiringSince, k.Retired, k.Revoked = fromMicros(pub), fromMicros(act), fromMicros(ret), fromMicros(red), fromMicros(rev)
	return &k, nil
}

// CreateKey implements keys.Store.
func (s *Store) CreateKey(ctx context.Context, k *keys.Key, t keys.Transition) error {
	if err := keys.ValidateKey(k); err != nil {
		return err
	}
	if k.State != keys.Pending || t.Kid != k.Kid || t.From != "" || t.To != keys.Pending {
		return &jose.Error{Code: keys.TransitionInvalid, Detail: fmt.Sprintf("key %q: a new key starts pending", k.Kid)}
	}
	jwk, err := k.Public.MarshalJSON()
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO nonrep_keys (`+keyColumns+`, thumbprint) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, 0, 0, ?)`),
			k.Kid, k.Purpose, string(k.Alg), string(jwk), k.SignerRef, string(k.State), micros(k.Published), k.Thumbprint())
		if err != nil {
			if s.d.IsUnique(err) {
				return &jose.Error{Code: keys.KeyExists, Detail: fmt.Sprintf("a key with kid %q or the same public key is already registered", k.Kid)}
			}
			return err
		}
		return s.insertTransition(ctx, tx, t)
	})
	if err != nil {
		return s.unavailable(err, "creating a key failed")
	}
	return nil
}

func (s *Store) insertTransition(ctx context.Context, tx *sql.Tx, t keys.Transition) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO nonrep_key_transitions (kid, from_state, to_state, at_us, actor, reason) VALUES (?, ?, ?, ?, ?, ?)`),
		t.Kid, string(t.From), string(t.To), micros(t.At), t.Actor, t.Reason)
	return err
}

// Key implements keys.Store.
func (s *Store) Key(ctx context.Context, kid string) (*keys.Key, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, s.q(`SELECT `+keyColumns+` FROM nonrep_keys WHERE kid = ?`), kid))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &jose.Error{Code: keys.KeyNotFound, Detail: fmt.Sprintf("no key with kid %q", kid)}
	}
	if err != nil {
		return nil, s.unavailable(err, "reading a key failed")
	}
	return k, nil
}

// Keys implements keys.Store.
func (s *Store) Keys(ctx context.Context) ([]*keys.Key, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+keyColumns+` FROM nonrep_keys ORDER BY published_us, kid`)
	if err != nil {
		return nil, s.unavailable(err, "listing keys failed")
	}
	defer rows.Close()
	var out []*keys.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, s.unavailable(err, "listing keys failed")
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, s.unavailable(err, "listing keys failed")
	}
	return out, nil
}

// Apply implements keys.Store.
func (s *Store) Apply(ctx context.Context, ts ...keys.Transition) error {
	for _, t := range ts {
		if !t.From.CanBecome(t.To) {
			return &jose.Error{Code: keys.TransitionInvalid, Detail: fmt.Sprintf("key %q: %s → %s is not a lifecycle transition", t.Kid, t.From, t.To)}
		}
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, t := range ts {
			res, err := tx.ExecContext(ctx, s.q(`UPDATE nonrep_keys SET state = ?, `+stateColumn[t.To]+` = ? WHERE kid = ? AND state = ?`),
				string(t.To), micros(t.At), t.Kid, string(t.From))
			if err != nil {
				if s.d.IsUnique(err) {
					return &jose.Error{Code: keys.TransitionInvalid, Detail: fmt.Sprintf("key %q cannot become active: another key of its purpose is active", t.Kid)}
				}
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n == 0 {
				var state string
				err := tx.QueryRowContext(ctx, s.q(`SELECT state FROM nonrep_keys WHERE kid = ?`), t.Kid).Scan(&state)
				if errors.Is(err, sql.ErrNoRows) {
					return &jose.Error{Code: keys.KeyNotFound, Detail: fmt.Sprintf("no key with kid %q", t.Kid)}
				}
				if err != nil {
					return err
				}
				return &jose.Error{Code: keys.TransitionInvalid, Detail: fmt.Sprintf("key %q is %s, not %s (changed concurrently?)", t.Kid, state, t.From)}
			}
			if err := s.insertTransition(ctx, tx, t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return s.unavailable(err, "applying a transition failed")
	}
	return nil
}

// History implements keys.Store.
func (s *Store) History(ctx context.Context, kid string) ([]keys.Transition, error) {
	if _, err := s.Key(ctx, kid); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT kid, from_state, to_state, at_us, actor, reason FROM nonrep_key_transitions WHERE kid = ? ORDER BY seq`), kid)
	if err != nil {
		return nil, s.unavailable(err, "reading history failed")
	}
	defer rows.Close()
	var out []keys.Transition
	for rows.Next() {
		var t keys.Transition
		var from, to string
		var at int64
		if err := rows.Scan(&t.Kid, &from, &to, &at, &t.Actor, &t.Reason); err != nil {
			return nil, s.unavailable(err, "reading history failed")
		}
		t.From, t.To, t.At = keys.State(from), keys.State(to), fromMicros(at)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, s.unavailable(err, "reading history failed")
	}
	return out, nil
}

// partnerDoc is a partner's stored form.
type partnerDoc struct {
	Profile string             `json:"profile"`
	Algs    []jose.Alg         `json:"algs,omitempty"`
	Policy  keys.PartnerPolicy `json:"policy"`
	Keys    []json.RawMessage  `json:"keys,omitempty"`
	JWKSURL string             `json:"jwks_url,omitempty"`
}

// PutPartner implements keys.Store.
func (s *Store) PutPartner(ctx context.Context, p *keys.Partner) error {
	if err := keys.ValidatePartner(p); err != nil {
		return err
	}
	doc := partnerDoc{Profile: p.Profile, Algs: p.Algs, Policy: p.Policy, JWKSURL: p.JWKSURL}
	for _, k := range p.Keys {
		b, err := k.MarshalJSON()
		if err != nil {
			return err
		}
		doc.Keys = append(doc.Keys, b)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO nonrep_partners (name, doc, created_us, updated_us) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET doc = excluded.doc, updated_us = excluded.updated_us`),
		p.Name, string(b), micros(p.Created), micros(p.Updated))
	if err != nil {
		return s.unavailable(err, "storing a partner failed")
	}
	return nil
}

func scanPartner(row scanner) (*keys.Partner, error) {
	var p keys.Partner
	var doc string
	var created, updated int64
	if err := row.Scan(&p.Name, &doc, &created, &updated); err != nil {
		return nil, err
	}
	var d partnerDoc
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return nil, fmt.Errorf("stored partner %q does not parse: %w", p.Name, err)
	}
	p.Profile, p.Algs, p.Policy, p.JWKSURL = d.Profile, d.Algs, d.Policy, d.JWKSURL
	for i, raw := range d.Keys {
		k, err := jose.ParseJWK(raw)
		if err != nil {
			return nil, fmt.Errorf("stored partner %q key %d does not parse: %w", p.Name, i, err)
		}
		p.Keys = append(p.Keys, k)
	}
	p.Created, p.Updated = fromMicros(created), fromMicros(updated)
	return &p, nil
}

// Partner implements keys.Store.
func (s *Store) Partner(ctx context.Context, name string) (*keys.Partner, error) {
	p, err := scanPartner(s.db.QueryRowContext(ctx, s.q(`SELECT name, doc, created_us, updated_us FROM nonrep_partners WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &jose.Error{Code: keys.PartnerNotFound, Detail: fmt.Sprintf("no partner %q", name)}
	}
	if err != nil {
		return nil, s.unavailable(err, "reading a partner failed")
	}
	return p, nil
}

// Partners implements keys.Store.
func (s *Store) Partners(ctx context.Context) ([]*keys.Partner, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, doc, created_us, updated_us FROM nonrep_partners ORDER BY name`)
	if err != nil {
		return nil, s.unavailable(err, "listing partners failed")
	}
	defer rows.Close()
	var out []*keys.Partner
	for rows.Next() {
		p, err := scanPartner(rows)
		if err != nil {
			return nil, s.unavailable(err, "listing partners failed")
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, s.unavailable(err, "listing partners failed")
	}
	return out, nil
}

// DeletePartner implements keys.Store.
func (s *Store) DeletePartner(ctx context.Context, name string) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM nonrep_partners WHERE name = ?`), name)
	if err != nil {
		return s.unavailable(err, "deleting a partner failed")
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.unavailable(err, "deleting a partner failed")
	} else if n == 0 {
		return &jose.Error{Code: keys.PartnerNotFound, Detail: fmt.Sprintf("no partner %q", name)}
	}
	return nil
}

// AddRevocation implements keys.Store.
func (s *Store) AddRevocation(ctx context.Context, r keys.Revocation) error {
	if err := keys.ValidateRevocation(&r); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO nonrep_partner_revocations (partner, kid, thumbprint, at_us, actor, reason) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (partner, kid, thumbprint) DO NOTHING`),
		r.Partner, r.Kid, r.Thumbprint, micros(r.At), r.Actor, r.Reason)
	if err != nil {
		return s.unavailable(err, "recording a revocation failed")
	}
	return nil
}

// Revocations implements keys.Store.
func (s *Store) Revocations(ctx context.Context) ([]keys.Revocation, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT partner, kid, thumbprint, at_us, actor, reason FROM nonrep_partner_revocations ORDER BY seq`)
	if err != nil {
		return nil, s.unavailable(err, "listing revocations failed")
	}
	defer rows.Close()
	var out []keys.Revocation
	for rows.Next() {
		var r keys.Revocation
		var at int64
		if err := rows.Scan(&r.Partner, &r.Kid, &r.Thumbprint, &at, &r.Actor, &r.Reason); err != nil {
			return nil, s.unavailable(err, "listing revocations failed")
		}
		r.At = fromMicros(at)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.unavailable(err, "listing revocations failed")
	}
	return out, nil
}

// RecordEvent implements keys.Store.
func (s *Store) RecordEvent(ctx context.Context, e keys.Event) error {
	if e.Action == "" || e.Actor == "" {
		return &jose.Error{Code: keys.PartnerInvalid, Detail: "an event needs an action and an actor"}
	}
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO nonrep_key_events (at_us, actor, action, partner, kid, reason) VALUES (?, ?, ?, ?, ?, ?)`),
		micros(e.At), e.Actor, e.Action, e.Partner, e.Kid, e.Reason)
	if err != nil {
		return s.unavailable(err, "recording an event failed")
	}
	return nil
}

// Events implements keys.Store.
func (s *Store) Events(ctx context.Context, partner string) ([]keys.Event, error) {
	query, args := `SELECT at_us, actor, action, partner, kid, reason FROM nonrep_key_events ORDER BY seq`, []any(nil)
	if partner != "" {
		query, args = `SELECT at_us, actor, action, partner, kid, reason FROM nonrep_key_events WHERE partner = ? ORDER BY seq`, []any{partner}
	}
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, s.unavailable(err, "listing events failed")
	}
	defer rows.Close()
	var out []keys.Event
	for rows.Next() {
		var e keys.Event
		var at int64
		if err := rows.Scan(&at, &e.Actor, &e.Action, &e.Partner, &e.Kid, &e.Reason); err != nil {
			return nil, s.unavailable(err, "listing events failed")
		}
		e.At = fromMicros(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.unavailable(err, "listing events failed")
	}
	return out, nil
}

// Schema returns the common schema with the dialect's auto-increment
// column type (SQLite "INTEGER PRIMARY KEY AUTOINCREMENT", PostgreSQL
// "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY").
func Schema(serial string) []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS nonrep_keys (
			kid          TEXT PRIMARY KEY,
			purpose      TEXT NOT NULL,
			alg          TEXT NOT NULL,
			jwk          TEXT NOT NULL,
			thumbprint   TEXT NOT NULL UNIQUE,
			signer_ref   TEXT NOT NULL,
			state        TEXT NOT NULL,
			published_us BIGINT NOT NULL,
			activated_us BIGINT NOT NULL,
			retiring_us  BIGINT NOT NULL,
			retired_us   BIGINT NOT NULL,
			revoked_us   BIGINT NOT NULL
		)`,
		// One active key per purpose, whoever races.
		`CREATE UNIQUE INDEX IF NOT EXISTS nonrep_keys_one_active ON nonrep_keys (purpose) WHERE state = 'active'`,
		`CREATE TABLE IF NOT EXISTS nonrep_key_transitions (
			seq        ` + serial + `,
			kid        TEXT NOT NULL,
			from_state TEXT NOT NULL,
			to_state   TEXT NOT NULL,
			at_us      BIGINT NOT NULL,
			actor      TEXT NOT NULL,
			reason     TEXT NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS nonrep_key_transitions_kid ON nonrep_key_transitions (kid, seq)`,
		`CREATE TABLE IF NOT EXISTS nonrep_partners (
			name       TEXT PRIMARY KEY,
			doc        TEXT NOT NULL,
			created_us BIGINT NOT NULL,
			updated_us BIGINT NOT NULL
		)`,
		`CREATE TABLE IF NOT EXISTS nonrep_partner_revocations (
			seq        ` + serial + `,
			partner    TEXT NOT NULL,
			kid        TEXT NOT NULL,
			thumbprint TEXT NOT NULL,
			at_us      BIGINT NOT NULL,
			actor      TEXT NOT NULL,
			reason     TEXT NOT NULL,
			UNIQUE (partner, kid, thumbprint)
		)`,
		`CREATE TABLE IF NOT EXISTS nonrep_key_events (
			seq     ` + serial + `,
			at_us   BIGINT NOT NULL,
			actor   TEXT NOT NULL,
			action  TEXT NOT NULL,
			partner TEXT NOT NULL,
			kid     TEXT NOT NULL,
			reason  TEXT NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS nonrep_key_events_partner ON nonrep_key_events (partner, seq)`,
	}
}
