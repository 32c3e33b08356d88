package main

import (
	"fmt"

	"github.com/nonrep/nonrep/jose"
)

var jwksCmd = &command{
	name:    "jwks",
	summary: "print the public JWK Set of key files, or fetch a partner's",
	usage: `Usage: nonrep jwks KEY...
       nonrep jwks fetch [flags] URL

The first form prints {"keys":[…]} with the public part of every KEY, as
one line. A KEY is a JWK file (private or public) or a PEM file (PUBLIC
KEY, PRIVATE KEY, CERTIFICATE, RSA/EC legacy forms). Private members are
never printed.
A key given twice (say, as its private and its public file) is listed once.
Secret (oct) keys have no public part and are refused, as are two different
keys with the same kid.

The second form fetches a partner's JWKS from URL and prints a verdict
per key; see "nonrep jwks fetch --help". (A key file named "fetch" is
given as ./fetch.)

Example:
  nonrep jwks partner-2026.jwk partner-2027.jwk > partner.jwks
  nonrep jwks fetch https://partner.example/.well-known/jwks.json
`,
	run: runJWKS,
}

func runJWKS(e *env, args []string) error {
	if len(args) > 0 && args[0] == "fetch" {
		return runJWKSFetch(e, args[1:])
	}
	fs := newFlagSet("jwks")
	if err := parseFlags(fs, "jwks", args, true); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageErr(`run "nonrep jwks --help"`, "name at least one key file")
	}
	var pubs []*jose.JWK
	kids := map[string]string{} // kid → the file it came from
	seen := map[string]bool{}   // public JWKs already listed
	for _, path := range fs.Args() {
		keys, err := loadKeys(path)
		if err != nil {
			return err
		}
		for _, k := range keys {
			p := k.Public()
			if p == nil {
				return &cliError{
					code: string(jose.KeyRejected),
					msg:  path + ": an oct (HMAC) key is a shared secret and has no public part to publish",
				}
			}
			b, err := p.MarshalJSON()
			if err != nil {
				return joseErr(err, path, "")
			}
			if seen[string(b)] {
				// The same key twice (say, its private and public files).
				continue
			}
			seen[string(b)] = true
			if k.Kid != "" {
				if prev, dup := kids[k.Kid]; dup {
					return &cliError{
						code: string(jose.KeyRejected),
						msg:  fmt.Sprintf("%s and %s hold different keys with kid %q", prev, path, k.Kid),
						hint: "a JWK Set holds one key per kid; give each key its own kid",
					}
				}
				kids[k.Kid] = path
			}
			pubs = append(pubs, p)
		}
	}
	// NewKeySet applies the verification-set rules (one key per kid).
	if _, err := jose.NewKeySet(pubs...); err != nil {
		return joseErr(err, "", "")
	}
	out, err := jose.MarshalJWKS(pubs...)
	if err != nil {
		return joseErr(err, "", "")
	}
	return writeLine(e.stdout, out)
}
