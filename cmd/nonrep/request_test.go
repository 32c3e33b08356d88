package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// The generic body is the JWS: request verify takes it with --body and the
// headers with --header, as a gateway would hand them over.
func TestRequestVerifyGenericBody(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k.jwk")
	code, pub, stderr := runCLI(t, "", "keygen", "--alg", "ES256", "--kid", "k1", "--out", key)
	if code != 0 {
		t.Fatal(stderr)
	}
	jwks := filepath.Join(dir, "keys.jwks")
	writeFile(t, jwks, []byte(`{"keys":[`+strings.TrimSpace(pub)+`]}`))
	const url = "https://api.bank.example/v1/payments"
	code, out, stderr := runCLI(t, `{"amount":"10.00"}`, "request", "sign", "--profile", "generic", "--key", key, "--method", "POST", "--url", url, "--body", "-")
	if code != 0 {
		t.Fatal(stderr)
	}
	headers, body, ok := strings.Cut(out, "\n\n")
	if !ok || headers != "Content-Type: application/jose+json" || strings.HasSuffix(body, "\n") {
		t.Fatalf("sign output %q", out)
	}
	bodyFile := writeFile(t, filepath.Join(dir, "body.jws"), []byte(body))
	code, out, stderr = runCLI(t, "", "request", "verify", "--profile", "generic", "--jwks", jwks, "--method", "POST", "--url", url,
		"--header", "Content-Type:application/jose+json", "--body", bodyFile)
	if code != 0 || !strings.HasPrefix(out, "profile: generic\nkid: k1\n") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	// A body after the headers' empty line, and --body: refused.
	signed := writeFile(t, filepath.Join(dir, "signed.txt"), []byte(headers+"\n\n"+body))
	code, _, stderr = runCLI(t, "", "request", "verify", "--profile", "generic", "--jwks", jwks, "--method", "POST", "--url", url, "--headers", signed, "--body", bodyFile)
	if code != exitUsage || !strings.Contains(stderr, "carries a body after its empty line, and --body is given too") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	// CRLF header files are read too.
	crlf := writeFile(t, filepath.Join(dir, "crlf.txt"), []byte(headers+"\r\n\r\n"+body))
	code, _, stderr = runCLI(t, "", "request", "verify", "--profile", "generic", "--jwks", jwks, "--method", "POST", "--url", url, "--headers", crlf)
	if code != 0 {
		t.Errorf("CRLF header file: exit %d, stderr %q", code, stderr)
	}
	// Without Content-Type the generic verifier refuses the body.
	code, _, stderr = runCLI(t, "", "request", "verify", "--profile", "generic", "--jwks", jwks, "--method", "POST", "--url", url, "--header", "X-A: 1", "--body", bodyFile)
	if code != exitRejected || !strings.HasPrefix(stderr, "nonrep: error: header_missing: the Content-Type header is missing\n") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestRequestHelp(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"help", "request"}, "Usage: nonrep request sign   --profile"},
		{[]string{"request", "--help"}, "Usage: nonrep request sign   --profile"},
		{[]string{"request", "sign", "--help"}, "Usage: nonrep request sign --profile NAME --key"},
		{[]string{"request", "verify", "-h"}, "Usage: nonrep request verify --profile NAME"},
		{[]string{"request", "send", "--help"}, "Usage: nonrep request send --profile NAME"},
		{[]string{"diagnose", "--help"}, "Usage: nonrep diagnose --profile NAME"},
		{[]string{"help", "diagnose"}, "Usage: nonrep diagnose --profile NAME"},
	} {
		code, out, stderr := runCLI(t, "", c.args...)
		if code != 0 || stderr != "" || !strings.HasPrefix(out, c.want) {
			t.Errorf("%v: exit %d, stdout %.60q, stderr %q", c.args, code, out, stderr)
		}
	}
	_, out, _ := runCLI(t, "", "help")
	for _, name := range []string{"  request   sign, verify or send", "  diagnose  explain why"} {
		if !strings.Contains(out, name) {
			t.Errorf("help lacks %q:\n%s", name, out)
		}
	}
}
