package sqlitestore_test

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nonrep/nonrep/evidence"
	"github.com/nonrep/nonrep/evidence/evidencetest"
	"github.com/nonrep/nonrep/evidence/sqlitestore"
	"github.com/nonrep/nonrep/jose"
)

func backend() evidencetest.Backend {
	return evidencetest.Backend{
		New: func(t *testing.T) string { return filepath.Join(t.TempDir(), "evidence.db") },
		Open: func(ctx context.Context, path string) (evidence.Store, error) {
			return sqlitestore.Open(ctx, sqlitestore.Config{Path: path})
		},
		Tamper: tamper,
	}
}

// tamper edits the file directly, as someone with the file could.
func tamper(t *testing.T, path, query string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tr := range []string{"records", "checkpoints"} {
		for _, op := range []string{"update", "delete"} {
			if _, err := db.Exec("DROP TRIGGER IF EXISTS evidence_" + tr + "_no_" + op); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func TestConformance(t *testing.T) { evidencetest.Run(t, backend()) }

// TestDiskFull fills a size-capped database: appends then fail with
// evidence_unavailable naming a full database, every acknowledged record
// is intact, and the log works again once there is room.
func TestDiskFull(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "small.db")
	s, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: path, MaxSizeBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	l, err := evidence.Open(ctx, evidence.Config{Store: s, Key: evidencetest.LogKey, Origin: evidencetest.Origin, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var acked []int64
	var full error
	for i := 0; i < 5000 && full == nil; i++ {
		r := evidencetest.PlainRecord(i)
		r.Body = evidencetest.BenchBody
		idx, err := l.Append(ctx, r)
		if err != nil {
			full = err
			break
		}
		acked = append(acked, idx)
	}
	if jose.CodeOf(full) != evidence.Unavailable || !strings.Contains(full.Error(), "is full") {
		t.Fatalf("appending to a full database: %v", full)
	}
	if len(acked) < 100 {
		t.Fatalf("only %d appends fit in 1 MiB", len(acked))
	}
	// Still full: still refused, never half-written.
	big := evidencetest.PlainRecord(9999)
	big.Body = evidencetest.BenchBody
	if _, err := l.Append(ctx, big); jose.CodeOf(err) != evidence.Unavailable {
		t.Fatalf("second append to a full database: %v", err)
	}
	l.Close()
	s.Close()
	// More room: everything acknowledged is there, and appends resume.
	s, err = sqlitestore.Open(ctx, sqlitestore.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rep, err := evidence.Check(ctx, s, evidence.CheckOptions{})
	if err != nil || rep.Records != int64(len(acked)) {
		t.Fatalf("Check: %v, %d records for %d acknowledged", err, rep.Records, len(acked))
	}
	l, err = evidence.Open(ctx, evidence.Config{Store: s, Key: evidencetest.LogKey, Origin: evidencetest.Origin})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if idx, err := l.Append(ctx, evidencetest.PlainRecord(1)); err != nil || idx != int64(len(acked)) {
		t.Fatalf("append after making room: %d, %v", idx, err)
	}
}
