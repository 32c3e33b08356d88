// Package sqltx is the txsign.Store both SQL backends share: the schema,
// the queries and the mapping of rows. A backend supplies its driver's
// *sql.DB and a Dialect.
//
// Every state change is one conditional UPDATE (… WHERE status =
// 'pending', … WHERE last_poll + interval <= now, … WHERE failures < max),
// so that concurrent callers, in one process or many, cannot both win:
// the database serializes them on the row.
package sqltx

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nonrep/nonrep/internal/sqldb"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/txsign"
)

// Dialect is what differs between SQL backends.
type Dialect struct {
	// Name appears in error details ("sqlite", "postgres").
	Name string
	// Lock, if set, runs first in the schema transaction (PostgreSQL: an
	// advisory lock, so that two processes starting together do not race).
	Lock string
	// Dollar makes placeholders $1, $2, … instead of ?.
	Dollar bool
	// IsUnique reports whether err is a unique-constraint violation.
	IsUnique func(error) bool
}

// Schema is the tables and indexes, each statement idempotent. Times are
// microseconds since the Unix epoch (0 for none).
var Schema = []string{
	`CREATE TABLE IF NOT EXISTS txsign_challenges (
		id TEXT PRIMARY KEY,
		user_id TEXT NOT NULL,
		expires_at BIGINT NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS txsign_challenges_exp ON txsign_challenges (expires_at)`,
	`CREATE TABLE IF NOT EXISTS txsign_devices (
		id TEXT PRIMARY KEY,
		user_id TEXT NOT NULL,
		platform TEXT NOT NULL,
		metadata TEXT NOT NULL,
		push_url TEXT NOT NULL,
		jwk TEXT NOT NULL,
		thumbprint TEXT NOT NULL,
		attestation TEXT NOT NULL,
		status TEXT NOT NULL,
		enrolled_at BIGINT NOT NULL,
		revoked_at BIGINT NOT NULL,
		revoke_reason TEXT NOT NULL,
		evidence_ref TEXT NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS txsign_devices_user ON txsign_devices (user_id, enrolled_at)`,
	`CREATE INDEX IF NOT EXISTS txsign_devices_thumb ON txsign_devices (thumbprint)`,
	`CREATE TABLE IF NOT EXISTS txsign_device_keys (
		thumbprint TEXT PRIMARY KEY,
		device_id TEXT NOT NULL,
		added_at BIGINT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS txsign_pins (
		user_id TEXT PRIMARY KEY,
		hash TEXT NOT NULL,
		failures INTEGER NOT NULL,
		updated_at BIGINT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS txsign_requests (
		id TEXT PRIMARY KEY,
		client_id TEXT NOT NULL,
		idem_key TEXT,
		fingerprint TEXT NOT NULL,
		user_id TEXT NOT NULL,
		device_id TEXT NOT NULL,
		audience TEXT NOT NULL,
		details TEXT NOT NULL,
		tx_hash TEXT NOT NULL,
		binding_message TEXT NOT NULL,
		display_template TEXT NOT NULL,
		display_text TEXT NOT NULL,
		display_hash TEXT NOT NULL,
		nonce TEXT NOT NULL,
		require_pin INTEGER NOT NULL,
		created_at BIGINT NOT NULL,
		expires_at BIGINT NOT NULL,
		interval_us BIGINT NOT NULL,
		last_poll BIGINT NOT NULL,
		status TEXT NOT NULL,
		decision TEXT NOT NULL,
		evidence_ref TEXT NOT NULL,
		token_jti TEXT NOT NULL,
		token_issued_at BIGINT NOT NULL)`,
	`CREATE UNIQUE INDEX IF NOT EXISTS txsign_requests_idem ON txsign_requests (client_id, idem_key)`,
	`CREATE INDEX IF NOT EXISTS txsign_requests_user ON txsign_requests (user_id, status, expires_at)`,
	`CREATE TABLE IF NOT EXISTS txsign_deliveries (
		request_id TEXT NOT NULL,
		device_id TEXT NOT NULL,
		channel TEXT NOT NULL,
		delivered_at BIGINT NOT NULL,
		PRIMARY KEY (request_id, device_id, channel))`,
}

