package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"

	"github.com/nonrep/nonrep/evidence"
	"github.com/nonrep/nonrep/internal/config"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/keys"
	"github.com/nonrep/nonrep/txsign"
	"github.com/nonrep/nonrep/txsign/pgstore"
	"github.com/nonrep/nonrep/txsign/sqlitestore"
)

// TxsignPrefix is where the transaction-signing API is mounted.
const TxsignPrefix = "/txsign"

// txsignRecorder writes each transaction-signing step into the evidence
// log, durably, before the step takes effect: the step's signed object
// verbatim (re-verifiable offline with the stored key, evidence.Reverify),
// its data as the body.
type txsignRecorder struct{ log *evidence.Log }

func (t txsignRecorder) Record(ctx context.Context, e *txsign.Event) (string, error) {
	dir, verdict := evidence.Inbound, evidence.Accepted
	switch e.Kind {
	case txsign.EventRequest, txsign.EventDelivery, txsign.EventTokenIssue:
		// Made and signed by us.
		dir, verdict = evidence.Outbound, evidence.Signed
	}
	partner := "txsign"
	switch {
	case e.DeviceID != "":
		partner = "device:" + e.DeviceID
	case e.ClientID != "":
		partner = "client:" + e.ClientID
	case e.User != "":
		partner = "user:" + e.User
	}
	r := &evidence.Record{
		Received: e.Time, Direction: dir, Partner: partner, Profile: evidence.TxsignProfile,
		Method: string(e.Kind), Path: TxsignPrefix + "/" + e.AuthReqID, Body: e.Data,
		Signature: e.Signed, Key: e.Key, Verdict: verdict, ReplayID: e.AuthReqID,
	}
	if e.Prev != "" {
		// The chain request → decision → token → use: each step names
		// the record of the step it follows.
		r.Query = "prev=" + e.Prev
	}
	if e.Offline {
		r.Query += "&offline=true"
	}
	if e.Key != nil {
		r.Kid = e.Key.Kid
	}
	idx, err := t.log.Append(ctx, r)
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(idx, 10), nil
}

// mountTxsign builds the service over the configured store, our active key
// (registry purpose "sign") and the evidence log, and mounts it.
func (s *Server) mountTxsign(ctx context.Context, cfg *config.Config, o Options) error {
	tc := cfg.TxSign
	if o.Registry == nil {
		return fmt.Errorf("txsign: needs the key registry")
	}
	var (
		st  txsign.Store
		err error
	)
	if cfg.Stores.Evidence.Backend == "postgres" {
		st, err = pgstore.Open(ctx, pgstore.Config{DSN: cfg.Stores.Evidence.DSN})
	} else {
		st, err = sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(cfg.DataDir, "txsign.db")})
	}
	if err != nil {
		return fmt.Errorf("txsign store: %w", err)
	}
	if c, ok := st.(io.Closer); ok {
		s.closers = append(s.closers, c.Close)
	}
	secrets := func(m map[string]string) (map[string]string, error) {
		out := map[string]string{}
		for id, v := range m {
			tok, err := config.Secret(v, o.Getenv)
			if err != nil {
				return nil, err
			}
			out[tok] = id
		}
		return out, nil
	}
	clients, err := secrets(tc.Clients)
	if err != nil {
		return err
	}
	users, err := secrets(tc.Users)
	if err != nil {
		return err
	}
	issuer := cfg.TxSignIssuer()
	reg := o.Registry
	svc, err := txsign.New(txsign.Config{
		Store: st,
		Signer: txsign.TokenSignerFunc(func(ctx context.Context) (*jose.SigningKey, error) {
			return reg.Signer(ctx, keys.DefaultPurpose)
		}),
		JWKS: func(ctx context.Context) ([]byte, error) {
			ks, err := reg.Published(ctx)
			if err != nil {
				return nil, err
			}
			return jose.MarshalJWKS(ks...)
		},
		Recorder:  txsignRecorder{log: s.log_},
		Users:     txsign.NewBearerTokens(users),
		Clients:   txsign.NewBearerTokens(clients),
		Issuer:    issuer,
		Audiences: tc.Audiences,
		Replay:    s.replay,
		Clock:     o.Clock,
	})
	if err != nil {
		return err
	}
	s.closers = append(s.closers, func() error { svc.Close(); return nil })
	h, err := svc.Handler()
	if err != nil {
		return err
	}
	s.mux.Handle(TxsignPrefix+"/", http.StripPrefix(TxsignPrefix, h))
	return nil
}

// tokenRoute guards a route with transaction tokens: verified locally with
// our own keys (the registry, which refuses revoked keys), aud checked, the
// body's authorization_details hashed against the token's tx_hash, the jti
// consumed once, the use recorded; then the gateway forwards, passing the
// approved details upstream.
func (s *Server) tokenRoute(rc config.Route, o Options, next http.Handler) (http.Handler, error) {
	if o.Registry == nil {
		return nil, fmt.Errorf("route %s: txn_token needs the key registry", rc.Path)
	}
	mw, err := txsign.Gateway(txsign.GatewayConfig{
		Keys: o.Registry, Issuer: s.cfg.TxSignIssuer(), Audience: rc.Audience,
		Replay: s.replay, Recorder: txsignRecorder{log: s.log_}, Clock: o.Clock,
		Details: func(r *http.Request, body []byte) ([]byte, error) {
			var b struct {
				Details json.RawMessage `json:"authorization_details"`
			}
			if err := json.Unmarshal(body, &b); err != nil || len(b.Details) == 0 {
				return nil, fmt.Errorf("the body must be a JSON object carrying the authorization_details it executes")
			}
			return b.Details, nil
		},
	})
	if err != nil {
		return nil, err
	}
	return mw(next), nil
}

// txsignDetailsHeader carries the approved authorization_details (RFC 8785
// canonical JSON) to the upstream of a txn_token route: execute these.
const txsignDetailsHeader = "X-Nonrep-Authorization-Details"
