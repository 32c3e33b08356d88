package keys_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/keys"
	"github.com/nonrep/nonrep/keys/keystest"
	"github.com/nonrep/nonrep/keys/sqlitestore"
)

func newRegistry(t *testing.T, clk *keystest.Clock, signers keys.SignerOpener) *keys.Registry {
	t.Helper()
	s, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Path: ":memory:"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r, err := keys.New(keys.Config{Store: s, Clock: clk.Now, Signers: signers})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func wantCode(t *testing.T, err error, code jose.Code) {
	t.Helper()
	if got := jose.CodeOf(err); got != code {
		t.Fatalf("error %v has code %q; want %q", err, got, code)
	}
}

func writeKey(t *testing.T, dir, name string, key any, mode os.FileMode) string {
	t.Helper()
	j, err := jose.NewJWK(key, name, jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	b, err := j.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".jwk")
	if err := os.WriteFile(path, b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFileSigners(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := keystest.NewClock(keystest.T0)
	r := newRegistry(t, clk, nil)
	good := writeKey(t, dir, "k1", testkeys.Key("p256"), 0o600)
	loose := writeKey(t, dir, "k2", testkeys.Key("p256b"), 0o644)
	pub := writeKey(t, dir, "k3", testkeys.Key("p256").Public(), 0o600)
	add := func(path string) (*keys.Key, error) {
		k, err := keys.ReadPrivateKeyFile(path)
		if err != nil {
			return nil, err
		}
		ref, _ := keys.FileRef(path)
		return r.Add(ctx, keys.NewKey{Key: k, SignerRef: ref, Actor: "t"})
	}
	k, err := add(good)
	if err != nil {
		t.Fatal(err)
	}
	if k.Public.IsPrivate() || !strings.HasPrefix(k.SignerRef, "file:/") {
		t.Fatalf("stored %+v", k)
	}
	_, err = add(loose)
	wantCode(t, err, jose.KeyRejected)
	if !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("no hint: %v", err)
	}
	_, err = add(pub)
	wantCode(t, err, jose.KeyRejected)
	// A reference to a key file holding another key is refused.
	j, _ := jose.NewJWK(testkeys.Key("ed25519").Public(), "k4", jose.EdDSA)
	ref, _ := keys.FileRef(good)
	_, err = r.Add(ctx, keys.NewKey{Key: j, SignerRef: ref})
	wantCode(t, err, jose.KeyRejected)
	// The signer signs, and nothing private is in any error.
	clk.Advance(r.PendingFor())
	if _, err := r.Promote(ctx, "k1", "t", ""); err != nil {
		t.Fatal(err)
	}
	sk, err := r.Signer(ctx, keys.DefaultPurpose)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jose.Sign([]byte("x"), jose.SignOptions{}, sk); err != nil {
		t.Fatal(err)
	}
}

func TestAddRefused(t *testing.T) {
	ctx := context.Background()
	clk := keystest.NewClock(keystest.T0)
	r := newRegistry(t, clk, keystest.Signers{"m": testkeys.Key("p256")})
	j, _ := jose.NewJWK(testkeys.Key("p256").Public(), "", "")
	tests := []struct {
		name string
		nk   keys.NewKey
		code jose.Code
	}{
		{"no key", keys.NewKey{SignerRef: "m"}, jose.KeyRejected},
		{"no ref", keys.NewKey{Key: j, Alg: jose.ES256}, jose.KeyRejected},
		{"no alg", keys.NewKey{Key: j, SignerRef: "m"}, jose.KeyRejected},
		{"wrong alg", keys.NewKey{Key: j, Alg: jose.ES384, SignerRef: "m"}, jose.KeyRejected},
		{"hmac", keys.NewKey{Key: j, Alg: jose.HS256, SignerRef: "m"}, jose.KeyRejected},
		{"bad kid", keys.NewKey{Key: j, Kid: "a b", Alg: jose.ES256, SignerRef: "m"}, jose.KeyRejected},
		{"bad purpose", keys.NewKey{Key: j, Alg: jose.ES256, Purpose: "Sign", SignerRef: "m"}, jose.KeyRejected},
		{"no signer", keys.NewKey{Key: j, Alg: jose.ES256, SignerRef: "other"}, jose.SignerFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.Add(ctx, tc.nk)
			wantCode(t, err, tc.code)
		})
	}
	// The default kid is the thumbprint; the same key twice is refused.
	k, err := r.Add(ctx, keys.NewKey{Key: j, Alg: jose.ES256, SignerRef: "m"})
	if err != nil || k.Kid != j.Thumbprint() {
		t.Fatalf("Add = %+v, %v", k, err)
	}
	_, err = r.Add(ctx, keys.NewKey{Key: j, Kid: "again", Alg: jose.ES256, SignerRef: "m"})
	wantCode(t, err, keys.KeyExists)
}

func TestRollback(t *testing.T) {
	ctx := context.Background()
	clk := keystest.NewClock(keystest.T0)
	r := newRegistry(t, clk, keystest.Signers{"a": testkeys.Key("p256"), "b": testkeys.Key("p256b")})
	for _, kid := range []string{"a", "b"} {
		name := map[string]string{"a": "p256", "b": "p256b"}[kid]
		j, _ := jose.NewJWK(testkeys.Key(name).Public(), kid, jose.ES256)
		if _, err := r.Add(ctx, keys.NewKey{Key: j, SignerRef: kid}); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(r.PendingFor())
	for _, kid := range []string{"a", "b", "a"} { // b is bad: back to a
		if _, err := r.Promote(ctx, kid, "ops", ""); err != nil {
			t.Fatalf("promote %s: %v", kid, err)
		}
	}
	ka, _ := r.Key(ctx, "a")
	kb, _ := r.Key(ctx, "b")
	if ka.State != keys.Active || kb.State != keys.Retiring {
		t.Fatalf("a %s, b %s", ka.State, kb.State)
	}
	if _, err := r.Retire(ctx, "a", "ops", ""); err != nil { // active → retiring
		t.Fatal(err)
	}
	if _, err := r.Signer(ctx, keys.DefaultPurpose); jose.CodeOf(err) != keys.KeyNotFound {
		t.Fatalf("signer with no active key: %v", err)
	}
	clk.Advance(time.Hour)
	for _, kid := range []string{"a", "b"} {
		if k, err := r.Retire(ctx, kid, "ops", ""); err != nil || k.State != keys.Retired {
			t.Fatalf("retire %s: %v", kid, err)
		}
	}
	_, err := r.Retire(ctx, "a", "ops", "")
	wantCode(t, err, keys.TransitionInvalid)
	_, err = r.Promote(ctx, "zz", "ops", "")
	wantCode(t, err, keys.KeyNotFound)
}

func TestPartners(t *testing.T) {
	ctx := context.Background()
	clk := keystest.NewClock(keystest.T0)
	r := newRegistry(t, clk, nil)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: testkeys.Cert("leaf").Raw})
	ks, err := keys.ParsePartnerKeys(certPEM, "")
	if err != nil || len(ks) != 1 || ks[0].Kid != ks[0].Thumbprint() || len(ks[0].Certificates) != 1 {
		t.Fatalf("PEM certificate: %v", err)
	}
	der, _ := x509.MarshalPKIXPublicKey(testkeys.Key("ed25519").Public())
	ks2, err := keys.ParsePartnerKeys(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), "ed-1")
	if err != nil || ks2[0].Kid != "ed-1" {
		t.Fatalf("PEM public key: %v", err)
	}
	privDER, _ := x509.MarshalPKCS8PrivateKey(testkeys.Key("p256"))
	_, err = keys.ParsePartnerKeys(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), "")
	wantCode(t, err, jose.KeyRejected)
	jwks := []byte(`{"keys":[{"kty":"OKP","kid":"a","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`)
	if ks3, err := keys.ParsePartnerKeys(jwks, ""); err != nil || ks3[0].Kid != "a" {
		t.Fatalf("JWKS: %v", err)
	}

	p := &keys.Partner{Name: "acme", Profile: "swift", Keys: append(ks, ks2...), Policy: keys.PartnerPolicy{Skew: time.Minute}}
	if err := r.PutPartner(ctx, p, "alice", "onboarding"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	p.JWKSURL = "https://acme.example/jwks.json"
	if err := r.PutPartner(ctx, p, "bob", "JWKS URL"); err != nil {
		t.Fatal(err)
	}
	got, err := r.Partner(ctx, "acme")
	if err != nil || !got.Created.Equal(keystest.T0.Truncate(time.Microsecond)) || !got.Updated.Equal(keystest.T0.Add(time.Hour).Truncate(time.Microsecond)) || len(got.Keys) != 2 || got.Keys[0].Certificates == nil {
		t.Fatalf("partner %+v, %v", got, err)
	}
	if _, err := r.RevokePartnerKey(ctx, keys.Revocation{Partner: "acme", Kid: "ed-1", Actor: "carol", Reason: "leaked"}); err != nil {
		t.Fatal(err)
	}
	if err := r.DeletePartner(ctx, "acme", "dave", "offboarded"); err != nil {
		t.Fatal(err)
	}
	evs, _ := r.Store().Events(ctx, "acme")
	var trail []string
	for _, e := range evs {
		trail = append(trail, e.Action+"/"+e.Actor)
	}
	if got := strings.Join(trail, " "); got != "partner_put/alice partner_put/bob revoke/carol partner_delete/dave" {
		t.Fatalf("events %s", got)
	}
	if rs, _ := r.Revocations(ctx); len(rs) != 1 || rs[0].Kid != "ed-1" {
		t.Fatalf("revocations %+v", rs)
	}
	err = r.PutPartner(ctx, &keys.Partner{Name: "x", Profile: "generic"}, "a", "")
	wantCode(t, err, keys.PartnerInvalid)
}

func TestCodes(t *testing.T) {
	seen := map[jose.Code]bool{}
	for _, c := range append(jose.Codes(), keys.Codes()...) {
		if seen[c] {
			t.Fatalf("code %q defined twice", c)
		}
		seen[c] = true
	}
}
