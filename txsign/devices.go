package txsign

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/json"
	"net/url"
	"regexp"
	"time"

	"github.com/nonrep/nonrep/jose"
)

var (
	deviceIDRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)
	platformRE = regexp.MustCompile(`^[A-Za-z0-9._ -]{1,32}$`)
	metaKeyRE  = regexp.MustCompile(`^[a-z0-9_.-]{1,32}$`)
	uvRE       = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)
)

const (
	maxMetadata    = 16
	maxAttestation = 16 << 10
	maxURL         = 2048
)

// NewChallenge issues a one-time enrolment challenge to user.
func (s *Service) NewChallenge(ctx context.Context, user string) (*Challenge, error) {
	now := s.now()
	c := &Challenge{ID: randomID(32), User: user, Expires: now.Add(s.cfg.ChallengeTTL)}
	if err := s.store.PutChallenge(ctx, c, now); err != nil {
		return nil, err
	}
	return c, nil
}

// Enrolment is what a user's app sends to enrol a device.
type Enrolment struct {
	DeviceID string
	Platform string
	Metadata map[string]string
	// PushURL is the device's webhook ("" for pull only).
	PushURL string
	// Key is the device's public JWK (EC P-256 for ES256, OKP Ed25519 for
	// EdDSA).
	Key json.RawMessage
	// Attestation is the platform attestation, stored as given.
	Attestation []byte
	// Challenge is the challenge from NewChallenge, and Proof a compact
	// JWS (typ txn-enrol+jwt) by Key over {"challenge", "device_id",
	// "iat"}.
	Challenge string
	Proof     string
}

// EnrolClaims are the claims of an enrolment proof.
type EnrolClaims struct {
	Challenge string `json:"challenge"`
	DeviceID  string `json:"device_id"`
	IssuedAt  int64  `json:"iat"`
}

// Enrol enrols (or re-enrols) a device of user. The key must prove
// possession by signing the user's challenge; the challenge is consumed
// whatever the outcome. Re-enrolling a device id replaces its key and
// reactivates it; a key can be enrolled only once, ever.
func (s *Service) Enrol(ctx context.Context, user string, e *Enrolment) (*Device, error) {
	now := s.now()
	if err := s.checkDeviceFields(e); err != nil {
		return nil, err
	}
	key, err := s.parseDeviceKey(e.Key)
	if err != nil {
		return nil, err
	}
	c, err := s.store.TakeChallenge(ctx, e.Challenge)
	if err != nil {
		return nil, err
	}
	if c.User != user || !now.Before(c.Expires) {
		return nil, errorf(ChallengeInvalid, "the challenge is expired or not this user's")
	}
	payload, err := s.verifyDeviceJWS(ctx, []byte(e.Proof), key, EnrolTyp)
	if err != nil {
		return nil, err
	}
	var cl EnrolClaims
	if err := strictClaims(payload, &cl, []string{"challenge", "device_id", "iat"}); err != nil {
		return nil, err
	}
	if cl.Challenge != e.Challenge || cl.DeviceID != e.DeviceID {
		return nil, errorf(ChallengeInvalid, "the proof of possession signs another challenge or device id")
	}
	if err := s.checkIat(cl.IssuedAt, now); err != nil {
		return nil, err
	}
	d := &Device{
		ID: e.DeviceID, User: user, Platform: e.Platform, Metadata: e.Metadata, PushURL: e.PushURL,
		Key: key, Attestation: e.Attestation, Status: StatusActive, EnrolledAt: now,
	}
	data, _ := marshalJSON(map[string]any{
		"platform": d.Platform, "metadata": d.Metadata, "push_url": d.PushURL,
		"attestation": d.Attestation, "challenge": e.Challenge,
	})
	ref, err := record(ctx, s.rec, &Event{
		Kind: EventEnrolment, Time: now, User: user, DeviceID: d.ID,
		Signed: []byte(e.Proof), Key: key, Data: data, Outcome: "enrolled",
	})
	if err != nil {
		return nil, err
	}
	d.EvidenceRef = ref
	if err := s.store.EnrolDevice(ctx, d); err != nil {
		return nil, err
	}
	return d, nil
}

func (s *Service) checkDeviceFields(e *Enrolment) error {
	if !deviceIDRE.MatchString(e.DeviceID) {
		return errorf(RequestInvalid, "device_id must match [A-Za-z0-9._:-]{1,64}")
	}
	if !platformRE.MatchString(e.Platform) {
		return errorf(RequestInvalid, "platform must match [A-Za-z0-9._ -]{1,32}")
	}
	if len(e.Metadata) > maxMetadata {
		return errorf(RequestInvalid, "metadata has more than %d entries", maxMetadata)
	}
	for k, v := range e.Metadata {
		if !metaKeyRE.MatchString(k) {
			return errorf(RequestInvalid, "metadata key %s must match [a-z0-9_.-]{1,32}", quote(k))
		}
		if err := checkText(v, "metadata."+k, 128); err != nil {
			return errorf(RequestInvalid, "metadata value of %s: %s", quote(k), err.(*jose.Error).Detail)
		}
	}
	if len(e.Attestation) > maxAttestation {
		return errorf(RequestInvalid, "attestation is larger than %d bytes", maxAttestation)
	}
	if e.PushURL != "" {
		if err := s.checkPushURL(e.PushURL); err != nil {
			return err
		}
	}
	return nil
}

