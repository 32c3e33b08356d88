package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/nonrep/nonrep/jose"
)

// maxMessage caps a JWS, and a payload to sign or verify: the jose
// verifier's default limit, so that nonrep never signs what it would refuse
// to verify.
const maxMessage = 1 << 20

var signCmd = &command{
	name:    "sign",
	summary: "sign a payload as a JWS",
	usage: `Usage: nonrep sign --key PRIVATE.jwk [--in FILE] [--format compact|flattened|general]
                   [--detached] [--unencoded] [--typ T]
                   [--header NAME=JSON]... [--crit NAME]... [--alg ALG]

Signs the exact bytes of FILE (or standard input; nothing is stripped, not
even a trailing newline) and prints the JWS followed by one newline.

Flags:
  --key FILE        private JWK (as written by keygen) or PEM private key
  --in FILE         payload file (default: standard input)
  --format F        compact (default), flattened or general
  --detached        leave the payload out (compact "header..signature"; JSON
                    without "payload"); send it separately
  --unencoded       sign the payload bytes as they are ("b64": false, listed
                    in "crit", RFC 7797). Compact form needs --detached when
                    the payload contains '.'
  --typ T           set the "typ" header
  --header NAME=JSON
                    add a protected header member whose value is the JSON
                    text (a string needs its quotes: --header 'x-id="42"');
                    repeatable. Not alg, crit or b64; not kid when the key
                    has one; not typ with --typ
  --crit NAME       list NAME in "crit"; NAME must be given with --header;
                    repeatable
  --alg ALG         algorithm, when the key has no "alg" of its own (PEM)

Example:
  nonrep sign --key partner.jwk --in body.json --detached --unencoded
`,
	run: runSign,
}

func runSign(e *env, args []string) error {
	fs := newFlagSet("sign")
	keyPath := fs.String("key", "", "")
	in := fs.String("in", "", "")
	format := fs.String("format", "compact", "")
	detached := fs.Bool("detached", false, "")
	unencoded := fs.Bool("unencoded", false, "")
	typ := fs.String("typ", "", "")
	alg := fs.String("alg", "", "")
	var headers, crits listFlag
	fs.Var(&headers, "header", "")
	fs.Var(&crits, "crit", "")
	if err := parseFlags(fs, "sign", args, false); err != nil {
		return err
	}
	const hint = `run "nonrep sign --help"`
	if *keyPath == "" {
		return usageErr(hint, "--key is required")
	}
	var form jose.Form
	switch *format {
	case "compact":
		form = jose.Compact
	case "flattened":
		form = jose.Flattened
	case "general":
		form = jose.General
	default:
		return usageErr(hint, "--format must be compact, flattened or general, not %q", *format)
	}
	if *alg != "" && !jose.Alg(*alg).Supported() {
		return usageErr(hint, "unsupported --alg %q", *alg)
	}

	k, err := loadKey(*keyPath)
	if err != nil {
		return err
	}
	if !k.IsPrivate() {
		return &cliError{
			code: string(jose.KeyRejected),
			msg:  *keyPath + " is a public key; signing needs the private key",
			hint: `give the file that "nonrep keygen --out" wrote`,
		}
	}
	if k.Alg == "" && *alg == "" {
		return usageErr("name the algorithm with --alg", "%s has no \"alg\"", *keyPath)
	}
	sk, err := jose.NewSigningKey(k, jose.Alg(*alg))
	if err != nil {
		return joseErr(err, *keyPath, "")
	}

	params, err := headerParams(headers, sk.Kid != "", *typ != "")
	if err != nil {
		return err
	}
	if err := checkCrit(crits, params); err != nil {
		return err
	}

	payload, err := readInput(e, *in, maxMessage)
	if err != nil {
		return err
	}
	if err := checkUnencoded(payload, form, *detached, *unencoded); err != nil {
		return err
	}
	jws, err := jose.Sign(payload, jose.SignOptions{
		Typ:       *typ,
		Detached:  *detached,
		Unencoded: *unencoded,
		Crit:      crits,
		Header:    params,
		Form:      form,
	}, sk)
	if err != nil {
		return joseErr(err, "", "")
	}
	out, err := jws.Bytes()
	if err != nil {
		return joseErr(err, "", "")
	}
	return writeLine(e.stdout, out)
}

// headerParams parses --header NAME=JSON values. keyHasKid and hasTyp say
// which optional registered members the header will already carry.
func headerParams(headers []string, keyHasKid, hasTyp bool) ([]jose.HeaderParam, error) {
	const hint = `write --header NAME=JSON, for example --header 'x-request-id="42"'`
	var params []jose.HeaderParam
	seen := map[string]bool{}
	for _, h := range headers {
		name, value, ok := strings.Cut(h, "=")
		if !ok || name == "" {
			return nil, usageErr(hint, "--header %q is not NAME=JSON", h)
		}
		switch {
		case name == "alg":
			return nil, usageErr("the key decides alg (use --alg only for a key without one)", "--header cannot set %q", name)
		case name == "b64":
			return nil, usageErr("use --unencoded", "--header cannot set %q", name)
		case name == "crit":
			return nil, usageErr("use --crit NAME", "--header cannot set %q", name)
		case name == "kid" && keyHasKid:
			return nil, usageErr("the key's kid is used; edit the key file to change it", "--header cannot set %q", name)
		case name == "typ" && hasTyp:
			return nil, usageErr("give typ once, with --typ", "--header cannot set %q together with --typ", name)
		}
		if seen[name] {
			return nil, usageErr("", "--header %q is given twice", name)
		}
		seen[name] = true
		if !utf8.ValidString(value) || !json.Valid([]byte(value)) {
			return nil, usageErr(hint, "--header %s: the value is not JSON", name)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, []byte(value)); err != nil {
			return nil, usageErr(hint, "--header %s: the value is not JSON", name)
		}
		params = append(params, jose.HeaderParam{Name: name, Value: buf.Bytes()})
	}
	return params, nil
}

// checkCrit requires every --crit name to be a --header member.
func checkCrit(crits []string, params []jose.HeaderParam) error {
	for i, c := range crits {
		if c == "b64" {
			return usageErr("use --unencoded, which lists b64 in crit", "--crit b64 is set by --unencoded")
		}
		for _, o := range crits[:i] {
			if o == c {
				return usageErr("", "--crit %q is given twice", c)
			}
		}
		found := false
		for _, p := range params {
			if p.Name == c {
				found = true
			}
		}
		if !found {
			return usageErr("give its value too: --header "+c+"=JSON", "--crit %q names no --header member", c)
		}
	}
	return nil
}

// checkUnencoded applies RFC 7797's limits on where an unencoded payload
// can travel, with advice the jose error cannot give.
func checkUnencoded(payload []byte, form jose.Form, detached, unencoded bool) error {
	if !unencoded || detached {
		return nil
	}
	refuse := func(msg, hint string) error {
		return &cliError{code: string(jose.PolicyInvalid), msg: msg, hint: hint}
	}
	switch {
	case form == jose.Compact && bytes.IndexByte(payload, '.') >= 0:
		return refuse("an unencoded payload containing '.' cannot be carried in a compact JWS (RFC 7797 §5.2)",
			"add --detached and send the payload separately, or use --format flattened")
	case form == jose.Compact && len(payload) == 0:
		return refuse("an empty unencoded payload cannot be carried in a compact JWS: it would read as detached",
			"add --detached")
	case form != jose.Compact && !utf8.Valid(payload):
		return refuse("an unencoded payload in a JSON serialization must be valid UTF-8",
			"add --detached and send the payload separately")
	}
	return nil
}
