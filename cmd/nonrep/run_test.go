package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nonrep/nonrep/jose"
)

// runCLI runs the CLI in-process.
func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// The default kid is the RFC 7638 thumbprint, the same in both halves, and
// no private member ever reaches stdout or stderr.
func TestKeygenDefaultKidIsThumbprint(t *testing.T) {
	for _, alg := range []string{"ES256", "ES384", "ES512", "EdDSA", "PS256"} {
		t.Run(alg, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "k.jwk")
			args := []string{"keygen", "--alg", alg, "--out", out}
			if alg == "PS256" {
				args = append(args, "--bits", "2048")
			}
			code, stdout, stderr := runCLI(t, "", args...)
			if code != exitOK || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if !strings.HasSuffix(stdout, "}\n") || strings.Count(stdout, "\n") != 1 {
				t.Fatalf("stdout is not one line: %q", stdout)
			}
			privJSON, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			priv, err := jose.ParseJWK(privJSON)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := jose.ParseJWK([]byte(stdout))
			if err != nil {
				t.Fatal(err)
			}
			if pub.IsPrivate() || !priv.IsPrivate() {
				t.Fatalf("IsPrivate: public half %v, private half %v", pub.IsPrivate(), priv.IsPrivate())
			}
			if priv.Kid != priv.Thumbprint() || pub.Kid != priv.Kid || pub.Thumbprint() != priv.Thumbprint() {
				t.Errorf("kids %q/%q, thumbprint %q", priv.Kid, pub.Kid, priv.Thumbprint())
			}
			if priv.Use != "sig" || string(priv.Alg) != alg || pub.Use != "sig" || string(pub.Alg) != alg {
				t.Errorf("use/alg: private %q/%q, public %q/%q", priv.Use, priv.Alg, pub.Use, pub.Alg)
			}
		})
	}
}

// Exit codes follow the error code: usage and io exit 2, jose codes exit 1.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k.jwk")
	if code, _, stderr := runCLI(t, "", "keygen", "--alg", "EdDSA", "--kid", "k", "--out", key); code != 0 {
		t.Fatal(stderr)
	}
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		wantErr  string // prefix of stderr
	}{
		{"no command", nil, "", exitUsage, "nonrep: error: usage: "},
		{"help", []string{"help"}, "", exitOK, ""},
		{"unknown", []string{"nope"}, "", exitUsage, "nonrep: error: usage: "},
		{"missing file", []string{"verify", "--key", filepath.Join(dir, "missing")}, "", exitUsage, "nonrep: error: io: "},
		{"private key", []string{"verify", "--key", key}, "x", exitRejected, "nonrep: error: key_rejected: "},
		{"malformed", []string{"inspect"}, "not a jws", exitRejected, "nonrep: error: malformed: "},
		{"too large", []string{"inspect"}, strings.Repeat("a", maxMessage+3), exitRejected, "nonrep: error: too_large: "},
		{"sign", []string{"sign", "--key", key}, "payload", exitOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.stdin, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.wantCode, stderr)
			}
			if !strings.HasPrefix(stderr, tt.wantErr) || (tt.wantErr == "" && stderr != "") {
				t.Errorf("stderr %q, want prefix %q", stderr, tt.wantErr)
			}
			if tt.wantErr != "" && strings.Count(stderr, "\n") > 2 {
				t.Errorf("more than an error and a hint line: %q", stderr)
			}
		})
	}
}

func TestTrimOneNewline(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a", "a"},
		{"a\n", "a"},
		{"a\r\n", "a"},
		{"a\n\n", "a\n"},
		{"a\r\n\r\n", "a\r\n"},
		{"a\r", "a\r"},
		{"a\n\r", "a\n\r"},
		{"\n", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := string(trimOneNewline([]byte(tt.in))); got != tt.want {
			t.Errorf("trimOneNewline(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPayloadRep(t *testing.T) {
	tests := []struct {
		in, enc, want string
	}{
		{"héllo\n", "utf-8", "héllo\n"},
		{"", "utf-8", ""},
		{"\xff\xfe", "base64url", "__4"},
	}
	for _, tt := range tests {
		r := newPayloadRep([]byte(tt.in))
		if r.PayloadEncoding != tt.enc || r.Payload == nil || *r.Payload != tt.want {
			t.Errorf("newPayloadRep(%q) = %q, %v", tt.in, r.PayloadEncoding, r.Payload)
		}
	}
}

// A wrapped jose error keeps its code and loses the "jose: code:" prefix.
func TestJoseErrMessage(t *testing.T) {
	_, err := jose.NewKeySet(nil)
	ce := joseErr(err, "f.jwk", "")
	if ce.code != string(jose.KeyRejected) || ce.msg != "f.jwk: key 0: nil key" {
		t.Errorf("got %q %q", ce.code, ce.msg)
	}
}
