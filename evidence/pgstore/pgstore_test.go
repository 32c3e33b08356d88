package pgstore_test

import (
	"context"
	"log/slog"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nonrep/nonrep/evidence"
	"github.com/nonrep/nonrep/evidence/evidencetest"
	"github.com/nonrep/nonrep/evidence/pgstore"
	"github.com/nonrep/nonrep/internal/testenv"
	"github.com/nonrep/nonrep/jose"
)

// Tests run against the real PostgreSQL (internal/testenv): each store is
// a fresh schema. Without a server they skip, except under CI=true.

func backend() evidencetest.Backend {
	return evidencetest.Backend{
		New: func(t *testing.T) string { return testenv.Postgres(t) },
		Open: func(ctx context.Context, dsn string) (evidence.Store, error) {
			return pgstore.Open(ctx, pgstore.Config{DSN: dsn, MaxConns: 4})
		},
		Tamper: tamper,
	}
}

// tamper edits the tables directly, as a database administrator could.
func tamper(t *testing.T, dsn, query string, args ...any) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	for _, tr := range []string{"records", "checkpoints"} {
		for _, suffix := range []string{"_append_only", "_no_truncate"} {
			if _, err := c.Exec(ctx, "DROP TRIGGER IF EXISTS evidence_"+tr+suffix+" ON evidence_"+tr); err != nil {
				t.Fatal(err)
			}
		}
	}
	n := 0
	q := placeholders.ReplaceAllStringFunc(query, func(string) string { n++; return "$" + strconv.Itoa(n) })
	if _, err := c.Exec(ctx, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

var placeholders = regexp.MustCompile(`\?`)

func TestConformance(t *testing.T) { evidencetest.Run(t, backend()) }

// TestConnectionsKilled terminates the log's database connections in the
// middle of concurrent appends (a failover, a restarted server): appends
// fail with evidence_unavailable or succeed, never anything else; every
// acknowledged append is present; the tree verifies; appends resume.
func TestConnectionsKilled(t *testing.T) {
	dsn := testenv.Postgres(t)
	app := "nonrep_evidence_killtest_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	ctx := context.Background()
	s, err := pgstore.Open(ctx, pgstore.Config{DSN: dsn + "&application_name=" + app, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := evidence.Open(ctx, evidence.Config{Store: s, Key: evidencetest.LogKey, Origin: evidencetest.Origin, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var mu sync.Mutex
	acked := map[int64]int{}
	failed := 0
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				n := w*100000 + i
				idx, err := l.Append(ctx, evidencetest.PlainRecord(n))
				mu.Lock()
				if err == nil {
					acked[idx] = n
				} else if jose.CodeOf(err) == evidence.Unavailable {
					failed++
				} else {
					t.Errorf("append: %v", err)
				}
				mu.Unlock()
			}
		}()
	}
	for k := 0; k < 5; k++ {
		time.Sleep(60 * time.Millisecond)
		if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, app); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d appends acknowledged, %d refused while connections were killed", len(acked), failed)
	if len(acked) == 0 {
		t.Fatal("nothing was acknowledged")
	}
	for idx, n := range acked {
		r, err := l.Get(ctx, idx)
		if err != nil {
			t.Fatalf("acknowledged record %d: %v", idx, err)
		}
		if r.ReplayID != evidencetest.PlainRecord(n).ReplayID {
			t.Fatalf("record %d is not the one acknowledged", idx)
		}
	}
	if _, err := evidence.Check(ctx, s, evidence.CheckOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, evidencetest.PlainRecord(-5)); err != nil {
		t.Fatalf("append after the storm: %v", err)
	}
}

// TestUnreachable: a database that is not there fails closed.
func TestUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := pgstore.Open(ctx, pgstore.Config{DSN: "postgres://nobody@127.0.0.1:1/none?connect_timeout=1"})
	if jose.CodeOf(err) != evidence.Unavailable {
		t.Fatalf("Open of an unreachable server = %v", err)
	}
}
