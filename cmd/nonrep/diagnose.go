package main

import (
	"bytes"
	"context"
	"fmt"

	"github.com/nonrep/nonrep/internal/diagnose"
	"github.com/nonrep/nonrep/jose"
)

var diagnoseCmd = &command{
	name:    "diagnose",
	summary: "explain why a signed HTTP request is rejected",
	usage: `Usage: nonrep diagnose --profile NAME (--jwks FILE | --roots CA.pem)
                       --method M --url URL [--body FILE]
                       (--header 'Name: value'... | --headers FILE)
                       [--skew D] [--lenient] [--at TIME] [--ob-version V] [--json]

Takes the same flags as "nonrep request verify" and verifies the request.
When it verifies, it says so (exit 0). When it is rejected, it tests the
usual causes and names the one that explains the failure (exit 1): each is
confirmed by verifying the request again with that one fault undone (or by
checking the raw signature with the candidate key). The causes tested:

  body_trailing_newline   a trailing newline added or removed after signing
  body_line_endings       LF / CRLF converted
  body_whitespace         leading or trailing whitespace added
  body_charset            UTF-8 / Latin-1 re-encoding, a byte order mark
  body_reserialized_json  the JSON re-serialized (compact, indented, sorted,
                          Python-style, escapes, RFC 8785)
  b64_mismatch            the payload signed base64url-encoded while the
                          header says b64:false, or the reverse
  kid_unknown             the kid is not in the key set
  key_rotated             another key of the set, under another kid, verifies
  path_normalization      the path encoded or normalized differently
  query_normalization     the query encoded, ordered or normalized differently
  method_case             the method's letter case changed
  request_target          signed for another method, host, path or query
  clock_skew              outside the validity window: by how many seconds,
                          and the --skew or --at that would accept it
  ecdsa_der               an ES* signature in DER instead of R||S
  pss_salt_length         an RSA-PSS salt length other than the hash length
  digest_encoding         Swift's digest encoded differently (hex, base64url,
                          over the body instead of base64(body))
  ob_version              Open Banking 3.1.3 (b64:false) vs 3.1.4 and later
  header_missing          a header the scheme requires is absent
  scheme_rule             another rule of the scheme; the verifier's message
  unexplained             none of the above

Output, one item per line:

  verdict: rejected (CODE)       or  verdict: verified
  cause: one sentence                (then, when verified, the signer's
  evidence: what was observed         identity as "request verify" prints it)
  evidence: ...
  fix: what to do
  cause_id: one of the ids above

With --json, one JSON object. Exit status: 0 verified, 1 rejected (the
diagnosis is on standard output), 2 usage or I/O error.

Example:
  nonrep diagnose --profile openbanking --jwks bank.jwks --method POST \
      --url https://api.bank.example/open-banking/v3.1/pisp/domestic-payments \
      --headers received-headers.txt --body received-body.json
`,
	run: runDiagnose,
}

// diagnosisReport is printed by "diagnose --json" for a rejection. Member
// names are API.
type diagnosisReport struct {
	Verdict  string   `json:"verdict"` // "rejected"
	Code     string   `json:"code"`
	CauseID  string   `json:"cause_id"`
	Cause    string   `json:"cause"`
	Evidence []string `json:"evidence"`
	Fix      string   `json:"fix"`
}

type verifiedDiagnosis struct {
	Verdict string `json:"verdict"` // "verified"
	*identity
}

// errRejectedReported exits 1 without an error line: the diagnosis on
// standard output says everything.
type errRejectedReported struct{}

func (errRejectedReported) Error() string { return "rejected" }

func runDiagnose(e *env, args []string) error {
	in, asJSON, err := parseVerifyInput(e, newFlagSet("diagnose"), "diagnose", args)
	if err != nil {
		return err
	}
	rep, err := diagnose.Run(context.Background(), diagnose.Input{Profile: in.prof, Trust: in.trust, Message: in.msg, Keys: in.keys})
	if err != nil {
		ce := joseErr(err, "", `run "nonrep diagnose --help"`)
		ce.code = codeUsage
		return ce
	}
	if rep.Verified {
		if *asJSON {
			return writeReport(e.stdout, verifiedDiagnosis{Verdict: "verified", identity: identityReport(rep.Result)})
		}
		if _, err := fmt.Fprintln(e.stdout, "verdict: verified"); err != nil {
			return ioErr(err)
		}
		return writeIdentity(e.stdout, rep.Result)
	}
	if *asJSON {
		if err := writeReport(e.stdout, diagnosisReport{
			Verdict: "rejected", Code: string(rep.Code), CauseID: rep.Cause,
			Cause: rep.Summary, Evidence: rep.Evidence, Fix: rep.Fix,
		}); err != nil {
			return err
		}
		return errRejectedReported{}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "verdict: rejected (%s)\n", codeOrUnknown(rep.Code))
	fmt.Fprintf(&b, "cause: %s\n", oneLine(rep.Summary))
	for _, ev := range rep.Evidence {
		fmt.Fprintf(&b, "evidence: %s\n", oneLine(ev))
	}
	fmt.Fprintf(&b, "fix: %s\n", oneLine(rep.Fix))
	fmt.Fprintf(&b, "cause_id: %s\n", rep.Cause)
	if _, err := e.stdout.Write(b.Bytes()); err != nil {
		return ioErr(fmt.Errorf("writing output: %w", err))
	}
	return errRejectedReported{}
}

func codeOrUnknown(c jose.Code) string {
	if c == "" {
		return "unknown"
	}
	return string(c)
}