// Store is a txsign.Store over database/sql. Safe for concurrent use.
type Store struct {
	db *sql.DB
	d  Dialect
	// stmts caches prepared statements by query text: parsing SQL is a
	// large part of a request's cost on SQLite.
	stmts sync.Map // string → *sql.Stmt
	// missed holds queries first met inside a transaction: they are
	// prepared on the transaction's connection there, and on the database
	// once the transaction ends (preparing on the database while a
	// transaction holds the only connection, as with ":memory:", would
	// wait forever).
	missed sync.Map // string → struct{}
}

var _ txsign.Store = (*Store)(nil)

// New creates the schema if needed and returns the store. It owns db.
func New(ctx context.Context, db *sql.DB, d Dialect) (*Store, error) {
	s := &Store{db: db, d: d}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if d.Lock != "" {
			if _, err := tx.ExecContext(ctx, d.Lock); err != nil {
				return err
			}
		}
		for _, q := range Schema {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", strings.TrimSpace(strings.SplitN(q, "\n", 2)[0]), err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, txsign.Unavailable(err, d.Name+": creating the schema failed")
	}
	return s, nil
}

// DB returns the underlying database (for tests).
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the prepared statements and the database.
func (s *Store) Close() error {
	s.stmts.Range(func(_, v any) bool {
		v.(*sql.Stmt).Close()
		return true
	})
	return s.db.Close()
}

// stmt returns the prepared statement for query (already rewritten by q).
func (s *Store) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// execer runs statements on the database or in a transaction (tx nil
// for the database), through the statement cache.
type execer struct {
	s  *Store
	tx *sql.Tx
}

func (s *Store) on(tx *sql.Tx) execer { return execer{s, tx} }

func (e execer) prep(ctx context.Context, query string) (*sql.Stmt, error) {
	query = e.s.q(query)
	if e.tx == nil {
		return e.s.stmt(ctx, query)
	}
	if st, ok := e.s.stmts.Load(query); ok {
		return e.tx.StmtContext(ctx, st.(*sql.Stmt)), nil
	}
	e.s.missed.Store(query, struct{}{})
	return e.tx.PrepareContext(ctx, query)
}

