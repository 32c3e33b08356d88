package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/profile"
)

const requestSendUsage = `Usage: nonrep request send --profile NAME --key PRIVATE.jwk [--cert CHAIN.pem]
                          [--method M] --url URL [--body FILE] [--header 'Name: value']...
                          [--kid ID] [--ob-version V] [--ob-iss ISS]
                          [--roots CA.pem [--integrity-aud DN]]

Signs a request as "nonrep request sign" does, sends it, and prints the
response: "PROTO STATUS" (for example "HTTP/1.1 200 OK"), the response
headers as "Name: value" lines sorted by name, an empty line, and the body
exactly as received. The exit status is 0 whatever the HTTP status.

Redirects are not followed (the signature covers the URL): a 3xx response
is printed like any other. The request times out after 30 s. TLS
certificates are always checked (there is no --insecure).

swift with --roots: the response's X-SWIFT-Integrity header is verified
over the response body (digest of its RFC 8785 form, chain to --roots,
signature, times, aud). On success "nonrep: integrity: ok (subject DN)" is
printed on standard error; on failure nothing is printed on standard
output and it exits 1 with the code.

Flags:
  --profile, --key, --cert, --url, --body, --kid, --ob-version, --ob-iss
                    as for "nonrep request sign"
  --method M        HTTP method (default GET, or POST when --body is given)
  --header 'Name: value'
                    an extra request header (not signed unless the scheme
                    covers it); repeatable. The signature headers replace
                    any of the same name
  --roots FILE      swift: PEM roots for the response's X-SWIFT-Integrity chain
  --integrity-aud DN
                    swift: the aud the integrity token must carry (default:
                    the subject DN of the --cert leaf)

Example:
  nonrep request send --profile generic --key k.jwk \
      --url https://api.bank.example/v1/payments --body order.json
`

// Caps for request send.
const (
	sendTimeout     = 30 * time.Second
	maxResponseBody = 16 << 20
)

func runRequestSend(e *env, args []string) error {
	fs := newFlagSet("request send")
	mf := addMsgFlags(fs)
	keyPath := fs.String("key", "", "")
	certPath := fs.String("cert", "", "")
	kid := fs.String("kid", "", "")
	obIss := fs.String("ob-iss", "", "")
	rootsPath := fs.String("roots", "", "")
	aud := fs.String("integrity-aud", "", "")
	var headers listFlag
	fs.Var(&headers, "header", "")
	if err := parseFlags(fs, "request send", args, false); err != nil {
		return err
	}
	const hint = `run "nonrep request send --help"`
	p, err := selectProfile(*mf.profile, *mf.obVersion, *obIss, hint)
	if err != nil {
		return err
	}
	if _, ok := p.(profile.OpenBanking); ok && *obIss == "" {
		return usageErr("give the signer's organisation or software id: --ob-iss ID", "the %s profile needs --ob-iss", p.Name())
	}
	_, isSwift := p.(profile.Swift)
	if *rootsPath != "" && !isSwift {
		return usageErr(hint, "--roots applies only to the swift profile (response integrity)")
	}
	if isSet(fs, "integrity-aud") && *rootsPath == "" {
		return usageErr("add --roots CA.pem to verify the response's X-SWIFT-Integrity", "--integrity-aud needs --roots")
	}
	if isSet(fs, "integrity-aud") && *aud == "" {
		return usageErr(hint, "--integrity-aud must not be empty")
	}
	method := *mf.method
	if method == "" {
		method = http.MethodGet
		if *mf.body != "" {
			method = http.MethodPost
		}
	}
	u, err := parseTarget(method, *mf.url, hint)
	if err != nil {
		return err
	}
	h := http.Header{}
	if err := addHeaders(h, headers); err != nil {
		return err
	}
	if _, ok := h["Host"]; ok {
		return usageErr("the Host header comes from --url", "--header cannot set Host")
	}
	s, err := loadSigner(p, *keyPath, *kid, *certPath, isSet(fs, "kid"), hint)
	if err != nil {
		return err
	}
	var trust profile.Trust
	if *rootsPath != "" {
		certs, err := readCerts(*rootsPath)
		if err != nil {
			return err
		}
		trust.Roots = certPool(certs)
		trust.Audience = *aud
		if trust.Audience == "" {
			leaf, err := leafSubject(s.Chain)
			if err != nil {
				return err
			}
			trust.Audience = leaf
		}
	}
	body, err := readBody(e, *mf.body)
	if err != nil {
		return err
	}
	sig, err := p.Sign(newMessage(method, u, h, body), s)
	if err != nil {
		return joseErr(err, "", "")
	}
	body = signedRequest(sig, h, body)

	ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return usageErr(hint, "cannot build the request: %v", err)
	}
	req.Header = h
	client := &http.Client{
		Timeout:       sendTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return ioErr(fmt.Errorf("sending the request: %w", unwrapURLError(err)))
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	if err != nil {
		return ioErr(fmt.Errorf("reading the response: %w", err))
	}
	if len(respBody) > maxResponseBody {
		return &cliError{code: string(jose.TooLarge), msg: fmt.Sprintf("the response body is larger than %d bytes", maxResponseBody)}
	}

	var integrity *profile.Result
	if trust.Roots != nil {
		integrity, err = profile.Swift{}.VerifyResponse(ctx, resp.Header, respBody, trust)
		if err != nil {
			ce := joseErr(err, "response integrity", fmt.Sprintf("the response was %s %s; run without --roots to see it unverified", resp.Proto, resp.Status))
			return ce
		}
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "%s %s\n", resp.Proto, resp.Status)
	if err := writeHeaders(&out, resp.Header, func(n string) string { return n }); err != nil {
		return err
	}
	out.WriteByte('\n')
	out.Write(respBody)
	if _, err := e.stdout.Write(out.Bytes()); err != nil {
		return ioErr(fmt.Errorf("writing output: %w", err))
	}
	if integrity != nil {
		fmt.Fprintf(e.stderr, "nonrep: integrity: ok (subject %s)\n", oneLine(integrity.Subject))
	}
	return nil
}

// unwrapURLError drops net/http's "Post \"URL\": " prefix, which repeats
// what the user typed.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func certPool(certs []*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// leafSubject is the subject DN of the chain's first certificate.
func leafSubject(chain [][]byte) (string, error) {
	if len(chain) == 0 {
		return "", usageErr("", "no certificate chain")
	}
	c, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return "", &cliError{code: string(jose.Malformed), msg: "the --cert leaf does not parse: " + err.Error()}
	}
	return c.Subject.String(), nil
}
