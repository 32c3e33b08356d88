package evidence

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/nonrep/nonrep/jose"
)

// CheckOptions configures Check.
type CheckOptions struct {
	// LogKeys pins the verifier keys checkpoints must be signed with; when
	// empty, the keys recorded in the store are used.
	LogKeys []string
	// Checkpoints are signed checkpoints kept outside the store (published,
	// witnessed, or from earlier bundles). The store must still contain
	// the trees they describe: this is what detects a log truncated or
	// rewritten together with its own checkpoints.
	Checkpoints [][]byte
	// MaxProblems stops the walk after that many problems (default 100).
	MaxProblems int
}

// Problem is one thing Check found wrong. Index is the record concerned,
// or -1.
type Problem struct {
	Code   jose.Code
	Index  int64
	Detail string
}

func (p Problem) Error() string { return string(p.Code) + ": " + p.Detail }

// CheckReport is what Check found.
type CheckReport struct {
	Origin string
	// Head is the tree head the walk checked against.
	Head Tree
	// Records is the number of records read.
	Records int64
	// Checkpoints is the number of checkpoints verified (stored and
	// given).
	Checkpoints int
	Problems    []Problem
}

// Check walks a whole store: every record's entry is parsed and its body
// checked against it, the tree is recomputed from the entries and compared
// with every stored tree hash and with the tree head, and every stored
// checkpoint (and every one in opts) is verified and compared with the
// recomputed tree. It returns an error carrying the first problem's code
// when any is found (all are listed in the report, up to MaxProblems), and
// an Unavailable error when the store cannot be read. Records appended
// while Check runs are ignored.
//
// It keeps every tree hash in memory: about 64 bytes per record.
func Check(ctx context.Context, s Store, opts CheckOptions) (*CheckReport, error) {
	if opts.MaxProblems <= 0 {
		opts.MaxProblems = 100
	}
	rep := &CheckReport{}
	var err error
	if rep.Origin, err = s.Init(ctx, ""); err != nil {
		return rep, err
	}
	keys := opts.LogKeys
	if len(keys) == 0 {
		if keys, err = s.VerifierKeys(ctx); err != nil {
			return rep, err
		}
	}
	if rep.Head, err = s.Head(ctx); err != nil {
		return rep, err
	}
	full := errors.New("too many problems")
	add := func(code jose.Code, index int64, format string, args ...any) error {
		rep.Problems = append(rep.Problems, Problem{Code: code, Index: index, Detail: fmt.Sprintf(format, args...)})
		if len(rep.Problems) >= opts.MaxProblems {
			return full
		}
		return nil
	}
	n := rep.Head.Size
	hashes := make(hashSlice, 0, tlog.StoredHashCount(n))
	next := int64(0)
	computed := int64(0) // records whose tree hashes were recomputed
	var beyond []int64
	// After a gap the tree cannot be recomputed (the missing records'
	// leaves are gone with them): entries are still checked one by one.
	broken := false
	gap := func(from, to int64) error {
		if to > n {
			to = n
		}
		if from >= to {
			return nil
		}
		broken = true
		return add(LogInconsistent, from, "records %d to %d are missing (the tree head covers %d records): records were deleted", from, to-1, n)
	}
	walkErr := s.Leaves(ctx, 0, func(lf *Leaf) error {
		if lf.Index >= n {
			beyond = append(beyond, lf.Index)
			return nil
		}
		if lf.Index > next {
			if err := gap(next, lf.Index); err != nil {
				return err
			}
		}
		next = lf.Index + 1
		rep.Records++
		if d, err := ParseEntry(lf.Entry); err != nil {
			if err := add(RecordHashMismatch, lf.Index, "record %d: the entry is damaged: %s", lf.Index, detail(err)); err != nil {
				return err
			}
		} else if err := d.checkBody(lf.Body); err != nil {
			if err := add(RecordHashMismatch, lf.Index, "record %d: %s: the body was changed", lf.Index, detail(err)); err != nil {
				return err
			}
		}
		if broken {
			return nil
		}
		computed++
		return appendHashes(&hashes, lf.Index, LeafHash(lf.Entry))
	})
	if walkErr == nil && next < n {
		walkErr = gap(next, n)
	}
	if walkErr != nil && walkErr != full {
		return rep, walkErr
	}
	if walkErr == nil && !broken {
		walkErr = checkTree(ctx, s, rep, hashes, add)
		if walkErr != nil && walkErr != full {
			return rep, walkErr
		}
	}
	if walkErr == nil && len(beyond) > 0 {
		// Records appended while we walked are fine; others are not.
		h2, err := s.Head(ctx)
		if err != nil {
			return rep, err
		}
		for _, i := range beyond {
			if i >= h2.Size {
				if err := add(LogInconsistent, i, "record %d is beyond the tree head (%d records): a partial or forged write", i, h2.Size); err != nil {
					break
				}
			}
		}
	}
	if walkErr == nil {
		rootAt := func(size int64) (tlog.Hash, bool) {
			if size > computed {
				return tlog.Hash{}, false
			}
			h, err := treeHash(size, hashes)
			return h, err == nil
		}
		verify := func(what string, size int64, note []byte) error {
			rep.Checkpoints++
			cp, err := OpenCheckpoint(note, keys...)
			if err != nil {
				return add(CheckpointInvalid, -1, "%s: %s", what, detail(err))
			}
			if cp.Origin != rep.Origin {
				return add(CheckpointInvalid, -1, "%s: it is of log %q, this store holds %q", what, cp.Origin, rep.Origin)
			}
			if size >= 0 && cp.Size != size {
				return add(CheckpointInvalid, -1, "%s: it is stored as size %d but covers %d records", what, size, cp.Size)
			}
			if cp.Size > n {
				return add(ConsistencyInvalid, cp.Size-1, "%s: it covers %d records but the log has %d: records were removed or the log truncated", what, cp.Size, n)
			}
			root, ok := rootAt(cp.Size)
			if !ok {
				return nil // beyond a gap, reported as missing records
			}
			if root != cp.Root {
				return add(ConsistencyInvalid, -1, "%s: its root is not the root of the first %d records: a record before %d was changed", what, cp.Size, cp.Size)
			}
			return nil
		}
		err := s.Checkpoints(ctx, func(size int64, note []byte) error {
			return verify(fmt.Sprintf("stored checkpoint of size %d", size), size, note)
		})
		if err != nil && err != full {
			return rep, err
		}
		for i, note := range opts.Checkpoints {
			if err := verify(fmt.Sprintf("given checkpoint %d", i+1), -1, note); err != nil {
				break
			}
		}
	}
	if len(rep.Problems) > 0 {
		p := rep.Problems[0]
		msg := p.Detail
		if len(rep.Problems) > 1 {
			msg += fmt.Sprintf(" (and %d more problems)", len(rep.Problems)-1)
		}
		return rep, &jose.Error{Code: p.Code, Detail: msg}
	}
	return rep, nil
}

