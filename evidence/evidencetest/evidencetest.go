// Package evidencetest is the conformance suite every evidence.Store
// backend must pass. A backend's tests call Run:
//
//	func TestConformance(t *testing.T) {
//		evidencetest.Run(t, evidencetest.Backend{
//			New:    func(t *testing.T) string { return filepath.Join(t.TempDir(), "e.db") },
//			Open:   func(ctx context.Context, loc string) (evidence.Store, error) { … },
//			Tamper: func(t *testing.T, loc, query string, args ...any) { … },
//		})
//	}
//
// The suite appends through evidence.Log, so it checks the log and the
// store together: durable, dense sequencing under concurrency and across
// several Log instances sharing one store, checkpoints and proofs,
// search, bundles, fail-closed behaviour when the store goes away, what
// Check reports when a byte is changed, a record deleted or the log
// truncated, and — with a child process killed by SIGKILL mid-append —
// that every acknowledged append survives.
package evidencetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/nonrep/nonrep/evidence"
	"github.com/nonrep/nonrep/jose"
)

// Backend describes the store under test by location (a file path, a
// DSN) so that the suite can open several handles on one store, and a
// child process can open it too.
type Backend struct {
	// New creates a fresh, empty store and returns its location. Cleanup
	// is the backend's (t.TempDir, t.Cleanup).
	New func(t *testing.T) string
	// Open opens a new handle, with its own connections, on the store at
	// location. The suite closes the handles it opens.
	Open func(ctx context.Context, location string) (evidence.Store, error)
	// Tamper runs one SQL statement on the store at location as an
	// attacker with database access would: with the append-only triggers
	// dropped. Placeholders are '?'.
	Tamper func(t *testing.T, location, query string, args ...any)
}

type harness struct {
	t   *testing.T
	b   Backend
	loc string
	ctx context.Context
}

// open opens a handle closed at cleanup.
func (h *harness) open() evidence.Store {
	h.t.Helper()
	s, err := h.b.Open(h.ctx, h.loc)
	if err != nil {
		h.t.Fatalf("open: %v", err)
	}
	h.t.Cleanup(func() { s.Close() })
	return s
}

// log opens a writing Log over a new handle, closed at cleanup.
func (h *harness) log(cfg evidence.Config) *evidence.Log {
	h.t.Helper()
	if cfg.Store == nil {
		cfg.Store = h.open()
	}
	if cfg.Key == nil {
		cfg.Key = LogKey
	}
	if cfg.Origin == "" {
		cfg.Origin = Origin
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l, err := evidence.Open(h.ctx, cfg)
	if err != nil {
		h.t.Fatalf("evidence.Open: %v", err)
	}
	h.t.Cleanup(func() { l.Close() })
	return l
}

func (h *harness) vkey() string {
	v, err := evidence.VerifierKeyFor(Origin, LogKey.Public().(ed25519.PublicKey))
	if err != nil {
		h.t.Fatal(err)
	}
	return v
}

// Run runs the conformance suite as parallel subtests of t.
func Run(t *testing.T, b Backend) {
	t.Helper()
	if b.New == nil || b.Open == nil || b.Tamper == nil {
		t.Fatal("evidencetest: Backend.New, Open and Tamper are required")
	}
	tests := []struct {
		name string
		fn   func(*harness)
	}{
		{"RoundTrip", testRoundTrip},
		{"Sequential", testSequential},
		{"Concurrent", testConcurrent},
		{"MultiInstance", testMultiInstance},
		{"Checkpoints", testCheckpoints},
		{"CheckpointInterval", testCheckpointInterval},
		{"Search", testSearch},
		{"Bundle", testBundle},
		{"Reopen", testReopen},
		{"ReadOnly", testReadOnly},
		{"StoreGone", testStoreGone},
		{"TamperBody", testTamperBody},
		{"TamperEntry", testTamperEntry},
		{"DeleteRecord", testDeleteRecord},
		{"Truncate", testTruncate},
		{"DamagedTreeRefusesAppend", testDamagedTree},
		{"Crash", testCrash},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "Crash" && crashChild() {
				runCrashChild(t, b)
				return
			}
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			h := &harness{t: t, b: b, ctx: ctx}
			h.loc = b.New(t)
			tc.fn(h)
		})
	}
}

