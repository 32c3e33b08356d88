package main

import (
	"fmt"
	"net/http"

	"github.com/nonrep/nonrep/profile"
)

const requestSignUsage = `Usage: nonrep request sign --profile NAME --key PRIVATE.jwk [--cert CHAIN.pem]
                          --method M --url URL [--body FILE] [--kid ID]
                          [--ob-version V] [--ob-iss ISS]

Signs an HTTP request under a scheme and prints the headers to add, one
"Name: value" line each, sorted by name. For the generic profile, whose
body is the JWS, it prints the headers, an empty line, then the new body
(exactly, with no newline added).

The signature covers the method as given (not upper-cased), the URL's host
and raw path and query (as written in --url, percent-encoding kept), and the
exact bytes of --body (nothing stripped, not even a trailing newline).

Flags:
  --profile NAME    incomm, ebanx, swift, openbanking, openbanking-3.1.3, generic
  --key FILE        private JWK (as written by keygen) or PEM private key. Its
                    alg must be the profile's (incomm PS512, ebanx RS256, swift
                    RS256, openbanking PS256; generic any); a key without alg
                    takes the profile's (generic: from the key type)
  --cert FILE       swift only: PEM certificate chain for x5c, leaf first; the
                    leaf must be the key's certificate
  --method M        HTTP method, exactly as it will be sent (InComm: upper case)
  --url URL         the absolute http(s) URL the request goes to
  --body FILE       the exact body bytes ("-": standard input; default: empty).
                    generic: the instruction JSON to wrap
  --kid ID          kid to put in the header instead of the key's own
  --ob-version V    openbanking: the partner's API version (3.1.3 and earlier
                    sign with b64:false)
  --ob-iss ISS      openbanking: the http://openbanking.org.uk/iss value
                    (required for openbanking)

Example:
  nonrep request sign --profile openbanking --key tpp.jwk --ob-iss 0015800001041REAAY \
      --method POST --url https://api.bank.example/open-banking/v3.1/pisp/domestic-payments \
      --body payment.json
`

func runRequestSign(e *env, args []string) error {
	fs := newFlagSet("request sign")
	mf := addMsgFlags(fs)
	keyPath := fs.String("key", "", "")
	certPath := fs.String("cert", "", "")
	kid := fs.String("kid", "", "")
	obIss := fs.String("ob-iss", "", "")
	if err := parseFlags(fs, "request sign", args, false); err != nil {
		return err
	}
	const hint = `run "nonrep request sign --help"`
	p, err := selectProfile(*mf.profile, *mf.obVersion, *obIss, hint)
	if err != nil {
		return err
	}
	if _, ok := p.(profile.OpenBanking); ok && *obIss == "" {
		return usageErr("give the signer's organisation or software id: --ob-iss ID", "the %s profile needs --ob-iss", p.Name())
	}
	u, err := parseTarget(*mf.method, *mf.url, hint)
	if err != nil {
		return err
	}
	s, err := loadSigner(p, *keyPath, *kid, *certPath, isSet(fs, "kid"), hint)
	if err != nil {
		return err
	}
	body, err := readBody(e, *mf.body)
	if err != nil {
		return err
	}
	sig, err := p.Sign(newMessage(*mf.method, u, nil, body), s)
	if err != nil {
		return joseErr(err, "", "")
	}
	spell := func(n string) string { return headerSpelling(p.Name(), n) }
	if err := writeHeaders(e.stdout, sig.Header, spell); err != nil {
		return err
	}
	if sig.Body != nil {
		if _, err := fmt.Fprint(e.stdout, "\n"); err != nil {
			return ioErr(err)
		}
		if _, err := e.stdout.Write(sig.Body); err != nil {
			return ioErr(fmt.Errorf("writing output: %w", err))
		}
	}
	return nil
}

// signedRequest applies a signature to extra headers and a body.
func signedRequest(sig *profile.Signature, h http.Header, body []byte) []byte {
	for k, v := range sig.Header {
		h[k] = v
	}
	if sig.Body != nil {
		return sig.Body
	}
	return body
}
