package evidence

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/nonrep/nonrep/jose"
)

// Tree is a tree head: the number of records and the RFC 6962 root hash
// of the tree they form.
type Tree struct {
	Size int64
	Root tlog.Hash
}

// EmptyRoot is the root of the empty tree, SHA-256 of nothing (RFC 6962
// §2.1).
var EmptyRoot = tlog.Hash{
	0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
	0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
	0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
	0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
}

// Summary is the searchable part of a record, kept in columns beside the
// entry. It is derived from the entry and never trusted over it.
type Summary struct {
	Index     int64
	Received  time.Time
	Direction Direction
	Kind      Kind
	Partner   string
	Profile   string
	Method    string
	Path      string
	Kid       string
	Verdict   Verdict
	Code      jose.Code
	ReplayID  string
}

// summaryOf derives the search columns. They hold valid UTF-8 without NUL
// (what a SQL text column accepts); the entry keeps the exact bytes.
func summaryOf(r *Record) Summary {
	return Summary{
		Received: r.Received.UTC(), Direction: r.Direction, Kind: r.kind(),
		Partner: column(r.Partner), Profile: column(r.Profile), Method: column(r.Method),
		Path: column(r.Path), Kid: column(r.Kid), Verdict: r.Verdict, Code: jose.Code(column(string(r.Code))),
		ReplayID: column(r.ReplayID),
	}
}

func column(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// Leaf is one record as a store keeps it: the entry (the leaf data), the
// body beside it, and the search columns.
type Leaf struct {
	Summary
	Entry []byte
	Body  []byte
}

// Batch is what one Integrate call writes, all or nothing.
type Batch struct {
	// Leaves have consecutive indexes starting at the old head's size.
	Leaves []Leaf
	// Hashes are the tree's new stored hashes (tlog.StoredHashes), at
	// consecutive stored-hash indexes starting at HashStart. A store may
	// keep them however it likes as long as ReadHashes finds them; both
	// backends keep each leaf's hashes with its record (LeafHashes,
	// HashLocation), so a record and its place in the tree are written, and
	// lost, together.
	HashStart int64
	Hashes    []tlog.Hash
	// Head is the new tree head.
	Head Tree
	// Checkpoint, when set, is the signed checkpoint of Head.
	Checkpoint []byte
}

// IntegrateFunc computes a batch from the current tree head. hashes reads
// the stored tree hashes within the same transaction.
type IntegrateFunc func(head Tree, hashes tlog.HashReader) (*Batch, error)

// Query selects records. Zero fields match everything; set fields must all
// match.
type Query struct {
	Partner  string
	Kid      string
	Verdict  Verdict
	ReplayID string
	Path     string
	// From and To bound Received: From ≤ Received < To.
	From, To time.Time
	// After, when ≥ 0, returns only records with an index greater than it
	// (a cursor); use -1 (or Query{}.Start()) to start at the beginning.
	After int64
	// Limit caps the result (default 100, at most 10000).
	Limit int
}

// Normalize returns q with its defaults applied.
func (q Query) Normalize() Query {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	if q.Limit > 10000 {
		q.Limit = 10000
	}
	if q.After < -1 {
		q.After = -1
	}
	return q
}

// SQL returns the WHERE clause (conditions joined by AND, over the search
// columns idx, partner, kid, verdict, replay_id, path and received in
// nanoseconds) and its arguments for the normalized q, followed by the
// LIMIT argument. ph(n) is the placeholder of the n-th argument ("?" or
// "$n"). The SQL backends share it so that they select alike.
func (q Query) SQL(ph func(n int) string) (where string, args []any) {
	q = q.Normalize()
	var conds []string
	add := func(col string, v any) {
		args = append(args, v)
		conds = append(conds, col+ph(len(args)))
	}
	add("idx > ", q.After)
	if q.Partner != "" {
		add("partner = ", q.Partner)
	}
	if q.Kid != "" {
		add("kid = ", q.Kid)
	}
	if q.Verdict != "" {
		add("verdict = ", string(q.Verdict))
	}
	if q.ReplayID != "" {
		add("replay_id = ", q.ReplayID)
	}
	if q.Path != "" {
		add("path = ", q.Path)
	}
	if !q.From.IsZero() {
		add("received >= ", q.From.UnixNano())
	}
	if !q.To.IsZero() {
		add("received < ", q.To.UnixNano())
	}
	return strings.Join(conds, " AND "), append(args, q.Limit)
}

// Store keeps a log: leaves (entry, body, search columns), the tree's
// stored hashes, the tree head, signed checkpoints and the log's identity.
// Backends live in sub-packages (sqlitestore, pgstore) and pass the
// conformance suite in evidencetest. Implementations are safe for
// concurrent use, and for shared backends by several processes.
//
// Every method that cannot answer returns an error with code Unavailable.
type Store interface {
	// Init sets the log's origin if the store has none and returns the
	// stored origin. With origin "" it only reads, and returns "" for a
	// store that holds no log yet.
	Init(ctx context.Context, origin string) (string, error)
	// AddVerifierKey records a checkpoint verifier key (note format) if it
	// is not already known; VerifierKeys lists them, oldest first.
	AddVerifierKey(ctx context.Context, vkey string) error
	VerifierKeys(ctx context.Context) ([]string, error)

	// Integrate appends one batch. It takes the log's write lock (one
	// writer at a time across every process sharing the store), reads the
	// tree head, calls fn, writes the batch and the new head, and commits.
	// It returns nil only after the commit is durable. If fn fails nothing
	// is written and its error is returned. A batch whose leaves do not
	// start at the head's size, or whose head does not follow, is refused.
	Integrate(ctx context.Context, fn IntegrateFunc) error

	// Head returns the latest committed tree head.
	Head(ctx context.Context) (Tree, error)
	// ReadHashes returns stored hashes by stored-hash index
	// (tlog.StoredHashIndex); a missing one is an error.
	ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error)
	// Leaf returns one leaf, or an error with code RecordNotFound.
	Leaf(ctx context.Context, index int64) (*Leaf, error)
	// Leaves calls fn for every stored leaf with an index ≥ start, in
	// ascending order, including any beyond the head (which a correct
	// store never has). It stops at fn's first error and returns it.
	Leaves(ctx context.Context, start int64, fn func(*Leaf) error) error
	// Search returns the summaries of matching leaves in index order.
	Search(ctx context.Context, q Query) ([]Summary, error)

	// AddCheckpoint stores a signed checkpoint for a tree size; storing
	// the same size twice keeps the first.
	AddCheckpoint(ctx context.Context, size int64, note []byte) error
	// Checkpoint returns the stored checkpoint of exactly size, or the
	// latest one when size < 0; RecordNotFound when there is none.
	Checkpoint(ctx context.Context, size int64) (int64, []byte, error)
	// Checkpoints calls fn for every stored checkpoint in size order.
	Checkpoints(ctx context.Context, fn func(size int64, note []byte) error) error

	// Close releases the store's resources.
	Close() error
}

