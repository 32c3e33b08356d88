package txsign

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nonrep/nonrep/jose"
)

// DeviceStatus is a device's lifecycle state.
type DeviceStatus string

const (
	// StatusActive: the device may decide.
	StatusActive DeviceStatus = "active"
	// StatusRevoked: the device's decisions are refused, forever; the
	// user may enrol it again (a new key) later.
	StatusRevoked DeviceStatus = "revoked"
)

// Device is an enrolled device.
type Device struct {
	ID       string
	User     string
	Platform string
	// Metadata is what the app said about the device (model, OS version,
	// app version), as string pairs.
	Metadata map[string]string
	// PushURL is the webhook the service POSTs signed notifications to;
	// empty for pull only.
	PushURL string
	// Key is the device's current public key; its Kid is its RFC 7638
	// thumbprint and its Alg is ES256 or EdDSA.
	Key *jose.JWK
	// Attestation is the platform attestation exactly as the app gave it
	// (stored, not verified).
	Attestation []byte
	Status      DeviceStatus
	EnrolledAt  time.Time
	// RevokedAt and RevokeReason are set when Status is StatusRevoked.
	RevokedAt    time.Time
	RevokeReason string
	// EvidenceRef is the evidence record of the enrolment (or of the
	// latest key rotation).
	EvidenceRef string
}

// Challenge is a one-time enrolment challenge, bound to the user it was
// issued to.
type Challenge struct {
	ID      string
	User    string
	Expires time.Time
}

// RequestStatus is a signing request's state. A request's expiry is a
// time, not a state: a pending request past Expires is expired.
type RequestStatus string

const (
	// Pending: waiting for a device's decision.
	Pending RequestStatus = "pending"
	// Approved: a device approved; the token has not been issued.
	Approved RequestStatus = "approved"
	// Denied: a device denied.
	Denied RequestStatus = "denied"
	// TokenIssued: approved, and its one transaction token was issued.
	TokenIssued RequestStatus = "token_issued"
)

// Request is a signing request.
type Request struct {
	// ID is the auth_req_id.
	ID       string
	ClientID string
	// IdempotencyKey is the client's Idempotency-Key ("" for none), and
	// Fingerprint the SHA-256 of the canonical creation body, so that a
	// retry with the same key and body returns this request.
	IdempotencyKey string
	Fingerprint    string
	User           string
	// DeviceID, when set, is the only device that may decide.
	DeviceID string
	// Audience is the aud of the transaction token.
	Audience string
	// Details is the canonical (RFC 8785) authorization_details; TxHash
	// its hash.
	Details        json.RawMessage
	TxHash         string
	BindingMessage string
	// DisplayTemplate, DisplayText and DisplayHash are what the device
	// shows and signs.
	DisplayTemplate string
	DisplayText     string
	DisplayHash     string
	// Nonce is the request's random value every decision must carry.
	Nonce      string
	RequirePIN bool
	Created    time.Time
	Expires    time.Time
	// Interval is the minimum polling interval; it grows by 5 s with each
	// slow_down. LastPoll is the last poll let through.
	Interval time.Duration
	LastPoll time.Time
	Status   RequestStatus
	// Decision is set once a device decided.
	Decision *Decision
	// EvidenceRef is the evidence record of the request.
	EvidenceRef string
	// TokenJTI and TokenIssued are set when the token was issued.
	TokenJTI    string
	TokenIssued time.Time
}

// Decision is a device's verified decision.
type Decision struct {
	Approved bool
	DeviceID string
	// KeyThumbprint is the RFC 7638 thumbprint of the key that signed.
	KeyThumbprint string
	// JWS is the compact decision exactly as received.
	JWS string
	// UV is the user verification the device says it used.
	UV string
	// Offline is true when the device signed while offline.
	Offline  bool
	SignedAt time.Time
	Received time.Time
	// EvidenceRef is the evidence record of the decision.
	EvidenceRef string
}

// Delivery channels.
const (
	ChannelPush  = "push"
	ChannelInbox = "inbox"
)

