package httpevidence_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nonrep/nonrep/evidence"
	"github.com/nonrep/nonrep/evidence/evidencetest"
	"github.com/nonrep/nonrep/evidence/httpevidence"
	"github.com/nonrep/nonrep/evidence/sqlitestore"
	"github.com/nonrep/nonrep/httpsig"
	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/problem"
	"github.com/nonrep/nonrep/profile"
	"github.com/nonrep/nonrep/replay"
)

// downStore fails every write while down is set: the database is gone.
type downStore struct {
	evidence.Store
	down atomic.Bool
}

func (d *downStore) Integrate(ctx context.Context, fn evidence.IntegrateFunc) error {
	if d.down.Load() {
		return errors.New("connection refused")
	}
	return d.Store.Integrate(ctx, fn)
}

func newLog(t *testing.T) (*evidence.Log, *downStore) {
	t.Helper()
	ctx := context.Background()
	s, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "e.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	d := &downStore{Store: s}
	l, err := evidence.Open(ctx, evidence.Config{Store: d, Key: evidencetest.LogKey, Origin: evidencetest.Origin, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, d
}

func keys(t *testing.T) (*jose.SigningKey, *jose.KeySet, *jose.JWK) {
	t.Helper()
	k, err := jose.NewJWK(testkeys.Key("p256"), "acme-1", jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := jose.NewSigningKey(k, jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	set, err := jose.NewKeySet(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return sk, set, k.Public()
}

type gateway struct {
	srv     *httptest.Server
	log     *evidence.Log
	store   *downStore
	handled atomic.Int64
	ref     atomic.Value // the evidence ref the handler saw
	client  *http.Client
}

func newGateway(t *testing.T) *gateway {
	t.Helper()
	g := &gateway{}
	g.log, g.store = newLog(t)
	sk, set, _ := keys(t)
	p := profile.Generic{Header: "X-JWS-Signature"}
	rp, err := replay.NewMemory(replay.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rc := &httpevidence.Recorder{Log: g.log, PolicyVersion: "policy-7", GenericHeader: "X-JWS-Signature"}
	mw, err := httpsig.Middleware(httpsig.Config{
		Partners: httpsig.Fixed{Partner: &httpsig.Partner{Name: "acme", Profile: p, Trust: profile.Trust{Keys: set}}},
		Replay:   rp,
		Record:   rc.Record,
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	g.srv = httptest.NewServer(rc.Responses(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.handled.Add(1)
		if o, ok := httpsig.OutcomeFromContext(r.Context()); ok {
			g.ref.Store(o.Ref)
		}
		w.WriteHeader(http.StatusCreated)
	}))))
	t.Cleanup(g.srv.Close)
	g.client = &http.Client{Transport: &httpsig.Transport{Profile: p, Signer: &profile.Signer{Key: sk}}}
	return g
}

func TestMiddlewareRecordsBeforeHandler(t *testing.T) {
	g := newGateway(t)
	ctx := context.Background()
	body := `{"amount":"50000.00","currency":"EUR"}` + "\n"
	resp, err := g.client.Post(g.srv.URL+"/v1/transfers?x=1", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || g.handled.Load() != 1 {
		t.Fatalf("status %d, handled %d", resp.StatusCode, g.handled.Load())
	}
	if ref, _ := g.ref.Load().(string); ref != "0" {
		t.Fatalf("the handler saw evidence ref %q, want the record's index 0", ref)
	}
	req, err := g.log.Get(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if req.Verdict != evidence.Accepted || req.Partner != "acme" || req.Profile != "generic" || req.Path != "/v1/transfers" ||
		req.Query != "x=1" || req.Kid != "acme-1" || req.Key == nil || req.PolicyVersion != "policy-7" || !strings.HasPrefix(req.ReplayID, "jti:") {
		t.Fatalf("request record %+v", req)
	}
	if !strings.Contains(string(req.Body), `"amount":"50000.00"`) || req.SignatureHeader != "X-JWS-Signature" || !bytes.Contains(req.Signature, []byte("..")) {
		t.Fatalf("request bytes not kept: body %q signature %q", req.Body, req.Signature)
	}
	res, err := g.log.Get(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if res.Kind != evidence.KindResponse || res.ResponseTo != 0 || res.ResponseStatus != http.StatusCreated {
		t.Fatalf("response record %+v", res)
	}
	b, err := g.log.Bundle(ctx, 0, evidence.BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := evidence.VerifyBundle(ctx, b, evidence.VerifyOptions{LogKeys: []string{g.log.VerifierKey()}}); err != nil {
		t.Fatalf("%v %+v", err, rep.Steps)
	}
}

func TestMiddlewareRecordsRejection(t *testing.T) {
	g := newGateway(t)
	ctx := context.Background()
	// A request whose body was changed after signing.
	g.client.Transport.(*httpsig.Transport).Base = swapBody{[]byte(`{"amount":"9.00"}`)}
	resp, err := g.client.Post(g.srv.URL+"/v1/transfers", "application/json", strings.NewReader(`{"amount":"1.00"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || g.handled.Load() != 0 {
		t.Fatalf("status %d, handled %d", resp.StatusCode, g.handled.Load())
	}
	rec, err := g.log.Get(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Verdict != evidence.Rejected || rec.Code != jose.SignatureInvalid || rec.Kid != "acme-1" || len(rec.Signature) == 0 || string(rec.Body) != `{"amount":"9.00"}` {
		t.Fatalf("rejection record %+v", rec)
	}
	res, _ := g.log.Get(ctx, 1)
	if res == nil || res.ResponseStatus != http.StatusUnauthorized {
		t.Fatalf("response record %+v", res)
	}
	b, err := g.log.Bundle(ctx, 0, evidence.BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := evidence.VerifyBundle(ctx, b, evidence.VerifyOptions{LogKeys: []string{g.log.VerifierKey()}}); err != nil {
		t.Fatal(err)
	}
}

// swapBody replaces the body after the signing transport signed it.
type swapBody struct{ body []byte }

func (s swapBody) RoundTrip(r *http.Request) (*http.Response, error) {
	r.Body = io.NopCloser(bytes.NewReader(s.body))
	r.ContentLength = int64(len(s.body))
	return http.DefaultTransport.RoundTrip(r)
}

// TestStoreDownAnswers503 is the durability contract at the HTTP level:
// no evidence, no execution.
func TestStoreDownAnswers503(t *testing.T) {
	g := newGateway(t)
	g.store.down.Store(true)
	resp, err := g.client.Post(g.srv.URL+"/v1/transfers", "application/json", strings.NewReader(`{"amount":"1.00"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !bytes.Contains(b, []byte(string(problem.EvidenceUnavailable))) || g.handled.Load() != 0 {
		t.Fatalf("status %d, body %s, handled %d", resp.StatusCode, b, g.handled.Load())
	}
	g.store.down.Store(false)
	head, _ := g.log.Head(context.Background())
	if head.Size != 0 {
		t.Fatalf("the log holds %d records", head.Size)
	}
}

func TestTransportRecordsBeforeSending(t *testing.T) {
	l, d := newLog(t)
	ctx := context.Background()
	sk, _, pub := keys(t)
	var seenAtArrival atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		head, _ := l.Head(context.Background())
		seenAtArrival.Store(head.Size)
		w.Header().Set("X-Answer-Signature", "resp-sig")
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	p := profile.Generic{Header: "X-JWS-Signature"}
	c := &http.Client{Transport: &httpsig.Transport{
		Profile: p, Signer: &profile.Signer{Key: sk},
		Base: &httpevidence.Transport{Log: l, Partner: "acme", Profile: "generic", SignatureHeader: "X-JWS-Signature",
			Key: pub, ResponseSignatureHeader: "X-Answer-Signature", Logger: slog.New(slog.DiscardHandler)},
	}}
	resp, err := c.Post(srv.URL+"/v1/pay", "application/json", strings.NewReader(`{"amount":"3.00"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if seenAtArrival.Load() != 1 {
		t.Fatalf("when the partner got the request the log held %d records, want 1", seenAtArrival.Load())
	}
	req, _ := l.Get(ctx, 0)
	res, _ := l.Get(ctx, 1)
	if req.Verdict != evidence.Signed || req.Direction != evidence.Outbound || req.Kid != "acme-1" || req.Key.Thumbprint() != pub.Thumbprint() {
		t.Fatalf("request record %+v", req)
	}
	if res.ResponseStatus != http.StatusAccepted || string(res.ResponseSignature) != "resp-sig" || res.ResponseTo != 0 {
		t.Fatalf("response record %+v", res)
	}
	// Our own signature, re-verified from the record alone.
	if _, err := evidence.Reverify(ctx, req); err != nil {
		t.Fatal(err)
	}
	// Store down: nothing is sent.
	d.down.Store(true)
	seenAtArrival.Store(-1)
	if _, err := c.Post(srv.URL+"/v1/pay", "application/json", strings.NewReader(`{}`)); jose.CodeOf(err) != evidence.Unavailable {
		t.Fatalf("with the store down: %v", err)
	}
	if seenAtArrival.Load() != -1 {
		t.Fatal("the request was sent without its evidence")
	}
}
