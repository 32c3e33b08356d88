// Package device is nonrep's reference device: what a phone app does to
// take part in transaction signing, in Go, for tests, demos and the
// "nonrep device" command. It holds the device's private key, proves
// possession at enrolment, verifies what the service delivers (its
// signature, tx_hash, and the display text re-rendered locally), and signs
// decisions and key rotations.
//
// # Security
//
// A real device keeps its key in a secure element and unlocks it with the
// user's biometrics or passcode; this one keeps it in memory (and the CLI
// in a 0600 file). A Device refuses to sign a request it cannot verify: a
// bad service signature (signature_invalid), a tx_hash that is not the
// hash of the details shown (tx_hash_mismatch), or a display text that
// differs from its own rendering (display_hash_mismatch).
package device

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/txsign"
)

// Device is a device identity: its id and private key (kid = the RFC 7638
// thumbprint, alg ES256 or EdDSA). Safe for concurrent use.
type Device struct {
	ID  string
	Key *jose.JWK
}

// Generate makes a device with a new key for alg (ES256 or EdDSA).
func Generate(id string, alg jose.Alg) (*Device, error) {
	var priv any
	var err error
	switch alg {
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, &jose.Error{Code: jose.AlgNotAllowed, Detail: "a device key is ES256 or EdDSA"}
	}
	if err != nil {
		return nil, err
	}
	return FromKey(id, priv, alg)
}

// FromKey makes a device from a private key.
func FromKey(id string, priv any, alg jose.Alg) (*Device, error) {
	k, err := jose.NewJWK(priv, "", alg)
	if err != nil {
		return nil, err
	}
	if !k.IsPrivate() {
		return nil, &jose.Error{Code: jose.KeyRejected, Detail: "a device needs its private key"}
	}
	k = k.WithKid(k.Thumbprint())
	k.Use = "sig"
	return &Device{ID: id, Key: k}, nil
}

// Public returns the device's public JWK.
func (d *Device) Public() *jose.JWK { return d.Key.Public() }

func (d *Device) sign(claims any, typ string) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	sk, err := jose.NewSigningKey(d.Key, "")
	if err != nil {
		return "", err
	}
	j, err := jose.Sign(payload, jose.SignOptions{Typ: typ}, sk)
	if err != nil {
		return "", err
	}
	b, err := j.CompactBytes()
	return string(b), err
}

// EnrolProof signs the enrolment challenge (typ txn-enrol+jwt).
func (d *Device) EnrolProof(challenge string, now time.Time) (string, error) {
	return d.sign(&txsign.EnrolClaims{Challenge: challenge, DeviceID: d.ID, IssuedAt: now.Unix()}, txsign.EnrolTyp)
}

// RotationProofs returns the statement replacing d's key with next's,
// signed by both keys (typ txn-rotate+jwt).
func (d *Device) RotationProofs(next *Device, now time.Time) (oldProof, newProof string, err error) {
	var jti [16]byte
	rand.Read(jti[:])
	c := &txsign.RotateClaims{DeviceID: d.ID, NewJKT: next.Key.Thumbprint(), IssuedAt: now.Unix(), JTI: base64.RawURLEncoding.EncodeToString(jti[:])}
	if oldProof, err = d.sign(c, txsign.RotateTyp); err != nil {
		return "", "", err
	}
	newProof, err = next.sign(c, txsign.RotateTyp)
	return oldProof, newProof, err
}

// Decision says what the user decided on a request.
type Decision struct {
	// Approve or deny.
	Approve bool
	// UV is the user verification used ("face", "fingerprint",
	// "device_passcode", …).
	UV string
	// Offline marks a decision signed without a connection, to be
	// submitted later.
	Offline bool
	// Now is the signing time (time.Now when zero).
	Now time.Time
}

// Decide signs a decision on a verified request (typ txn-decision+jwt):
// auth_req_id, nonce, tx_hash and display_hash exactly as verified.
func (d *Device) Decide(it *Item, dec Decision) (string, error) {
	now := dec.Now
	if now.IsZero() {
		now = time.Now()
	}
	v := txsign.Deny
	if dec.Approve {
		v = txsign.Approve
	}
	uv := dec.UV
	if uv == "" {
		uv = "none"
	}
	return d.sign(&txsign.DecisionClaims{
		AuthReqID: it.Claims.AuthReqID, Nonce: it.Claims.Nonce, TxHash: it.Claims.TxHash,
		DisplayHash: txsign.DisplayHash(it.Claims.DisplayText), Decision: v, IssuedAt: now.Unix(),
		UV: uv, Offline: dec.Offline,
	}, txsign.DecisionTyp)
}

// Item is a request delivered to the device, verified.
type Item struct {
	Claims txsign.RequestClaims
	// Raw is the signed request as received.
	Raw []byte
}

// Verify checks a delivered request (pushed or from the inbox): the
// service's signature with keys, typ, iss, aud (this device), exp; that
// tx_hash is the SHA-256 of the canonical authorization_details; and that
// the display text is exactly what the template renders from them and
// display_hash its hash. now is the device's clock (time.Now when zero).
func (d *Device) Verify(ctx context.Context, raw []byte, keys jose.KeyResolver, issuer string, now time.Time) (*Item, error) {
	if now.IsZero() {
		now = time.Now()
	}
	v, err := jose.NewVerifier(jose.Policy{
		Algs: []jose.Alg{jose.ES256, jose.ES384, jose.EdDSA, jose.PS256}, Keys: keys, Typ: txsign.RequestTyp,
		RequireKid: true, Limits: jose.Limits{MaxBytes: 64 << 10},
		JWT:   &jose.ClaimsPolicy{Audience: []string{d.ID}, Issuer: issuer, RequireIat: true},
		Clock: func() time.Time { return now },
	})
	if err != nil {
		return nil, err
	}
	res, err := v.Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	it := &Item{Raw: raw}
	if err := json.Unmarshal(res.Payload, &it.Claims); err != nil {
		return nil, &jose.Error{Code: jose.ClaimsInvalid, Detail: "the request's claims have the wrong types"}
	}
	c := &it.Claims
	canon, err := txsign.Canonicalize(c.AuthorizationDetails)
	if err != nil {
		return nil, err
	}
	if txsign.TxHash(canon) != c.TxHash {
		return nil, &jose.Error{Code: txsign.TxHashMismatch, Detail: "tx_hash is not the hash of the authorization_details delivered"}
	}
	text, err := txsign.RenderDisplay(c.DisplayTemplate, canon, c.BindingMessage)
	if err != nil {
		return nil, err
	}
	if text != c.DisplayText || txsign.DisplayHash(text) != c.DisplayHash {
		return nil, &jose.Error{Code: txsign.DisplayHashMismatch, Detail: "the display text is not what the template renders from the details"}
	}
	return it, nil
}
