// Package problem writes RFC 9457 problem details for nonrep's stable error
// codes and maps every code to its HTTP status.
package problem

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/profile"
	"github.com/nonrep/nonrep/replay"
)

// Codes of the HTTP layer (the JOSE core's and the profiles' are reused).
const (
	// PartnerUnknown: the request could not be attributed to a partner.
	PartnerUnknown jose.Code = "partner_unknown"
	// RateLimited: the partner's request rate is over its limit.
	RateLimited jose.Code = "rate_limited"
	// Overloaded: too many verifications in progress; try again shortly.
	Overloaded jose.Code = "overloaded"
	// EvidenceUnavailable: the evidence record could not be made durable,
	// so the request was not let through.
	EvidenceUnavailable jose.Code = "evidence_unavailable"
	// Internal: an unexpected server fault.
	Internal jose.Code = "internal"
)

var status = map[jose.Code]int{
	jose.Malformed:        http.StatusBadRequest,
	jose.TooLarge:         http.StatusRequestEntityTooLarge,
	jose.AlgNotAllowed:    http.StatusUnauthorized,
	jose.CritUnsupported:  http.StatusBadRequest,
	jose.HeaderInvalid:    http.StatusBadRequest,
	jose.KeyUnknown:       http.StatusUnauthorized,
	jose.KeyRejected:      http.StatusUnauthorized,
	jose.KeyUnavailable:   http.StatusServiceUnavailable,
	jose.SignatureInvalid: http.StatusUnauthorized,
	jose.X5CInvalid:       http.StatusUnauthorized,
	jose.PayloadMismatch:  http.StatusBadRequest,
	jose.ClaimsInvalid:    http.StatusBadRequest,
	jose.ClaimMissing:     http.StatusBadRequest,
	jose.Expired:          http.StatusUnauthorized,
	jose.NotYetValid:      http.StatusUnauthorized,
	jose.IssuedInFuture:   http.StatusUnauthorized,
	jose.LifetimeExceeded: http.StatusUnauthorized,
	jose.AudienceMismatch: http.StatusUnauthorized,
	jose.IssuerMismatch:   http.StatusUnauthorized,
	jose.SubjectMismatch:  http.StatusUnauthorized,
	jose.TypMismatch:      http.StatusUnauthorized,
	jose.PolicyInvalid:    http.StatusInternalServerError,
	jose.SignerFailed:     http.StatusInternalServerError,

	profile.HeaderMissing:   http.StatusBadRequest,
	profile.RequestMismatch: http.StatusUnauthorized,
	profile.DigestMismatch:  http.StatusUnauthorized,
	"replay_detected":       http.StatusConflict,
	"replay_unavailable":    http.StatusServiceUnavailable,
	"replay_invalid":        http.StatusInternalServerError,

	PartnerUnknown:      http.StatusUnauthorized,
	RateLimited:         http.StatusTooManyRequests,
	Overloaded:          http.StatusServiceUnavailable,
	EvidenceUnavailable: http.StatusServiceUnavailable,
	Internal:            http.StatusInternalServerError,
}

var (
	mu         sync.RWMutex
	registered []jose.Code
)

// Register gives codes defined by another package (keys, evidence, txsign,
// the server) their HTTP status. Packages call it from init; registering a
// code twice with different statuses panics, as that is a programming
// error.
func Register(st int, codes ...jose.Code) {
	mu.Lock()
	defer mu.Unlock()
	for _, c := range codes {
		if old, ok := status[c]; ok {
			if old != st {
				panic(fmt.Sprintf("problem: code %s registered with status %d and %d", c, old, st))
			}
			continue
		}
		status[c] = st
		registered = append(registered, c)
	}
}

// Status returns the HTTP status for code; unknown codes are 500.
func Status(code jose.Code) int {
	mu.RLock()
	defer mu.RUnlock()
	if s, ok := status[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Codes returns every code the HTTP layer can answer with: the JOSE core's,
// the profiles', the replay store's, this package's, then the registered
// ones in registration order.
func Codes() []jose.Code {
	var out []jose.Code
	out = append(out, jose.Codes()...)
	out = append(out, profile.Codes()...)
	out = append(out, replay.Codes()...)
	out = append(out, PartnerUnknown, RateLimited, Overloaded, EvidenceUnavailable, Internal)
	mu.RLock()
	defer mu.RUnlock()
	return append(out, registered...)
}

// Known reports whether code has a status of its own.
func Known(code jose.Code) bool {
	mu.RLock()
	defer mu.RUnlock()
	_, ok := status[code]
	return ok
}

// ContentType is the RFC 9457 media type.
const ContentType = "application/problem+json"

// Problem is an RFC 9457 problem details object with nonrep's code.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code"`
	// Instance is the request id, when there is one.
	Instance string `json:"instance,omitempty"`
}

// TypeURI is the problem type for a code.
func TypeURI(code jose.Code) string { return "urn:nonrep:error:" + string(code) }

// From builds the problem for err: its code (Internal when it has none),
// the code's status, and the error's safe detail. Errors without a code
// get no detail: their text is not known to be safe to show.
func From(err error) *Problem {
	code := jose.CodeOf(err)
	detail := ""
	var je *jose.Error
	if errors.As(err, &je) {
		detail = je.Detail
	}
	if code == "" {
		code = Internal
		detail = ""
	}
	st := Status(code)
	return &Problem{Type: TypeURI(code), Title: http.StatusText(st), Status: st, Detail: detail, Code: string(code)}
}

// Write sends p. retryAfter, when positive, sets Retry-After (seconds).
func Write(w http.ResponseWriter, p *Problem, retryAfter int) {
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(retryAfter))
	}
	b, _ := json.Marshal(p)
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(b, '\n'))
}

// Error writes the problem for err.
func Error(w http.ResponseWriter, err error) { Write(w, From(err), 0) }
