package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/nonrep/nonrep/jose"
)

var verifyCmd = &command{
	name:    "verify",
	summary: "verify a JWS and print its payload",
	usage: `Usage: nonrep verify (--jwks FILE | --key FILE) [--alg A,B] [--in FILE] [--payload FILE]
                     [--crit NAME]... [--jwt [--skew D] [--aud A]... [--iss I]] [--json]

Verifies one JWS in any serialization (compact, flattened or general JSON)
read from FILE or standard input. One trailing newline ("\n" or "\r\n") of
the input is ignored; nothing else is.

On success it exits 0 and prints exactly the signed payload bytes (or, with
--json, a JSON report). On rejection it exits 1 and prints
"nonrep: error: CODE: message", CODE being a stable jose error code.

Flags:
  --jwks FILE     the accepted public keys, as a JWK Set
  --key FILE      the accepted public key: a public JWK or a PEM public key
                  or certificate. A private key is refused (key_rejected),
                  except an oct (HMAC) secret
  --alg A,B       allow-list of algorithms (default: the "alg" of every
                  given key; a key without "alg" needs --alg)
  --in FILE       the JWS (default: standard input)
  --payload FILE  the exact bytes of a detached payload
  --crit NAME     an extension header this caller checks itself and accepts
                  in "crit"; repeatable
  --jwt           the payload is a JWT claims set: "exp" is required and
                  checked, and "nbf"/"iat" when present
  --skew D        clock skew allowed for the time claims (default 60s)
  --aud A         "aud" must contain A (repeatable: any of them); without
                  --aud any audience is accepted
  --iss I         "iss" must equal I; without --iss any issuer is accepted
  --json          print a JSON report instead of the payload

Example:
  nonrep verify --key partner.pub.jwk --in body.jws
  nonrep verify --jwks partner.jwks --in sig.txt --payload body.json
`,
	run: runVerify,
}

func runVerify(e *env, args []string) error {
	fs := newFlagSet("verify")
	jwksPath := fs.String("jwks", "", "")
	keyPath := fs.String("key", "", "")
	algList := fs.String("alg", "", "")
	in := fs.String("in", "", "")
	payloadPath := fs.String("payload", "", "")
	isJWT := fs.Bool("jwt", false, "")
	skew := fs.Duration("skew", 0, "")
	iss := fs.String("iss", "", "")
	asJSON := fs.Bool("json", false, "")
	var crits, auds listFlag
	fs.Var(&crits, "crit", "")
	fs.Var(&auds, "aud", "")
	if err := parseFlags(fs, "verify", args, false); err != nil {
		return err
	}
	const hint = `run "nonrep verify --help"`
	if (*jwksPath == "") == (*keyPath == "") {
		return usageErr(hint, "give exactly one of --jwks and --key")
	}
	if !*isJWT {
		for _, name := range []string{"skew", "aud", "iss"} {
			if isSet(fs, name) {
				return usageErr("add --jwt to check JWT claims", "--%s needs --jwt", name)
			}
		}
	}
	if *skew < 0 {
		return usageErr(hint, "--skew must not be negative")
	}
	if isSet(fs, "iss") && *iss == "" {
		return usageErr(hint, "--iss must not be empty")
	}
	for _, a := range auds {
		if a == "" {
			return usageErr(hint, "--aud must not be empty")
		}
	}
	for _, c := range crits {
		if c == "b64" {
			return usageErr(`"b64" is always understood; drop --crit b64`, "--crit b64 is implied")
		}
	}

	var keys *jose.KeySet
	var keyList []*jose.JWK
	if *jwksPath != "" {
		data, err := readFile(*jwksPath, maxKeyFile)
		if err != nil {
			return err
		}
		keys, err = jose.ParseJWKS(data)
		if err != nil {
			return joseErr(err, *jwksPath, "")
		}
		keyList = keys.Keys()
	} else {
		var err error
		keyList, err = loadKeys(*keyPath)
		if err != nil {
			return err
		}
		for _, k := range keyList {
			if k.Kty != "oct" && k.IsPrivate() {
				return &cliError{
					code: string(jose.KeyRejected),
					msg:  *keyPath + " is a private key; verify takes only public keys",
					hint: `use the public JWK that "nonrep keygen" printed, or "nonrep jwks ` + *keyPath + ` > keys.jwks" and --jwks keys.jwks`,
				}
			}
		}
		keys, err = jose.NewKeySet(keyList...)
		if err != nil {
			return joseErr(err, *keyPath, "")
		}
	}
	if len(keyList) == 0 {
		return &cliError{code: string(jose.KeyUnknown), msg: *jwksPath + ": the key set is empty"}
	}

	source := *keyPath + *jwksPath // exactly one is set
	algs, err := allowList(*algList, keyList, source)
	if err != nil {
		return err
	}

	policy := jose.Policy{
		Algs:   algs,
		Keys:   keys,
		Crit:   crits,
		Limits: jose.Limits{MaxBytes: maxMessage},
	}
	if *isJWT {
		cp := &jose.ClaimsPolicy{Skew: *skew, Issuer: *iss, AnyIssuer: *iss == ""}
		if len(auds) > 0 {
			cp.Audience = auds
		} else {
			cp.AnyAudience = true
		}
		policy.JWT = cp
	}
	v, err := jose.NewVerifier(policy)
	if err != nil {
		// Only the flags shape the policy: a policy jose refuses (say,
		// --crit naming a registered header) is a usage error.
		ce := joseErr(err, "", hint)
		ce.code = codeUsage
		ce.msg = strings.Replace(ce.msg, "Policy.Crit lists", "--crit names", 1)
		return ce
	}

	// Room for the one trailing newline that is ignored.
	raw, err := readInput(e, *in, maxMessage+2)
	if err != nil {
		return err
	}
	data := trimOneNewline(raw)

	ctx := context.Background()
	var res *jose.Verified
	if *payloadPath != "" {
		payload, err := readFile(*payloadPath, maxMessage)
		if err != nil {
			return err
		}
		res, err = v.VerifyDetached(ctx, data, payload)
		if err != nil {
			return verifyErr(err, data, true, algs)
		}
	} else {
		res, err = v.Verify(ctx, data)
		if err != nil {
			return verifyErr(err, data, false, algs)
		}
	}
	if *asJSON {
		return writeReport(e.stdout, verifiedReport(res, *payloadPath != ""))
	}
	if _, err := e.stdout.Write(res.Payload); err != nil {
		return ioErr(fmt.Errorf("writing output: %w", err))
	}
	return nil
}

