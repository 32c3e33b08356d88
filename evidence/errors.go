package evidence

import (
	"fmt"
	"strconv"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/problem"
)

// The codes this package returns. Like jose's, they are wire API: they
// appear in problem+json responses, CLI output and reports, and are never
// renamed or reused.
const (
	// Unavailable: the store could not make a record durable (database
	// down, disk or size cap full, lock timeout, canceled context, log
	// closed). Callers must fail closed: answer 503, forward nothing. It is
	// problem.EvidenceUnavailable.
	Unavailable = problem.EvidenceUnavailable
	// RecordInvalid: Append was given a record that cannot be stored (a
	// required field empty, an unknown direction or verdict, a private
	// key). A programming or configuration error, never caused by a
	// partner's message.
	RecordInvalid jose.Code = "record_invalid"
	// RecordNotFound: no record has the given index, or no signed
	// checkpoint covers it yet.
	RecordNotFound jose.Code = "record_not_found"
	// RecordHashMismatch: stored bytes do not match the hash that commits
	// to them: a body that is not the entry's body_sha256, an entry that is
	// not its leaf hash, a readable copy that differs from the signed entry.
	RecordHashMismatch jose.Code = "record_hash_mismatch"
	// InclusionInvalid: the inclusion proof does not lead from the record's
	// leaf hash to the checkpoint's root.
	InclusionInvalid jose.Code = "inclusion_invalid"
	// CheckpointInvalid: a checkpoint is malformed, its signature does not
	// verify, it is signed by a key other than the expected log key, or its
	// root is not the root of the records it claims to cover.
	CheckpointInvalid jose.Code = "checkpoint_invalid"
	// ConsistencyInvalid: a later tree does not extend an earlier one: the
	// consistency proof fails, or the log now holds fewer records than a
	// checkpoint it signed (records removed or the log truncated).
	ConsistencyInvalid jose.Code = "consistency_invalid"
	// LogInconsistent: the store's own structure is broken: a record
	// missing from the middle of the log, a stored tree hash or tree head
	// that is not what the records give.
	LogInconsistent jose.Code = "log_inconsistent"
	// VerdictMismatch: re-verifying a record at its stored time gives a
	// different verdict from the recorded one (a rejected request whose
	// signature verifies).
	VerdictMismatch jose.Code = "verdict_mismatch"
)

// Codes returns the codes this package defines, in a stable order (not
// Unavailable, which is package problem's). Their HTTP statuses are
// registered with package problem: RecordNotFound 404; RecordHashMismatch,
// InclusionInvalid, CheckpointInvalid, ConsistencyInvalid and
// VerdictMismatch 422; RecordInvalid and LogInconsistent 500.
func Codes() []jose.Code {
	return []jose.Code{
		RecordInvalid, RecordNotFound, RecordHashMismatch, InclusionInvalid,
		CheckpointInvalid, ConsistencyInvalid, LogInconsistent, VerdictMismatch,
	}
}

func errorf(c jose.Code, format string, args ...any) *jose.Error {
	return &jose.Error{Code: c, Detail: fmt.Sprintf(format, args...)}
}

func wrapf(c jose.Code, err error, format string, args ...any) *jose.Error {
	return &jose.Error{Code: c, Detail: fmt.Sprintf(format, args...), Err: err}
}

// UnavailableError returns the error a store returns when it cannot make a
// write durable or cannot answer; cause is kept for logs.
func UnavailableError(cause error, format string, args ...any) error {
	return wrapf(Unavailable, cause, format, args...)
}

// quote renders untrusted text for an error detail: quoted, cut to 64
// bytes.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}