func appendHashes(hashes *hashSlice, index int64, leaf tlog.Hash) error {
	hs, err := tlog.StoredHashesForRecordHash(index, leaf, *hashes)
	if err != nil {
		return err
	}
	*hashes = append(*hashes, hs...)
	return nil
}

// checkTree compares the recomputed hashes with the stored ones and the
// root with the head.
func checkTree(ctx context.Context, s Store, rep *CheckReport, hashes hashSlice, add func(jose.Code, int64, string, ...any) error) error {
	const chunk = 4096
	idx := make([]int64, 0, chunk)
	for start := int64(0); start < int64(len(hashes)); start += chunk {
		idx = idx[:0]
		for x := start; x < start+chunk && x < int64(len(hashes)); x++ {
			idx = append(idx, x)
		}
		stored, err := s.ReadHashes(ctx, idx)
		if err != nil {
			if jose.CodeOf(err) == LogInconsistent {
				return add(LogInconsistent, -1, "stored tree hashes between %d and %d: %s", idx[0], idx[len(idx)-1], detail(err))
			}
			return err
		}
		for i, x := range idx {
			if stored[i] == hashes[x] {
				continue
			}
			level, n := tlog.SplitStoredHashIndex(x)
			if level == 0 {
				if err := add(RecordHashMismatch, n, "record %d: its entry is not the leaf the tree was built with: the record was changed", n); err != nil {
					return err
				}
			} else if err := add(LogInconsistent, n<<uint(level), "the stored tree hash over records %d to %d is wrong", n<<uint(level), (n+1)<<uint(level)-1); err != nil {
				return err
			}
		}
	}
	root, err := treeHash(rep.Head.Size, hashes)
	if err != nil {
		return err
	}
	if root != rep.Head.Root {
		return add(LogInconsistent, -1, "the tree head's root is not the root of its %d records", rep.Head.Size)
	}
	return nil
}

func detail(err error) string {
	var je *jose.Error
	if errors.As(err, &je) && je.Detail != "" {
		return je.Detail
	}
	return err.Error()
}