func (e execer) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := e.prep(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (e execer) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := e.prep(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// row is *sql.Row that may carry a prepare error.
type row struct {
	r   *sql.Row
	err error
}

func (r row) Scan(dst ...any) error {
	if r.err != nil {
		return r.err
	}
	return r.r.Scan(dst...)
}

func (e execer) queryRow(ctx context.Context, query string, args ...any) row {
	st, err := e.prep(ctx, query)
	if err != nil {
		return row{err: err}
	}
	return row{r: st.QueryRowContext(ctx, args...)}
}

// q rewrites ? placeholders for the dialect. Queries here never hold a
// literal '?'.
func (s *Store) q(query string) string {
	if !s.d.Dollar {
		return query
	}
	return sqldb.Dollar(query)
}

// tx runs f in a transaction; a non-nil error rolls back.
func (s *Store) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer s.prepareMissed(ctx)
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// prepareMissed caches the statements first met inside a transaction.
func (s *Store) prepareMissed(ctx context.Context) {
	s.missed.Range(func(k, _ any) bool {
		s.missed.Delete(k)
		s.stmt(ctx, k.(string))
		return true
	})
}

// fail maps a driver error: a *jose.Error passes through (a decision made
// inside a transaction), anything else is StoreUnavailable.
func (s *Store) fail(err error, what string) error {
	var je *jose.Error
	if errors.As(err, &je) {
		return err
	}
	return txsign.Unavailable(err, s.d.Name+": "+what+" failed")
}

func code(c jose.Code, format string, args ...any) error {
	return &jose.Error{Code: c, Detail: fmt.Sprintf(format, args...)}
}

func micro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicro(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ---- challenges ----

// PutChallenge implements txsign.Store.
func (s *Store) PutChallenge(ctx context.Context, c *txsign.Challenge, now time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.on(tx).exec(ctx, `DELETE FROM txsign_challenges WHERE expires_at < ?`, micro(now)); err != nil {
			return err
		}
		_, err := s.on(tx).exec(ctx, `INSERT INTO txsign_challenges (id, user_id, expires_at) VALUES (?, ?, ?)`,
			c.ID, c.User, micro(c.Expires))
		return err
	})
	if err != nil {
		return s.fail(err, "storing the challenge")
	}
	return nil
}

// TakeChallenge implements txsign.Store.
func (s *Store) TakeChallenge(ctx context.Context, id string) (*txsign.Challenge, error) {
	c := &txsign.Challenge{ID: id}
	var exp int64
	err := s.on(nil).queryRow(ctx, `DELETE FROM txsign_challenges WHERE id = ? RETURNING user_id, expires_at`, id).Scan(&c.User, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, code(txsign.ChallengeInvalid, "unknown or used challenge")
	}
	if err != nil {
		return nil, s.fail(err, "taking the challenge")
	}
	c.Expires = fromMicro(exp)
	return c, nil
}

// ---- devices ----

const deviceCols = `id, user_id, platform, metadata, push_url, jwk, attestation, status, enrolled_at, revoked_at, revoke_reason, evidence_ref`

type scanner interface{ Scan(...any) error }

func scanDevice(row scanner) (*txsign.Device, error) {
	d := &txsign.Device{}
	var meta, jwk, att, status string
	var enrolled, revoked int64
	if err := row.Scan(&d.ID, &d.User, &d.Platform, &meta, &d.PushURL, &jwk, &att, &status, &enrolled, &revoked, &d.RevokeReason, &d.EvidenceRef); err != nil {
		return nil, err
	}
	if meta != "" && meta != "null" {
		if err := json.Unmarshal([]byte(meta), &d.Metadata); err != nil {
			return nil, fmt.Errorf("device %q: metadata: %w", d.ID, err)
		}
	}
	k, err := jose.ParseJWK([]byte(jwk))
	if err != nil {
		return nil, fmt.Errorf("device %q: stored key: %w", d.ID, err)
	}
	d.Key = k
	if att != "" {
		if d.Attestation, err = base64.StdEncoding.DecodeString(att); err != nil {
			return nil, fmt.Errorf("device %q: attestation: %w", d.ID, err)
		}
	}
	d.Status = txsign.DeviceStatus(status)
	d.EnrolledAt, d.RevokedAt = fromMicro(enrolled), fromMicro(revoked)
	return d, nil
}

// EnrolDevice implements txsign.Store.
func (s *Store) EnrolDevice(ctx context.Context, d *txsign.Device) error {
	jwk, err := d.Key.MarshalJSON()
	if err != nil {
		return s.fail(err, "encoding the key")
	}
	meta, _ := json.Marshal(d.Metadata)
	att := base64.StdEncoding.EncodeToString(d.Attestation)
	err = s.tx(ctx, func(tx *sql.Tx) error {
		var owner string
		err := s.on(tx).queryRow(ctx, `SELECT user_id FROM txsign_devices WHERE id = ?`, d.ID).Scan(&owner)
		exists := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if exists && owner != d.User {
			return code(txsign.DeviceExists, "device id %q is enrolled by another user", d.ID)
		}
		if _, err := s.on(tx).exec(ctx, `INSERT INTO txsign_device_keys (thumbprint, device_id, added_at) VALUES (?, ?, ?)`,
			d.Key.Thumbprint(), d.ID, micro(d.EnrolledAt)); err != nil {
			if s.d.IsUnique(err) {
				return code(txsign.DeviceExists, "this key is already enrolled")
			}
			return err
		}
		args := []any{d.User, d.Platform, string(meta), d.PushURL, string(jwk), d.Key.Thumbprint(), att,
			string(d.Status), micro(d.EnrolledAt), micro(d.RevokedAt), d.RevokeReason, d.EvidenceRef, d.ID}
		if exists {
			_, err = s.on(tx).exec(ctx, `UPDATE txsign_devices SET user_id = ?, platform = ?, metadata = ?, push_url = ?,
				jwk = ?, thumbprint = ?, attestation = ?, status = ?, enrolled_at = ?, revoked_at = ?, revoke_reason = ?,
				evidence_ref = ? WHERE id = ?`, args...)
		} else {
			_, err = s.on(tx).exec(ctx, `INSERT INTO txsign_devices (user_id, platform, metadata, push_url, jwk,
				thumbprint, attestation, status, enrolled_at, revoked_at, revoke_reason, evidence_ref, id)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
		}
		if err != nil && s.d.IsUnique(err) {
			return code(txsign.DeviceExists, "device id %q is already enrolled", d.ID)
		}
		return err
	})
	if err != nil {
		return s.fail(err, "enrolling the device")
	}
	return nil
}

// Device implements txsign.Store.
func (s *Store) Device(ctx context.Context, id string) (*txsign.Device, error) {
	d, err := scanDevice(s.on(nil).queryRow(ctx, `SELECT `+deviceCols+` FROM txsign_devices WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, code(txsign.DeviceUnknown, "no device %q", id)
	}
	if err != nil {
		return nil, s.fail(err, "reading the device")
	}
	return d, nil
}

// DeviceByKey implements txsign.Store.
func (s *Store) DeviceByKey(ctx context.Context, thumbprint string) (*txsign.Device, error) {
	d, err := scanDevice(s.on(nil).queryRow(ctx, `SELECT `+deviceCols+` FROM txsign_devices WHERE thumbprint = ?`, thumbprint))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, code(txsign.DeviceUnknown, "no enrolled device has key %q", thumbprint)
	}
	if err != nil {
		return nil, s.fail(err, "reading the device")
	}
	return d, nil
}

// Devices implements txsign.Store.
func (s *Store) Devices(ctx context.Context, user string) ([]*txsign.Device, error) {
	rows, err := s.on(nil).query(ctx, `SELECT `+deviceCols+` FROM txsign_devices WHERE user_id = ? ORDER BY enrolled_at, id`, user)
	if err != nil {
		return nil, s.fail(err, "listing devices")
	}
	defer rows.Close()
	var out []*txsign.Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, s.fail(err, "listing devices")
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(err, "listing devices")
	}
	return out, nil
}

// RevokeDevice implements txsign.Store.
func (s *Store) RevokeDevice(ctx context.Context, id string, at time.Time, reason string) (*txsign.Device, error) {
	_, err := s.on(nil).exec(ctx, `UPDATE txsign_devices SET status = ?, revoked_at = ?, revoke_reason = ? WHERE id = ? AND status <> ?`,
		string(txsign.StatusRevoked), micro(at), reason, id, string(txsign.StatusRevoked))
	if err != nil {
		return nil, s.fail(err, "revoking the device")
	}
	return s.Device(ctx, id)
}

// RotateDeviceKey implements txsign.Store.
func (s *Store) RotateDeviceKey(ctx context.Context, id, oldThumbprint string, newKey *jose.JWK, at time.Time, evidenceRef string) error {
	jwk, err := newKey.MarshalJSON()
	if err != nil {
		return s.fail(err, "encoding the key")
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		res, err := s.on(tx).exec(ctx, `UPDATE txsign_devices SET jwk = ?, thumbprint = ?, evidence_ref = ?
			WHERE id = ? AND thumbprint = ? AND status = ?`,
			string(jwk), newKey.Thumbprint(), evidenceRef, id, oldThumbprint, string(txsign.StatusActive))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			if err != nil {
				return err
			}
			var status string
			err := s.on(tx).queryRow(ctx, `SELECT status FROM txsign_devices WHERE id = ?`, id).Scan(&status)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return code(txsign.DeviceUnknown, "no device %q", id)
			case err != nil:
				return err
			case status == string(txsign.StatusRevoked):
				return code(txsign.DeviceRevoked, "device %q is revoked", id)
			}
			return code(txsign.DeviceUnknown, "device %q no longer has that key", id)
		}
		if _, err := s.on(tx).exec(ctx, `INSERT INTO txsign_device_keys (thumbprint, device_id, added_at) VALUES (?, ?, ?)`,
			newKey.Thumbprint(), id, micro(at)); err != nil {
			if s.d.IsUnique(err) {
				return code(txsign.DeviceExists, "the new key is already enrolled")
			}
			return err
		}
		return nil
	})
	if err != nil {
		return s.fail(err, "rotating the key")
	}
	return nil
}

