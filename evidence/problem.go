package evidence

import (
	"net/http"

	"github.com/nonrep/nonrep/problem"
)

// The HTTP status of each code, for problem+json answers. Verification
// failures of a submitted bundle or checkpoint are 422: well-formed, but
// they do not prove what they claim.
func init() {
	problem.Register(http.StatusNotFound, RecordNotFound)
	problem.Register(http.StatusUnprocessableEntity, RecordHashMismatch, InclusionInvalid, CheckpointInvalid, ConsistencyInvalid, VerdictMismatch)
	problem.Register(http.StatusInternalServerError, RecordInvalid, LogInconsistent)
}
