package txsign

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"time"

	"github.com/nonrep/nonrep/jose"
)

// SigningRequest is what a relying app posts to start a signing request
// (the CIBA backchannel authentication request, with RFC 9396
// authorization_details).
type SigningRequest struct {
	// User is the user who must decide (CIBA login_hint).
	User string
	// DeviceID, when set, is the only device that may decide.
	DeviceID string
	// Audience is the transaction token's aud ("" = the service's
	// default); it must be one of Config.Audiences.
	Audience string
	// AuthorizationDetails is the RFC 9396 array; see Canonicalize.
	AuthorizationDetails json.RawMessage
	// BindingMessage is a short plain text shown on both the initiating
	// screen and the device (at most 64 characters).
	BindingMessage string
	// RequestedExpiry is the lifetime in seconds (0 = Config.RequestTTL;
	// 30 to MaxRequestTTL).
	RequestedExpiry int
	// RequirePIN demands the user's transaction PIN with an approval.
	RequirePIN bool
	// IdempotencyKey makes retries safe: the same key with the same
	// request returns the first request.
	IdempotencyKey string
}

var idemRE = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)

const minRequestTTL = 30 * time.Second

// CreateRequest validates, renders and stores a signing request, records
// its evidence, and starts push delivery to the user's devices. created
// is false when an Idempotency-Key retry returned an earlier request.
func (s *Service) CreateRequest(ctx context.Context, clientID string, sr *SigningRequest) (req *Request, created bool, err error) {
	if err := checkText(sr.User, "user", 128); err != nil || sr.User == "" {
		return nil, false, errorf(RequestInvalid, "user (login_hint) is required: plain text, at most 128 characters")
	}
	if sr.DeviceID != "" && !deviceIDRE.MatchString(sr.DeviceID) {
		return nil, false, errorf(RequestInvalid, "device_id must match [A-Za-z0-9._:-]{1,64}")
	}
	if err := checkText(sr.BindingMessage, "binding_message", 64); err != nil {
		return nil, false, errorf(RequestInvalid, "binding_message: %s", err.(*jose.Error).Detail)
	}
	if sr.IdempotencyKey != "" && !idemRE.MatchString(sr.IdempotencyKey) {
		return nil, false, errorf(RequestInvalid, "Idempotency-Key must be 1 to 255 visible ASCII characters")
	}
	ttl := s.cfg.RequestTTL
	if sr.RequestedExpiry != 0 {
		ttl = time.Duration(sr.RequestedExpiry) * time.Second
		if ttl < minRequestTTL || ttl > s.cfg.MaxRequestTTL {
			return nil, false, errorf(RequestInvalid, "requested_expiry must be %d to %d seconds", int(minRequestTTL.Seconds()), int(s.cfg.MaxRequestTTL.Seconds()))
		}
	}
	aud, err := s.audience(sr.Audience)
	if err != nil {
		return nil, false, err
	}
	canon, err := Canonicalize(sr.AuthorizationDetails)
	if err != nil {
		return nil, false, err
	}
	text, err := RenderDisplay(s.cfg.DisplayTemplate, canon, sr.BindingMessage)
	if err != nil {
		return nil, false, err
	}
	fp, _ := marshalJSON(struct {
		User       string          `json:"user"`
		DeviceID   string          `json:"device_id"`
		Audience   string          `json:"audience"`
		Details    json.RawMessage `json:"authorization_details"`
		Binding    string          `json:"binding_message"`
		TTL        int64           `json:"ttl"`
		RequirePIN bool            `json:"require_pin"`
	}{sr.User, sr.DeviceID, aud, canon, sr.BindingMessage, int64(ttl / time.Second), sr.RequirePIN})
	sum := sha256.Sum256(fp)
	fingerprint := base64.RawURLEncoding.EncodeToString(sum[:])
	if sr.IdempotencyKey != "" {
		prev, err := s.store.IdempotentRequest(ctx, clientID, sr.IdempotencyKey)
		if err == nil {
			if prev.Fingerprint != fingerprint {
				return nil, false, errorf(IdempotencyKeyReused, "Idempotency-Key %s was used for another request", quote(sr.IdempotencyKey))
			}
			return prev, false, nil
		}
		if jose.CodeOf(err) != RequestUnknown {
			return nil, false, err
		}
	}
	if sr.RequirePIN {
		has, err := s.store.HasPIN(ctx, sr.User)
		if err != nil {
			return nil, false, err
		}
		if !has {
			return nil, false, errorf(PINNotSet, "the request demands a PIN and the user has none")
		}
	}
	devs, err := s.targets(ctx, sr.User, sr.DeviceID)
	if err != nil {
		return nil, false, err
	}
	now := s.now()
	r := &Request{
		ID: randomID(16), ClientID: clientID, IdempotencyKey: sr.IdempotencyKey, Fingerprint: fingerprint,
		User: sr.User, DeviceID: sr.DeviceID, Audience: aud, Details: canon, TxHash: TxHash(canon),
		BindingMessage: sr.BindingMessage, DisplayTemplate: s.cfg.DisplayTemplate, DisplayText: text,
		DisplayHash: DisplayHash(text), Nonce: randomID(16), RequirePIN: sr.RequirePIN,
		Created: now, Expires: now.Add(ttl), Interval: s.cfg.Interval, Status: Pending,
	}
	data, _ := marshalJSON(map[string]any{
		"authorization_details": r.Details, "display_template": r.DisplayTemplate,
		"display_text": r.DisplayText, "binding_message": r.BindingMessage, "audience": r.Audience,
		"device_id": r.DeviceID, "require_pin": r.RequirePIN, "expires_at": r.Expires.Unix(),
	})
	ref, err := record(ctx, s.rec, &Event{
		Kind: EventRequest, Time: now, User: r.User, ClientID: clientID, DeviceID: r.DeviceID,
		AuthReqID: r.ID, TxHash: r.TxHash, DisplayHash: r.DisplayHash, Data: data, Outcome: "created",
	})
	if err != nil {
		return nil, false, err
	}
	r.EvidenceRef = ref
	stored, created, err := s.store.CreateRequest(ctx, r)
	if err != nil {
		return nil, false, err
	}
	if created {
		s.startPush(stored, devs)
	}
	return stored, created, nil
}