// ---- PIN ----

// SetPIN implements txsign.Store.
func (s *Store) SetPIN(ctx context.Context, user, hash string, at time.Time) error {
	_, err := s.on(nil).exec(ctx, `INSERT INTO txsign_pins (user_id, hash, failures, updated_at) VALUES (?, ?, 0, ?)
		ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, failures = 0, updated_at = excluded.updated_at`,
		user, hash, micro(at))
	if err != nil {
		return s.fail(err, "setting the PIN")
	}
	return nil
}

// HasPIN implements txsign.Store.
func (s *Store) HasPIN(ctx context.Context, user string) (bool, error) {
	var n int
	err := s.on(nil).queryRow(ctx, `SELECT COUNT(*) FROM txsign_pins WHERE user_id = ?`, user).Scan(&n)
	if err != nil {
		return false, s.fail(err, "reading the PIN")
	}
	return n > 0, nil
}

// ReservePINAttempt implements txsign.Store.
func (s *Store) ReservePINAttempt(ctx context.Context, user string, max int) (string, error) {
	var hash string
	err := s.on(nil).queryRow(ctx, `UPDATE txsign_pins SET failures = failures + 1 WHERE user_id = ? AND failures < ? RETURNING hash`,
		user, max).Scan(&hash)
	if err == nil {
		return hash, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", s.fail(err, "counting the PIN attempt")
	}
	has, err := s.HasPIN(ctx, user)
	if err != nil {
		return "", err
	}
	if !has {
		return "", code(txsign.PINNotSet, "the user has no PIN")
	}
	return "", code(txsign.PINLocked, "too many wrong PINs; set a new PIN")
}

