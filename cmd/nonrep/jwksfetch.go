package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/keys"
	"github.com/nonrep/nonrep/keys/jwkscache"
)

const jwksFetchUsage = `Usage: nonrep jwks fetch [flags] URL

Fetches a partner's JWK Set from URL (https only, normal certificate
checks, no redirects), validates it exactly as the gateway's JWKS cache
does, and prints one verdict per key: "ok" with its kid, type, alg and
RFC 7638 thumbprint, or "dropped" with the stable code and the reason.
The first line says what the cache would do with the response (HTTP
status, Cache-Control max-age and the TTL it gives, ETag).

Exit status: 0 every key is usable; 1 a key was dropped (key_rejected),
the set is unusable (malformed, too_large, key_rejected) or the endpoint
cannot be fetched (key_unavailable); 2 usage error.

Flags:
  --ca FILE          trust the PEM certificates in FILE as well as the
                     system roots (a partner's private CA, a test server)
  --timeout D        fetch timeout (default 10s)
  --max-bytes N      response size limit (default 262144)
  --max-keys N       key count limit (default 64)
  --min-rsa-bits N   drop RSA keys smaller than N bits (default 2048)
  --json             print the verdicts as JSON

Example:
  nonrep jwks fetch https://partner.example/.well-known/jwks.json
`

// fetchReport is printed by "jwks fetch --json". Member names are API.
type fetchReport struct {
	URL          string           `json:"url"`
	Status       int              `json:"status"`
	MaxAge       *int64           `json:"max_age,omitempty"` // seconds, when the response has one
	TTL          int64            `json:"ttl"`               // seconds the cache would keep the set
	ETag         string           `json:"etag,omitempty"`
	Keys         []fetchKeyReport `json:"keys"`
	UsableKeys   int              `json:"usable_keys"`
	DroppedKeys  int              `json:"dropped_keys"`
	Verdict      string           `json:"verdict"` // "ok", "dropped_keys", "unusable"
	ErrorCode    string           `json:"error_code,omitempty"`
	ErrorMessage string           `json:"error,omitempty"`
}

type fetchKeyReport struct {
	Index      int             `json:"index"`
	Kid        string          `json:"kid,omitempty"`
	Verdict    string          `json:"verdict"` // "ok" or "dropped"
	Kty        string          `json:"kty,omitempty"`
	Alg        string          `json:"alg,omitempty"`
	Thumbprint string          `json:"thumbprint,omitempty"`
	Code       string          `json:"code,omitempty"`
	Reason     string          `json:"reason,omitempty"`
	JWK        json.RawMessage `json:"jwk,omitempty"`
}

