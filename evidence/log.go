package evidence

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/nonrep/nonrep/jose"
)

// Config configures a Log. Store is required; every other zero field means
// the documented default.
type Config struct {
	Store Store
	// Key signs checkpoints: a crypto.Signer holding an Ed25519 key (a file
	// key, or an HSM/KMS key). Without it the Log is read-only: Append
	// fails, everything else works.
	Key crypto.Signer
	// Origin names a new log ("nonrep.local/evidence/<random>" by
	// default). An existing store keeps its origin; a different non-empty
	// Origin is refused.
	Origin string
	// MaxBatch caps the records committed in one transaction (default
	// 1024).
	MaxBatch int
	// CommitTimeout bounds one batch's transaction (default 10 s); beyond
	// it the batch's appends fail with Unavailable.
	CommitTimeout time.Duration
	// CheckpointInterval, when zero (the default), signs a checkpoint in
	// every batch's transaction, so every acknowledged record is covered
	// by a signed checkpoint. When positive, a batch signs one only if the
	// last is older than the interval, and a timer signs the latest tree
	// when the interval passes with records not yet covered.
	CheckpointInterval time.Duration
	// Logger receives store failures (default slog.Default()). Record
	// contents are never logged.
	Logger *slog.Logger
}

// Log is an append-only, tamper-evident log of records over a Store: every
// record is a leaf of an RFC 6962 Merkle tree whose heads the log signs as
// checkpoints. It is safe for concurrent use; several Logs, in one or many
// processes, may share one store.
type Log struct {
	store    Store
	origin   string
	signer   note.Signer
	vkey     string
	maxBatch int
	timeout  time.Duration
	interval time.Duration
	logger   *slog.Logger

	queue     chan *pending
	closing   chan struct{}
	stopped   chan struct{}
	closeOnce sync.Once

	mu         sync.Mutex
	cacheHead  Tree
	cache      hashMap // frontier of cacheHead; nil when unknown
	lastSigned time.Time
	signedSize int64
}

type pending struct {
	leaf Leaf
	done chan result
}

type result struct {
	index int64
	err   error
}

// Open opens the log in cfg.Store, recording its origin and, with a key,
// the key's verifier key.
func Open(ctx context.Context, cfg Config) (*Log, error) {
	if cfg.Store == nil {
		return nil, errorf(jose.PolicyInvalid, "evidence: Config.Store is required")
	}
	l := &Log{
		store:    cfg.Store,
		maxBatch: cfg.MaxBatch,
		timeout:  cfg.CommitTimeout,
		interval: cfg.CheckpointInterval,
		logger:   cfg.Logger,
		closing:  make(chan struct{}),
		stopped:  make(chan struct{}),
		cache:    nil,
	}
	if l.maxBatch <= 0 {
		l.maxBatch = 1024
	}
	if l.timeout <= 0 {
		l.timeout = 10 * time.Second
	}
	if l.logger == nil {
		l.logger = slog.Default()
	}
	origin := cfg.Origin
	if origin == "" && cfg.Key == nil {
		// Read-only: never name a log, only open an existing one.
		stored, err := cfg.Store.Init(ctx, "")
		if err != nil {
			return nil, err
		}
		if stored == "" {
			return nil, errorf(RecordNotFound, "the store holds no evidence log yet")
		}
		l.origin = stored
		close(l.stopped)
		return l, nil
	}
	if origin == "" {
		var b [8]byte
		rand.Read(b[:])
		origin = "nonrep.local/evidence/" + hex.EncodeToString(b[:])
	} else if !ValidOrigin(origin) {
		return nil, errorf(jose.PolicyInvalid, "evidence: origin %s must be non-empty with no spaces and no '+'", quote(origin))
	}
	stored, err := cfg.Store.Init(ctx, origin)
	if err != nil {
		return nil, err
	}
	if cfg.Origin != "" && stored != cfg.Origin {
		return nil, errorf(jose.PolicyInvalid, "evidence: the store holds log %s, not %s", quote(stored), quote(cfg.Origin))
	}
	l.origin = stored
	if cfg.Key == nil {
		close(l.stopped)
		return l, nil
	}
	if l.signer, l.vkey, err = NewNoteSigner(l.origin, cfg.Key); err != nil {
		return nil, err
	}
	if err := cfg.Store.AddVerifierKey(ctx, l.vkey); err != nil {
		return nil, err
	}
	l.queue = make(chan *pending, 4*l.maxBatch)
	go l.run()
	if l.interval > 0 {
		go l.tick()
	}
	return l, nil
}

