package evidence

import (
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// frontierIndexes returns the stored-hash indexes of the complete subtrees
// that make up a tree of n records, left to right: the only hashes needed
// to compute its root and to append to it.
func frontierIndexes(n int64) []int64 {
	var out []int64
	for lo := int64(0); lo < n; {
		k, level := maxpow2(n - lo + 1)
		out = append(out, tlog.StoredHashIndex(level, lo>>uint(level)))
		lo += k
	}
	return out
}

// maxpow2 returns k, the largest power of two smaller than n, and its
// log₂ (as in tlog).
func maxpow2(n int64) (k int64, l int) {
	for 1<<uint(l+1) < n {
		l++
	}
	return 1 << uint(l), l
}

// hashMap is a tlog.HashReader over hashes held in memory.
type hashMap map[int64]tlog.Hash

func (m hashMap) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		h, ok := m[x]
		if !ok {
			return nil, fmt.Errorf("evidence: stored hash %d is not in memory", x)
		}
		out[i] = h
	}
	return out, nil
}

// hashSlice is a tlog.HashReader over every stored hash of a tree, in
// stored-hash order.
type hashSlice []tlog.Hash

func (s hashSlice) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(s)) {
			return nil, fmt.Errorf("evidence: stored hash %d is beyond %d", x, len(s))
		}
		out[i] = s[x]
	}
	return out, nil
}

// treeHash is tlog.TreeHash with the RFC 6962 empty root for n = 0.
func treeHash(n int64, r tlog.HashReader) (tlog.Hash, error) {
	if n == 0 {
		return EmptyRoot, nil
	}
	return tlog.TreeHash(n, r)
}

// LeafHash returns the RFC 6962 leaf hash of an entry: SHA-256(0x00 ||
// entry).
func LeafHash(entry []byte) tlog.Hash { return tlog.RecordHash(entry) }
