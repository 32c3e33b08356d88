package txsign

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/replay"
)

// GatewayConfig configures the transaction-token verifier that guards a
// payment API. Keys, Issuer, Audience and Replay are required.
type GatewayConfig struct {
	// Keys resolves the service's token keys: its JWKS through a cache
	// (package keys), or a StaticSigner in the same process.
	Keys jose.KeyResolver
	// Algs are the token algorithms accepted (ES256, ES384, EdDSA, PS256).
	Algs []jose.Alg
	// Issuer is the service's iss; Audience this API's aud.
	Issuer   string
	Audience string
	// Replay consumes each jti once: a memory store for one instance,
	// Redis for many.
	Replay replay.Store
	// Recorder, when set, records each token use before the handler runs;
	// its failure answers 503 and the handler does not run.
	Recorder Recorder
	// Header carries the token: "Authorization" (default, as "Bearer
	// TOKEN") or another header holding the bare token.
	Header string
	// Details, when set, returns the authorization_details the request
	// itself claims to execute (from body, the request body read in full);
	// they must hash to the token's tx_hash, or the request is refused with
	// tx_hash_mismatch. The handler should execute Token's details anyway.
	Details func(r *http.Request, body []byte) ([]byte, error)
	// MaxBody caps the body read for Details (1 MiB).
	MaxBody int64
	// Skew is the clock difference allowed on exp and iat (30 s).
	Skew time.Duration
	// Clock is the time source (time.Now).
	Clock func() time.Time
}

// Token is a verified transaction token, as the payment handler gets it.
type Token struct {
	Issuer   string
	Subject  string
	Audience []string
	ID       string // jti
	ClientID string
	IssuedAt time.Time
	Expiry   time.Time
	// AuthorizationDetails is exactly what the user's device approved (RFC
	// 8785 canonical): execute these, not amounts from the request body.
	AuthorizationDetails json.RawMessage
	TxHash               string
	// EvidenceRef is the evidence record of the device's decision.
	EvidenceRef string
	// Raw is the token as received.
	Raw []byte
}

// TokenVerifier validates transaction tokens locally and consumes them.
// Safe for concurrent use.
type TokenVerifier struct {
	cfg GatewayConfig
	v   *jose.Verifier
}