// Store is the service's state. Every method is atomic and safe for
// concurrent use by many goroutines and, for shared backends, many
// processes. Errors are *jose.Error: the codes named below for decisions,
// StoreUnavailable for everything else (callers fail closed).
//
// Times are stored with microsecond precision.
type Store interface {
	// PutChallenge stores a new challenge, and may drop challenges
	// expired at now.
	PutChallenge(ctx context.Context, c *Challenge, now time.Time) error
	// TakeChallenge removes and returns the challenge: a challenge can be
	// taken once (ChallengeInvalid when absent).
	TakeChallenge(ctx context.Context, id string) (*Challenge, error)

	// EnrolDevice stores d. An existing device with the same id is
	// replaced (re-enrolment, which reactivates a revoked device) only if
	// it is the same user's; otherwise DeviceExists. A key is enrolled
	// once, ever: a thumbprint already known (current or past, any
	// device) is DeviceExists.
	EnrolDevice(ctx context.Context, d *Device) error
	// Device returns the device (DeviceUnknown).
	Device(ctx context.Context, id string) (*Device, error)
	// DeviceByKey returns the device whose current key has thumbprint
	// (DeviceUnknown when no device's current key has it).
	DeviceByKey(ctx context.Context, thumbprint string) (*Device, error)
	// Devices lists a user's devices, oldest first.
	Devices(ctx context.Context, user string) ([]*Device, error)
	// RevokeDevice marks the device revoked (DeviceUnknown). Revoking a
	// revoked device changes nothing and returns it.
	RevokeDevice(ctx context.Context, id string, at time.Time, reason string) (*Device, error)
	// RotateDeviceKey replaces the device's current key oldThumbprint with
	// newKey, atomically: DeviceUnknown when the device's current key is
	// not oldThumbprint (a concurrent rotation won), DeviceRevoked when
	// revoked, DeviceExists when newKey was ever enrolled.
	RotateDeviceKey(ctx context.Context, id, oldThumbprint string, newKey *jose.JWK, at time.Time, evidenceRef string) error

	// SetPIN sets the user's PIN hash and clears its failure count.
	SetPIN(ctx context.Context, user, hash string, at time.Time) error
	// HasPIN reports whether the user has a PIN.
	HasPIN(ctx context.Context, user string) (bool, error)
	// ReservePINAttempt counts one attempt before it is checked:
	// atomically, if the failure count is below max it is incremented and
	// the hash returned; otherwise PINLocked. PINNotSet when no PIN.
	ReservePINAttempt(ctx context.Context, user string, max int) (hash string, err error)
	// ResetPINFailures clears the failure count after a correct PIN, if
	// the PIN is still hash.
	ResetPINFailures(ctx context.Context, user, hash string) error

	// CreateRequest stores r. If the client already made a request with
	// r.IdempotencyKey (non-empty), it returns that request and created
	// false when the fingerprints match, IdempotencyKeyReused when not.
	CreateRequest(ctx context.Context, r *Request) (stored *Request, created bool, err error)
	// IdempotentRequest returns the client's request made with the
	// Idempotency-Key key (RequestUnknown).
	IdempotentRequest(ctx context.Context, clientID, key string) (*Request, error)
	// Request returns the request (RequestUnknown).
	Request(ctx context.Context, id string) (*Request, error)
	// PendingRequests lists the pending requests a device may decide:
	// the user's, unexpired at now, targeted at the device or at none,
	// oldest first, at most limit.
	PendingRequests(ctx context.Context, user, deviceID string, now time.Time, limit int) ([]*Request, error)
	// Delivered reports whether the request was delivered to the device
	// on the channel; MarkDelivered records that it was (idempotent).
	Delivered(ctx context.Context, requestID, deviceID, channel string) (bool, error)
	MarkDelivered(ctx context.Context, requestID, deviceID, channel string, at time.Time) error
	// Poll lets one poll of the client through per interval, atomically
	// under concurrent polls: if LastPoll + Interval <= now it sets
	// LastPoll to now and returns the request. Otherwise it raises the
	// interval by 5 s (to at most maxInterval) and returns SlowDown.
	// RequestUnknown when no request has this id and client.
	Poll(ctx context.Context, id, clientID string, now time.Time, maxInterval time.Duration) (*Request, error)
	// Decide records d, atomically, if the request is pending and unexpired
	// at now: AlreadyDecided when it has a decision, ExpiredToken when
	// expired, RequestUnknown when absent.
	Decide(ctx context.Context, id string, d *Decision, now time.Time) error
	// IssueToken moves an approved request to TokenIssued with jti,
	// atomically: one token per request (InvalidGrant otherwise).
	IssueToken(ctx context.Context, id, jti string, at time.Time) error
}