// Origin is the log's name, the first line of its checkpoints.
func (l *Log) Origin() string { return l.origin }

// VerifierKey is the note verifier key of the log's signing key ("" for a
// read-only Log).
func (l *Log) VerifierKey() string { return l.vkey }

// Store returns the log's store.
func (l *Log) Store() Store { return l.store }

// Close stops accepting appends, waits for the batch in progress, and
// fails the appends still queued with Unavailable. It does not close the
// Store.
func (l *Log) Close() error {
	l.closeOnce.Do(func() { close(l.closing) })
	<-l.stopped
	return nil
}

var errClosed = errorf(Unavailable, "the evidence log is closed")

// Append stores r and returns its index once the record, its index and the
// tree hashes that include it are durable (committed; for SQLite, fsynced).
// Concurrent Appends are committed together in one transaction (group
// commit). Any failure returns an error with code Unavailable (the store
// cannot write; answer 503) or RecordInvalid (r cannot be stored); nothing
// that returned an error was acknowledged. If ctx ends first, Append
// returns Unavailable, and the record may or may not have been written.
func (l *Log) Append(ctx context.Context, r *Record) (int64, error) {
	if l.signer == nil {
		return -1, errorf(jose.PolicyInvalid, "evidence: the log was opened without a key and is read-only")
	}
	if err := r.Validate(); err != nil {
		return -1, err
	}
	entry, err := r.Entry()
	if err != nil {
		return -1, err
	}
	p := &pending{
		leaf: Leaf{Summary: summaryOf(r), Entry: entry, Body: append([]byte{}, r.Body...)},
		done: make(chan result, 1),
	}
	select {
	case <-l.closing:
		return -1, errClosed
	default:
	}
	select {
	case l.queue <- p:
	case <-l.closing:
		return -1, errClosed
	case <-ctx.Done():
		return -1, wrapf(Unavailable, ctx.Err(), "the append was canceled before it was queued")
	}
	select {
	case res := <-p.done:
		return res.index, res.err
	case <-ctx.Done():
		return -1, wrapf(Unavailable, ctx.Err(), "the append was canceled while committing; the record may still be written")
	case <-l.stopped:
		// Closed while queued: answered if the committer took it,
		// otherwise never written.
		select {
		case res := <-p.done:
			return res.index, res.err
		default:
			return -1, errClosed
		}
	}
}

// AppendBatch stores records in one transaction, in order, and returns
// the index of the first; the others follow it. It is for bulk imports:
// online callers use Append, which batches concurrent calls by itself. All
// records are validated first; if any is invalid, nothing is written.
func (l *Log) AppendBatch(ctx context.Context, rs []*Record) (int64, error) {
	if l.signer == nil {
		return -1, errorf(jose.PolicyInvalid, "evidence: the log was opened without a key and is read-only")
	}
	if len(rs) == 0 {
		return -1, errorf(RecordInvalid, "an empty batch")
	}
	batch := make([]*pending, len(rs))
	for i, r := range rs {
		if err := r.Validate(); err != nil {
			return -1, err
		}
		entry, err := r.Entry()
		if err != nil {
			return -1, err
		}
		batch[i] = &pending{
			leaf: Leaf{Summary: summaryOf(r), Entry: entry, Body: append([]byte{}, r.Body...)},
			done: make(chan result, 1),
		}
	}
	select {
	case <-l.closing:
		return -1, errClosed
	default:
	}
	l.commit(batch)
	res := <-batch[0].done
	return res.index, res.err
}

