package profile

import (
	"net/url"
	"sort"
	"strings"

	"github.com/nonrep/nonrep/jose"
)

// NormalizeQuery is the default http-query rule (../shared/SCHEMES.md):
// "?" followed by the parameters sorted by name then value and joined by
// "&"; each name and value is percent-decoded and re-encoded so that only
// RFC 3986 unreserved characters stay literal, with upper-case hex. A space
// is "%20"; a literal '+' is kept as the character '+' and so encodes as
// "%2B" (we do not read '+' as a space: the signer and verifier must agree
// on bytes, not on form semantics). Empty segments ("a=1&&b=2") are
// dropped; a parameter without '=' normalizes as "name=". The empty query
// is "". Invalid percent-encoding is Malformed.
func NormalizeQuery(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	type pair struct{ k, v string }
	var ps []pair
	for _, seg := range strings.Split(raw, "&") {
		if seg == "" {
			continue
		}
		k, v, _ := strings.Cut(seg, "=")
		dk, err := url.PathUnescape(k)
		if err != nil {
			return "", errorf(jose.Malformed, "query parameter name %q has invalid percent-encoding", k)
		}
		dv, err := url.PathUnescape(v)
		if err != nil {
			return "", errorf(jose.Malformed, "query parameter %q has invalid percent-encoding", k)
		}
		ps = append(ps, pair{encodeUnreserved(dk), encodeUnreserved(dv)})
	}
	if len(ps) == 0 {
		return "", nil
	}
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].k != ps[j].k {
			return ps[i].k < ps[j].k
		}
		return ps[i].v < ps[j].v
	})
	var b strings.Builder
	b.WriteByte('?')
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String(), nil
}

func encodeUnreserved(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
