package txsign

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/problem"
)

// EventKind names a step of the transaction-signing chain.
type EventKind string

// The steps the service and the gateway record. The chain of one payment
// is request → delivery → decision → token_issue → token_use, linked by
// Event.Prev.
const (
	EventEnrolment   EventKind = "enrolment"
	EventKeyRotation EventKind = "key_rotation"
	EventRevocation  EventKind = "revocation"
	EventPINSet      EventKind = "pin_set"
	EventRequest     EventKind = "request"
	EventDelivery    EventKind = "delivery"
	EventDecision    EventKind = "decision"
	EventTokenIssue  EventKind = "token_issue"
	EventTokenUse    EventKind = "token_use"
)

// Event is one step for the evidence log. Signed holds the exact bytes
// that were signed at this step (received or sent), so that the step can
// be re-verified offline from the record alone, with Key.
type Event struct {
	Kind EventKind
	Time time.Time
	// Actors and subjects; empty when not part of the step.
	User      string
	ClientID  string
	DeviceID  string
	AuthReqID string
	// TxHash and DisplayHash of the request the step is about.
	TxHash      string
	DisplayHash string
	// Signed is the step's signed object exactly: the enrolment proof of
	// possession, the rotation statements, the pushed or delivered
	// request, the device's decision JWS, the transaction token.
	Signed []byte
	// Key is the public key that verified Signed (a device's) or made it
	// (the service's), as it was at the time.
	Key *jose.JWK
	// Data is step-specific JSON (the canonical authorization_details and
	// display text of a request, a device's metadata, a decision's
	// outcome, a token's claims).
	Data json.RawMessage
	// Offline flags a decision the device signed while offline.
	Offline bool
	// Outcome is the step's result in one word (approve, deny, sent,
	// accepted, used, …).
	Outcome string
	// Prev is the evidence reference of the step this one follows.
	Prev string
}

// Recorder appends events to the evidence log and returns a reference to
// the record. It must not return before the record is durable. An error
// aborts the step, which answers 503 (fail closed): nothing is decided,
// issued or executed without its record. Implementations are safe for
// concurrent use.
type Recorder interface {
	Record(ctx context.Context, e *Event) (ref string, err error)
}

// RecorderFunc adapts a function to Recorder, for decorators and tests.
type RecorderFunc func(ctx context.Context, e *Event) (string, error)

// Record calls f.
func (f RecorderFunc) Record(ctx context.Context, e *Event) (string, error) { return f(ctx, e) }

// MemoryRecorder keeps events in memory, with references "mem:1",
// "mem:2", …. It is for tests and demos: nothing survives the process.
// Safe for concurrent use.
type MemoryRecorder struct {
	mu     sync.Mutex
	events []Event
}

var _ Recorder = (*MemoryRecorder)(nil)

// Record appends a copy of e.
func (m *MemoryRecorder) Record(_ context.Context, e *Event) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, *e)
	return "mem:" + strconv.Itoa(len(m.events)), nil
}

// Events returns a copy of the events recorded so far, in order.
func (m *MemoryRecorder) Events() []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Event(nil), m.events...)
}

// Event returns the event with reference ref.
func (m *MemoryRecorder) Event(ref string) (Event, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	num, ok := strings.CutPrefix(ref, "mem:")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n < 1 || n > len(m.events) {
		return Event{}, false
	}
	return m.events[n-1], true
}

// record calls the recorder and maps its failure to EvidenceUnavailable.
func record(ctx context.Context, r Recorder, e *Event) (string, error) {
	ref, err := r.Record(ctx, e)
	if err != nil {
		return "", &jose.Error{Code: problem.EvidenceUnavailable, Detail: "the evidence record of the " + string(e.Kind) + " could not be made durable", Err: err}
	}
	return ref, nil
}
