package diagnose

import (
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/profile"
)

// finding is one explained difference between the signed request target
// and the received one.
type finding struct {
	cause    string
	summary  string
	fix      string
	evidence string
}

// target explains request_mismatch: the signature covers a method, path,
// query or host that differs from the request's.
func (s *state) target() bool {
	if s.parsed == nil {
		return false
	}
	switch p := s.prof.(type) {
	case profile.InComm:
		return s.incommTarget(p)
	case profile.Swift:
		return s.swiftTarget()
	}
	return false
}

const pathFix = "sign and send the raw path exactly as it goes on the wire: no decoding, re-encoding, dot-segment removal or slash merging between the signer and the verifier (check proxies: nginx merge_slashes and proxy_pass with a URI, API gateways, client libraries that re-encode paths)"

// pathFinding compares a signed and a received raw path.
func pathFinding(signed, got string) finding {
	ev := fmt.Sprintf("the signature covers path %q; the request's path is %q", signed, got)
	ds, errS := url.PathUnescape(signed)
	dg, errG := url.PathUnescape(got)
	switch {
	case errS == nil && errG == nil && ds == dg:
		return finding{PathNormalization, "The path's percent-encoding changed between the signer and this verifier: both name the same path once decoded.", pathFix,
			ev + fmt.Sprintf(": both decode to %q", ds)}
	case path.Clean(signed) == path.Clean(got) || errS == nil && errG == nil && path.Clean(ds) == path.Clean(dg):
		return finding{PathNormalization, "The path was normalized on the way (dot segments, duplicate or trailing slashes): the signer and the verifier see different bytes for the same path.", pathFix,
			ev + fmt.Sprintf(": both normalize to %q", path.Clean(ds))}
	case strings.TrimSuffix(signed, "/") == strings.TrimSuffix(got, "/"):
		return finding{PathNormalization, "A trailing slash was added or removed on the way.", pathFix, ev}
	case strings.HasSuffix(signed, got) && strings.HasPrefix(got, "/"):
		return finding{RequestTarget, fmt.Sprintf("The path was rewritten on the way: the signer signed %q and a proxy stripped the prefix %q before it reached the verifier.", signed, strings.TrimSuffix(signed, got)),
			"verify the path as the client sent it (before the proxy rewrites it), or have the client sign the path the service sees", ev}
	case strings.HasSuffix(got, signed) && strings.HasPrefix(signed, "/"):
		return finding{RequestTarget, fmt.Sprintf("The path was rewritten on the way: a proxy added the prefix %q after the request was signed for %q.", strings.TrimSuffix(got, signed), signed),
			"verify the path as the client sent it (before the proxy rewrites it), or have the client sign the path the service sees", ev}
	}
	return finding{RequestTarget, fmt.Sprintf("The signature is for another path (%q), not this request's %q: a misrouted, rewritten or replayed request.", signed, got),
		"find out why the request arrived at another path than the one signed (routing, rewrites); treat a replay to another endpoint as an attack", ev}
}

// queryParams decodes a raw query into sorted name=value pairs. plus says
// whether '+' means a space.
func queryParams(raw string, plus bool) ([]string, bool) {
	raw = strings.TrimPrefix(raw, "?")
	var out []string
	for _, seg := range strings.Split(raw, "&") {
		if seg == "" {
			continue
		}
		k, v, _ := strings.Cut(seg, "=")
		if plus {
			k, v = strings.ReplaceAll(k, "+", " "), strings.ReplaceAll(v, "+", " ")
		}
		dk, err1 := url.PathUnescape(k)
		dv, err2 := url.PathUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, false
		}
		out = append(out, dk+"="+dv)
	}
	sort.Strings(out)
	return out, true
}

func sameParams(a, b string) bool {
	for _, pa := range []bool{false, true} {
		for _, pb := range []bool{false, true} {
			x, ok1 := queryParams(a, pa)
			y, ok2 := queryParams(b, pb)
			if ok1 && ok2 && strings.Join(x, "&") == strings.Join(y, "&") {
				return true
			}
		}
	}
	return false
}

const queryFix = "agree one query normalization with the partner (ours: parameters percent-decoded, re-encoded keeping only unreserved characters with upper-case hex — a space is %20, '+' is %2B — sorted by name then value) and make sure nothing re-encodes the query between the signer and the verifier"

