package main

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nonrep/nonrep/evidence"
	"github.com/nonrep/nonrep/evidence/evidencetest"
	"github.com/nonrep/nonrep/evidence/pgstore"
	"github.com/nonrep/nonrep/evidence/sqlitestore"
	"github.com/nonrep/nonrep/internal/testenv"
)

func evidenceCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// fillLog appends n records (the one at signed is a really signed request).
func fillLog(t *testing.T, s evidence.Store, n, signed int) {
	t.Helper()
	ctx := context.Background()
	l, err := evidence.Open(ctx, evidence.Config{Store: s, Key: evidencetest.LogKey, Origin: evidencetest.Origin})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := 0; i < n; i++ {
		r := evidencetest.PlainRecord(i)
		if i == signed {
			r = evidencetest.SignedRecord(t, evidencetest.T0, `{"amount":"50000.00"}`)
		}
		if _, err := l.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEvidenceCheckFindsTampering edits the SQLite file behind the log's
// back, as someone with the file could, and checks that "evidence check"
// says what and where.
func TestEvidenceCheckFindsTampering(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ev.db")
	s, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	fillLog(t, s, 12, 4)
	s.Close()
	store := "sqlite:" + path
	if code, out, errs := evidenceCLI(t, "evidence", "check", "--store", store); code != 0 || !strings.HasSuffix(out, "ok\n") {
		t.Fatalf("check of an intact store: %d\n%s%s", code, out, errs)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		"DROP TRIGGER evidence_records_no_update", "DROP TRIGGER evidence_records_no_delete",
		`UPDATE evidence_records SET body = CAST('{"amount":"5.00"}' AS BLOB) WHERE idx = 3`,
		`DELETE FROM evidence_records WHERE idx = 8`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	code, out, errs := evidenceCLI(t, "evidence", "check", "--store", store)
	if code != exitRejected {
		t.Fatalf("check of a damaged store exited %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"problem record_hash_mismatch: record 3: the body (17 bytes) does not match the entry's body_sha256",
		"problem log_inconsistent: records 8 to 8 are missing (the tree head covers 12 records): records were deleted",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if !strings.HasPrefix(errs, "nonrep: error: record_hash_mismatch: record 3: ") {
		t.Errorf("stderr %q", errs)
	}
	// The untouched signed record still exports and verifies.
	bundle := filepath.Join(t.TempDir(), "b.json")
	if code, out, errs := evidenceCLI(t, "evidence", "export", "4", "--out", bundle, "--store", store); code != 0 {
		t.Fatalf("export: %d %s%s", code, out, errs)
	}
	if code, out, errs := evidenceCLI(t, "evidence", "verify", bundle); code != 0 {
		t.Fatalf("verify: %d %s%s", code, out, errs)
	}
	// The changed one does not export.
	if code, _, errs := evidenceCLI(t, "evidence", "export", "3", "--out", bundle+"3", "--store", store); code != exitRejected || !strings.Contains(errs, "record_hash_mismatch") {
		t.Fatalf("export of a changed record: %d %s", code, errs)
	}
}

func TestEvidencePostgresStore(t *testing.T) {
	dsn := testenv.Postgres(t)
	s, err := pgstore.Open(context.Background(), pgstore.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	fillLog(t, s, 5, 2)
	s.Close()
	store := "postgres:" + dsn
	if code, out, errs := evidenceCLI(t, "evidence", "check", "--store", store); code != 0 || !strings.Contains(out, "5 records") {
		t.Fatalf("check: %d\n%s%s", code, out, errs)
	}
	code, out, errs := evidenceCLI(t, "evidence", "export", "2", "--out", "-", "--store", store)
	if code != 0 {
		t.Fatalf("export: %d %s", code, errs)
	}
	rep, err := evidence.VerifyBundle(context.Background(), []byte(out), evidence.VerifyOptions{})
	if err != nil {
		t.Fatalf("%v %+v", err, rep.Steps)
	}
	if code, out, errs := evidenceCLI(t, "evidence", "search", "--store", store, "--partner", "acme-bank"); code != 0 || !strings.HasPrefix(out, "2\t") {
		t.Fatalf("search: %d %q %s", code, out, errs)
	}
}