// ResetPINFailures implements txsign.Store.
func (s *Store) ResetPINFailures(ctx context.Context, user, hash string) error {
	if _, err := s.on(nil).exec(ctx, `UPDATE txsign_pins SET failures = 0 WHERE user_id = ? AND hash = ?`, user, hash); err != nil {
		return s.fail(err, "resetting PIN failures")
	}
	return nil
}

// ---- requests ----

const requestCols = `id, client_id, idem_key, fingerprint, user_id, device_id, audience, details, tx_hash, binding_message,
	display_template, display_text, display_hash, nonce, require_pin, created_at, expires_at, interval_us, last_poll,
	status, decision, evidence_ref, token_jti, token_issued_at`

// decisionJSON is the stored form of a decision.
type decisionJSON struct {
	Approved      bool   `json:"approved"`
	DeviceID      string `json:"device_id"`
	KeyThumbprint string `json:"key_thumbprint"`
	JWS           string `json:"jws"`
	UV            string `json:"uv"`
	Offline       bool   `json:"offline"`
	SignedAt      int64  `json:"signed_at"`
	Received      int64  `json:"received"`
	EvidenceRef   string `json:"evidence_ref"`
}

func scanRequest(row scanner) (*txsign.Request, error) {
	r := &txsign.Request{}
	var idem sql.NullString
	var details, status, decision string
	var requirePIN int
	var created, expires, interval, lastPoll, issued int64
	if err := row.Scan(&r.ID, &r.ClientID, &idem, &r.Fingerprint, &r.User, &r.DeviceID, &r.Audience, &details, &r.TxHash,
		&r.BindingMessage, &r.DisplayTemplate, &r.DisplayText, &r.DisplayHash, &r.Nonce, &requirePIN, &created, &expires,
		&interval, &lastPoll, &status, &decision, &r.EvidenceRef, &r.TokenJTI, &issued); err != nil {
		return nil, err
	}
	r.IdempotencyKey = idem.String
	r.Details = json.RawMessage(details)
	r.RequirePIN = requirePIN != 0
	r.Created, r.Expires, r.LastPoll, r.TokenIssued = fromMicro(created), fromMicro(expires), fromMicro(lastPoll), fromMicro(issued)
	r.Interval = time.Duration(interval) * time.Microsecond
	r.Status = txsign.RequestStatus(status)
	if decision != "" {
		var d decisionJSON
		if err := json.Unmarshal([]byte(decision), &d); err != nil {
			return nil, fmt.Errorf("request %q: decision: %w", r.ID, err)
		}
		r.Decision = &txsign.Decision{
			Approved: d.Approved, DeviceID: d.DeviceID, KeyThumbprint: d.KeyThumbprint, JWS: d.JWS, UV: d.UV,
			Offline: d.Offline, SignedAt: fromMicro(d.SignedAt), Received: fromMicro(d.Received), EvidenceRef: d.EvidenceRef,
		}
	}
	return r, nil
}

