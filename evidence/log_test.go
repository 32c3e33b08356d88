package evidence_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/nonrep/nonrep/evidence"
	"github.com/nonrep/nonrep/evidence/evidencetest"
	"github.com/nonrep/nonrep/evidence/sqlitestore"
	"github.com/nonrep/nonrep/jose"
)

// faultStore wraps a store: Integrate fails while fail is set, and
// sleeps delay before committing.
type faultStore struct {
	evidence.Store
	fail       atomic.Bool
	failAfter  atomic.Bool // fail after fn ran (the batch was computed)
	delay      time.Duration
	integrates atomic.Int64
}

func (f *faultStore) Integrate(ctx context.Context, fn evidence.IntegrateFunc) error {
	f.integrates.Add(1)
	if f.fail.Load() {
		return errors.New("disk on fire")
	}
	time.Sleep(f.delay)
	if f.failAfter.Load() {
		return f.Store.Integrate(ctx, func(h evidence.Tree, r tlog.HashReader) (*evidence.Batch, error) {
			if _, err := fn(h, r); err != nil {
				return nil, err
			}
			return nil, evidence.UnavailableError(nil, "the commit failed")
		})
	}
	return f.Store.Integrate(ctx, fn)
}

func faultLog(t *testing.T, delay time.Duration) (*evidence.Log, *faultStore) {
	t.Helper()
	s, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Path: filepath.Join(t.TempDir(), "e.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f := &faultStore{Store: s, delay: delay}
	l, err := evidence.Open(context.Background(), evidence.Config{Store: f, Key: evidencetest.LogKey, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, f
}

// TestGroupCommit: appends waiting while a commit runs share the next
// transaction.
func TestGroupCommit(t *testing.T) {
	l, f := faultLog(t, 20*time.Millisecond)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := l.Append(ctx, evidencetest.PlainRecord(i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := f.integrates.Load(); n > 20 {
		t.Fatalf("200 concurrent appends took %d transactions", n)
	}
	if _, err := evidence.Check(ctx, f, evidence.CheckOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestStoreFailureFailsClosed: while the store fails, every append fails
// with Unavailable; when it recovers, appends resume on an intact tree.
func TestStoreFailureFailsClosed(t *testing.T) {
	l, f := faultLog(t, 0)
	ctx := context.Background()
	if _, err := l.Append(ctx, evidencetest.PlainRecord(0)); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []*atomic.Bool{&f.fail, &f.failAfter} {
		mode.Store(true)
		for i := 0; i < 3; i++ {
			if idx, err := l.Append(ctx, evidencetest.PlainRecord(10+i)); jose.CodeOf(err) != evidence.Unavailable || idx != -1 {
				t.Fatalf("Append on a failing store = %d, %v", idx, err)
			}
		}
		mode.Store(false)
	}
	for i := 1; i < 4; i++ {
		if idx, err := l.Append(ctx, evidencetest.PlainRecord(i)); err != nil || idx != int64(i) {
			t.Fatalf("after recovery Append = %d, %v; want %d", idx, err, i)
		}
	}
	if _, err := evidence.Check(ctx, f, evidence.CheckOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestAppendCanceled(t *testing.T) {
	l, f := faultLog(t, 200*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Append(ctx, evidencetest.PlainRecord(0)); jose.CodeOf(err) != evidence.Unavailable {
		t.Fatalf("a canceled Append = %v", err)
	}
	_ = f
}

func TestCommitTimeout(t *testing.T) {
	s, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Path: filepath.Join(t.TempDir(), "e.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	blocked := make(chan struct{})
	hang := &hangStore{Store: s, release: blocked}
	l, err := evidence.Open(context.Background(), evidence.Config{Store: hang, Key: evidencetest.LogKey, CommitTimeout: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	defer close(blocked)
	start := time.Now()
	if _, err := l.Append(context.Background(), evidencetest.PlainRecord(0)); jose.CodeOf(err) != evidence.Unavailable {
		t.Fatalf("Append on a hung store = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the commit timeout did not bound the append: %v", d)
	}
}

// hangStore's Integrate waits for its context, like a database that
// stopped answering.
type hangStore struct {
	evidence.Store
	release chan struct{}
}

func (h *hangStore) Integrate(ctx context.Context, fn evidence.IntegrateFunc) error {
	select {
	case <-ctx.Done():
		return evidence.UnavailableError(ctx.Err(), "the database did not answer")
	case <-h.release:
		return errors.New("released")
	}
}

// TestHashLocation checks the mapping from stored-hash index to (record,
// position) against tlog.StoredHashes itself.
func TestHashLocation(t *testing.T) {
	for n := int64(0); n < 600; n++ {
		hs, err := tlog.StoredHashes(n, []byte{byte(n)}, nilReader{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range hs {
			x := tlog.StoredHashIndex(0, n) + int64(i)
			gotN, gotI := evidence.HashLocation(x)
			if gotN != n || gotI != i {
				t.Fatalf("HashLocation(%d) = %d, %d; want %d, %d", x, gotN, gotI, n, i)
			}
		}
	}
}

// nilReader answers any read with zero hashes (the values do not matter
// for the layout).
type nilReader struct{}

func (nilReader) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	return make([]tlog.Hash, len(idx)), nil
}

// TestAppendBatch: a bulk batch is one transaction, interleaves safely
// with concurrent Appends, and keeps the tree intact.
func TestAppendBatch(t *testing.T) {
	l, f := faultLog(t, 0)
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				if _, err := l.Append(ctx, evidencetest.PlainRecord(1000+w*10+i)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	before := f.integrates.Load()
	rs := make([]*evidence.Record, 50)
	for i := range rs {
		rs[i] = evidencetest.PlainRecord(i)
	}
	first, err := l.AppendBatch(ctx, rs)
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i := range rs {
		r, err := l.Get(ctx, first+int64(i))
		if err != nil || r.ReplayID != rs[i].ReplayID {
			t.Fatalf("record %d: %v %v", first+int64(i), r, err)
		}
	}
	if f.integrates.Load()-before > 41 {
		t.Fatalf("the batch took more than one transaction")
	}
	bad := append(rs[:1:1], &evidence.Record{})
	if _, err := l.AppendBatch(ctx, bad); jose.CodeOf(err) != evidence.RecordInvalid {
		t.Fatalf("a batch with an invalid record: %v", err)
	}
	if rep, err := evidence.Check(ctx, f, evidence.CheckOptions{}); err != nil || rep.Records != 90 {
		t.Fatalf("Check: %v, %d records", err, rep.Records)
	}
}
