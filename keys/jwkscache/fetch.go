package jwkscache

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nonrep/nonrep/jose"
)

// Limits bound one fetch and its import.
type Limits struct {
	// MaxBytes caps the response body (default 256 KiB).
	MaxBytes int64
	// MaxKeys caps the number of keys in the set (default 64); a larger
	// set is refused whole.
	MaxKeys int
	// Timeout bounds the whole fetch (default 10 s).
	Timeout time.Duration
	// KeyPolicy is applied to every imported key (RSA minimum size).
	KeyPolicy jose.KeyPolicy
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 256 << 10
	}
	if l.MaxKeys <= 0 {
		l.MaxKeys = 64
	}
	if l.Timeout <= 0 {
		l.Timeout = 10 * time.Second
	}
	return l
}

// Verdict is what import decided about one key of a set.
type Verdict struct {
	// Index is the key's position in the set's "keys" array.
	Index int
	// Kid is the key's kid (empty when it has none or did not parse).
	Kid string
	// Key is the imported public key, nil when dropped.
	Key *jose.JWK
	// Err says why the key was dropped (nil when kept); it carries a
	// jose code (malformed, key_rejected, alg_not_allowed).
	Err error
}

// Document is a fetched and imported JWK Set.
type Document struct {
	// Status is 200, or 304 when the server confirmed the set the request
	// named by ETag (then Body, Keys and Verdicts are empty).
	Status int
	Body   []byte
	// Keys are the keys kept, in document order; Verdicts has one entry
	// per key of the document.
	Keys     []*jose.JWK
	Verdicts []Verdict
	// MaxAge is the response's Cache-Control max-age less its Age, when
	// present (HasMaxAge).
	MaxAge    time.Duration
	HasMaxAge bool
	// ETag and LastModified are the validators for the next request.
	ETag, LastModified string
}

// Dropped returns the verdicts of the keys that were dropped.
func (d *Document) Dropped() []Verdict {
	var out []Verdict
	for _, v := range d.Verdicts {
		if v.Err != nil {
			out = append(out, v)
		}
	}
	return out
}

// errRedirect refuses redirects: only the configured URL is fetched.
var errRedirect = errors.New("jwkscache: redirect refused: configure the final JWKS URL")

func refuseRedirect(*http.Request, []*http.Request) error { return errRedirect }

// NoRedirects returns a copy of c (nil: http.DefaultClient's settings)
// that refuses every redirect. Fetch uses clients made this way.
func NoRedirects(c *http.Client) *http.Client {
	var cp http.Client
	if c != nil {
		cp = *c
	}
	cp.CheckRedirect = refuseRedirect
	return &cp
}

// Fetch GETs a JWK Set from url (which must be https) and imports it.
// With etag or lastModified set, the request is conditional and a 304
// yields a Document with Status 304. Errors carry a jose code:
// KeyUnavailable for network and HTTP failures, TooLarge for a response
// or set over the limits, Malformed for a document that is not a JWK Set,
// KeyRejected when no key of the set is usable. When the import fails the
// Document is returned with the error, holding the body and the verdicts.
func Fetch(ctx context.Context, client *http.Client, url string, lim Limits, etag, lastModified string) (*Document, error) {
	lim = lim.withDefaults()
	if !strings.HasPrefix(url, "https://") {
		return nil, &jose.Error{Code: jose.PolicyInvalid, Detail: fmt.Sprintf("JWKS URL %s is not https", quoteURL(url))}
	}
	ctx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, &jose.Error{Code: jose.PolicyInvalid, Detail: fmt.Sprintf("JWKS URL %s is not usable", quoteURL(url)), Err: err}
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	if lastModified != "" {
		req.Header.Set("If-Modified-Since", lastModified)
	}
	if client.CheckRedirect == nil {
		client = NoRedirects(client)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, &jose.Error{Code: jose.KeyUnavailable, Detail: fmt.Sprintf("fetching %s failed", quoteURL(url)), Err: err}
	}
	defer func() {
		// Drain a little so that the connection can be reused.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
	}()
	d := &Document{Status: resp.StatusCode, ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}
	d.MaxAge, d.HasMaxAge = maxAge(resp.Header)
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotModified:
		if etag == "" && lastModified == "" {
			return nil, &jose.Error{Code: jose.KeyUnavailable, Detail: fmt.Sprintf("%s answered 304 to an unconditional request", quoteURL(url))}
		}
		if d.ETag == "" {
			d.ETag = etag
		}
		if d.LastModified == "" {
			d.LastModified = lastModified
		}
		return d, nil
	default:
		return nil, &jose.Error{Code: jose.KeyUnavailable, Detail: fmt.Sprintf("%s answered HTTP %d", quoteURL(url), resp.StatusCode)}
	}
	if resp.ContentLength > lim.MaxBytes {
		return nil, &jose.Error{Code: jose.TooLarge, Detail: fmt.Sprintf("%s sends %d bytes, more than %d", quoteURL(url), resp.ContentLength, lim.MaxBytes)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, lim.MaxBytes+1))
	if err != nil {
		return nil, &jose.Error{Code: jose.KeyUnavailable, Detail: fmt.Sprintf("reading %s failed", quoteURL(url)), Err: err}
	}
	if int64(len(body)) > lim.MaxBytes {
		return nil, &jose.Error{Code: jose.TooLarge, Detail: fmt.Sprintf("%s sends more than %d bytes", quoteURL(url), lim.MaxBytes)}
	}
	d.Body = body
	if d.Keys, d.Verdicts, err = Import(body, lim); err != nil {
		return d, err
	}
	return d, nil
}