// CreateRequest implements txsign.Store.
func (s *Store) CreateRequest(ctx context.Context, r *txsign.Request) (*txsign.Request, bool, error) {
	var idem any
	if r.IdempotencyKey != "" {
		idem = r.IdempotencyKey
	}
	_, err := s.on(nil).exec(ctx, `INSERT INTO txsign_requests (`+requestCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.ClientID, idem, r.Fingerprint, r.User, r.DeviceID, r.Audience, string(r.Details), r.TxHash,
		r.BindingMessage, r.DisplayTemplate, r.DisplayText, r.DisplayHash, r.Nonce, boolInt(r.RequirePIN),
		micro(r.Created), micro(r.Expires), r.Interval.Microseconds(), micro(r.LastPoll), string(r.Status), "",
		r.EvidenceRef, r.TokenJTI, micro(r.TokenIssued))
	if err == nil {
		stored, err := s.Request(ctx, r.ID)
		return stored, err == nil, err
	}
	if r.IdempotencyKey != "" && s.d.IsUnique(err) {
		prev, err := s.IdempotentRequest(ctx, r.ClientID, r.IdempotencyKey)
		if err != nil {
			return nil, false, err
		}
		if prev.Fingerprint != r.Fingerprint {
			return nil, false, code(txsign.IdempotencyKeyReused, "Idempotency-Key %q was used for another request", r.IdempotencyKey)
		}
		return prev, false, nil
	}
	return nil, false, s.fail(err, "storing the request")
}

