package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/nonrep/nonrep/profile"
)

const requestVerifyUsage = `Usage: nonrep request verify --profile NAME (--jwks FILE | --roots CA.pem)
                            --method M --url URL [--body FILE]
                            (--header 'Name: value'... | --headers FILE)
                            [--skew D] [--lenient] [--at TIME] [--ob-version V] [--json]

Verifies a signed HTTP request as the scheme's verifier does: the headers,
the signature over the exact body bytes, the request parts the scheme
covers (method, path, query, audience) and the time rules.

On success it exits 0 and prints who signed, as "key: value" lines:
profile, kid (absent for swift), thumbprint, subject, replay_id and
replay_until (absent when the scheme claims no replay key), and iat (absent
when the scheme carries none); with --json, a JSON object. On rejection it exits 1 with "nonrep: error: CODE: message";
"nonrep diagnose" with the same flags says why.

Flags:
  --profile NAME    incomm, ebanx, swift, openbanking, openbanking-3.1.3, generic
  --jwks FILE       the partner's public keys as a JWK Set (every profile but swift)
  --roots FILE      swift: PEM trust roots for the x5c chain
  --method M        the request's method, as received
  --url URL         the request's URL: host, raw path and query, as received
  --body FILE       the exact body bytes ("-": standard input; default: empty).
                    generic: the body is the JWS
  --header 'Name: value'
                    a request header; repeatable
  --headers FILE    "Name: value" lines, as "nonrep request sign" prints them;
                    an empty line ends them and what follows is the body
                    (then --body must not be given)
  --skew D          clock tolerance, a Go duration (default 60s)
  --lenient         accept what some partners send and the strict reading
                    refuses (InComm without iat/exp, Swift without nbf)
  --at TIME         verify as of this RFC 3339 time instead of now
  --ob-version V    openbanking: the partner's API version
  --json            print a JSON object instead of lines

Example:
  nonrep request sign --profile generic --key k.jwk --method POST \
      --url https://api.bank.example/v1/payments --body order.json > signed.txt
  nonrep request verify --profile generic --jwks partner.jwks --method POST \
      --url https://api.bank.example/v1/payments --headers signed.txt
`

func runRequestVerify(e *env, args []string) error {
	in, asJSON, err := parseVerifyInput(e, newFlagSet("request verify"), "request verify", args)
	if err != nil {
		return err
	}
	res, err := verifyRequest(context.Background(), in)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeReport(e.stdout, identityReport(res))
	}
	return writeIdentity(e.stdout, res)
}

// verifyRequest runs the profile's verifier; a rejection carries a hint to
// run diagnose.
func verifyRequest(ctx context.Context, in *verifyInput) (*profile.Result, error) {
	v, err := in.prof.NewVerifier(in.trust)
	if err != nil {
		ce := joseErr(err, "", "")
		ce.code = codeUsage
		return nil, ce
	}
	p, err := v.Parse(in.msg)
	if err == nil {
		var res *profile.Result
		if res, err = v.Verify(ctx, p); err == nil {
			return res, nil
		}
	}
	return nil, joseErr(err, "", `run "nonrep diagnose" with the same flags to find out why`)
}

// identity is what request verify and diagnose print for a verified
// request. Member names are API (README.md (CLI reference)).
type identity struct {
	Verified    bool            `json:"verified"` // always true
	Profile     string          `json:"profile"`
	Alg         string          `json:"alg"`
	Kid         string          `json:"kid,omitempty"`
	Thumbprint  string          `json:"thumbprint"`
	Subject     string          `json:"subject"`
	Chain       []string        `json:"chain,omitempty"`
	ReplayID    string          `json:"replay_id,omitempty"`
	ReplayUntil string          `json:"replay_until,omitempty"`
	IssuedAt    string          `json:"iat,omitempty"`
	Protected   json.RawMessage `json:"protected"`
	payloadRep
}

func identityReport(r *profile.Result) *identity {
	id := &identity{
		Verified:   true,
		Profile:    r.Profile,
		Alg:        string(r.Header.Alg),
		Kid:        r.Kid,
		Thumbprint: r.Thumbprint,
		Subject:    r.Subject,
		ReplayID:   r.ReplayID,
		Protected:  json.RawMessage(r.Header.Raw),
		payloadRep: newPayloadRep(r.Payload),
	}
	for _, c := range r.Chain {
		id.Chain = append(id.Chain, c.Subject.String())
	}
	if r.ReplayID != "" && !r.ReplayUntil.IsZero() {
		id.ReplayUntil = r.ReplayUntil.UTC().Format(time.RFC3339)
	}
	if !r.IssuedAt.IsZero() {
		id.IssuedAt = r.IssuedAt.UTC().Format(time.RFC3339)
	}
	return id
}

// writeIdentity prints the signer's identity as "key: value" lines.
func writeIdentity(w io.Writer, r *profile.Result) error {
	id := identityReport(r)
	var b bytes.Buffer
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, oneLine(v))
		}
	}
	line("profile", id.Profile)
	line("kid", id.Kid)
	line("thumbprint", id.Thumbprint)
	line("subject", id.Subject)
	line("replay_id", id.ReplayID)
	line("replay_until", id.ReplayUntil)
	line("iat", id.IssuedAt)
	if _, err := w.Write(b.Bytes()); err != nil {
		return ioErr(fmt.Errorf("writing output: %w", err))
	}
	return nil
}