// targets returns the active devices that may decide.
func (s *Service) targets(ctx context.Context, user, deviceID string) ([]*Device, error) {
	all, err := s.store.Devices(ctx, user)
	if err != nil {
		return nil, err
	}
	var out []*Device
	for _, d := range all {
		if d.Status == StatusActive && (deviceID == "" || d.ID == deviceID) {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return nil, errorf(DeviceUnknown, "the user has no active enrolled device to ask")
	}
	return out, nil
}

// RequestClaims are the claims of a request as delivered to a device
// (typ txn-request+jwt), signed by the service: iss, aud (the device id),
// sub (the user), iat, exp (the request's expiry) and what the device
// shows and signs.
type RequestClaims struct {
	Issuer               string          `json:"iss"`
	Audience             string          `json:"aud"`
	Subject              string          `json:"sub"`
	IssuedAt             int64           `json:"iat"`
	Expiry               int64           `json:"exp"`
	AuthReqID            string          `json:"auth_req_id"`
	Nonce                string          `json:"nonce"`
	ClientID             string          `json:"client_id"`
	AuthorizationDetails json.RawMessage `json:"authorization_details"`
	TxHash               string          `json:"tx_hash"`
	DisplayTemplate      string          `json:"display_template"`
	DisplayText          string          `json:"display_text"`
	DisplayHash          string          `json:"display_hash"`
	BindingMessage       string          `json:"binding_message,omitempty"`
	RequirePIN           bool            `json:"require_pin"`
}

// ceilUnix is t in whole seconds, rounded up.
func ceilUnix(t time.Time) int64 {
	u := t.Unix()
	if t.Nanosecond() > 0 {
		u++
	}
	return u
}

// signItem signs the request for device d.
func (s *Service) signItem(ctx context.Context, r *Request, d *Device) ([]byte, *jose.JWK, error) {
	k, pub, err := s.signingKey(ctx)
	if err != nil {
		return nil, nil, err
	}
	payload, err := marshalJSON(&RequestClaims{
		Issuer: s.cfg.Issuer, Audience: d.ID, Subject: r.User, IssuedAt: s.now().Unix(), Expiry: ceilUnix(r.Expires),
		AuthReqID: r.ID, Nonce: r.Nonce, ClientID: r.ClientID, AuthorizationDetails: r.Details, TxHash: r.TxHash,
		DisplayTemplate: r.DisplayTemplate, DisplayText: r.DisplayText, DisplayHash: r.DisplayHash,
		BindingMessage: r.BindingMessage, RequirePIN: r.RequirePIN,
	})
	if err != nil {
		return nil, nil, err
	}
	j, err := jose.Sign(payload, jose.SignOptions{Typ: RequestTyp}, k)
	if err != nil {
		return nil, nil, wrapf(SignerUnavailable, err, "signing the request for the device failed")
	}
	b, err := j.CompactBytes()
	return b, pub, err
}

// Inbox returns the pending requests device deviceID of user may decide,
// each signed by the service (typ txn-request+jwt), oldest first. The
// first delivery of each request to the device is recorded as evidence.
func (s *Service) Inbox(ctx context.Context, user, deviceID string) ([][]byte, error) {
	d, err := s.Device(ctx, user, deviceID)
	if err != nil {
		return nil, err
	}
	if d.Status == StatusRevoked {
		return nil, errorf(DeviceRevoked, "device %s is revoked", quote(d.ID))
	}
	now := s.now()
	reqs, err := s.store.PendingRequests(ctx, user, d.ID, now, 20)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, 0, len(reqs))
	for _, r := range reqs {
		item, pub, err := s.signItem(ctx, r, d)
		if err != nil {
			return nil, err
		}
		seen, err := s.store.Delivered(ctx, r.ID, d.ID, ChannelInbox)
		if err != nil {
			return nil, err
		}
		if !seen {
			if _, err := record(ctx, s.rec, &Event{
				Kind: EventDelivery, Time: now, User: r.User, ClientID: r.ClientID, DeviceID: d.ID,
				AuthReqID: r.ID, TxHash: r.TxHash, DisplayHash: r.DisplayHash, Signed: item, Key: pub,
				Outcome: ChannelInbox, Prev: r.EvidenceRef,
			}); err != nil {
				return nil, err
			}
			if err := s.store.MarkDelivered(ctx, r.ID, d.ID, ChannelInbox, now); err != nil {
				return nil, err
			}
		}
		out = append(out, item)
	}
	return out, nil
}