func mustAppend(t *testing.T, ctx context.Context, l *evidence.Log, r *evidence.Record) int64 {
	t.Helper()
	i, err := l.Append(ctx, r)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return i
}

func mustCheck(h *harness, s evidence.Store, opts evidence.CheckOptions) *evidence.CheckReport {
	h.t.Helper()
	rep, err := evidence.Check(h.ctx, s, opts)
	if err != nil {
		h.t.Fatalf("Check: %v (problems: %v)", err, rep.Problems)
	}
	return rep
}

// sameRecord compares two records by their canonical entries and bodies.
func sameRecord(t *testing.T, got, want *evidence.Record) {
	t.Helper()
	ge, err := got.Entry()
	if err != nil {
		t.Fatal(err)
	}
	we, err := want.Entry()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ge, we) {
		t.Fatalf("record differs:\n got %s\nwant %s", ge, we)
	}
	if !bytes.Equal(got.Body, want.Body) || !bytes.Equal(got.Signature, want.Signature) {
		t.Fatalf("body or signature bytes differ")
	}
}

func testRoundTrip(h *harness) {
	l := h.log(evidence.Config{})
	odd := OddRecord()
	signed := SignedRecord(h.t, T0, `{"amount":"50000.00"}`)
	resp := &evidence.Record{Received: T0.Add(time.Second), Direction: evidence.Inbound, Kind: evidence.KindResponse,
		ResponseTo: 1, Partner: "acme-bank", Profile: "generic", ResponseStatus: 201}
	empty := PlainRecord(7)
	empty.Body = nil
	for i, r := range []*evidence.Record{odd, signed, resp, empty} {
		idx := mustAppend(h.t, h.ctx, l, r)
		if idx != int64(i) {
			h.t.Fatalf("record %d got index %d", i, idx)
		}
		got, err := l.Get(h.ctx, idx)
		if err != nil {
			h.t.Fatal(err)
		}
		sameRecord(h.t, got, r)
		if got.Thumbprint() != r.Thumbprint() || !got.Received.Equal(r.Received) {
			h.t.Fatalf("record %d: thumbprint or time differ", i)
		}
		if len(got.Chain) != len(r.Chain) {
			h.t.Fatalf("record %d: chain differs", i)
		}
	}
	got, _ := l.Get(h.ctx, 0)
	if got.Query != odd.Query || string(got.Signature) != string(odd.Signature) || !bytes.Equal(got.Body, odd.Body) {
		h.t.Fatal("non-UTF-8 bytes were not kept verbatim")
	}
	if _, err := l.Get(h.ctx, 99); jose.CodeOf(err) != evidence.RecordNotFound {
		h.t.Fatalf("Get(99) = %v, want %s", err, evidence.RecordNotFound)
	}
	bad := PlainRecord(1)
	bad.Partner = ""
	if _, err := l.Append(h.ctx, bad); jose.CodeOf(err) != evidence.RecordInvalid {
		h.t.Fatalf("Append(no partner) = %v, want %s", err, evidence.RecordInvalid)
	}
	mustCheck(h, l.Store(), evidence.CheckOptions{})
}

func testSequential(h *harness) {
	l := h.log(evidence.Config{})
	for i := 0; i < 20; i++ {
		if got := mustAppend(h.t, h.ctx, l, PlainRecord(i)); got != int64(i) {
			h.t.Fatalf("append %d got index %d", i, got)
		}
	}
	head, err := l.Head(h.ctx)
	if err != nil || head.Size != 20 {
		h.t.Fatalf("Head = %v, %v; want size 20", head, err)
	}
	rep := mustCheck(h, l.Store(), evidence.CheckOptions{})
	if rep.Records != 20 || rep.Checkpoints != 20 {
		h.t.Fatalf("Check read %d records, %d checkpoints; want 20, 20 (one per batch)", rep.Records, rep.Checkpoints)
	}
}