// NewTokenVerifier checks cfg and returns a verifier.
func NewTokenVerifier(cfg GatewayConfig) (*TokenVerifier, error) {
	switch {
	case cfg.Keys == nil:
		return nil, errorf(jose.PolicyInvalid, "txsign: GatewayConfig.Keys is required")
	case cfg.Issuer == "" || cfg.Audience == "":
		return nil, errorf(jose.PolicyInvalid, "txsign: GatewayConfig.Issuer and Audience are required")
	case cfg.Replay == nil:
		return nil, errorf(jose.PolicyInvalid, "txsign: GatewayConfig.Replay is required: a token is used once")
	}
	if len(cfg.Algs) == 0 {
		cfg.Algs = []jose.Alg{jose.ES256, jose.ES384, jose.EdDSA, jose.PS256}
	}
	if cfg.Header == "" {
		cfg.Header = "Authorization"
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.Skew <= 0 {
		cfg.Skew = 30 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	v, err := jose.NewVerifier(jose.Policy{
		Algs: cfg.Algs, Keys: cfg.Keys, Typ: TokenTyp, RequireKid: true,
		Limits: jose.Limits{MaxBytes: 32 << 10},
		JWT: &jose.ClaimsPolicy{
			Audience: []string{cfg.Audience}, Issuer: cfg.Issuer, Skew: cfg.Skew,
			MaxLifetime: MaxTokenTTL, RequireIat: true, RequireJTI: true,
		},
		Clock: cfg.Clock,
	})
	if err != nil {
		return nil, err
	}
	return &TokenVerifier{cfg: cfg, v: v}, nil
}

// Verify validates a token without consuming it: signature with the
// service's keys, typ txn+jwt, iss, aud, exp (at most MaxTokenTTL after
// iat), jti, and that tx_hash is the hash of the token's own
// authorization_details.
func (tv *TokenVerifier) Verify(ctx context.Context, raw []byte) (*Token, error) {
	res, err := tv.v.Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	c := res.Claims
	t := &Token{
		Issuer: c.Issuer, Subject: c.Subject, Audience: c.Audience, ID: c.ID,
		IssuedAt: c.IssuedAt, Expiry: c.Expiry, Raw: raw,
	}
	var ok bool
	if t.ClientID, ok = c.GetString("client_id"); !ok {
		return nil, errorf(jose.ClaimMissing, `"client_id" is required`)
	}
	if t.TxHash, ok = c.GetString("tx_hash"); !ok {
		return nil, errorf(jose.ClaimMissing, `"tx_hash" is required`)
	}
	if t.EvidenceRef, ok = c.GetString("evidence_ref"); !ok {
		return nil, errorf(jose.ClaimMissing, `"evidence_ref" is required`)
	}
	det, ok := c.Get("authorization_details")
	if !ok || len(det) == 0 || det[0] != '[' {
		return nil, errorf(jose.ClaimMissing, `"authorization_details" (an array) is required`)
	}
	h, err := HashDetails(det)
	if err != nil {
		return nil, err
	}
	if h != t.TxHash {
		return nil, errorf(TxHashMismatch, "the token's tx_hash is not the hash of its authorization_details")
	}
	t.AuthorizationDetails = json.RawMessage(det)
	return t, nil
}

// Consume claims the token's jti for as long as the token could still be
// accepted: TokenUsed if it was already used, replay.Unavailable when the
// store cannot answer (fail closed).
func (tv *TokenVerifier) Consume(ctx context.Context, t *Token) error {
	ttl := t.Expiry.Add(tv.cfg.Skew).Sub(tv.cfg.Clock()) + time.Second
	if ttl <= 0 {
		return errorf(jose.Expired, "the token has expired")
	}
	err := tv.cfg.Replay.Claim(ctx, "txsign-jti:"+t.Issuer+"|"+t.ID, ttl)
	if jose.CodeOf(err) == replay.Detected {
		return &jose.Error{Code: TokenUsed, Detail: "the transaction token was already used", Err: err}
	}
	return err
}

type tokenKey struct{}

// TokenFromContext returns the verified, consumed token of the request.
func TokenFromContext(ctx context.Context) (*Token, bool) {
	t, ok := ctx.Value(tokenKey{}).(*Token)
	return t, ok
}

// Gateway returns middleware that lets a request through only with a
// valid, unused transaction token: it verifies the token locally,
// optionally checks the request's own details against tx_hash, consumes
// the jti atomically, records the use, and then calls the handler with
// the Token in the context (TokenFromContext). A second use is refused
// with token_used (409). Failures are problem+json.
func Gateway(cfg GatewayConfig) (func(http.Handler) http.Handler, error) {
	tv, err := NewTokenVerifier(cfg)
	if err != nil {
		return nil, err
	}
	return tv.Middleware, nil
}

// Middleware is the gateway middleware of tv; see Gateway.
func (tv *TokenVerifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, err := tv.check(w, r)
		if err != nil {
			if jose.CodeOf(err) == Unauthenticated {
				w.Header().Set("WWW-Authenticate", `Bearer realm="nonrep-txsign", error="invalid_token"`)
			}
			writeProblem(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, t)))
	})
}

func (tv *TokenVerifier) check(w http.ResponseWriter, r *http.Request) (*Token, error) {
	raw, ok := tv.tokenOf(r)
	if !ok {
		return nil, errorf(Unauthenticated, "a transaction token is required in %s", tv.cfg.Header)
	}
	ctx := r.Context()
	t, err := tv.Verify(ctx, []byte(raw))
	if err != nil {
		return nil, err
	}
	if tv.cfg.Details != nil {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, tv.cfg.MaxBody))
		if err != nil {
			return nil, errorf(jose.TooLarge, "the body cannot be read within %d bytes", tv.cfg.MaxBody)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		det, err := tv.cfg.Details(r, body)
		if err != nil {
			return nil, wrapf(RequestInvalid, err, "the request's authorization_details cannot be read")
		}
		h, err := HashDetails(det)
		if err != nil {
			return nil, err
		}
		if h != t.TxHash {
			return nil, errorf(TxHashMismatch, "the request's details are not the ones the user approved")
		}
	}
	if err := tv.Consume(ctx, t); err != nil {
		return nil, err
	}
	if tv.cfg.Recorder != nil {
		data, _ := marshalJSON(map[string]string{"method": r.Method, "path": r.URL.Path, "jti": t.ID})
		if _, err := record(ctx, tv.cfg.Recorder, &Event{
			Kind: EventTokenUse, Time: tv.cfg.Clock(), User: t.Subject, ClientID: t.ClientID, TxHash: t.TxHash,
			Signed: t.Raw, Data: data, Outcome: "used", Prev: t.EvidenceRef,
		}); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (tv *TokenVerifier) tokenOf(r *http.Request) (string, bool) {
	if strings.EqualFold(tv.cfg.Header, "Authorization") {
		return bearer(r)
	}
	v := r.Header.Values(tv.cfg.Header)
	if len(v) != 1 || v[0] == "" {
		return "", false
	}
	return v[0], true
}