// run is the committer: it takes whatever is queued (up to MaxBatch) and
// commits it in one transaction, so that concurrent appends share a
// commit.
func (l *Log) run() {
	defer close(l.stopped)
	batch := make([]*pending, 0, l.maxBatch)
	for {
		var first *pending
		select {
		case first = <-l.queue:
		case <-l.closing:
			l.failQueued()
			return
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < l.maxBatch {
			select {
			case p := <-l.queue:
				batch = append(batch, p)
			default:
				break fill
			}
		}
		l.commit(batch)
		clear(batch)
	}
}

func (l *Log) failQueued() {
	for {
		select {
		case p := <-l.queue:
			p.done <- result{-1, errClosed}
		default:
			return
		}
	}
}

func (l *Log) commit(batch []*pending) {
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	var (
		newHead  Tree
		newCache hashMap
		signed   bool
		start    int64
	)
	err := l.store.Integrate(ctx, func(head Tree, hr tlog.HashReader) (*Batch, error) {
		m, err := l.frontier(head, hr)
		if err != nil {
			return nil, err
		}
		start = head.Size
		b := &Batch{Leaves: make([]Leaf, len(batch)), HashStart: tlog.StoredHashIndex(0, head.Size)}
		b.Hashes = make([]tlog.Hash, 0, 2*len(batch)+8)
		for i, p := range batch {
			n := head.Size + int64(i)
			hs, err := tlog.StoredHashes(n, p.leaf.Entry, m)
			if err != nil {
				return nil, wrapf(LogInconsistent, err, "computing the tree hashes of record %d", n)
			}
			x := tlog.StoredHashIndex(0, n)
			for j, h := range hs {
				m[x+int64(j)] = h
			}
			b.Hashes = append(b.Hashes, hs...)
			b.Leaves[i] = p.leaf
			b.Leaves[i].Index = n
		}
		b.Head.Size = head.Size + int64(len(batch))
		if b.Head.Root, err = treeHash(b.Head.Size, m); err != nil {
			return nil, wrapf(LogInconsistent, err, "computing the root of %d records", b.Head.Size)
		}
		if l.interval <= 0 || time.Since(l.lastSignedTime()) >= l.interval {
			if b.Checkpoint, err = SignCheckpoint(l.signer, l.origin, b.Head); err != nil {
				return nil, err
			}
			signed = true
		}
		newHead = b.Head
		newCache = hashMap{}
		for _, x := range frontierIndexes(b.Head.Size) {
			newCache[x] = m[x]
		}
		return b, nil
	})
	l.mu.Lock()
	if err != nil {
		l.cache = nil
	} else {
		l.cacheHead, l.cache = newHead, newCache
		if signed {
			l.lastSigned, l.signedSize = time.Now(), newHead.Size
		}
	}
	l.mu.Unlock()
	if err != nil {
		if jose.CodeOf(err) == "" {
			err = wrapf(Unavailable, err, "the evidence store could not commit")
		}
		l.logger.Error("evidence: batch not committed", "records", len(batch), "err", err)
		for _, p := range batch {
			p.done <- result{-1, err}
		}
		return
	}
	for i, p := range batch {
		p.done <- result{start + int64(i), nil}
	}
}

func (l *Log) lastSignedTime() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastSigned
}