// appendAll runs writers goroutines, each appending per records, and
// returns the index of each record by its number.
func appendAll(h *harness, logs []*evidence.Log, writers, per int) map[int]int64 {
	var mu sync.Mutex
	got := map[int]int64{}
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := logs[w%len(logs)]
			for i := 0; i < per; i++ {
				n := w*per + i
				idx, err := l.Append(h.ctx, PlainRecord(n))
				if err != nil {
					h.t.Errorf("Append: %v", err)
					return
				}
				mu.Lock()
				got[n] = idx
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if h.t.Failed() {
		h.t.FailNow()
	}
	return got
}

// checkDense checks that the indexes are exactly 0..n-1 and that each
// index holds its record.
func checkDense(h *harness, l *evidence.Log, got map[int]int64) {
	h.t.Helper()
	idx := make([]int64, 0, len(got))
	for _, i := range got {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	for i, x := range idx {
		if x != int64(i) {
			h.t.Fatalf("indexes are not dense: position %d holds %d", i, x)
		}
	}
	for n, i := range got {
		if n%7 != 0 {
			continue
		}
		r, err := l.Get(h.ctx, i)
		if err != nil {
			h.t.Fatal(err)
		}
		sameRecord(h.t, r, PlainRecord(n))
	}
}

// checkProofs verifies inclusion proofs of some records against the
// latest checkpoint.
func checkProofs(h *harness, l *evidence.Log, n int64) {
	h.t.Helper()
	cp, err := l.LatestCheckpoint(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	if cp.Size != n {
		h.t.Fatalf("latest checkpoint covers %d records, want %d", cp.Size, n)
	}
	for _, i := range []int64{0, n / 3, n / 2, n - 1, rand.Int64N(n)} {
		p, err := l.InclusionProof(h.ctx, i, cp.Size)
		if err != nil {
			h.t.Fatal(err)
		}
		lf, err := l.Store().Leaf(h.ctx, i)
		if err != nil {
			h.t.Fatal(err)
		}
		if err := tlog.CheckRecord(p, cp.Size, cp.Root, i, evidence.LeafHash(lf.Entry)); err != nil {
			h.t.Fatalf("record %d: %v", i, err)
		}
	}
}

func testConcurrent(h *harness) {
	l := h.log(evidence.Config{})
	const writers, per = 24, 25
	got := appendAll(h, []*evidence.Log{l}, writers, per)
	checkDense(h, l, got)
	checkProofs(h, l, writers*per)
	rep := mustCheck(h, l.Store(), evidence.CheckOptions{LogKeys: []string{h.vkey()}})
	if rep.Checkpoints >= writers*per {
		h.t.Errorf("%d checkpoints for %d appends: concurrent appends were not batched", rep.Checkpoints, writers*per)
	}
}

func testMultiInstance(h *harness) {
	logs := make([]*evidence.Log, 4)
	for i := range logs {
		logs[i] = h.log(evidence.Config{MaxBatch: 16})
	}
	const writers, per = 16, 20
	got := appendAll(h, logs, writers, per)
	checkDense(h, logs[0], got)
	checkProofs(h, logs[2], writers*per)
	mustCheck(h, logs[1].Store(), evidence.CheckOptions{LogKeys: []string{h.vkey()}})
	// Every checkpoint, whichever instance signed it, extends the one
	// before.
	checkConsistentCheckpoints(h, logs[3])
}

func checkConsistentCheckpoints(h *harness, l *evidence.Log) {
	h.t.Helper()
	var sizes []int64
	err := l.Store().Checkpoints(h.ctx, func(size int64, _ []byte) error {
		sizes = append(sizes, size)
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	var prev *evidence.Checkpoint
	for _, size := range sizes {
		cp, err := l.CheckpointAt(h.ctx, size)
		if err != nil {
			h.t.Fatal(err)
		}
		if prev != nil {
			p, err := l.ConsistencyProof(h.ctx, prev.Size, cp.Size)
			if err != nil {
				h.t.Fatal(err)
			}
			if err := evidence.VerifyConsistency(prev.Tree, cp.Tree, p); err != nil {
				h.t.Fatalf("checkpoint %d does not extend %d: %v", cp.Size, prev.Size, err)
			}
		}
		prev = cp
	}
}

func testCheckpoints(h *harness) {
	l := h.log(evidence.Config{})
	var cps []*evidence.Checkpoint
	for i := 0; i < 9; i++ {
		mustAppend(h.t, h.ctx, l, PlainRecord(i))
		cp, err := l.LatestCheckpoint(h.ctx)
		if err != nil {
			h.t.Fatal(err)
		}
		if cp.Size != int64(i+1) || cp.Origin != Origin || cp.Key != h.vkey() {
			h.t.Fatalf("checkpoint after %d appends: size %d origin %q key %q", i+1, cp.Size, cp.Origin, cp.Key)
		}
		cps = append(cps, cp)
	}
	for _, a := range cps {
		for _, b := range cps {
			if a.Size > b.Size {
				continue
			}
			p, err := l.ConsistencyProof(h.ctx, a.Size, b.Size)
			if err != nil {
				h.t.Fatal(err)
			}
			if err := evidence.VerifyConsistency(a.Tree, b.Tree, p); err != nil {
				h.t.Fatalf("%d → %d: %v", a.Size, b.Size, err)
			}
			if a.Size < b.Size && len(p) > 0 {
				bad := slices.Clone(p)
				bad[0][0] ^= 1
				if err := evidence.VerifyConsistency(a.Tree, b.Tree, bad); jose.CodeOf(err) != evidence.ConsistencyInvalid {
					h.t.Fatalf("a damaged proof %d → %d: %v", a.Size, b.Size, err)
				}
			}
		}
	}
	// A smaller tree never extends a larger one.
	if err := evidence.VerifyConsistency(cps[5].Tree, cps[2].Tree, nil); jose.CodeOf(err) != evidence.ConsistencyInvalid {
		h.t.Fatalf("truncation not detected: %v", err)
	}
}

func testCheckpointInterval(h *harness) {
	l := h.log(evidence.Config{CheckpointInterval: time.Hour})
	for i := 0; i < 5; i++ {
		mustAppend(h.t, h.ctx, l, PlainRecord(i))
	}
	cp, err := l.LatestCheckpoint(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	if cp.Size != 1 {
		h.t.Fatalf("with a one-hour interval the latest checkpoint covers %d records, want 1", cp.Size)
	}
	// A bundle of a record not yet covered signs a checkpoint first.
	if _, err := l.Bundle(h.ctx, 4, evidence.BundleOptions{}); err != nil {
		h.t.Fatal(err)
	}
	if cp, err = l.LatestCheckpoint(h.ctx); err != nil || cp.Size != 5 {
		h.t.Fatalf("after Bundle the latest checkpoint is %v, %v; want size 5", cp, err)
	}
	// The timer signs too.
	l2 := h.log(evidence.Config{CheckpointInterval: 50 * time.Millisecond})
	mustAppend(h.t, h.ctx, l2, PlainRecord(5))
	deadline := time.Now().Add(10 * time.Second)
	for {
		cp, err = l2.LatestCheckpoint(h.ctx)
		if err == nil && cp.Size == 6 {
			break
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("no checkpoint of 6 records after the interval: %v, %v", cp, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testSearch(h *harness) {
	l := h.log(evidence.Config{})
	const n = 30
	for i := 0; i < n; i++ {
		r := PlainRecord(i)
		if i%10 == 3 {
			r.Verdict, r.Code = evidence.Rejected, jose.SignatureInvalid
		}
		mustAppend(h.t, h.ctx, l, r)
	}
	count := func(q evidence.Query, want func(int) bool) {
		h.t.Helper()
		got, err := l.Search(h.ctx, q)
		if err != nil {
			h.t.Fatal(err)
		}
		var wantIdx []int64
		for i := 0; i < n; i++ {
			if want(i) {
				wantIdx = append(wantIdx, int64(i))
			}
		}
		if q.Limit > 0 && len(wantIdx) > q.Limit {
			wantIdx = wantIdx[:q.Limit]
		}
		var gotIdx []int64
		for _, s := range got {
			gotIdx = append(gotIdx, s.Index)
		}
		if !slices.Equal(gotIdx, wantIdx) {
			h.t.Fatalf("Search(%+v) = %v, want %v", q, gotIdx, wantIdx)
		}
	}
	all := func(int) bool { return true }
	count(evidence.Query{After: -1}, all)
	count(evidence.Query{Partner: "partner-1", After: -1}, func(i int) bool { return i%3 == 1 })
	count(evidence.Query{Kid: "kid-2", After: -1}, func(i int) bool { return i%4 == 2 })
	count(evidence.Query{Verdict: evidence.Rejected, After: -1}, func(i int) bool { return i%10 == 3 })
	count(evidence.Query{ReplayID: "jti:17", After: -1}, func(i int) bool { return i == 17 })
	count(evidence.Query{Path: "/v1/payments/4", After: -1}, func(i int) bool { return i%5 == 4 })
	count(evidence.Query{From: T0.Add(10 * time.Millisecond), To: T0.Add(20 * time.Millisecond), After: -1}, func(i int) bool { return i >= 10 && i < 20 })
	count(evidence.Query{Partner: "partner-0", From: T0.Add(5 * time.Millisecond), After: -1}, func(i int) bool { return i%3 == 0 && i >= 5 })
	count(evidence.Query{After: 24}, func(i int) bool { return i > 24 })
	count(evidence.Query{After: -1, Limit: 7}, all)
	got, _ := l.Search(h.ctx, evidence.Query{ReplayID: "jti:17", After: -1})
	if s := got[0]; s.Partner != "partner-2" || s.Method != "POST" || s.Kid != "kid-1" || !s.Received.Equal(T0.Add(17*time.Millisecond)) || s.Verdict != evidence.Accepted {
		h.t.Fatalf("summary %+v", s)
	}
}

func testBundle(h *harness) {
	l := h.log(evidence.Config{})
	mustAppend(h.t, h.ctx, l, PlainRecord(0))
	rec := SignedRecord(h.t, T0.Add(time.Minute), `{"amount":"50000.00","currency":"EUR","to":"DE89370400440532013000"}`)
	idx := mustAppend(h.t, h.ctx, l, rec)
	for i := 0; i < 5; i++ {
		mustAppend(h.t, h.ctx, l, PlainRecord(i+1))
	}
	b1, err := l.Bundle(h.ctx, idx, evidence.BundleOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	rep, err := evidence.VerifyBundle(h.ctx, b1, evidence.VerifyOptions{LogKeys: []string{h.vkey()}})
	if err != nil {
		h.t.Fatalf("VerifyBundle: %v (steps %+v)", err, rep.Steps)
	}
	if rep.Index != idx || !rep.KeyPinned || rep.Checkpoint.Size != 7 || rep.Reverified.Result == nil {
		h.t.Fatalf("report %+v", rep)
	}
	// Deterministic: the same record and checkpoint give the same bytes,
	// from another handle too.
	l2 := h.log(evidence.Config{})
	b2, err := l2.Bundle(h.ctx, idx, evidence.BundleOptions{TreeSize: 7})
	if err != nil {
		h.t.Fatal(err)
	}
	if !bytes.Equal(b1, b2) {
		h.t.Fatal("two exports of one record against one checkpoint differ")
	}
	if _, err := l.Bundle(h.ctx, 99, evidence.BundleOptions{}); jose.CodeOf(err) != evidence.RecordNotFound {
		h.t.Fatalf("Bundle(99) = %v", err)
	}
}

func testReopen(h *harness) {
	l := h.log(evidence.Config{})
	for i := 0; i < 5; i++ {
		mustAppend(h.t, h.ctx, l, PlainRecord(i))
	}
	old, err := l.LatestCheckpoint(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	l.Close()
	l.Store().Close()
	l = h.log(evidence.Config{})
	for i := 5; i < 10; i++ {
		if got := mustAppend(h.t, h.ctx, l, PlainRecord(i)); got != int64(i) {
			h.t.Fatalf("after reopening, append got index %d, want %d", got, i)
		}
	}
	mustCheck(h, l.Store(), evidence.CheckOptions{Checkpoints: [][]byte{old.Note}})
	// The origin is the store's.
	if _, err := evidence.Open(h.ctx, evidence.Config{Store: h.open(), Key: LogKey, Origin: "another/log"}); jose.CodeOf(err) != jose.PolicyInvalid {
		h.t.Fatalf("opening with another origin: %v", err)
	}
}

func testReadOnly(h *harness) {
	if _, err := evidence.Open(h.ctx, evidence.Config{Store: h.open()}); jose.CodeOf(err) != evidence.RecordNotFound {
		h.t.Fatalf("read-only Open of an empty store = %v, want %s", err, evidence.RecordNotFound)
	}
	w := h.log(evidence.Config{})
	mustAppend(h.t, h.ctx, w, PlainRecord(0))
	r, err := evidence.Open(h.ctx, evidence.Config{Store: h.open()})
	if err != nil {
		h.t.Fatal(err)
	}
	if r.Origin() != Origin {
		h.t.Fatalf("origin %q", r.Origin())
	}
	if _, err := r.Append(h.ctx, PlainRecord(1)); jose.CodeOf(err) != jose.PolicyInvalid {
		h.t.Fatalf("read-only Append = %v", err)
	}
	if _, err := r.Bundle(h.ctx, 0, evidence.BundleOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func testStoreGone(h *harness) {
	s := h.open()
	l := h.log(evidence.Config{Store: s, CommitTimeout: 5 * time.Second})
	var acked []int64
	for i := 0; i < 5; i++ {
		acked = append(acked, mustAppend(h.t, h.ctx, l, PlainRecord(i)))
	}
	s.Close() // the database goes away under the log
	for i := 0; i < 3; i++ {
		idx, err := l.Append(h.ctx, PlainRecord(100+i))
		if jose.CodeOf(err) != evidence.Unavailable {
			h.t.Fatalf("Append on a closed store = %d, %v; want %s", idx, err, evidence.Unavailable)
		}
	}
	// Nothing acknowledged is lost, nothing refused was written.
	l2 := h.log(evidence.Config{})
	for i, idx := range acked {
		r, err := l2.Get(h.ctx, idx)
		if err != nil {
			h.t.Fatal(err)
		}
		sameRecord(h.t, r, PlainRecord(i))
	}
	head, _ := l2.Head(h.ctx)
	if head.Size != int64(len(acked)) {
		h.t.Fatalf("the log holds %d records, want the %d acknowledged", head.Size, len(acked))
	}
	mustCheck(h, l2.Store(), evidence.CheckOptions{})
	// A closed Log refuses.
	l2.Close()
	if _, err := l2.Append(h.ctx, PlainRecord(9)); jose.CodeOf(err) != evidence.Unavailable {
		h.t.Fatalf("Append after Close = %v", err)
	}
}

// filled returns a store with n plain records and its latest checkpoint.
func filled(h *harness, n int) (*evidence.Log, *evidence.Checkpoint) {
	l := h.log(evidence.Config{})
	for i := 0; i < n; i++ {
		mustAppend(h.t, h.ctx, l, PlainRecord(i))
	}
	mustCheck(h, l.Store(), evidence.CheckOptions{})
	cp, err := l.LatestCheckpoint(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	return l, cp
}

// wantProblem runs Check and requires a problem with code at index.
func wantProblem(h *harness, s evidence.Store, opts evidence.CheckOptions, code jose.Code, index int64) {
	h.t.Helper()
	rep, err := evidence.Check(h.ctx, s, opts)
	if jose.CodeOf(err) != code {
		h.t.Fatalf("Check = %v, want code %s (problems %v)", err, code, rep.Problems)
	}
	for _, p := range rep.Problems {
		if p.Code == code && (index < 0 || p.Index == index) {
			return
		}
	}
	h.t.Fatalf("no %s problem at record %d in %v", code, index, rep.Problems)
}

func testTamperBody(h *harness) {
	l, _ := filled(h, 12)
	h.b.Tamper(h.t, h.loc, `UPDATE evidence_records SET body = ? WHERE idx = ?`, []byte(`{"amount":"5000000.00","currency":"EUR","n":7}`), 7)
	wantProblem(h, l.Store(), evidence.CheckOptions{}, evidence.RecordHashMismatch, 7)
	if _, err := l.Get(h.ctx, 7); jose.CodeOf(err) != evidence.RecordHashMismatch {
		h.t.Fatalf("Get of a changed record = %v", err)
	}
	if _, err := l.Bundle(h.ctx, 7, evidence.BundleOptions{}); jose.CodeOf(err) != evidence.RecordHashMismatch {
		h.t.Fatalf("Bundle of a changed record = %v", err)
	}
}

func testTamperEntry(h *harness) {
	l, _ := filled(h, 12)
	lf, err := l.Store().Leaf(h.ctx, 4)
	if err != nil {
		h.t.Fatal(err)
	}
	forged := bytes.Replace(lf.Entry, []byte(`"verdict":"accepted"`), []byte(`"verdict":"rejected","code":"expired"`), 1)
	h.b.Tamper(h.t, h.loc, `UPDATE evidence_records SET entry = ? WHERE idx = ?`, forged, 4)
	wantProblem(h, l.Store(), evidence.CheckOptions{}, evidence.RecordHashMismatch, 4)
	if _, err := l.Bundle(h.ctx, 4, evidence.BundleOptions{}); jose.CodeOf(err) != evidence.InclusionInvalid {
		h.t.Fatalf("Bundle of a forged entry = %v, want %s", err, evidence.InclusionInvalid)
	}
}

func testDeleteRecord(h *harness) {
	l, _ := filled(h, 12)
	h.b.Tamper(h.t, h.loc, `DELETE FROM evidence_records WHERE idx = ?`, 5)
	wantProblem(h, l.Store(), evidence.CheckOptions{}, evidence.LogInconsistent, 5)
}

func testTruncate(h *harness) {
	l, before := filled(h, 12)
	// A careful attacker removes the last 4 records with their tree
	// hashes and checkpoints and rewinds the head: the store is consistent
	// with itself again…
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM evidence_records WHERE idx >= ?`, []any{8}},
		{`DELETE FROM evidence_checkpoints WHERE size > ?`, []any{8}},
	} {
		h.b.Tamper(h.t, h.loc, q.sql, q.args...)
	}
	cp8, err := l.CheckpointAt(h.ctx, 8)
	if err != nil {
		h.t.Fatal(err)
	}
	h.b.Tamper(h.t, h.loc, `UPDATE evidence_head SET size = ?, root = ? WHERE id = 1`, 8, cp8.Root[:])
	mustCheck(h, l.Store(), evidence.CheckOptions{})
	// …but a checkpoint held elsewhere proves the truncation.
	wantProblem(h, l.Store(), evidence.CheckOptions{Checkpoints: [][]byte{before.Note}}, evidence.ConsistencyInvalid, -1)
	if err := evidence.VerifyConsistency(before.Tree, cp8.Tree, nil); jose.CodeOf(err) != evidence.ConsistencyInvalid {
		h.t.Fatalf("VerifyConsistency(12 → 8) = %v", err)
	}

	// A careless one leaves the head and checkpoints: Check says where.
	h2 := &harness{t: h.t, b: h.b, ctx: h.ctx, loc: h.b.New(h.t)}
	l2, _ := filled(h2, 10)
	h.b.Tamper(h.t, h2.loc, `DELETE FROM evidence_records WHERE idx >= ?`, 6)
	wantProblem(h2, l2.Store(), evidence.CheckOptions{}, evidence.LogInconsistent, 6)
}

func testDamagedTree(h *harness) {
	l, _ := filled(h, 11)
	// Damage a hash of the tree's right edge (the root of records 0–7,
	// stored with record 7), keeping record 7's own leaf hash: a new
	// instance, which reads the edge from the store, must refuse to build
	// on it.
	edge := tlog.StoredHashIndex(3, 0)
	if n, i := evidence.HashLocation(edge); n != 7 || i != 3 {
		h.t.Fatalf("HashLocation(%d) = %d, %d", edge, n, i)
	}
	leaf, err := l.Store().ReadHashes(h.ctx, []int64{tlog.StoredHashIndex(0, 7)})
	if err != nil {
		h.t.Fatal(err)
	}
	damaged := append(leaf[0][:], bytes.Repeat([]byte{7}, 3*32)...)
	h.b.Tamper(h.t, h.loc, `UPDATE evidence_records SET hashes = ? WHERE idx = ?`, damaged, 7)
	fresh := h.log(evidence.Config{})
	if _, err := fresh.Append(h.ctx, PlainRecord(50)); jose.CodeOf(err) != evidence.LogInconsistent {
		h.t.Fatalf("append onto a damaged tree = %v, want %s", err, evidence.LogInconsistent)
	}
	wantProblem(h, l.Store(), evidence.CheckOptions{}, evidence.LogInconsistent, 0)
}
