package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/nonrep/nonrep/jose"
)

// unverifiedWarning is inspect's first line on standard error and its
// report's "warning" member.
const unverifiedWarning = "UNVERIFIED: no signature was checked; nothing here is authenticated"

var inspectCmd = &command{
	name:    "inspect",
	summary: "decode a JWS without verifying it",
	usage: `Usage: nonrep inspect [--in FILE]

Decodes the headers and payload of a JWS in any serialization WITHOUT
checking any signature, for debugging. One trailing newline of the input is
ignored, as by verify. The input must still be a well-formed JWS.

Standard error starts with the line
  nonrep: warning: UNVERIFIED: no signature was checked; nothing here is authenticated
and standard output is a JSON document whose first member is
"verified": false.

Flags:
  --in FILE  the JWS (default: standard input)

Example:
  nonrep inspect --in sig.txt
`,
	run: runInspect,
}

func runInspect(e *env, args []string) error {
	fs := newFlagSet("inspect")
	in := fs.String("in", "", "")
	if err := parseFlags(fs, "inspect", args, false); err != nil {
		return err
	}
	raw, err := readInput(e, *in, maxMessage+2)
	if err != nil {
		return err
	}
	data := trimOneNewline(raw)
	j, err := jose.Parse(data, jose.Limits{MaxBytes: maxMessage})
	if err != nil {
		hint := ""
		if jose.CodeOf(err) == jose.Malformed && len(data) > 0 && (data[len(data)-1] == '\n' || data[len(data)-1] == '\r') {
			hint = "only one trailing newline of the input is ignored; remove the extra whitespace"
		}
		return joseErr(err, "", hint)
	}
	r := &inspectReport{
		Verified:   false,
		Warning:    unverifiedWarning,
		Form:       j.Form().String(),
		Detached:   j.Detached(),
		Signatures: make([]inspectSigRep, j.Len()),
	}
	for i := range j.Len() {
		r.Signatures[i] = inspectSigRep{
			Protected:   json.RawMessage(j.Header(i).Raw),
			Unprotected: json.RawMessage(j.Unprotected(i)),
			Signature:   base64.RawURLEncoding.EncodeToString(j.Signature(i)),
		}
	}
	if !j.Detached() {
		p, err := j.UnsafePayloadWithoutVerification()
		if err != nil {
			return joseErr(err, "", "")
		}
		r.payloadRep = newPayloadRep(p)
	}
	fmt.Fprintf(e.stderr, "nonrep: warning: %s\n", unverifiedWarning)
	return writeReport(e.stdout, r)
}