// incommTarget explains an InComm http-method / http-path / http-query
// mismatch.
func (s *state) incommTarget(p profile.InComm) bool {
	h := s.parsed.Header()
	sm, okM := h.ParamString("http-method")
	sp, okP := h.ParamString("http-path")
	sq, okQ := h.ParamString("http-query")
	if !okM || !okP || !okQ {
		return false
	}
	m := s.msg
	var fs []finding
	fixed := *m
	alt := p
	if sm != m.Method {
		fixed.Method = sm
		if strings.EqualFold(sm, m.Method) {
			fs = append(fs, finding{MethodCase,
				fmt.Sprintf("The method differs only in letter case: the signer signed %q, the request says %q.", sm, m.Method),
				"send the method in upper case, exactly as signed: HTTP methods are case-sensitive (RFC 9110 §9.1); find the client or proxy that changes it",
				fmt.Sprintf("the signature covers http-method %q; the request's method is %q", sm, m.Method)})
		} else {
			fs = append(fs, finding{RequestTarget,
				fmt.Sprintf("The signature is for another method (%s), not this request's %s: a misrouted, rewritten or replayed request.", sm, m.Method),
				"find out why the method changed (a redirect turning POST into GET, a proxy) and treat a replay as an attack",
				fmt.Sprintf("the signature covers http-method %q; the request's method is %q", sm, m.Method)})
		}
	}
	if sp != m.Path {
		fixed.Path = sp
		fs = append(fs, pathFinding(sp, m.Path))
	}
	norm := normalizer(p)
	if q, err := norm(m.RawQuery); err != nil || q != sq {
		fs = append(fs, s.incommQuery(&fixed, &alt, norm, sq, q))
	}
	if len(fs) == 0 || !s.confirms(alt, s.trust, &fixed) {
		return false
	}
	ev := make([]string, 0, len(fs)+1)
	for _, f := range fs {
		ev = append(ev, f.evidence)
	}
	ev = append(ev, "with the signed values the signature verifies: it is genuine, for that request target")
	f := fs[0]
	return s.set(f.cause, f.summary, f.fix, ev...)
}

// normalizer returns the http-query normalizer p uses.
func normalizer(p profile.InComm) func(string) (string, error) {
	if p.Query != nil {
		return p.Query
	}
	return profile.NormalizeQuery
}

// incommQuery explains an http-query mismatch and changes fixed or alt so
// that the re-run uses what the signer did.
func (s *state) incommQuery(fixed *profile.Message, alt *profile.InComm, norm func(string) (string, error), signed, ours string) finding {
	raw := fixed.RawQuery
	ev := fmt.Sprintf("the signature covers http-query %q; the request's raw query %q normalizes to %q", signed, raw, ours)
	// Changed in transit: '+' and %20 swapped.
	for _, c := range []struct{ what, raw string }{
		{"a '+' in the query became %20 on the way", strings.ReplaceAll(raw, "%20", "+")},
		{"a space encoded as %20 became '+' on the way (form encoding)", strings.ReplaceAll(raw, "+", "%20")},
	} {
		if c.raw == raw {
			continue
		}
		if q, err := norm(c.raw); err == nil && q == signed {
			fixed.RawQuery = c.raw
			return finding{QueryNormalization, "The query was re-encoded on the way: " + c.what + ".", queryFix,
				ev + fmt.Sprintf("; the raw query %q gives the signed value", c.raw)}
		}
	}
	// The signer normalizes another way.
	for _, c := range []struct {
		what string
		f    func(string) string
	}{
		{"keeps the parameters in request order instead of sorting them", unsortedQuery},
		{"signs the raw query as sent, not normalized", func(r string) string { return prefixQ(r) }},
		{"form-encodes the query (a space as '+', sorted by name only, Go's url.Values.Encode)", formQuery},
		{"reads '+' as a space (%20) before re-encoding", func(r string) string {
			q, _ := profile.NormalizeQuery(strings.ReplaceAll(r, "+", "%20"))
			return q
		}},
		{"uses lower-case hex in percent-encodings", func(r string) string {
			q, _ := norm(r)
			return lowerHex(q)
		}},
	} {
		if c.f(raw) == signed {
			f := c.f
			alt.Query = func(r string) (string, error) { return f(r), nil }
			return finding{QueryNormalization, "The signer normalizes the query differently: it " + c.what + ".", queryFix,
				ev + "; the signer's value is what you get when one " + c.what}
		}
	}
	if sameParams(signed, raw) {
		alt.Query = func(string) (string, error) { return signed, nil }
		return finding{QueryNormalization, "The signer encodes the query differently: the signed http-query has the same parameters and values as the request, written another way.", queryFix,
			ev + "; both hold the same parameters once decoded"}
	}
	alt.Query = func(string) (string, error) { return signed, nil }
	return finding{RequestTarget, fmt.Sprintf("The signature is for another query (%q), not this request's: parameters were added, removed or changed after signing.", signed),
		"find what changes the query parameters after signing (a proxy adding tracking parameters, a client appending defaults), and treat a replay with other parameters as an attack", ev}
}

