package txsign_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/replay"
	"github.com/nonrep/nonrep/txsign"
	"github.com/nonrep/nonrep/txsign/device"
	"github.com/nonrep/nonrep/txsign/sqlitestore"
)

// The whole story in one process: a service, a phone, a relying app and a
// payment API behind the gateway.
func Example() {
	ctx := context.Background()
	store, _ := sqlitestore.Open(ctx, sqlitestore.Config{Path: ":memory:"})
	defer store.Close()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, _ := txsign.NewStaticSigner(key, jose.ES256, "txsign-1")
	svc, _ := txsign.New(txsign.Config{
		Store: store, Signer: signer, Recorder: &txsign.MemoryRecorder{},
		Issuer: "https://txsign.bank.example", Audiences: []string{"payments"},
		Users:   txsign.NewBearerTokens(map[string]string{"alice-session": "alice"}),
		Clients: txsign.NewBearerTokens(map[string]string{"web-banking-secret": "web-banking"}),
	})
	h, _ := svc.Handler()
	service := httptest.NewServer(h)
	defer service.Close()

	// The phone enrols.
	phone, _ := device.Generate("alice-phone", jose.ES256)
	app := &device.Client{BaseURL: service.URL, UserToken: "alice-session"}
	app.Enrol(ctx, phone, device.EnrolOptions{Platform: "ios"})

	// Web banking asks alice to sign a payment.
	body := `{"login_hint":"alice","binding_message":"X7Y2","authorization_details":[{"type":"payment_initiation",
		"instructedAmount":{"amount":"1240.00","currency":"EUR"},"creditorName":"ACME Ltd"}]}`
	req, _ := http.NewRequest("POST", service.URL+"/v1/signing-requests", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer web-banking-secret")
	req.Header.Set("Content-Type", "application/json")
	resp, _ := http.DefaultClient.Do(req)
	var created txsign.CreateResponse
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()

	// The phone shows it and approves with Face ID.
	raws, _ := app.Inbox(ctx, phone.ID)
	keys, _, _ := app.Keys(ctx)
	item, _ := phone.Verify(ctx, raws[0], keys, "https://txsign.bank.example", time.Now())
	fmt.Print(item.Claims.DisplayText)
	decision, _ := phone.Decide(item, device.Decision{Approve: true, UV: "face"})
	app.Submit(ctx, decision, "")

	// Web banking fetches the transaction token.
	form := url.Values{"grant_type": {txsign.CIBAGrantType}, "auth_req_id": {created.AuthReqID}}
	req, _ = http.NewRequest("POST", service.URL+"/v1/token", strings.NewReader(form.Encode()))
	req.Header.Set("Authorization", "Bearer web-banking-secret")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, _ = http.DefaultClient.Do(req)
	var tok txsign.TokenResponse
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()

	// The payment API executes what the token carries, once.
	used, _ := replay.NewMemory(replay.MemoryConfig{})
	gateway, _ := txsign.Gateway(txsign.GatewayConfig{Keys: signer, Issuer: "https://txsign.bank.example", Audience: "payments", Replay: used})
	api := gateway(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, _ := txsign.TokenFromContext(r.Context())
		fmt.Printf("execute for %s: %s\n", t.Subject, t.AuthorizationDetails)
	}))
	for range 2 {
		r := httptest.NewRequest("POST", "/v1/payments", nil)
		r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		fmt.Println(w.Code)
	}
	// Output:
	// Pay 1240.00 EUR
	// To: ACME Ltd
	// Code: X7Y2
	// execute for alice: [{"creditorName":"ACME Ltd","instructedAmount":{"amount":"1240.00","currency":"EUR"},"type":"payment_initiation"}]
	// 200
	// 409
}
