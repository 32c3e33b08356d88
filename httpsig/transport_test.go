package httpsig_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nonrep/nonrep/httpsig"
	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/profile"
)

func TestTransportLeavesCallerRequestAlone(t *testing.T) {
	for _, f := range fixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			rec := &recorder{dontSend: true}
			req, _ := http.NewRequest("POST", "http://api.bank.example/v1/payments", strings.NewReader(payment))
			req.Header.Set("X-Request-Id", "r-1")
			before := req.Header.Clone()
			resp, err := (&httpsig.Transport{Base: rec, Profile: f.prof, Signer: f.signer}).RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if len(req.Header) != len(before) || req.Header.Get("X-Request-Id") != "r-1" {
				t.Fatalf("caller's headers changed: %v", req.Header)
			}
			if len(rec.header) <= len(before) {
				t.Fatalf("no signature headers sent: %v", rec.header)
			}
			if rec.header.Get("X-Request-Id") != "r-1" {
				t.Fatal("caller's header not forwarded")
			}
		})
	}
}

func TestTransportBodyCap(t *testing.T) {
	f := fixtures(t)[4]
	rec := &recorder{dontSend: true}
	req, _ := http.NewRequest("POST", "http://x.example/", strings.NewReader(strings.Repeat("a", 11)))
	_, err := (&httpsig.Transport{Base: rec, Profile: f.prof, Signer: f.signer, MaxBody: 10}).RoundTrip(req)
	if !errors.Is(err, jose.TooLarge) {
		t.Fatalf("got %v", err)
	}
	if rec.header != nil {
		t.Fatal("sent a request over the cap")
	}
}

// TestSwiftResponseIntegrity: the client transport refuses a response whose
// body does not match its X-SWIFT-Integrity digest, or that is unsigned.
func TestSwiftResponseIntegrity(t *testing.T) {
	var f fixture
	for _, x := range fixtures(t) {
		if x.name == "swift" {
			f = x
		}
	}
	aud := testkeys.Cert("leaf").Subject.String()
	cases := map[string]struct {
		handler func(w http.ResponseWriter)
		want    jose.Code
	}{
		"ok": {func(w http.ResponseWriter) {
			h, _ := profile.Swift{}.SignResponse([]byte(`{"status":"ACCC","amount":1.50}`), aud, serverSigner(t))
			w.Header().Set("X-SWIFT-Integrity", h.Get("X-SWIFT-Integrity"))
			// Same JSON, other member order and spacing: JCS makes it equal.
			io.WriteString(w, `{ "amount": 1.5, "status": "ACCC" }`)
		}, ""},
		"changed body": {func(w http.ResponseWriter) {
			h, _ := profile.Swift{}.SignResponse([]byte(`{"status":"ACCC"}`), aud, serverSigner(t))
			w.Header().Set("X-SWIFT-Integrity", h.Get("X-SWIFT-Integrity"))
			io.WriteString(w, `{"status":"RJCT"}`)
		}, profile.DigestMismatch},
		"unsigned": {func(w http.ResponseWriter) { io.WriteString(w, `{}`) }, profile.HeaderMissing},
		"other audience": {func(w http.ResponseWriter) {
			h, _ := profile.Swift{}.SignResponse([]byte(`{}`), "CN=someone else", serverSigner(t))
			w.Header().Set("X-SWIFT-Integrity", h.Get("X-SWIFT-Integrity"))
			io.WriteString(w, `{}`)
		}, jose.AudienceMismatch},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.handler(w) }))
			defer srv.Close()
			cl := client(f, &recorder{})
			resp, err := cl.Post(srv.URL, "application/json", strings.NewReader(`{}`))
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != `{ "amount": 1.5, "status": "ACCC" }` {
					t.Fatalf("body %q", b)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %s", err, c.want)
			}
		})
	}
}