func prefixQ(r string) string {
	if r == "" {
		return ""
	}
	return "?" + r
}

// unsortedQuery is the default normalization without the sort.
func unsortedQuery(raw string) string {
	var parts []string
	for _, seg := range strings.Split(raw, "&") {
		if seg == "" {
			continue
		}
		q, err := profile.NormalizeQuery(seg)
		if err != nil {
			return ""
		}
		if q == "" {
			continue
		}
		parts = append(parts, q[1:])
	}
	return prefixQ(strings.Join(parts, "&"))
}

func formQuery(raw string) string {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return ""
	}
	return prefixQ(v.Encode())
}

func lowerHex(q string) string {
	b := []byte(q)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			for j := i + 1; j <= i+2; j++ {
				if 'A' <= b[j] && b[j] <= 'F' {
					b[j] += 'a' - 'A'
				}
			}
		}
	}
	return string(b)
}

// swiftTarget explains a Swift aud that is not this request's.
func (s *state) swiftTarget() bool {
	payload, err := s.parsed.JWS.UnsafePayloadWithoutVerification()
	if err != nil {
		return false
	}
	c, err := jose.ParseClaims(payload)
	if err != nil || len(c.Audience) != 1 {
		return false
	}
	aud := c.Audience[0]
	m := s.msg
	i := strings.IndexByte(aud, '/')
	if i < 0 {
		return false
	}
	host, rest := aud[:i], aud[i:]
	apath, aquery, hasQuery := strings.Cut(rest, "?")
	fixed := *m
	var fs []finding
	ourHost := strings.TrimSuffix(m.Host, ":443")
	if !strings.EqualFold(host, ourHost) {
		fixed.Host = host
		fs = append(fs, finding{RequestTarget,
			fmt.Sprintf("The signature is for another host (%q), not this request's %q: the Host header was rewritten on the way, or the request was sent to another endpoint.", host, ourHost),
			"Swift's aud must name the host as the verifier sees it: keep the Host header through proxies (or verify against the original host), and treat a replay to another host as an attack",
			fmt.Sprintf("the signature's aud %q names host %q; the request's Host is %q", aud, host, m.Host)})
	}
	if apath != m.Path {
		fixed.Path = apath
		fs = append(fs, pathFinding(apath, m.Path))
	}
	if hasQuery && aquery != m.RawQuery {
		fixed.RawQuery = aquery
		ev := fmt.Sprintf("the signature's aud carries query %q; the request's query is %q", aquery, m.RawQuery)
		if sameParams(aquery, m.RawQuery) {
			fs = append(fs, finding{QueryNormalization, "The query was re-ordered or re-encoded on the way: the signed aud has the same parameters, written another way.",
				"send the query exactly as signed (Swift compares aud byte for byte): find the client, proxy or framework that re-orders or re-encodes query parameters", ev + "; both hold the same parameters once decoded"})
		} else {
			fs = append(fs, finding{RequestTarget, fmt.Sprintf("The signature is for another query (%q): parameters were added, removed or changed after signing.", aquery),
				"find what changes the query after signing, and treat a replay with other parameters as an attack", ev})
		}
	}
	if len(fs) == 0 || !s.confirms(s.prof, s.trust, &fixed) {
		return false
	}
	ev := make([]string, 0, len(fs)+1)
	for _, f := range fs {
		ev = append(ev, f.evidence)
	}
	ev = append(ev, "with the signed values the request verifies: the signature is genuine, for that request target")
	f := fs[0]
	return s.set(f.cause, f.summary, f.fix, ev...)
}
