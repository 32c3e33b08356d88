package evidence_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nonrep/nonrep/evidence"
	"github.com/nonrep/nonrep/evidence/evidencetest"
	"github.com/nonrep/nonrep/evidence/sqlitestore"
	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/profile"
)

func openLog(t *testing.T) *evidence.Log {
	t.Helper()
	ctx := context.Background()
	s, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "e.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	l, err := evidence.Open(ctx, evidence.Config{Store: s, Key: evidencetest.LogKey, Origin: evidencetest.Origin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func vkey(t *testing.T) string {
	v, err := evidence.VerifierKeyFor(evidencetest.Origin, evidencetest.LogKey.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// signedExchange signs a request with p, verifies it as the middleware
// would (at received), and maps the result to a record.
func signedExchange(t *testing.T, p profile.Profile, key string, alg jose.Alg, chain [][]byte, trust profile.Trust, received time.Time) *evidence.Record {
	t.Helper()
	priv, err := jose.NewJWK(testkeys.Key(key), "k-"+key, alg)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := jose.NewSigningKey(priv, alg)
	if err != nil {
		t.Fatal(err)
	}
	m := &profile.Message{Method: "POST", Host: "api.example", Path: "/v1/transfers", RawQuery: "b=2&a=1",
		Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"amount":"50000.00","currency":"EUR"}` + "\n")}
	sig, err := p.Sign(m, &profile.Signer{Key: sk, Chain: chain, Clock: func() time.Time { return received.Add(-time.Second) }})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range sig.Header {
		m.Header[k] = v
	}
	if sig.Body != nil {
		m.Body = sig.Body
	}
	if trust.Keys == nil && trust.Roots == nil {
		ks, err := jose.NewKeySet(priv.Public())
		if err != nil {
			t.Fatal(err)
		}
		trust.Keys = ks
	}
	trust.Clock = func() time.Time { return received }
	v, err := p.NewVerifier(trust)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := v.Parse(m)
	if err != nil {
		t.Fatal(err)
	}
	res, err := v.Verify(context.Background(), parsed)
	if err != nil {
		t.Fatal(err)
	}
	r := &evidence.Record{
		Received: received, Direction: evidence.Inbound, Partner: "acme-bank", Profile: p.Name(),
		Method: m.Method, Host: m.Host, Path: m.Path, Query: m.RawQuery, ContentType: m.Header.Get("Content-Type"),
		SignatureHeader: res.SignatureHeader, Signature: []byte(res.SignatureValue), Body: m.Body,
		Kid: res.Kid, Key: res.Key, Verdict: evidence.Accepted, ReplayID: res.ReplayID,
	}
	for _, c := range res.Chain {
		r.Chain = append(r.Chain, c.Raw)
	}
	return r
}

type profileCase struct {
	name string
	rec  func(t *testing.T, at time.Time) *evidence.Record
}

func profileCases() []profileCase {
	return []profileCase{
		{"generic-header-ES256", func(t *testing.T, at time.Time) *evidence.Record {
			return signedExchange(t, profile.Generic{Header: "X-Signature"}, "p256", jose.ES256, nil, profile.Trust{}, at)
		}},
		{"generic-flattened-EdDSA", func(t *testing.T, at time.Time) *evidence.Record {
			return signedExchange(t, profile.Generic{}, "ed25519", jose.EdDSA, nil, profile.Trust{Algs: []jose.Alg{jose.EdDSA}}, at)
		}},
		{"incomm-PS512", func(t *testing.T, at time.Time) *evidence.Record {
			return signedExchange(t, profile.InComm{}, "rsa3072", jose.PS512, nil, profile.Trust{}, at)
		}},
		{"ebanx-RS256", func(t *testing.T, at time.Time) *evidence.Record {
			return signedExchange(t, profile.EBANX{}, "rsa4096", jose.RS256, nil, profile.Trust{}, at)
		}},
		{"openbanking-PS256", func(t *testing.T, at time.Time) *evidence.Record {
			return signedExchange(t, profile.OpenBanking{Issuer: "0015800001041REAAY/1"}, "rsa2048", jose.PS256, nil, profile.Trust{}, at)
		}},
		{"openbanking-3.1.3-unencoded", func(t *testing.T, at time.Time) *evidence.Record {
			return signedExchange(t, profile.OpenBanking{Version: "3.1.3", Issuer: "0015800001041REAAY/1"}, "rsa2048", jose.PS256, nil, profile.Trust{}, at)
		}},
		{"swift-x5c", func(t *testing.T, at time.Time) *evidence.Record {
			return signedExchange(t, profile.Swift{}, "leaf", jose.RS256, testkeys.Chain("leaf"), profile.Trust{Roots: testkeys.Roots()}, at)
		}},
	}
}

// received is eight months before this was written: re-verifying with
// today's clock would say "expired"; at the stored time it verifies.
var received = time.Date(2026, 3, 4, 9, 30, 0, 123456789, time.UTC)

func TestBundleEveryProfile(t *testing.T) {
	for _, pc := range profileCases() {
		t.Run(pc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			l := openLog(t)
			if _, err := l.Append(ctx, evidencetest.PlainRecord(0)); err != nil {
				t.Fatal(err)
			}
			rec := pc.rec(t, received)
			idx, err := l.Append(ctx, rec)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.Append(ctx, evidencetest.PlainRecord(2)); err != nil {
				t.Fatal(err)
			}
			b, err := l.Bundle(ctx, idx, evidence.BundleOptions{})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := evidence.VerifyBundle(ctx, b, evidence.VerifyOptions{LogKeys: []string{vkey(t)}})
			if err != nil {
				t.Fatalf("VerifyBundle: %v\nsteps: %+v", err, rep.Steps)
			}
			if len(rep.Steps) != 4 || !rep.Reverified.At.Equal(received) || rep.Reverified.Result.Thumbprint != rec.Thumbprint() && rec.Key != nil {
				t.Fatalf("report %+v", rep)
			}
			// Today's clock would refuse it: the stored time is what counts
			// (EBANX carries no time).
			late := *rec
			late.Received = time.Now()
			if _, err := evidence.Reverify(ctx, &late); err == nil && rec.Profile != "ebanx" {
				t.Fatal("re-verifying at today's time succeeded; the test proves nothing")
			}
			var bb evidence.Bundle
			if err := json.Unmarshal(b, &bb); err != nil {
				t.Fatal(err)
			}
			if bb.SignatureCheck == nil {
				t.Fatal("no signature_check")
			}
			runRecipe(t, b)
		})
	}
}

// runRecipe runs the shell commands of the VERIFY section, as an arbiter
// would, and checks what they print.
func runRecipe(t *testing.T, bundle []byte) {
	t.Helper()
	for _, tool := range []string{"sh", "jq", "openssl", "base64", "awk"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Logf("skipping the OpenSSL recipe: no %s", tool)
			return
		}
	}
	var b evidence.Bundle
	if err := json.Unmarshal(bundle, &b); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "F"), bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	var script []string
	for _, line := range b.Verify {
		if strings.HasPrefix(line, "   ") && !strings.HasPrefix(line, "    ") {
			cmd := strings.TrimSpace(line)
			if strings.HasPrefix(cmd, "jq ") || strings.HasPrefix(cmd, "openssl ") || strings.HasPrefix(cmd, "(printf") {
				script = append(script, cmd)
			}
		}
	}
	if len(script) < 10 {
		t.Fatalf("the VERIFY section has only %d commands:\n%s", len(script), strings.Join(b.Verify, "\n"))
	}
	cmd := exec.Command("sh", "-ec", strings.Join(script, "\n"))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the recipe failed: %v\n%s\nscript:\n%s", err, out, strings.Join(script, "\n"))
	}
	s := string(out)
	for _, want := range []string{b.LeafHash, "Signature Verified Successfully"} {
		if !strings.Contains(s, want) {
			t.Fatalf("the recipe's output lacks %q:\n%s", want, s)
		}
	}
	if strings.Count(s, "Verified OK")+strings.Count(s, "Signature Verified Successfully") != 2 {
		t.Fatalf("want two verifications (signature and checkpoint):\n%s", s)
	}
}

// bundleOf returns a verified bundle of a signed record and the log.
func bundleOf(t *testing.T, rec *evidence.Record) ([]byte, *evidence.Log) {
	t.Helper()
	ctx := context.Background()
	l := openLog(t)
	for i := 0; i < 3; i++ {
		l.Append(ctx, evidencetest.PlainRecord(i))
	}
	idx, err := l.Append(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	l.Append(ctx, evidencetest.PlainRecord(9))
	b, err := l.Bundle(ctx, idx, evidence.BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return b, l
}

// edit decodes a bundle, applies f, and re-encodes it.
func edit(t *testing.T, data []byte, f func(b *evidence.Bundle)) []byte {
	t.Helper()
	var b evidence.Bundle
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	f(&b)
	out, err := json.MarshalIndent(&b, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func flipB64(s string, at int) string {
	d, _ := base64.StdEncoding.DecodeString(s)
	d[at%len(d)] ^= 0x20
	return base64.StdEncoding.EncodeToString(d)
}

func TestVerifyBundleDetectsTampering(t *testing.T) {
	rec := evidencetest.SignedRecord(t, received, `{"amount":"50000.00","currency":"EUR","to":"DE89370400440532013000"}`)
	good, _ := bundleOf(t, rec)
	ctx := context.Background()
	pinned := evidence.VerifyOptions{LogKeys: []string{vkey(t)}}
	if _, err := evidence.VerifyBundle(ctx, good, pinned); err != nil {
		t.Fatal(err)
	}
	// A forged entry with a matching leaf hash and readable copy: only the
	// proof can tell.
	forge := func(b *evidence.Bundle) {
		e, _ := base64.StdEncoding.DecodeString(b.Entry)
		e = bytes.Replace(e, []byte(`"partner":"acme-bank"`), []byte(`"partner":"other-bank"`), 1)
		h := evidence.LeafHash(e)
		b.Entry = base64.StdEncoding.EncodeToString(e)
		b.LeafHash = base64.StdEncoding.EncodeToString(h[:])
		b.Record = e
	}
	_, otherPriv, _ := ed25519.GenerateKey(nil)
	otherSigner, otherKey, _ := evidence.NewNoteSigner(evidencetest.Origin, otherPriv)
	tests := []struct {
		name     string
		edit     func(b *evidence.Bundle)
		opts     evidence.VerifyOptions
		wantCode jose.Code
		step     string
	}{
		{"entry byte", func(b *evidence.Bundle) { b.Entry = flipB64(b.Entry, 40) }, pinned, evidence.RecordHashMismatch, "record"},
		{"leaf hash", func(b *evidence.Bundle) { b.LeafHash = flipB64(b.LeafHash, 3) }, pinned, evidence.RecordHashMismatch, "record"},
		{"readable record", func(b *evidence.Bundle) {
			b.Record = bytes.Replace(b.Record, []byte("acme-bank"), []byte("acme-bonk"), 1)
		}, pinned, evidence.RecordHashMismatch, "record"},
		{"body byte", func(b *evidence.Bundle) { b.Body = flipB64(b.Body, 12) }, pinned, evidence.RecordHashMismatch, "record"},
		{"body text", func(b *evidence.Bundle) { s := strings.Replace(*b.BodyText, "50000", "90000", 1); b.BodyText = &s }, pinned, evidence.RecordHashMismatch, "record"},
		{"forged entry", forge, pinned, evidence.InclusionInvalid, "inclusion"},
		{"proof hash", func(b *evidence.Bundle) { b.InclusionProof[0] = flipB64(b.InclusionProof[0], 0) }, pinned, evidence.InclusionInvalid, "inclusion"},
		{"proof shortened", func(b *evidence.Bundle) { b.InclusionProof = b.InclusionProof[1:] }, pinned, evidence.InclusionInvalid, "inclusion"},
		{"index", func(b *evidence.Bundle) { b.Index-- }, pinned, evidence.InclusionInvalid, "inclusion"},
		{"checkpoint size", func(b *evidence.Bundle) {
			b.Checkpoint = strings.Replace(b.Checkpoint, "\n5\n", "\n6\n", 1)
		}, pinned, evidence.CheckpointInvalid, "checkpoint"},
		{"tree size", func(b *evidence.Bundle) { b.TreeSize = 6 }, pinned, evidence.CheckpointInvalid, "checkpoint"},
		{"checkpoint signature", func(b *evidence.Bundle) {
			i := strings.LastIndex(b.Checkpoint, " ")
			b.Checkpoint = b.Checkpoint[:i+1] + flipB64(strings.TrimSpace(b.Checkpoint[i+1:]), 10) + "\n"
		}, pinned, evidence.CheckpointInvalid, "checkpoint"},
		{"another log's key pinned", func(*evidence.Bundle) {}, evidence.VerifyOptions{LogKeys: []string{otherKey}}, evidence.CheckpointInvalid, "checkpoint"},
		{"forged log, pinned key", func(b *evidence.Bundle) {
			// The attacker forges the entry and signs a new one-record tree
			// with their own key, and puts their key in the bundle.
			forge(b)
			leaf, _ := base64.StdEncoding.DecodeString(b.LeafHash)
			var tree evidence.Tree
			tree.Size = 1
			copy(tree.Root[:], leaf)
			cp, _ := evidence.SignCheckpoint(otherSigner, evidencetest.Origin, tree)
			b.Checkpoint, b.LogKey, b.Index, b.TreeSize, b.InclusionProof = string(cp), otherKey, 0, 1, []string{}
		}, pinned, evidence.CheckpointInvalid, "checkpoint"},
		{"format", func(b *evidence.Bundle) { b.Format = "something/v2" }, pinned, jose.Malformed, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad := edit(t, good, tc.edit)
			rep, err := evidence.VerifyBundle(ctx, bad, tc.opts)
			if jose.CodeOf(err) != tc.wantCode {
				t.Fatalf("VerifyBundle = %v, want %s", err, tc.wantCode)
			}
			if tc.step != "" {
				last := rep.Steps[len(rep.Steps)-1]
				if last.Name != tc.step || last.OK {
					t.Fatalf("failing step %+v, want %s", last, tc.step)
				}
			}
		})
	}
	// The forged log verifies only when nobody pins the key — and the
	// report says the key was not pinned.
	forged := edit(t, good, tests[13].edit)
	rep, err := evidence.VerifyBundle(ctx, forged, evidence.VerifyOptions{})
	if err != nil || rep.KeyPinned {
		t.Fatalf("unpinned: %v, pinned=%v", err, rep.KeyPinned)
	}
	// Unknown members are refused: nothing in a bundle goes unchecked.
	extra := bytes.Replace(good, []byte(`"format"`), []byte(`"note":"trust me","format"`), 1)
	if _, err := evidence.VerifyBundle(ctx, extra, pinned); jose.CodeOf(err) != jose.Malformed {
		t.Fatalf("unknown member: %v", err)
	}
	// Re-indenting the file changes no verdict.
	var flat bytes.Buffer
	json.Compact(&flat, good)
	if _, err := evidence.VerifyBundle(ctx, flat.Bytes(), pinned); err != nil {
		t.Fatalf("a re-indented bundle: %v", err)
	}
}

func TestVerifyBundleVerdicts(t *testing.T) {
	ctx := context.Background()
	pinned := evidence.VerifyOptions{LogKeys: []string{vkey(t)}}
	signed := func() *evidence.Record {
		return evidencetest.SignedRecord(t, received, `{"amount":"1.00"}`)
	}
	tests := []struct {
		name     string
		edit     func(r *evidence.Record)
		wantCode jose.Code
	}{
		{"accepted, verifies", func(*evidence.Record) {}, ""},
		{"accepted, bad signature", func(r *evidence.Record) { flipSig(r) }, jose.SignatureInvalid},
		{"accepted, body changed before logging", func(r *evidence.Record) { r.Body = []byte(`{"amount":"9.00"}`) }, jose.SignatureInvalid},
		{"accepted, but logged an hour late", func(r *evidence.Record) { r.Received = r.Received.Add(time.Hour) }, jose.Expired},
		{"rejected, verifies", func(r *evidence.Record) { r.Verdict, r.Code = evidence.Rejected, jose.SignatureInvalid }, evidence.VerdictMismatch},
		{"rejected as a replay, verifies", func(r *evidence.Record) { r.Verdict, r.Code = evidence.Rejected, "replay_detected" }, ""},
		{"rejected, fails", func(r *evidence.Record) {
			r.Verdict, r.Code = evidence.Rejected, jose.SignatureInvalid
			flipSig(r)
		}, ""},
		{"detected, no key", func(r *evidence.Record) { r.Verdict, r.Code, r.Key = evidence.Detected, jose.KeyUnknown, nil }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := signed()
			tc.edit(r)
			b, _ := bundleOf(t, r)
			rep, err := evidence.VerifyBundle(ctx, b, pinned)
			if jose.CodeOf(err) != tc.wantCode {
				t.Fatalf("VerifyBundle = %v, want %q (steps %+v)", err, tc.wantCode, rep.Steps)
			}
			if last := rep.Steps[len(rep.Steps)-1]; last.Name != "signature" {
				t.Fatalf("last step %+v", last)
			}
		})
	}
	// A response record has no signature to re-verify.
	b, _ := bundleOf(t, &evidence.Record{Received: received, Direction: evidence.Inbound, Kind: evidence.KindResponse,
		ResponseTo: 1, Partner: "acme-bank", Profile: "generic", ResponseStatus: 201})
	if _, err := evidence.VerifyBundle(ctx, b, pinned); err != nil {
		t.Fatal(err)
	}
}

// flipSig changes one base64url character well inside the signature
// segment to another base64url character, so that the value stays
// canonical base64url and only the signature bits change (a bit flip could
// produce a character outside the alphabet, or non-canonical tail bits).
func flipSig(r *evidence.Record) {
	i := len(r.Signature) - 10
	if r.Signature[i] == 'A' {
		r.Signature[i] = 'B'
	} else {
		r.Signature[i] = 'A'
	}
}