// checkPushURL vets a webhook URL: absolute, https (http only when
// allowed), no credentials or fragment, and Push.CheckURL's approval.
func (s *Service) checkPushURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || len(raw) > maxURL || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return errorf(RequestInvalid, "push_url must be an absolute URL without credentials or fragment")
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && s.cfg.Push.AllowHTTP) {
		return errorf(RequestInvalid, "push_url must be https")
	}
	if s.cfg.Push.CheckURL != nil {
		if err := s.cfg.Push.CheckURL(u); err != nil {
			return wrapf(RequestInvalid, err, "push_url is not allowed")
		}
	}
	return nil
}

// parseDeviceKey parses a device's public JWK and fixes its kid (the
// thumbprint), alg and use.
func (s *Service) parseDeviceKey(raw json.RawMessage) (*jose.JWK, error) {
	if len(raw) == 0 {
		return nil, errorf(RequestInvalid, "jwk is required")
	}
	k, err := jose.ParseJWK(raw)
	if err != nil {
		return nil, err
	}
	if k.IsPrivate() {
		return nil, errorf(jose.KeyRejected, "jwk holds a private key; send only the public part")
	}
	alg := keyAlg(k)
	allowed := false
	for _, a := range s.cfg.DeviceAlgs {
		allowed = allowed || a == alg
	}
	if alg == "" || !allowed || (k.Alg != "" && k.Alg != alg) {
		return nil, errorf(jose.KeyRejected, "a device key must be one of %v (EC P-256 for ES256, Ed25519 for EdDSA)", s.cfg.DeviceAlgs)
	}
	out, err := jose.NewJWK(k.Key, "", alg)
	if err != nil {
		return nil, err
	}
	out = out.WithKid(out.Thumbprint())
	out.Use = "sig"
	return out, nil
}

// keyAlg is the one algorithm a device key of this type is used with.
func keyAlg(k *jose.JWK) jose.Alg {
	switch pub := k.PublicKey().(type) {
	case *ecdsa.PublicKey:
		switch pub.Curve.Params().BitSize {
		case 256:
			return jose.ES256
		case 384:
			return jose.ES384
		}
	case ed25519.PublicKey:
		return jose.EdDSA
	}
	return ""
}

// verifyDeviceJWS verifies a compact JWS of typ by key and returns its
// payload.
//
// The key is the one the caller names (the enrolled or submitted key);
// the JWS's kid, if any, does not choose it.
func (s *Service) verifyDeviceJWS(ctx context.Context, data []byte, key *jose.JWK, typ string) ([]byte, error) {
	v, err := jose.NewVerifier(jose.Policy{Algs: []jose.Alg{key.Alg}, Keys: oneKey{key}, Typ: typ, Limits: jose.Limits{MaxBytes: 16 << 10}})
	if err != nil {
		return nil, err
	}
	j, err := jose.ParseCompact(data, jose.Limits{MaxBytes: 16 << 10})
	if err != nil {
		return nil, err
	}
	res, err := v.VerifyParsed(ctx, j, nil, false)
	if err != nil {
		return nil, err
	}
	return res.Payload, nil
}

// oneKey resolves every header to one key.
type oneKey struct{ k *jose.JWK }

func (o oneKey) ResolveKeys(context.Context, *jose.Header) ([]*jose.JWK, error) {
	return []*jose.JWK{o.k}, nil
}

// checkIat refuses an iat more than Skew away from now.
func (s *Service) checkIat(iat int64, now time.Time) error {
	t := time.Unix(iat, 0)
	if t.After(now.Add(s.cfg.Skew)) {
		return errorf(jose.IssuedInFuture, "iat is in the future")
	}
	if t.Before(now.Add(-s.cfg.Skew)) {
		return errorf(jose.Expired, "iat is more than %s old", s.cfg.Skew)
	}
	return nil
}

// Devices lists user's devices.
func (s *Service) Devices(ctx context.Context, user string) ([]*Device, error) {
	return s.store.Devices(ctx, user)
}

// Device returns user's device id (DeviceUnknown for another user's).
func (s *Service) Device(ctx context.Context, user, id string) (*Device, error) {
	d, err := s.store.Device(ctx, id)
	if err != nil {
		return nil, err
	}
	if d.User != user {
		return nil, errorf(DeviceUnknown, "no device %s", quote(id))
	}
	return d, nil
}

