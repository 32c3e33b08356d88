package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nonrep/nonrep/evidence"
	"github.com/nonrep/nonrep/internal/config"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/txsign"
	"github.com/nonrep/nonrep/txsign/device"
)

// TestTxsignMounted: with txsign enabled, serve mounts the API at
// /txsign/, signs with our registry key (published on the JWKS), and every
// step lands in the evidence log, where the device's decision re-verifies
// offline from its bundle.
func TestTxsignMounted(t *testing.T) {
	dir := t.TempDir()
	yaml := "data_dir: " + dir + "\ntxsign:\n  enabled: true\n  audiences: [https://payments.bank.example]\n  clients:\n    shop: shop-secret\n  users:\n    alice: alice-secret\n" +
		"routes:\n  - path: /payments/\n    resolve: txn_token\n    audience: https://payments.bank.example\n    upstream: echo\n"
	cfg, err := config.Parse("t.yaml", []byte(yaml), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ev, err := OpenEvidence(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Close()
	ks, err := OpenKeys(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	s, err := New(ctx, cfg, Options{Evidence: ev, JWKS: ks.JWKS, Registry: ks.Registry})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	base := srv.URL + TxsignPrefix

	dev, err := device.Generate("alice-phone", jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	alice := &device.Client{BaseURL: base, UserToken: "alice-secret"}
	if _, err := alice.Enrol(ctx, dev, device.EnrolOptions{Platform: "test"}); err != nil {
		t.Fatalf("enrol: %v", err)
	}
	details := `[{"type":"payment_initiation","instructedAmount":{"amount":"1240.00","currency":"EUR"},"creditorName":"ACME Ltd","creditorAccount":{"iban":"DE02100100109307118603"}}]`
	call := func(method, path, tok, ctype, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", ctype)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		out := map[string]any{}
		json.Unmarshal(b, &out)
		out["_raw"] = string(b)
		return resp.StatusCode, out
	}
	st, out := call("POST", "/v1/signing-requests", "shop-secret", "application/json", `{"authorization_details":`+details+`,"login_hint":"alice","binding_message":"X7Y2"}`)
	if st != http.StatusCreated {
		t.Fatalf("create: %d %s", st, out["_raw"])
	}
	id := out["auth_req_id"].(string)

	// The device verifies what it is shown with the service's published keys.
	keySet, _, err := alice.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	raws, err := alice.Inbox(ctx, dev.ID)
	if err != nil || len(raws) != 1 {
		t.Fatalf("inbox: %d %v", len(raws), err)
	}
	it, err := dev.Verify(ctx, raws[0], keySet, "http://"+cfg.Listen+TxsignPrefix, time.Now())
	if err != nil {
		t.Fatalf("verify item: %v", err)
	}
	jws, err := dev.Decide(it, device.Decision{Approve: true, UV: "face", Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Submit(ctx, jws, ""); err != nil {
		t.Fatalf("submit: %v", err)
	}
	form := url.Values{"grant_type": {txsign.CIBAGrantType}, "auth_req_id": {id}}.Encode()
	st, out = call("POST", "/v1/token", "shop-secret", "application/x-www-form-urlencoded", form)
	if st != http.StatusOK || out["access_token"] == nil {
		t.Fatalf("token: %d %s", st, out["_raw"])
	}

	// The payment API behind a txn_token route executes exactly the
	// approved details, once.
	token := out["access_token"].(string)
	pay := func(body string) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL+"/payments/", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("X-Nonrep-Authorization-Details", `[{"amount":"9999.00"}]`) // spoofed: stripped
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tampered := strings.Replace(details, "1240.00", "9240.00", 1)
	if st, b := pay(`{"authorization_details":` + tampered + `}`); st != http.StatusForbidden || !strings.Contains(b, "tx_hash_mismatch") {
		t.Fatalf("tampered amount: %d %s", st, b)
	}
	if st, b := pay(`{"authorization_details":` + details + `}`); st != http.StatusOK || !strings.Contains(b, `1240.00`) || strings.Contains(b, "9999.00") || !strings.Contains(b, `"X-Nonrep-Subject": "alice"`) {
		t.Fatalf("payment: %d %s", st, b)
	}
	if st, b := pay(`{"authorization_details":` + details + `}`); st != http.StatusConflict || !strings.Contains(b, "token_used") {
		t.Fatalf("second use: %d %s", st, b)
	}

	// Every step is in the log; the decision's bundle verifies offline.
	sums, err := ev.Search(ctx, evidence.Query{After: -1, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int64{}
	for _, sm := range sums {
		if sm.Profile == evidence.TxsignProfile {
			kinds[sm.Method] = sm.Index
		}
	}
	for _, k := range []txsign.EventKind{txsign.EventEnrolment, txsign.EventRequest, txsign.EventDecision, txsign.EventTokenIssue, txsign.EventTokenUse} {
		if _, ok := kinds[string(k)]; !ok {
			t.Fatalf("no %s record: %v", k, kinds)
		}
	}
	b, err := ev.Bundle(ctx, kinds[string(txsign.EventDecision)], evidence.BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := evidence.VerifyBundle(ctx, b, evidence.VerifyOptions{})
	if err != nil {
		t.Fatalf("decision bundle: %v (%+v)", err, rep)
	}
	if !strings.Contains(string(b), strconv.Quote(jws)[1:20]) {
		t.Fatal("the bundle does not carry the device's JWS")
	}
}