// startPush pushes r to each device with a webhook, in the background.
func (s *Service) startPush(r *Request, devs []*Device) {
	if s.pushHTTP == nil {
		return
	}
	for _, d := range devs {
		if d.PushURL == "" {
			continue
		}
		select {
		case s.push <- struct{}{}:
		default:
			s.log.Warn("txsign: push skipped, too many in flight; the device must pull", "auth_req_id", r.ID, "device", d.ID)
			continue
		}
		s.pushWG.Add(1)
		go func() {
			defer func() { <-s.push; s.pushWG.Done() }()
			s.deliverPush(r, d)
		}()
	}
}

// PushContentType is the media type of a pushed request: the body is the
// compact JWS (typ txn-request+jwt).
const PushContentType = "application/jwt"

func (s *Service) deliverPush(r *Request, d *Device) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Push.Timeout)
	defer cancel()
	item, pub, err := s.signItem(ctx, r, d)
	if err != nil {
		s.log.Error("txsign: push not signed", "auth_req_id", r.ID, "device", d.ID, "err", err)
		return
	}
	now := s.now()
	if _, err := record(ctx, s.rec, &Event{
		Kind: EventDelivery, Time: now, User: r.User, ClientID: r.ClientID, DeviceID: d.ID,
		AuthReqID: r.ID, TxHash: r.TxHash, DisplayHash: r.DisplayHash, Signed: item, Key: pub,
		Outcome: ChannelPush, Prev: r.EvidenceRef,
	}); err != nil {
		s.log.Error("txsign: push not sent, its evidence could not be recorded", "auth_req_id", r.ID, "device", d.ID, "err", err)
		return
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, d.PushURL, bytes.NewReader(item))
	if err != nil {
		s.log.Error("txsign: push URL unusable", "device", d.ID, "err", err)
		return
	}
	hr.Header.Set("Content-Type", PushContentType)
	resp, err := s.pushHTTP.Do(hr)
	if err != nil {
		s.log.Warn("txsign: push failed; the device must pull", "auth_req_id", r.ID, "device", d.ID, "err", err)
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		s.log.Warn("txsign: push refused; the device must pull", "auth_req_id", r.ID, "device", d.ID, "status", resp.StatusCode)
		return
	}
	if err := s.store.MarkDelivered(ctx, r.ID, d.ID, ChannelPush, s.now()); err != nil {
		s.log.Warn("txsign: push delivered but not marked", "auth_req_id", r.ID, "err", err)
	}
}
