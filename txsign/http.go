package txsign

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"time"

	"github.com/gowebpki/jcs"

	"github.com/nonrep/nonrep/jose"
)

// Handler returns the service's HTTP API (see openapi.yaml, served at
// /openapi.yaml). It needs Config.Users and Config.Clients.
//
//	GET  /.well-known/jwks.json             the service's public keys
//	GET  /openapi.yaml                      this API's OpenAPI document
//	POST /v1/devices/challenge              user: an enrolment challenge
//	POST /v1/devices                        user: enrol a device
//	GET  /v1/devices                        user: list devices
//	GET  /v1/devices/{device_id}            user: one device
//	POST /v1/devices/{device_id}/revoke     user: revoke a device
//	POST /v1/devices/{device_id}/rotate     signed by the device's keys
//	GET  /v1/devices/{device_id}/inbox      user: pending requests, signed
//	PUT  /v1/pin                            user: set the transaction PIN
//	POST /v1/signing-requests               client: start a signing request
//	POST /v1/decisions                      signed by the device
//	POST /v1/token                          client: poll (CIBA), get the token
//
// Errors are RFC 9457 problem+json with a stable code, except at the token
// endpoint, which answers OAuth 2.0 errors ({"error": CODE}) as CIBA
// clients expect.
func (s *Service) Handler() (http.Handler, error) {
	if s.cfg.Users == nil || s.cfg.Clients == nil {
		return nil, errorf(jose.PolicyInvalid, "txsign: the HTTP API needs Config.Users and Config.Clients")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/jwks.json", s.handleJWKS)
	mux.HandleFunc("GET /openapi.yaml", serveOpenAPI)
	mux.HandleFunc("POST /v1/devices/challenge", s.user(s.handleChallenge))
	mux.HandleFunc("POST /v1/devices", s.user(s.handleEnrol))
	mux.HandleFunc("GET /v1/devices", s.user(s.handleDevices))
	mux.HandleFunc("GET /v1/devices/{device_id}", s.user(s.handleDevice))
	mux.HandleFunc("POST /v1/devices/{device_id}/revoke", s.user(s.handleRevoke))
	mux.HandleFunc("POST /v1/devices/{device_id}/rotate", s.handleRotate)
	mux.HandleFunc("GET /v1/devices/{device_id}/inbox", s.user(s.handleInbox))
	mux.HandleFunc("PUT /v1/pin", s.user(s.handlePIN))
	mux.HandleFunc("POST /v1/signing-requests", s.client(s.handleCreate))
	mux.HandleFunc("POST /v1/decisions", s.handleDecision)
	mux.HandleFunc("POST /v1/token", s.handleToken)
	return mux, nil
}

type subjectHandler func(w http.ResponseWriter, r *http.Request, subject string)

func (s *Service) user(h subjectHandler) http.HandlerFunc {
	return s.authed(s.cfg.Users, h)
}

func (s *Service) client(h subjectHandler) http.HandlerFunc {
	return s.authed(s.cfg.Clients, h)
}

func (s *Service) authed(a Authenticator, h subjectHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sub, err := a.Authenticate(r)
		if err != nil || sub == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="nonrep-txsign"`)
			s.fail(w, r, errorf(Unauthenticated, "authentication required"))
			return
		}
		h(w, r, sub)
	}
}

// fail answers err as problem+json, logging server-side failures.
func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	if st := Status(jose.CodeOf(err)); st >= 500 {
		s.log.Error("txsign: request failed", "method", r.Method, "path", r.URL.Path, "code", string(jose.CodeOf(err)), "err", err)
	}
	writeProblem(w, err)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshalJSON(v)
	if err != nil {
		writeProblem(w, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// readJSON reads a JSON object body strictly: the media type is
// application/json; the body fits MaxBody; it is valid I-JSON without
// duplicate members at any depth (RFC 8785 parsing); its top-level
// member names are exactly among allowed (no case variants); and it
// decodes into dst.
func (s *Service) readJSON(w http.ResponseWriter, r *http.Request, dst any, allowed ...string) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errorf(RequestInvalid, "Content-Type must be application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(jose.TooLarge, "the body is larger than %d bytes", s.cfg.MaxBody)
		}
		return errorf(RequestInvalid, "reading the body failed")
	}
	if _, err := jcs.Transform(body); err != nil {
		return errorf(RequestInvalid, "the body is not valid JSON, or has a duplicate member")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return errorf(RequestInvalid, "the body must be a JSON object")
	}
	for k := range m {
		if !slices.Contains(allowed, k) {
			return errorf(RequestInvalid, "unknown member %s", quote(k))
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return errorf(RequestInvalid, "a member has the wrong JSON type")
	}
	return nil
}

func (s *Service) handleJWKS(w http.ResponseWriter, r *http.Request) {
	if s.cfg.JWKS == nil {
		http.NotFound(w, r)
		return
	}
	b, err := s.cfg.JWKS(r.Context())
	if err != nil {
		s.fail(w, r, wrapf(SignerUnavailable, err, "the key set is unavailable"))
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "max-age=300")
	w.Write(b)
}

// DeviceJSON is a device as the API shows it (the attestation is not
// echoed).
type DeviceJSON struct {
	DeviceID      string            `json:"device_id"`
	User          string            `json:"user"`
	Platform      string            `json:"platform"`
	Metadata      map[string]string `json:"metadata,omitempty"`
	PushURL       string            `json:"push_url,omitempty"`
	JWK           json.RawMessage   `json:"jwk"`
	KeyThumbprint string            `json:"key_thumbprint"`
	Status        DeviceStatus      `json:"status"`
	EnrolledAt    string            `json:"enrolled_at"`
	RevokedAt     string            `json:"revoked_at,omitempty"`
	RevokeReason  string            `json:"revoke_reason,omitempty"`
	EvidenceRef   string            `json:"evidence_ref"`
}

func deviceJSON(d *Device) *DeviceJSON {
	jwk, _ := d.Key.MarshalJSON()
	out := &DeviceJSON{
		DeviceID: d.ID, User: d.User, Platform: d.Platform, Metadata: d.Metadata, PushURL: d.PushURL,
		JWK: jwk, KeyThumbprint: d.Key.Thumbprint(), Status: d.Status,
		EnrolledAt: d.EnrolledAt.UTC().Format(time.RFC3339), RevokeReason: d.RevokeReason, EvidenceRef: d.EvidenceRef,
	}
	if !d.RevokedAt.IsZero() {
		out.RevokedAt = d.RevokedAt.UTC().Format(time.RFC3339)
	}
	return out
}

func (s *Service) handleChallenge(w http.ResponseWriter, r *http.Request, user string) {
	c, err := s.NewChallenge(r.Context(), user)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"challenge": c.ID, "expires_in": int(s.cfg.ChallengeTTL.Seconds())})
}

// EnrolBody is the body of POST /v1/devices.
type EnrolBody struct {
	DeviceID    string            `json:"device_id"`
	Platform    string            `json:"platform"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	PushURL     string            `json:"push_url,omitempty"`
	JWK         json.RawMessage   `json:"jwk"`
	Attestation []byte            `json:"attestation,omitempty"`
	Challenge   string            `json:"challenge"`
	Proof       string            `json:"proof"`
}

func (s *Service) handleEnrol(w http.ResponseWriter, r *http.Request, user string) {
	var b EnrolBody
	if err := s.readJSON(w, r, &b, "device_id", "platform", "metadata", "push_url", "jwk", "attestation", "challenge", "proof"); err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := s.Enrol(r.Context(), user, &Enrolment{
		DeviceID: b.DeviceID, Platform: b.Platform, Metadata: b.Metadata, PushURL: b.PushURL,
		Key: b.JWK, Attestation: b.Attestation, Challenge: b.Challenge, Proof: b.Proof,
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, deviceJSON(d))
}

func (s *Service) handleDevices(w http.ResponseWriter, r *http.Request, user string) {
	ds, err := s.Devices(r.Context(), user)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]*DeviceJSON, len(ds))
	for i, d := range ds {
		out[i] = deviceJSON(d)
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": out})
}

func (s *Service) handleDevice(w http.ResponseWriter, r *http.Request, user string) {
	d, err := s.Device(r.Context(), user, r.PathValue("device_id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, deviceJSON(d))
}

func (s *Service) handleRevoke(w http.ResponseWriter, r *http.Request, user string) {
	var b struct {
		Reason string `json:"reason"`
	}
	if r.ContentLength != 0 {
		if err := s.readJSON(w, r, &b, "reason"); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	d, err := s.Revoke(r.Context(), user, r.PathValue("device_id"), b.Reason)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, deviceJSON(d))
}

// RotateBody is the body of POST /v1/devices/{device_id}/rotate.
type RotateBody struct {
	JWK         json.RawMessage `json:"jwk"`
	OldKeyProof string          `json:"old_key_proof"`
	NewKeyProof string          `json:"new_key_proof"`
}

func (s *Service) handleRotate(w http.ResponseWriter, r *http.Request) {
	var b RotateBody
	if err := s.readJSON(w, r, &b, "jwk", "old_key_proof", "new_key_proof"); err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := s.RotateKey(r.Context(), &Rotation{DeviceID: r.PathValue("device_id"), Key: b.JWK, OldKeyProof: b.OldKeyProof, NewKeyProof: b.NewKeyProof})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, deviceJSON(d))
}

func (s *Service) handleInbox(w http.ResponseWriter, r *http.Request, user string) {
	items, err := s.Inbox(r.Context(), user, r.PathValue("device_id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = string(it)
	}
	writeJSON(w, http.StatusOK, map[string]any{"requests": out})
}

func (s *Service) handlePIN(w http.ResponseWriter, r *http.Request, user string) {
	var b struct {
		PIN string `json:"pin"`
	}
	if err := s.readJSON(w, r, &b, "pin"); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.SetPIN(r.Context(), user, b.PIN); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// CreateBody is the body of POST /v1/signing-requests (CIBA-shaped, JSON).
type CreateBody struct {
	LoginHint            string          `json:"login_hint"`
	DeviceID             string          `json:"device_id,omitempty"`
	Audience             string          `json:"audience,omitempty"`
	AuthorizationDetails json.RawMessage `json:"authorization_details"`
	BindingMessage       string          `json:"binding_message,omitempty"`
	RequestedExpiry      int             `json:"requested_expiry,omitempty"`
	RequirePIN           bool            `json:"require_pin,omitempty"`
}

// CreateResponse answers POST /v1/signing-requests (CIBA §7.3, plus the
// hashes the relying app may keep).
type CreateResponse struct {
	AuthReqID   string `json:"auth_req_id"`
	ExpiresIn   int    `json:"expires_in"`
	Interval    int    `json:"interval"`
	TxHash      string `json:"tx_hash"`
	DisplayHash string `json:"display_hash"`
}

func (s *Service) handleCreate(w http.ResponseWriter, r *http.Request, client string) {
	var b CreateBody
	if err := s.readJSON(w, r, &b, "login_hint", "device_id", "audience", "authorization_details", "binding_message", "requested_expiry", "require_pin"); err != nil {
		s.fail(w, r, err)
		return
	}
	if len(r.Header.Values("Idempotency-Key")) > 1 {
		s.fail(w, r, errorf(RequestInvalid, "one Idempotency-Key header at most"))
		return
	}
	req, created, err := s.CreateRequest(r.Context(), client, &SigningRequest{
		User: b.LoginHint, DeviceID: b.DeviceID, Audience: b.Audience, AuthorizationDetails: b.AuthorizationDetails,
		BindingMessage: b.BindingMessage, RequestedExpiry: b.RequestedExpiry, RequirePIN: b.RequirePIN,
		IdempotencyKey: r.Header.Get("Idempotency-Key"),
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	st := http.StatusCreated
	if !created {
		st = http.StatusOK
	}
	left := int(req.Expires.Sub(s.now()).Seconds())
	if left < 0 {
		left = 0
	}
	writeJSON(w, st, &CreateResponse{
		AuthReqID: req.ID, ExpiresIn: left, Interval: int(req.Interval / time.Second),
		TxHash: req.TxHash, DisplayHash: req.DisplayHash,
	})
}

// DecisionBody is the body of POST /v1/decisions.
type DecisionBody struct {
	Decision string `json:"decision"`
	PIN      string `json:"pin,omitempty"`
}

// DecisionResponse answers POST /v1/decisions.
type DecisionResponse struct {
	AuthReqID   string        `json:"auth_req_id"`
	Status      RequestStatus `json:"status"`
	Offline     bool          `json:"offline"`
	EvidenceRef string        `json:"evidence_ref"`
}

func (s *Service) handleDecision(w http.ResponseWriter, r *http.Request) {
	var b DecisionBody
	if err := s.readJSON(w, r, &b, "decision", "pin"); err != nil {
		s.fail(w, r, err)
		return
	}
	req, err := s.Decide(r.Context(), &Submission{Decision: b.Decision, PIN: b.PIN})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, &DecisionResponse{AuthReqID: req.ID, Status: req.Status, Offline: req.Decision.Offline, EvidenceRef: req.Decision.EvidenceRef})
}

// oauthErrors are the codes the token endpoint answers in the OAuth shape.
var oauthErrors = map[jose.Code]int{
	AuthorizationPending: http.StatusBadRequest,
	SlowDown:             http.StatusBadRequest,
	ExpiredToken:         http.StatusBadRequest,
	AccessDenied:         http.StatusBadRequest,
	InvalidGrant:         http.StatusBadRequest,
	InvalidRequest:       http.StatusBadRequest,
	UnsupportedGrantType: http.StatusBadRequest,
	InvalidClient:        http.StatusUnauthorized,
}

// OAuthError is the token endpoint's error body (RFC 6749 §5.2).
type OAuthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func (s *Service) oauthFail(w http.ResponseWriter, r *http.Request, err error) {
	code := jose.CodeOf(err)
	st, ok := oauthErrors[code]
	if !ok {
		s.fail(w, r, err)
		return
	}
	desc := ""
	var je *jose.Error
	if errors.As(err, &je) {
		desc = je.Detail
	}
	if code == InvalidClient {
		w.Header().Set("WWW-Authenticate", `Bearer realm="nonrep-txsign"`)
	}
	writeJSON(w, st, &OAuthError{Error: string(code), Description: desc})
}

func (s *Service) handleToken(w http.ResponseWriter, r *http.Request) {
	client, err := s.cfg.Clients.Authenticate(r)
	if err != nil || client == "" {
		s.oauthFail(w, r, errorf(InvalidClient, "client authentication failed"))
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		s.oauthFail(w, r, errorf(InvalidRequest, "the token request is application/x-www-form-urlencoded"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		s.oauthFail(w, r, errorf(InvalidRequest, "the form cannot be parsed"))
		return
	}
	f := r.PostForm
	for _, name := range []string{"grant_type", "auth_req_id"} {
		if len(f[name]) != 1 || f[name][0] == "" {
			s.oauthFail(w, r, errorf(InvalidRequest, "%s is required, once", name))
			return
		}
	}
	if f.Get("grant_type") != CIBAGrantType {
		s.oauthFail(w, r, errorf(UnsupportedGrantType, "grant_type must be %s", CIBAGrantType))
		return
	}
	resp, err := s.Token(r.Context(), client, f.Get("auth_req_id"))
	if err != nil {
		s.oauthFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}