// Revoke revokes user's device: its decisions are refused from now on,
// including pending offline ones. Tokens already issued stay valid until
// they expire (at most MaxTokenTTL).
func (s *Service) Revoke(ctx context.Context, user, id, reason string) (*Device, error) {
	if err := checkText(reason, "reason", 256); err != nil {
		return nil, errorf(RequestInvalid, "reason: %s", err.(*jose.Error).Detail)
	}
	d, err := s.Device(ctx, user, id)
	if err != nil {
		return nil, err
	}
	if d.Status == StatusRevoked {
		return d, nil
	}
	now := s.now()
	data, _ := marshalJSON(map[string]string{"reason": reason})
	if _, err := record(ctx, s.rec, &Event{
		Kind: EventRevocation, Time: now, User: user, DeviceID: id, Key: d.Key, Data: data,
		Outcome: "revoked", Prev: d.EvidenceRef,
	}); err != nil {
		return nil, err
	}
	return s.store.RevokeDevice(ctx, id, now, reason)
}

// Rotation replaces a device's key: the same payload signed by the old
// key (OldKeyProof) and by the new one (NewKeyProof).
type Rotation struct {
	DeviceID    string
	Key         json.RawMessage
	OldKeyProof string
	NewKeyProof string
}

// RotateClaims are the claims both rotation statements sign.
type RotateClaims struct {
	DeviceID string `json:"device_id"`
	// NewJKT is the new key's RFC 7638 thumbprint.
	NewJKT   string `json:"new_jkt"`
	IssuedAt int64  `json:"iat"`
	JTI      string `json:"jti"`
}

// RotateKey replaces a device's key with a new one that the current key
// signed for. The statement is one-time (jti) and fresh (iat within Skew).
func (s *Service) RotateKey(ctx context.Context, r *Rotation) (*Device, error) {
	now := s.now()
	d, err := s.store.Device(ctx, r.DeviceID)
	if err != nil {
		return nil, err
	}
	if d.Status == StatusRevoked {
		return nil, errorf(DeviceRevoked, "device %s is revoked", quote(d.ID))
	}
	newKey, err := s.parseDeviceKey(r.Key)
	if err != nil {
		return nil, err
	}
	p1, err := s.verifyDeviceJWS(ctx, []byte(r.OldKeyProof), d.Key, RotateTyp)
	if err != nil {
		return nil, err
	}
	p2, err := s.verifyDeviceJWS(ctx, []byte(r.NewKeyProof), newKey, RotateTyp)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(p1, p2) {
		return nil, errorf(RequestInvalid, "the old and new key statements sign different payloads")
	}
	var cl RotateClaims
	if err := strictClaims(p1, &cl, []string{"device_id", "new_jkt", "iat", "jti"}); err != nil {
		return nil, err
	}
	if cl.DeviceID != d.ID || cl.NewJKT != newKey.Thumbprint() || len(cl.JTI) < 16 || len(cl.JTI) > 128 {
		return nil, errorf(RequestInvalid, "the statement names another device or key, or has no usable jti")
	}
	if err := s.checkIat(cl.IssuedAt, now); err != nil {
		return nil, err
	}
	if err := s.cfg.Replay.Claim(ctx, "txsign-rotate:"+cl.JTI, 2*s.cfg.Skew+time.Second); err != nil {
		return nil, err
	}
	signed, _ := marshalJSON(map[string]string{"old_key_proof": r.OldKeyProof, "new_key_proof": r.NewKeyProof})
	data, _ := marshalJSON(map[string]any{"new_jwk": newKey, "old_jkt": d.Key.Thumbprint()})
	ref, err := record(ctx, s.rec, &Event{
		Kind: EventKeyRotation, Time: now, User: d.User, DeviceID: d.ID, Signed: signed, Key: d.Key,
		Data: data, Outcome: "rotated", Prev: d.EvidenceRef,
	})
	if err != nil {
		return nil, err
	}
	if err := s.store.RotateDeviceKey(ctx, d.ID, d.Key.Thumbprint(), newKey, now, ref); err != nil {
		return nil, err
	}
	return s.store.Device(ctx, d.ID)
}

// SetPIN sets user's transaction PIN (4 to 12 digits), stored as an
// Argon2id hash; it also unlocks a locked PIN.
func (s *Service) SetPIN(ctx context.Context, user, pin string) error {
	if !ValidPIN(pin) {
		return errorf(RequestInvalid, "a PIN is 4 to 12 digits")
	}
	hash, err := HashPIN(pin, s.cfg.PINParams)
	if err != nil {
		return err
	}
	now := s.now()
	if _, err := record(ctx, s.rec, &Event{Kind: EventPINSet, Time: now, User: user, Outcome: "set"}); err != nil {
		return err
	}
	return s.store.SetPIN(ctx, user, hash, now)
}
