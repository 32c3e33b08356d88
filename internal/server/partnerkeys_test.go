package server

import (
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nonrep/nonrep/httpsig"
	"github.com/nonrep/nonrep/internal/config"
	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/profile"
)

// TestPartnerJWKSURL: a partner configured by jwks_url (with a private CA)
// is verified through the JWKS cache, fetched once, not per request.
func TestPartnerJWKSURL(t *testing.T) {
	k, _ := jose.NewJWK(testkeys.Key("p256"), "acme-1", jose.ES256)
	set, _ := jose.MarshalJWKS(k.Public())
	var fetches atomic.Int32
	jwks := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write(set)
	}))
	defer jwks.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: jwks.Certificate().Raw}), 0o644)
	yaml := "data_dir: " + dir + "\npartners:\n  - name: acme\n    profile: generic\n    jwks_url: " + jwks.URL + "/jwks.json\n    jwks_ca: " + ca + "\nroutes:\n  - path: /acme/\n    partner: acme\n    upstream: echo\n    strip_prefix: true\n"
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
	s, err := New(ctx, cfg, Options{Evidence: ev})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	sk, _ := jose.NewSigningKey(k, jose.ES256)
	c := &http.Client{Transport: &httpsig.Transport{Profile: profile.Generic{}, Signer: &profile.Signer{Key: sk}}}
	for i := range 3 {
		resp, err := c.Post(srv.URL+"/acme/pay", "application/json", strings.NewReader(`{"amount":"1.00","n":`+string(rune('0'+i))+`}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"X-Nonrep-Partner": "acme"`) {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

// TestPartnerKeyFileRefusesPrivate: a partner's key file holding a private
// key is refused at start-up, not reduced to its public part.
func TestPartnerKeyFileRefusesPrivate(t *testing.T) {
	k, _ := jose.NewJWK(testkeys.Key("p256"), "acme-1", jose.ES256)
	priv, _ := k.MarshalJSON()
	pub, _ := k.Public().MarshalJSON()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "priv.jwk"), priv, 0o600)
	os.WriteFile(filepath.Join(dir, "pub.jwk"), pub, 0o644)
	if _, err := readKeys([]string{filepath.Join(dir, "priv.jwk")}); jose.CodeOf(err) != jose.KeyRejected {
		t.Fatalf("private key file: %v", err)
	}
	ks, err := readKeys([]string{filepath.Join(dir, "pub.jwk")})
	if err != nil || len(ks) != 1 || ks[0].Thumbprint() != k.Thumbprint() {
		t.Fatalf("public key file: %v %v", ks, err)
	}
}
