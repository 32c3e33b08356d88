// Package evidence is nonrep's tamper-evident record of signed exchanges:
// what was received or sent, its signature and body exactly as they
// travelled, the key that verified it, and the verdict. Records are leaves
// of an append-only Merkle tree whose heads the log signs, so that months
// later one file — a bundle — proves to an arbiter, with nothing of ours
// running, that a partner's key signed exactly these bytes, when we
// received them, and that our log has not been edited or trimmed since.
//
// # What it implements
//
//   - Record: the fields of DESIGN.md's evidence record. Signature header
//     values, bodies and response signatures are kept verbatim, never
//     re-serialized.
//   - Entry: a record's canonical encoding without its body (a JSON object
//     with a fixed member order, see Record.Entry). It is the leaf data:
//     the leaf hash is SHA-256(0x00 || entry) (RFC 6962 §2.1, RFC 9162
//     §2.1.1), and the entry commits to the body by its SHA-256, so large
//     bodies live beside the leaf.
//   - Log: append-only, over a Store. Tree hashing, inclusion proofs
//     (RFC 9162 §2.1.3) and consistency proofs (§2.1.4) use
//     golang.org/x/mod/sumdb/tlog.
//   - Checkpoints: C2SP tlog-checkpoint text ("origin\nsize\nroot\n")
//     in a C2SP signed note with the log's Ed25519 key, signed in the
//     transaction of every batch (or on an interval, see
//     Config.CheckpointInterval).
//   - Bundle: one deterministic JSON file holding the record, the exact
//     signature and body bytes, the key or chain, the inclusion proof, a
//     signed checkpoint, the log's key and a VERIFY section in plain
//     language with an OpenSSL recipe. VerifyBundle checks it offline,
//     re-verifying the signature at the record's stored time.
//   - Check: a walk of a whole store that recomputes the tree and says
//     where a byte was changed, a record deleted, or the log truncated.
//
// # Durability
//
// Log.Append returns only after the record, its index and the tree
// hashes that include it are committed (SQLite: fsynced WAL; PostgreSQL:
// COMMIT with synchronous_commit=on). Throughput comes from group commit:
// one goroutine per Log takes every append waiting at that moment and
// commits them in one transaction. Sequencing is the store's write lock
// (SQLite's, or a PostgreSQL advisory lock), under which the tree head is
// read, so several Logs in several processes may share one store.
//
// A caller that gets an error from Append must not act on the request: the
// code is Unavailable (answer 503, forward nothing) or RecordInvalid (a
// programming error). Every acknowledged append survives a crash; an
// append that failed may or may not be in the log (it was never
// acknowledged), but the tree is never partial.
//
// # Errors
//
// Errors are *jose.Error with a stable code: this package's (Codes),
// Unavailable (= problem.EvidenceUnavailable), and jose's and profile's
// codes when a re-verified signature fails.
//
// # Security
//
// The store is not trusted: Check and VerifyBundle recompute every hash
// from the stored bytes. A log operator who rewrites the store and its own
// checkpoints is caught only by a checkpoint kept elsewhere (Check's
// CheckOptions.Checkpoints, or a consistency proof from a checkpoint the
// other party holds): publish checkpoints, or hand them out with bundles.
// A bundle's embedded log key proves nothing by itself; pin the key
// (VerifyOptions.LogKeys, nonrep evidence verify --log-key). HMAC keys are
// never stored. Bodies and signatures are payment data: protect the store
// and bundles as such; nothing in this package logs them.
package evidence
