package keys

import (
	"net/http"

	"github.com/nonrep/nonrep/problem"
)

func init() {
	problem.Register(http.StatusNotFound, KeyNotFound, PartnerNotFound)
	problem.Register(http.StatusConflict, KeyExists, TransitionInvalid, TooEarly)
	problem.Register(http.StatusBadRequest, PartnerInvalid)
	problem.Register(http.StatusServiceUnavailable, StoreUnavailable)
}