// IdempotentRequest implements txsign.Store.
func (s *Store) IdempotentRequest(ctx context.Context, clientID, key string) (*txsign.Request, error) {
	r, err := scanRequest(s.on(nil).queryRow(ctx, `SELECT `+requestCols+` FROM txsign_requests WHERE client_id = ? AND idem_key = ?`, clientID, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, code(txsign.RequestUnknown, "no request with this Idempotency-Key")
	}
	if err != nil {
		return nil, s.fail(err, "reading the request")
	}
	return r, nil
}

// Request implements txsign.Store.
func (s *Store) Request(ctx context.Context, id string) (*txsign.Request, error) {
	r, err := scanRequest(s.on(nil).queryRow(ctx, `SELECT `+requestCols+` FROM txsign_requests WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, code(txsign.RequestUnknown, "no request %q", id)
	}
	if err != nil {
		return nil, s.fail(err, "reading the request")
	}
	return r, nil
}

// PendingRequests implements txsign.Store.
func (s *Store) PendingRequests(ctx context.Context, user, deviceID string, now time.Time, limit int) ([]*txsign.Request, error) {
	rows, err := s.on(nil).query(ctx, `SELECT `+requestCols+` FROM txsign_requests
		WHERE user_id = ? AND status = ? AND expires_at > ? AND (device_id = '' OR device_id = ?)
		ORDER BY created_at, id LIMIT ?`, user, string(txsign.Pending), micro(now), deviceID, limit)
	if err != nil {
		return nil, s.fail(err, "listing requests")
	}
	defer rows.Close()
	var out []*txsign.Request
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			return nil, s.fail(err, "listing requests")
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(err, "listing requests")
	}
	return out, nil
}

// Delivered implements txsign.Store.
func (s *Store) Delivered(ctx context.Context, requestID, deviceID, channel string) (bool, error) {
	var n int
	err := s.on(nil).queryRow(ctx, `SELECT COUNT(*) FROM txsign_deliveries WHERE request_id = ? AND device_id = ? AND channel = ?`,
		requestID, deviceID, channel).Scan(&n)
	if err != nil {
		return false, s.fail(err, "reading deliveries")
	}
	return n > 0, nil
}

// MarkDelivered implements txsign.Store.
func (s *Store) MarkDelivered(ctx context.Context, requestID, deviceID, channel string, at time.Time) error {
	_, err := s.on(nil).exec(ctx, `INSERT INTO txsign_deliveries (request_id, device_id, channel, delivered_at)
		VALUES (?, ?, ?, ?) ON CONFLICT (request_id, device_id, channel) DO NOTHING`, requestID, deviceID, channel, micro(at))
	if err != nil {
		return s.fail(err, "recording the delivery")
	}
	return nil
}

// slowDownStep is how much each slow_down adds to the interval (CIBA
// §11: "MUST be increased by at least 5 seconds").
const slowDownStep = 5 * time.Second

// Poll implements txsign.Store.
func (s *Store) Poll(ctx context.Context, id, clientID string, now time.Time, maxInterval time.Duration) (*txsign.Request, error) {
	var out *txsign.Request
	slow := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := s.on(tx).exec(ctx, `UPDATE txsign_requests SET last_poll = ?
			WHERE id = ? AND client_id = ? AND last_poll + interval_us <= ?`, micro(now), id, clientID, micro(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 1 {
			out, err = scanRequest(s.on(tx).queryRow(ctx, `SELECT `+requestCols+` FROM txsign_requests WHERE id = ?`, id))
			return err
		}
		step, max := slowDownStep.Microseconds(), maxInterval.Microseconds()
		res, err = s.on(tx).exec(ctx, `UPDATE txsign_requests
			SET interval_us = CASE WHEN interval_us + ? > ? THEN ? ELSE interval_us + ? END
			WHERE id = ? AND client_id = ?`, step, max, max, step, id, clientID)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		if n == 0 {
			return code(txsign.RequestUnknown, "no request %q of this client", id)
		}
		// Commit the longer interval.
		slow = true
		return nil
	})
	if err != nil {
		return nil, s.fail(err, "polling")
	}
	if slow {
		return nil, code(txsign.SlowDown, "polled before the interval passed; the interval grew by %d s", int(slowDownStep.Seconds()))
	}
	return out, nil
}

// Decide implements txsign.Store.
func (s *Store) Decide(ctx context.Context, id string, d *txsign.Decision, now time.Time) error {
	status := txsign.Denied
	if d.Approved {
		status = txsign.Approved
	}
	dj, _ := json.Marshal(&decisionJSON{
		Approved: d.Approved, DeviceID: d.DeviceID, KeyThumbprint: d.KeyThumbprint, JWS: d.JWS, UV: d.UV,
		Offline: d.Offline, SignedAt: micro(d.SignedAt), Received: micro(d.Received), EvidenceRef: d.EvidenceRef,
	})
	res, err := s.on(nil).exec(ctx, `UPDATE txsign_requests SET status = ?, decision = ?
		WHERE id = ? AND status = ? AND expires_at > ?`, string(status), string(dj), id, string(txsign.Pending), micro(now))
	if err != nil {
		return s.fail(err, "storing the decision")
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.fail(err, "storing the decision")
	} else if n == 1 {
		return nil
	}
	r, err := s.Request(ctx, id)
	if err != nil {
		return err
	}
	if r.Status != txsign.Pending {
		return code(txsign.AlreadyDecided, "the request was already decided")
	}
	return code(txsign.ExpiredToken, "the request expired")
}

// IssueToken implements txsign.Store.
func (s *Store) IssueToken(ctx context.Context, id, jti string, at time.Time) error {
	res, err := s.on(nil).exec(ctx, `UPDATE txsign_requests SET status = ?, token_jti = ?, token_issued_at = ?
		WHERE id = ? AND status = ?`, string(txsign.TokenIssued), jti, micro(at), id, string(txsign.Approved))
	if err != nil {
		return s.fail(err, "issuing the token")
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.fail(err, "issuing the token")
	} else if n != 1 {
		return code(txsign.InvalidGrant, "the token for this request was already issued")
	}
	return nil
}