func runJWKSFetch(e *env, args []string) error {
	fs := newFlagSet("jwks fetch")
	ca := fs.String("ca", "", "")
	timeout := fs.Duration("timeout", 10*time.Second, "")
	maxBytes := fs.Int64("max-bytes", 256<<10, "")
	maxKeys := fs.Int("max-keys", 64, "")
	minRSA := fs.Int("min-rsa-bits", 2048, "")
	asJSON := fs.Bool("json", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(e.stdout, jwksFetchUsage)
			return nil
		}
		return usageErr(`run "nonrep jwks fetch --help"`, "%s", flagMsg(err))
	}
	const hint = `run "nonrep jwks fetch --help"`
	if fs.NArg() != 1 {
		return usageErr(hint, "name one JWKS URL")
	}
	url := fs.Arg(0)
	if err := keys.ValidateJWKSURL(url); err != nil {
		return usageErr(hint, "%s", strings.TrimPrefix(err.Error(), "jose: "+string(keys.PartnerInvalid)+": "))
	}
	if *timeout <= 0 || *maxBytes <= 0 || *maxKeys <= 0 {
		return usageErr(hint, "--timeout, --max-bytes and --max-keys must be positive")
	}
	client := jwkscache.DefaultClient()
	if *ca != "" {
		pem, err := readFile(*ca, maxKeyFile)
		if err != nil {
			return err
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return usageErr("", "%s holds no PEM certificate", *ca)
		}
		client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	}
	lim := jwkscache.Limits{MaxBytes: *maxBytes, MaxKeys: *maxKeys, Timeout: *timeout, KeyPolicy: jose.KeyPolicy{MinRSABits: *minRSA}}
	d, err := jwkscache.Fetch(context.Background(), client, url, lim, "", "")
	rep := &fetchReport{URL: url, Keys: []fetchKeyReport{}}
	if d != nil {
		rep.Status, rep.ETag = d.Status, d.ETag
		ttl := jwkscache.DefaultTTL
		if d.HasMaxAge {
			s := int64(d.MaxAge / time.Second)
			rep.MaxAge = &s
			ttl = min(max(d.MaxAge, jwkscache.DefaultMinTTL), jwkscache.DefaultMaxTTL)
		}
		rep.TTL = int64(ttl / time.Second)
		for _, v := range d.Verdicts {
			rep.Keys = append(rep.Keys, verdictReport(v))
			if v.Err == nil {
				rep.UsableKeys++
			} else {
				rep.DroppedKeys++
			}
		}
	}
	rep.Verdict = "ok"
	switch {
	case err != nil:
		rep.Verdict, rep.ErrorCode, rep.ErrorMessage = "unusable", string(jose.CodeOf(err)), err.Error()
	case rep.DroppedKeys > 0:
		rep.Verdict = "dropped_keys"
	}
	if d != nil || *asJSON {
		if perr := printFetch(e, rep, *asJSON); perr != nil {
			return perr
		}
	}
	if err != nil {
		ce := joseErr(err, "", "")
		var je *jose.Error
		if errors.As(err, &je) && je.Err != nil {
			ce.msg += ": " + je.Err.Error()
		}
		if ce.code == string(jose.KeyUnavailable) {
			ce.hint = "check the URL, the partner's endpoint and, for a private CA, --ca"
		}
		return ce
	}
	if rep.DroppedKeys > 0 {
		return &cliError{
			code: string(jose.KeyRejected),
			msg:  fmt.Sprintf("%d of %d keys dropped (see above); the other %d are usable", rep.DroppedKeys, len(rep.Keys), rep.UsableKeys),
			hint: "ask the partner to fix or remove the dropped keys",
		}
	}
	return nil
}

func verdictReport(v jwkscache.Verdict) fetchKeyReport {
	r := fetchKeyReport{Index: v.Index, Kid: v.Kid, Verdict: "ok"}
	if v.Err != nil {
		r.Verdict, r.Code = "dropped", string(jose.CodeOf(v.Err))
		r.Reason = strings.Replace(v.Err.Error(), "jose: "+r.Code+": ", "", 1)
		return r
	}
	r.Kty, r.Alg, r.Thumbprint = keyType(v.Key), string(v.Key.Alg), v.Key.Thumbprint()
	r.JWK, _ = v.Key.MarshalJSON()
	return r
}

func keyType(k *jose.JWK) string {
	switch pub := k.PublicKey().(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", pub.N.BitLen())
	case *ecdsa.PublicKey:
		return "EC " + pub.Curve.Params().Name
	case ed25519.PublicKey:
		return "OKP Ed25519"
	}
	return k.Kty
}

func printFetch(e *env, rep *fetchReport, asJSON bool) error {
	if asJSON {
		return writeReport(e.stdout, rep)
	}
	var b strings.Builder
	maxAge := "no max-age"
	if rep.MaxAge != nil {
		maxAge = fmt.Sprintf("max-age %ds", *rep.MaxAge)
	}
	fmt.Fprintf(&b, "%s: HTTP %d, %d keys (%d usable, %d dropped), %s (cache TTL %v)", rep.URL, rep.Status, len(rep.Keys), rep.UsableKeys, rep.DroppedKeys,
		maxAge, time.Duration(rep.TTL)*time.Second)
	if rep.ETag != "" {
		fmt.Fprintf(&b, ", ETag %s", rep.ETag)
	}
	b.WriteByte('\n')
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, k := range rep.Keys {
		if k.Verdict == "ok" {
			fmt.Fprintf(tw, "ok\tkey %d\tkid %q\t%s\t%s\tthumbprint %s\n", k.Index, k.Kid, k.Kty, orDash(k.Alg), k.Thumbprint)
		} else {
			fmt.Fprintf(tw, "dropped\tkey %d\tkid %q\t%s: %s\n", k.Index, k.Kid, k.Code, oneLine(k.Reason))
		}
	}
	tw.Flush()
	if _, err := fmt.Fprint(e.stdout, b.String()); err != nil {
		return ioErr(fmt.Errorf("writing output: %w", err))
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
