package profile

import (
	"testing"

	"github.com/nonrep/nonrep/jose"
)

func TestNormalizeQuery(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		code           jose.Code
	}{
		{"empty", "", "", ""},
		{"one parameter", "a=1", "?a=1", ""},
		{"name only", "a", "?a=", ""},
		{"name with empty value", "a=", "?a=", ""},
		{"empty name", "=1", "?=1", ""},
		{"only '='", "=", "?=", ""},
		{"sorted by name", "b=1&a=2&c=0", "?a=2&b=1&c=0", ""},
		{"then by value", "a=2&a=10&a=1", "?a=1&a=10&a=2", ""},
		{"duplicates kept", "a=1&a=1", "?a=1&a=1", ""},
		{"name prefix sorts first", "ab=1&a=2", "?a=2&ab=1", ""},
		{"upper case before lower (byte order)", "b=1&B=2&a=3", "?B=2&a=3&b=1", ""},
		// Decoded, é (0xC3) would sort after z and ~; encoded, "%" sorts first.
		{"sorting compares encoded forms", "%C3%A9=1&z=2&~=3&%20=4", "?%20=4&%C3%A9=1&z=2&~=3", ""},
		{"space is %20", "q=a%20b", "?q=a%20b", ""},
		{"'+' is a plus, not a space", "q=a+b", "?q=a%2Bb", ""},
		{"encoded '+' stays", "q=a%2Bb", "?q=a%2Bb", ""},
		{"'~' literal", "q=~x", "?q=~x", ""},
		{"%7e becomes ~", "q=%7e%7E", "?q=~~", ""},
		{"unreserved decoded", "%61%2D%2e%5F=%41%5a%30", "?a-._=AZ0", ""},
		{"lower-case hex upper-cased", "q=%c3%a9", "?q=%C3%A9", ""},
		{"reserved characters encoded", "q=/?:@!$'()*,;", "?q=%2F%3F%3A%40%21%24%27%28%29%2A%2C%3B", ""},
		{"encoded '&' and '=' stay data", "a%26b=c%3Dd", "?a%26b=c%3Dd", ""},
		{"second '=' is data", "a=b=c", "?a=b%3Dc", ""},
		{"raw UTF-8 encoded", "q=é", "?q=%C3%A9", ""},
		{"invalid UTF-8 bytes kept as bytes", "q=%FF", "?q=%FF", ""},
		{"empty segments dropped", "&a=1&&b=2&", "?a=1&b=2", ""},
		{"only separators", "&&&", "", ""},
		{"';' is not a separator", "a=1;b=2", "?a=1%3Bb%3D2", ""},
		{"'#' is data", "a=#", "?a=%23", ""},
		{"bad escape in value", "a=%zz", "", jose.Malformed},
		{"bad escape in name", "%g1=1", "", jose.Malformed},
		{"truncated escape", "a=%4", "", jose.Malformed},
		{"lone percent", "a=%", "", jose.Malformed},
		{"bad escape after good ones", "a=1&b=%", "", jose.Malformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeQuery(tc.in)
			wantCode(t, err, tc.code)
			if got != tc.want {
				t.Fatalf("NormalizeQuery(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if got != "" {
				again, err := NormalizeQuery(got[1:])
				if err != nil || again != got {
					t.Fatalf("not idempotent: %q → %q (%v)", got, again, err)
				}
			}
		})
	}
}