// CheckBatch reports whether b follows head: leaves numbered from
// head.Size on, hashes starting where head's end, a new head of the right
// size. Stores call it before writing so that a faulty IntegrateFunc can
// never leave a gap or an overlap.
func CheckBatch(head Tree, b *Batch) error {
	if b == nil || len(b.Leaves) == 0 {
		return errorf(LogInconsistent, "an empty batch")
	}
	for i := range b.Leaves {
		if want := head.Size + int64(i); b.Leaves[i].Index != want {
			return errorf(LogInconsistent, "batch leaf %d has index %d, want %d", i, b.Leaves[i].Index, want)
		}
	}
	n := head.Size + int64(len(b.Leaves))
	if b.Head.Size != n {
		return errorf(LogInconsistent, "batch head size %d, want %d", b.Head.Size, n)
	}
	if b.HashStart != tlog.StoredHashCount(head.Size) || int64(len(b.Hashes)) != tlog.StoredHashCount(n)-tlog.StoredHashCount(head.Size) {
		return errorf(LogInconsistent, "batch hashes [%d, +%d) do not cover the tree from %d to %d records", b.HashStart, len(b.Hashes), head.Size, n)
	}
	return nil
}

// HashLocation says where stored hash x (tlog.StoredHashIndex) lives when
// a store keeps each record's stored hashes with the record, as
// tlog.StoredHashes returns them: in record n's list, at position i (0 is
// the leaf hash, i the root of the level-i subtree that record n
// completed).
func HashLocation(x int64) (n int64, i int) {
	level, k := tlog.SplitStoredHashIndex(x)
	return (k+1)<<uint(level) - 1, level
}

// LeafHashes returns the stored hashes written with b.Leaves[i]: its leaf
// hash, then the roots of the subtrees it completes.
func (b *Batch) LeafHashes(i int) []tlog.Hash {
	n := b.Leaves[i].Index
	lo := tlog.StoredHashIndex(0, n) - b.HashStart
	hi := tlog.StoredHashIndex(0, n+1) - b.HashStart
	return b.Hashes[lo:hi]
}

// PackHashes concatenates hashes, for a store that keeps them in one
// column; UnpackHash reads hash i back.
func PackHashes(hs []tlog.Hash) []byte {
	out := make([]byte, 0, len(hs)*tlog.HashSize)
	for _, h := range hs {
		out = append(out, h[:]...)
	}
	return out
}

// UnpackHash returns hash i of a packed list.
func UnpackHash(packed []byte, i int) (tlog.Hash, bool) {
	var h tlog.Hash
	if i < 0 || (i+1)*tlog.HashSize > len(packed) || len(packed)%tlog.HashSize != 0 {
		return h, false
	}
	copy(h[:], packed[i*tlog.HashSize:])
	return h, true
}

// ReadPackedHashes implements Store.ReadHashes for a store that keeps
// each record's hashes packed beside it: fetch returns the packed lists of
// the given records (a missing record is simply absent from the map).
func ReadPackedHashes(indexes []int64, fetch func(records []int64) (map[int64][]byte, error)) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	if len(indexes) == 0 {
		return out, nil
	}
	recs := make([]int64, 0, len(indexes))
	seen := make(map[int64]bool, len(indexes))
	for _, x := range indexes {
		n, _ := HashLocation(x)
		if !seen[n] {
			seen[n] = true
			recs = append(recs, n)
		}
	}
	packed, err := fetch(recs)
	if err != nil {
		return nil, err
	}
	for j, x := range indexes {
		n, i := HashLocation(x)
		p, ok := packed[n]
		if !ok {
			return nil, errorf(LogInconsistent, "record %d, which holds tree hash %d, is missing", n, x)
		}
		if out[j], ok = UnpackHash(p, i); !ok {
			return nil, errorf(LogInconsistent, "record %d's stored tree hashes are damaged", n)
		}
	}
	return out, nil
}