// allowList returns the --alg list, or the keys' own algs. source names
// the key file for messages.
func allowList(list string, keys []*jose.JWK, source string) ([]jose.Alg, error) {
	var algs []jose.Alg
	add := func(a jose.Alg) {
		for _, x := range algs {
			if x == a {
				return
			}
		}
		algs = append(algs, a)
	}
	if list != "" {
		for _, s := range strings.Split(list, ",") {
			a := jose.Alg(strings.TrimSpace(s))
			if !a.Supported() {
				return nil, usageErr("supported: RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA HS256 HS384 HS512",
					"--alg lists unsupported algorithm %q", string(a))
			}
			add(a)
		}
		return algs, nil
	}
	for _, k := range keys {
		if k.Alg == "" {
			name := "a key"
			if k.Kid != "" {
				name = fmt.Sprintf("key %q", k.Kid)
			}
			return nil, usageErr(`name the accepted algorithms with --alg, for example --alg ES256`,
				"%s: %s has no \"alg\", so the allow-list cannot be taken from the keys", source, name)
		}
		add(k.Alg)
	}
	return algs, nil
}

// verifyErr adds the advice that fits a rejection.
func verifyErr(err error, data []byte, hasPayload bool, algs []jose.Alg) error {
	code := jose.CodeOf(err)
	var j *jose.JWS
	if code != jose.Malformed && code != jose.TooLarge {
		j, _ = jose.Parse(data, jose.Limits{MaxBytes: maxMessage})
	}
	hint := ""
	switch code {
	case jose.SignatureInvalid:
		if !hasPayload && j != nil && j.Detached() {
			// A compact "header..signature" verifies over the empty payload;
			// when it does not, the payload is what is missing.
			return &cliError{
				code: string(jose.PayloadMismatch),
				msg:  "the JWS is detached (it carries no payload) and does not verify over an empty payload",
				hint: "give the detached payload with --payload FILE",
			}
		}
		hint = "the message was changed, or signed with another key; a re-serialized, re-indented or re-encoded payload no longer verifies"
	case jose.PayloadMismatch:
		if hasPayload {
			hint = "this JWS carries its own payload; drop --payload"
		} else {
			hint = "give the detached payload with --payload FILE"
		}
	case jose.AlgNotAllowed:
		if j != nil {
			hint = fmt.Sprintf("the message uses %s; the allow-list is %s (add to --alg only an algorithm you expect)", j.Header(0).Alg, joinAlgs(algs))
		}
	case jose.KeyUnknown:
		if j != nil && j.Header(0).Kid != "" {
			hint = fmt.Sprintf("the message names kid %q; check that the key set has it", j.Header(0).Kid)
		}
	case jose.CritUnsupported:
		hint = "if you check that extension yourself, accept it with --crit NAME"
	case jose.Expired, jose.NotYetValid, jose.IssuedInFuture:
		hint = "the clocks may differ; --skew widens the tolerance (default 60s)"
	case jose.Malformed:
		if len(data) > 0 && (data[len(data)-1] == '\n' || data[len(data)-1] == '\r' || data[len(data)-1] == ' ') {
			hint = "only one trailing newline of the input is ignored; remove the extra whitespace"
		}
	}
	return joseErr(err, "", hint)
}

func joinAlgs(algs []jose.Alg) string {
	s := make([]string, len(algs))
	for i, a := range algs {
		s[i] = string(a)
	}
	return strings.Join(s, ",")
}