// frontier returns the hashes of head's complete subtrees: from memory
// when this Log wrote head, else read from the store (another writer
// appended) and checked against head's root.
func (l *Log) frontier(head Tree, hr tlog.HashReader) (hashMap, error) {
	l.mu.Lock()
	if l.cache != nil && l.cacheHead == head {
		m := make(hashMap, len(l.cache)+64)
		for k, v := range l.cache {
			m[k] = v
		}
		l.mu.Unlock()
		return m, nil
	}
	l.mu.Unlock()
	m := hashMap{}
	idx := frontierIndexes(head.Size)
	if len(idx) > 0 {
		hs, err := hr.ReadHashes(idx)
		if err != nil {
			return nil, err
		}
		for i, x := range idx {
			m[x] = hs[i]
		}
	}
	root, err := treeHash(head.Size, m)
	if err != nil {
		return nil, wrapf(LogInconsistent, err, "reading the tree of %d records", head.Size)
	}
	if root != head.Root {
		return nil, errorf(LogInconsistent, "the stored tree hashes do not give the tree head's root at size %d; refusing to append to a damaged log", head.Size)
	}
	return m, nil
}

// tick signs the latest tree when CheckpointInterval passes with records
// not yet covered by a checkpoint.
func (l *Log) tick() {
	t := time.NewTicker(l.interval)
	defer t.Stop()
	for {
		select {
		case <-l.closing:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
			if _, err := l.Checkpoint(ctx); err != nil {
				l.logger.Error("evidence: checkpoint not signed", "err", err)
			}
			cancel()
		}
	}
}

// Checkpoint signs and stores a checkpoint of the latest tree unless one
// already covers it, and returns the latest checkpoint. A read-only Log
// returns the latest stored one.
func (l *Log) Checkpoint(ctx context.Context) (*Checkpoint, error) {
	if l.signer != nil {
		head, err := l.store.Head(ctx)
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		covered := l.signedSize >= head.Size && head.Size > 0
		l.mu.Unlock()
		if !covered {
			if size, _, err := l.store.Checkpoint(ctx, -1); err != nil && jose.CodeOf(err) != RecordNotFound {
				return nil, err
			} else if err != nil || size < head.Size {
				// Sign only a head that the stored tree hashes agree with.
				if _, err := l.frontier(head, storeHashes{ctx, l.store}); err != nil {
					return nil, err
				}
				cp, err := SignCheckpoint(l.signer, l.origin, head)
				if err != nil {
					return nil, err
				}
				if err := l.store.AddCheckpoint(ctx, head.Size, cp); err != nil {
					return nil, err
				}
			}
			l.mu.Lock()
			if head.Size > l.signedSize {
				l.lastSigned, l.signedSize = time.Now(), head.Size
			}
			l.mu.Unlock()
		}
	}
	return l.LatestCheckpoint(ctx)
}

// VerifierKeys returns the verifier keys the store knows for this log.
func (l *Log) VerifierKeys(ctx context.Context) ([]string, error) {
	return l.store.VerifierKeys(ctx)
}

// LatestCheckpoint returns the latest stored checkpoint, verified with the
// store's verifier keys.
func (l *Log) LatestCheckpoint(ctx context.Context) (*Checkpoint, error) {
	return l.CheckpointAt(ctx, -1)
}

// CheckpointAt returns the stored checkpoint of exactly size (the latest
// when size < 0), verified with the store's verifier keys.
func (l *Log) CheckpointAt(ctx context.Context, size int64) (*Checkpoint, error) {
	_, msg, err := l.store.Checkpoint(ctx, size)
	if err != nil {
		return nil, err
	}
	keys, err := l.store.VerifierKeys(ctx)
	if err != nil {
		return nil, err
	}
	cp, err := OpenCheckpoint(msg, keys...)
	if err != nil {
		return nil, err
	}
	if cp.Origin != l.origin {
		return nil, errorf(CheckpointInvalid, "a stored checkpoint names log %s, not %s", quote(cp.Origin), quote(l.origin))
	}
	return cp, nil
}

// Head returns the latest committed tree head.
func (l *Log) Head(ctx context.Context) (Tree, error) { return l.store.Head(ctx) }

// Get returns the record at index, with its body, after checking that the
// body matches the entry.
func (l *Log) Get(ctx context.Context, index int64) (*Record, error) {
	lf, err := l.store.Leaf(ctx, index)
	if err != nil {
		return nil, err
	}
	return recordOf(lf)
}

