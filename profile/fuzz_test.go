package profile

import (
	"strings"
	"testing"

	"github.com/nonrep/nonrep/jose"
)

// FuzzNormalizeQuery: NormalizeQuery never panics, fails only with
// Malformed, and its output is a fixed point: normalizing it again (without
// the '?') gives it back.
func FuzzNormalizeQuery(f *testing.F) {
	for _, s := range []string{
		"", "a", "a=", "=", "&&", "b=2&a=1", "q=a+b", "q=%7e", "q=%c3%a9", "a=%zz", "a=%", "a=b=c",
		"%26=%3D", "q=a%20b&q=a b", "é=ü", "a=1;b=2", "~=-._", "%00=%FF", "x=%2B&x=+",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out, err := NormalizeQuery(raw)
		if err != nil {
			if jose.CodeOf(err) != jose.Malformed || out != "" {
				t.Fatalf("NormalizeQuery(%q) = %q, %v", raw, out, err)
			}
			return
		}
		if out == "" {
			if strings.Trim(raw, "&") != "" {
				t.Fatalf("NormalizeQuery(%q) = \"\" for a query with parameters", raw)
			}
			return
		}
		if out[0] != '?' {
			t.Fatalf("NormalizeQuery(%q) = %q: no '?'", raw, out)
		}
		for i := 1; i < len(out); i++ {
			c := out[i]
			unreserved := 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-._~%&=", c) >= 0
			if !unreserved || 'a' <= c && c <= 'f' && i >= 2 && out[i-1] == '%' {
				t.Fatalf("NormalizeQuery(%q) = %q: byte %q at %d", raw, out, c, i)
			}
		}
		again, err := NormalizeQuery(out[1:])
		if err != nil || again != out {
			t.Fatalf("not idempotent: %q → %q → %q (%v)", raw, out, again, err)
		}
	})
}

// FuzzParseDN: parseDN never panics, and a DN it accepts equals itself.
func FuzzParseDN(f *testing.F) {
	for _, s := range []string{
		"CN=a,O=b", `CN=a\,b`, "CN=a+OU=b,O=c", "2.5.4.3=x", `CN=\ a\ `, `CN=caf\C3\A9`, "CN=#13016161",
		"CN=#", "=", ",", "+", `\`, "CN=a,", "1.2=x", "0.9.2342.19200300.100.1.25=#13076578616d706c65",
		"cn=api,o=bankbebb,o=swift", " CN = a ", "CN=a  ", `CN=\`, "CN=a=b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rdns, err := parseDN(s)
		if err != nil {
			return
		}
		if len(rdns) == 0 || !sameDN(rdns, rdns) {
			t.Fatalf("parseDN(%q) = %v", s, rdns)
		}
	})
}
