package txsign

import (
	"context"
	"encoding/json"

	"github.com/nonrep/nonrep/jose"
)

// CIBAGrantType is the grant_type of the CIBA token request.
const CIBAGrantType = "urn:openid:params:grant-type:ciba"

// TokenClaims are a transaction token's claims (typ txn+jwt): the exact
// canonical authorization_details the device approved, their tx_hash,
// and evidence_ref, the evidence record of the device's decision.
type TokenClaims struct {
	Issuer               string          `json:"iss"`
	Subject              string          `json:"sub"`
	Audience             string          `json:"aud"`
	JTI                  string          `json:"jti"`
	IssuedAt             int64           `json:"iat"`
	Expiry               int64           `json:"exp"`
	ClientID             string          `json:"client_id"`
	AuthorizationDetails json.RawMessage `json:"authorization_details"`
	TxHash               string          `json:"tx_hash"`
	EvidenceRef          string          `json:"evidence_ref"`
}

// TokenResponse is the token endpoint's success answer (RFC 6749 §5.1,
// with RFC 9396 §7's authorization_details).
type TokenResponse struct {
	AccessToken          string          `json:"access_token"`
	TokenType            string          `json:"token_type"`
	ExpiresIn            int             `json:"expires_in"`
	AuthorizationDetails json.RawMessage `json:"authorization_details"`
	TxHash               string          `json:"tx_hash"`
}

// Token answers a client's poll for auth_req_id (CIBA poll mode): the
// transaction token once the user approved, or AuthorizationPending,
// SlowDown, ExpiredToken, AccessDenied, InvalidGrant. One poll per
// interval is let through, atomically across concurrent polls and
// instances; the others get SlowDown and raise the interval. An approved
// request yields exactly one token.
func (s *Service) Token(ctx context.Context, clientID, authReqID string) (*TokenResponse, error) {
	now := s.now()
	r, err := s.store.Poll(ctx, authReqID, clientID, now, s.cfg.MaxInterval)
	if err != nil {
		if jose.CodeOf(err) == RequestUnknown {
			return nil, errorf(InvalidGrant, "unknown auth_req_id")
		}
		return nil, err
	}
	switch r.Status {
	case Pending:
		if !now.Before(r.Expires) {
			return nil, errorf(ExpiredToken, "the request expired")
		}
		return nil, errorf(AuthorizationPending, "the user has not decided yet")
	case Denied:
		return nil, errorf(AccessDenied, "the user denied the request")
	case TokenIssued:
		return nil, errorf(InvalidGrant, "the token for this request was already issued")
	case Approved:
	default:
		return nil, errorf(InvalidGrant, "the request is in state %s", quote(string(r.Status)))
	}
	if r.Decision == nil || now.After(r.Decision.Received.Add(s.cfg.RedeemWindow)) {
		return nil, errorf(ExpiredToken, "the approval was not redeemed in time")
	}
	k, pub, err := s.signingKey(ctx)
	if err != nil {
		return nil, err
	}
	jti := randomID(16)
	claims := &TokenClaims{
		Issuer: s.cfg.Issuer, Subject: r.User, Audience: r.Audience, JTI: jti,
		IssuedAt: now.Unix(), Expiry: now.Unix() + int64(s.cfg.TokenTTL.Seconds()),
		ClientID: r.ClientID, AuthorizationDetails: r.Details, TxHash: r.TxHash,
		EvidenceRef: r.Decision.EvidenceRef,
	}
	payload, err := marshalJSON(claims)
	if err != nil {
		return nil, err
	}
	j, err := jose.Sign(payload, jose.SignOptions{Typ: TokenTyp}, k)
	if err != nil {
		return nil, wrapf(SignerUnavailable, err, "signing the token failed")
	}
	tok, err := j.CompactBytes()
	if err != nil {
		return nil, err
	}
	data, _ := marshalJSON(map[string]any{"jti": jti, "aud": r.Audience, "exp": claims.Expiry})
	if _, err := record(ctx, s.rec, &Event{
		Kind: EventTokenIssue, Time: now, User: r.User, ClientID: r.ClientID, DeviceID: r.Decision.DeviceID,
		AuthReqID: r.ID, TxHash: r.TxHash, DisplayHash: r.DisplayHash, Signed: tok, Key: pub, Data: data,
		Outcome: "issued", Prev: r.Decision.EvidenceRef,
	}); err != nil {
		return nil, err
	}
	if err := s.store.IssueToken(ctx, r.ID, jti, now); err != nil {
		return nil, err
	}
	return &TokenResponse{
		AccessToken: string(tok), TokenType: "Bearer", ExpiresIn: int(s.cfg.TokenTTL.Seconds()),
		AuthorizationDetails: r.Details, TxHash: r.TxHash,
	}, nil
}
