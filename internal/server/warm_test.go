package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nonrep/nonrep/internal/config"
	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/profile"
)

// TestReplayRearmedAfterRestart: on the embedded default (in-memory replay
// store), a request accepted before a restart is still refused as a replay
// after it: the store is re-armed from the evidence log.
func TestReplayRearmedAfterRestart(t *testing.T) {
	dir := t.TempDir()
	k, _ := jose.NewJWK(testkeys.Key("p256"), "acme-1", jose.ES256)
	pub, _ := k.Public().MarshalJSON()
	os.WriteFile(filepath.Join(dir, "acme.pub.jwk"), pub, 0o644)
	yaml := "data_dir: " + dir + "\npartners:\n  - name: acme\n    profile: generic\n    keys: [" + filepath.Join(dir, "acme.pub.jwk") + "]\nroutes:\n  - path: /acme/\n    partner: acme\n    upstream: echo\n"
	cfg, err := config.Parse("t.yaml", []byte(yaml), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Sign one request, keep its exact bytes.
	sk, _ := jose.NewSigningKey(k, jose.ES256)
	req, _ := http.NewRequest("POST", "http://x/acme/pay", strings.NewReader(`{"amount":"1.00"}`))
	sig, err := (profile.Generic{}).Sign(profile.FromRequest(req, []byte(`{"amount":"1.00"}`)), &profile.Signer{Key: sk})
	if err != nil {
		t.Fatal(err)
	}
	send := func(h http.Handler) int {
		r := httptest.NewRequest("POST", "/acme/pay", bytes.NewReader(sig.Body))
		for name, v := range sig.Header {
			r.Header[name] = v
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		io.Copy(io.Discard, w.Body)
		return w.Code
	}
	start := func() (*Server, func()) {
		ev, err := OpenEvidence(ctx, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(ctx, cfg, Options{Evidence: ev})
		if err != nil {
			t.Fatal(err)
		}
		return s, func() { s.Close(); ev.Close() }
	}
	s1, stop1 := start()
	if code := send(s1.Handler()); code != 200 {
		t.Fatalf("first send: %d", code)
	}
	stop1()
	s2, stop2 := start()
	defer stop2()
	if code := send(s2.Handler()); code != http.StatusConflict {
		t.Fatalf("after restart: %d, want 409", code)
	}
}