func recordOf(lf *Leaf) (*Record, error) {
	d, err := ParseEntry(lf.Entry)
	if err != nil {
		return nil, wrapf(RecordHashMismatch, err, "record %d: the stored entry is damaged", lf.Index)
	}
	if err := d.checkBody(lf.Body); err != nil {
		return nil, wrapf(RecordHashMismatch, err, "record %d: %s", lf.Index, err.(*jose.Error).Detail)
	}
	d.Record.Body = lf.Body
	return d.Record, nil
}

func (d *DecodedEntry) checkBody(body []byte) error {
	if int64(len(body)) != d.BodyLen || sha256.Sum256(body) != d.BodySHA256 {
		return errorf(RecordHashMismatch, "the body (%d bytes) does not match the entry's body_sha256 and body_len (%d bytes)", len(body), d.BodyLen)
	}
	return nil
}

// Search returns the summaries of the records matching q, in index order.
func (l *Log) Search(ctx context.Context, q Query) ([]Summary, error) {
	return l.store.Search(ctx, q.Normalize())
}

// storeHashes adapts a Store to tlog.HashReader under ctx.
type storeHashes struct {
	ctx context.Context
	s   Store
}

func (h storeHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	return h.s.ReadHashes(h.ctx, indexes)
}

// InclusionProof proves that record index is in the tree of size.
func (l *Log) InclusionProof(ctx context.Context, index, size int64) (tlog.RecordProof, error) {
	if index < 0 || index >= size {
		return nil, errorf(RecordNotFound, "record %d is not in a tree of %d records", index, size)
	}
	p, err := tlog.ProveRecord(size, index, storeHashes{ctx, l.store})
	if err != nil {
		return nil, storeErr(err, "proving record %d in the tree of %d", index, size)
	}
	return p, nil
}

// ConsistencyProof proves that the tree of size newSize extends the tree
// of size oldSize.
func (l *Log) ConsistencyProof(ctx context.Context, oldSize, newSize int64) (tlog.TreeProof, error) {
	if oldSize < 0 || oldSize > newSize {
		return nil, errorf(ConsistencyInvalid, "a tree of %d records cannot extend one of %d", newSize, oldSize)
	}
	if oldSize == 0 || oldSize == newSize {
		return tlog.TreeProof{}, nil
	}
	p, err := tlog.ProveTree(newSize, oldSize, storeHashes{ctx, l.store})
	if err != nil {
		return nil, storeErr(err, "proving that %d extends %d", newSize, oldSize)
	}
	return p, nil
}

func storeErr(err error, format string, args ...any) error {
	if jose.CodeOf(err) != "" {
		return err
	}
	return wrapf(Unavailable, err, format, args...)
}

// VerifyConsistency checks that newer extends older with proof (RFC 9162
// §2.1.4). An older tree larger than the newer one means records were
// removed.
func VerifyConsistency(older, newer Tree, proof tlog.TreeProof) error {
	switch {
	case older.Size > newer.Size:
		return errorf(ConsistencyInvalid, "the newer tree has %d records, fewer than the %d of the older: records were removed", newer.Size, older.Size)
	case older.Size == newer.Size:
		if older.Root != newer.Root {
			return errorf(ConsistencyInvalid, "two trees of %d records have different roots: the log was changed", older.Size)
		}
		return nil
	case older.Size == 0:
		if older.Root != EmptyRoot {
			return errorf(ConsistencyInvalid, "the empty tree's root is wrong")
		}
		return nil
	}
	if err := tlog.CheckTree(proof, newer.Size, newer.Root, older.Size, older.Root); err != nil {
		return wrapf(ConsistencyInvalid, err, "the tree of %d records does not extend the tree of %d: the log was changed or truncated", newer.Size, older.Size)
	}
	return nil
}