// Import validates a JWK Set document and every key in it, as the cache
// does for each fetch: the document strictly (jose.ParseJWKSPartial: one
// JSON object, no duplicate member names, a "keys" array of objects, at
// most lim.MaxKeys keys), and each key on its own: it must parse (curve
// point on the curve, RSA size and exponent, alg fitting the key), carry
// no private member, be a signature key ("use" absent or "sig", "key_ops"
// absent or allowing "verify"), meet lim.KeyPolicy, and have a kid no other
// key has. A bad key is dropped with its verdict; the rest are kept. A set
// with no usable key is an error (KeyRejected): it would make every
// request fail, so the last good set is kept instead.
func Import(body []byte, lim Limits) ([]*jose.JWK, []Verdict, error) {
	lim = lim.withDefaults()
	if _, _, err := jose.ParseJWKSPartial(body); err != nil {
		return nil, nil, err
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, &jose.Error{Code: jose.Malformed, Detail: "the JWK Set does not parse", Err: err}
	}
	if len(doc.Keys) > lim.MaxKeys {
		return nil, nil, &jose.Error{Code: jose.TooLarge, Detail: fmt.Sprintf("the JWK Set has %d keys, more than %d", len(doc.Keys), lim.MaxKeys)}
	}
	vs := make([]Verdict, len(doc.Keys))
	kids := map[string]int{}
	for i, raw := range doc.Keys {
		vs[i].Index = i
		k, err := jose.ParseJWK(raw)
		if err == nil {
			err = checkImported(k, lim.KeyPolicy)
		}
		if err != nil {
			vs[i].Err = err
			vs[i].Kid = peekKid(raw)
			continue
		}
		vs[i].Kid, vs[i].Key = k.Kid, k
		if k.Kid != "" {
			kids[k.Kid]++
		}
	}
	var out []*jose.JWK
	for i := range vs {
		v := &vs[i]
		if v.Key == nil {
			continue
		}
		if v.Kid != "" && kids[v.Kid] > 1 {
			v.Key, v.Err = nil, &jose.Error{Code: jose.KeyRejected, Detail: fmt.Sprintf("duplicate kid %q: every key with it dropped", v.Kid)}
			continue
		}
		out = append(out, v.Key)
	}
	if len(out) == 0 {
		return nil, vs, &jose.Error{Code: jose.KeyRejected, Detail: fmt.Sprintf("the JWK Set has no usable key (%d dropped)", len(vs))}
	}
	return out, vs, nil
}

// checkImported applies the rules for a key taken from a partner's set.
func checkImported(k *jose.JWK, p jose.KeyPolicy) error {
	if k.IsPrivate() {
		if k.Kty == "oct" {
			return &jose.Error{Code: jose.KeyRejected, Detail: "a shared secret (oct) in a public JWK Set"}
		}
		return &jose.Error{Code: jose.KeyRejected, Detail: "private key members in a public JWK Set"}
	}
	if k.Use != "" && k.Use != "sig" {
		return &jose.Error{Code: jose.KeyRejected, Detail: fmt.Sprintf("use %q: not a signature key", k.Use)}
	}
	if len(k.KeyOps) > 0 {
		ok := false
		for _, op := range k.KeyOps {
			ok = ok || op == "verify"
		}
		if !ok {
			return &jose.Error{Code: jose.KeyRejected, Detail: `key_ops does not allow "verify"`}
		}
	}
	if pub, ok := k.Key.(*rsa.PublicKey); ok && p.MinRSABits > 0 && pub.N.BitLen() < p.MinRSABits {
		return &jose.Error{Code: jose.KeyRejected, Detail: fmt.Sprintf("RSA key of %d bits, fewer than the %d required", pub.N.BitLen(), p.MinRSABits)}
	}
	return nil
}

// peekKid extracts the kid of a key that did not import, for the report.
func peekKid(raw []byte) string {
	var v struct {
		Kid any `json:"kid"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	s, _ := v.Kid.(string)
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// maxAge reads Cache-Control max-age (less Age). no-store and no-cache
// count as max-age 0 (the cache then uses its minimum TTL).
func maxAge(h http.Header) (time.Duration, bool) {
	var age time.Duration
	if a, err := strconv.ParseInt(strings.TrimSpace(h.Get("Age")), 10, 64); err == nil && a > 0 {
		age = time.Duration(a) * time.Second
	}
	found, value := false, time.Duration(0)
	for _, f := range h.Values("Cache-Control") {
		for _, d := range strings.Split(f, ",") {
			name, arg, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-store", "no-cache":
				return 0, true
			case "max-age":
				n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(arg), `"`), 10, 64)
				if err != nil || n < 0 {
					continue
				}
				if n > 1<<31 {
					n = 1 << 31
				}
				found, value = true, time.Duration(n)*time.Second
			}
		}
	}
	if !found {
		return 0, false
	}
	return max(value-age, 0), true
}

// quoteURL renders a URL for an error detail, without user information.
func quoteURL(u string) string {
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			u = u[:j+3] + "…@" + u[i+1:]
		}
	}
	if len(u) > 200 {
		u = u[:200] + "…"
	}
	return strconv.Quote(u)
}
