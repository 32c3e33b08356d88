package txsign

import (
	"context"
	"time"

	"github.com/nonrep/nonrep/jose"
)

// Decision values.
const (
	Approve = "approve"
	Deny    = "deny"
)

// DecisionClaims are the claims of a device's decision (typ
// txn-decision+jwt, kid the device key's RFC 7638 thumbprint). Every
// member but offline is required; no other member is allowed.
type DecisionClaims struct {
	AuthReqID   string `json:"auth_req_id"`
	Nonce       string `json:"nonce"`
	TxHash      string `json:"tx_hash"`
	DisplayHash string `json:"display_hash"`
	// Decision is "approve" or "deny".
	Decision string `json:"decision"`
	IssuedAt int64  `json:"iat"`
	// UV is the user verification the device used to unlock its key
	// ("face", "fingerprint", "device_passcode", "none", …:
	// [a-z0-9_]{1,32}).
	UV string `json:"uv"`
	// Offline says the device signed while offline.
	Offline bool `json:"offline,omitempty"`
}

var decisionClaimNames = []string{"auth_req_id", "nonce", "tx_hash", "display_hash", "decision", "iat", "uv"}

// Submission is a decision as submitted: the device's compact JWS and,
// when the request demands it, the user's transaction PIN (never part of
// the signed decision, never recorded).
type Submission struct {
	Decision string
	PIN      string
}

// Decide verifies and records a device's decision. In order: the JWS is
// well formed with a kid; the kid is an enrolled device's current key; the
// signature verifies with it; the device is not revoked; the claims are
// exactly the decision's; the request exists, is the device's user's (and
// targeted at it, if targeted), is pending and unexpired; nonce, tx_hash
// and display_hash are the request's; iat lies within the request's
// validity (created − Skew to expiry; offline decisions included); the PIN
// when demanded. Then the evidence is recorded and the decision stored,
// once (AlreadyDecided for a second).
func (s *Service) Decide(ctx context.Context, sub *Submission) (*Request, error) {
	now := s.now()
	j, err := jose.ParseCompact([]byte(sub.Decision), jose.Limits{MaxBytes: 8 << 10})
	if err != nil {
		return nil, err
	}
	kid := j.Header(0).Kid
	if kid == "" {
		return nil, errorf(jose.HeaderInvalid, "a decision needs a kid: the device key's thumbprint")
	}
	d, err := s.store.DeviceByKey(ctx, kid)
	if err != nil {
		return nil, err
	}
	set, err := jose.NewKeySet(d.Key)
	if err != nil {
		return nil, err
	}
	v, err := jose.NewVerifier(jose.Policy{Algs: []jose.Alg{d.Key.Alg}, Keys: set, Typ: DecisionTyp, RequireKid: true})
	if err != nil {
		return nil, err
	}
	res, err := v.VerifyParsed(ctx, j, nil, false)
	if err != nil {
		return nil, err
	}
	if d.Status == StatusRevoked {
		return nil, errorf(DeviceRevoked, "device %s is revoked", quote(d.ID))
	}
	var c DecisionClaims
	if err := strictClaims(res.Payload, &c, decisionClaimNames, "offline"); err != nil {
		return nil, err
	}
	if c.Decision != Approve && c.Decision != Deny {
		return nil, errorf(jose.ClaimsInvalid, `decision must be "approve" or "deny"`)
	}
	if !uvRE.MatchString(c.UV) {
		return nil, errorf(jose.ClaimsInvalid, "uv must match [a-z0-9_]{1,32}")
	}
	r, err := s.store.Request(ctx, c.AuthReqID)
	if err != nil {
		return nil, err
	}
	if r.User != d.User || (r.DeviceID != "" && r.DeviceID != d.ID) {
		return nil, errorf(DeviceUnknown, "device %s may not decide this request", quote(d.ID))
	}
	if r.Status != Pending {
		return nil, errorf(AlreadyDecided, "the request was already decided")
	}
	if !now.Before(r.Expires) {
		return nil, errorf(ExpiredToken, "the request expired at %s", r.Expires.UTC().Format(time.RFC3339))
	}
	if c.Nonce != r.Nonce {
		return nil, errorf(NonceMismatch, "the decision's nonce is not the request's")
	}
	if c.TxHash != r.TxHash {
		return nil, errorf(TxHashMismatch, "the device signed tx_hash %s; the request's is %s", quote(c.TxHash), quote(r.TxHash))
	}
	if c.DisplayHash != r.DisplayHash {
		return nil, errorf(DisplayHashMismatch, "the device signed the hash of another display text")
	}
	iat := time.Unix(c.IssuedAt, 0)
	if iat.After(now.Add(s.cfg.Skew)) {
		return nil, errorf(jose.IssuedInFuture, "the decision's iat is in the future")
	}
	if iat.Before(r.Created.Add(-s.cfg.Skew)) || iat.After(r.Expires) {
		return nil, errorf(ExpiredToken, "the decision was signed outside the request's validity")
	}
	offline := c.Offline || now.Sub(iat) > s.cfg.OfflineAfter
	approved := c.Decision == Approve
	pinChecked := false
	if approved && r.RequirePIN {
		if err := s.checkPIN(ctx, r.User, sub.PIN); err != nil {
			return nil, err
		}
		pinChecked = true
	}
	data, _ := marshalJSON(map[string]any{"decision": c.Decision, "uv": c.UV, "pin_verified": pinChecked, "signed_at": c.IssuedAt})
	ref, err := record(ctx, s.rec, &Event{
		Kind: EventDecision, Time: now, User: r.User, ClientID: r.ClientID, DeviceID: d.ID, AuthReqID: r.ID,
		TxHash: r.TxHash, DisplayHash: r.DisplayHash, Signed: []byte(sub.Decision), Key: d.Key, Data: data,
		Offline: offline, Outcome: c.Decision, Prev: r.EvidenceRef,
	})
	if err != nil {
		return nil, err
	}
	dec := &Decision{
		Approved: approved, DeviceID: d.ID, KeyThumbprint: d.Key.Thumbprint(), JWS: sub.Decision, UV: c.UV,
		Offline: offline, SignedAt: iat, Received: now, EvidenceRef: ref,
	}
	if err := s.store.Decide(ctx, r.ID, dec, now); err != nil {
		return nil, err
	}
	r.Decision = dec
	r.Status = Denied
	if approved {
		r.Status = Approved
	}
	return r, nil
}

// checkPIN counts the attempt first (so concurrent guesses cannot exceed
// the limit), then checks it.
func (s *Service) checkPIN(ctx context.Context, user, pin string) error {
	if pin == "" {
		return errorf(PINRequired, "the request demands the transaction PIN")
	}
	hash, err := s.store.ReservePINAttempt(ctx, user, s.cfg.PINAttempts)
	if err != nil {
		return err
	}
	if !ValidPIN(pin) || !CheckPIN(pin, hash) {
		return errorf(PINInvalid, "wrong PIN")
	}
	return s.store.ResetPINFailures(ctx, user, hash)
}
