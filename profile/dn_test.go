package profile

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
)

func TestParseDN(t *testing.T) {
	a := func(typ, v string) dnAttr { return dnAttr{typ, v} }
	const cn, o, ou, c, dc, email = "2.5.4.3", "2.5.4.10", "2.5.4.11", "2.5.4.6", "0.9.2342.19200300.100.1.25", "1.2.840.113549.1.9.1"
	for _, tc := range []struct {
		name string
		in   string
		want [][]dnAttr // nil: an error
	}{
		{"simple", "CN=api,O=Bank,C=BE", [][]dnAttr{{a(cn, "api")}, {a(o, "bank")}, {a(c, "be")}}},
		{"lower-case types", "cn=api,o=bank", [][]dnAttr{{a(cn, "api")}, {a(o, "bank")}}},
		{"spaces around separators", " CN = api , O = bank ", [][]dnAttr{{a(cn, "api")}, {a(o, "bank")}}},
		{"escaped comma", `CN=Doe\, John,O=x`, [][]dnAttr{{a(cn, "doe, john")}, {a(o, "x")}}},
		{"escaped plus and specials", `CN=a\+b\;c\<d\>e\"f\\g\=h`, [][]dnAttr{{a(cn, `a+b;c<d>e"f\g=h`)}}},
		{"hex escape", `CN=caf\C3\A9`, [][]dnAttr{{a(cn, "café")}}},
		{"escaped leading and trailing space kept", `CN=\ a\ `, [][]dnAttr{{a(cn, " a ")}}},
		{"unescaped trailing spaces trimmed", `CN=a  ,O=b`, [][]dnAttr{{a(cn, "a")}, {a(o, "b")}}},
		{"inner spaces kept", `CN=a  b`, [][]dnAttr{{a(cn, "a  b")}}},
		{"multi-valued RDN", "CN=a+OU=b,O=c", [][]dnAttr{{a(cn, "a"), a(ou, "b")}, {a(o, "c")}}},
		{"OID type", "2.5.4.3=api", [][]dnAttr{{a(cn, "api")}}},
		{"OID type with a leading zero", "2.5.4.03=api", [][]dnAttr{{a(cn, "api")}}},
		{"DC and emailAddress", "emailAddress=A@B.C,DC=example", [][]dnAttr{{a(email, "a@b.c")}, {a(dc, "example")}}},
		{"hex value (PrintableString)", "0.9.2342.19200300.100.1.25=#13076578616d706c65", [][]dnAttr{{a(dc, "example")}}},
		{"hex value (UTF8String) in a multi-valued RDN", "1.2.840.113549.1.9.1=#0c056140622e63+CN=x", [][]dnAttr{{a(email, "a@b.c"), a(cn, "x")}}},
		{"empty value", "CN=,O=x", [][]dnAttr{{a(cn, "")}, {a(o, "x")}}},
		{"'=' in a value", "CN=a=b", [][]dnAttr{{a(cn, "a=b")}}},
		{"empty string", "", nil},
		{"no '='", "api", nil},
		{"unknown type", "XX=1", nil},
		{"bad OID", "2.=1", nil},
		{"one-arc OID", "2=1", nil},
		{"trailing comma", "CN=a,", nil},
		{"dangling escape", `CN=a\`, nil},
		{"hex value not DER", "CN=#zz", nil},
		{"hex value not a string", "CN=#020101", nil},
		{"junk after hex value", "CN=#13016178", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseDN(tc.in)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("parseDN(%q) = %v, want an error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseDN(%q): %v", tc.in, err)
			}
			if !sameDN(got, tc.want) || len(got) != len(tc.want) {
				t.Fatalf("parseDN(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestSameDN(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"CN=a,O=b", "cn=A,o=B", true},
		{"CN=a,O=b", "2.5.4.3=a,2.5.4.10=b", true},
		{"CN=a+OU=x,O=b", "OU=x+CN=a,O=b", true},
		{`CN=a\, b,O=c`, `CN=a\2C b,O=c`, true},
		{"CN=a,O=b", "O=b,CN=a", false},           // RDN order matters
		{"CN=a,O=b", "CN=a,O=b,C=BE", false},      // one more RDN
		{"CN=a+OU=x,O=b", "CN=a,OU=x,O=b", false}, // multi-valued vs separate
		{"CN=a,O=b", "CN=a,OU=b", false},          // type differs
		{"CN=a,O=b", "CN=a,O=c", false},           // value differs
		{"CN=a b,O=c", "CN=a  b,O=c", false},      // inner spaces are not folded
		{"CN=a+CN=a,O=b", "CN=a,O=b", false},      // attribute count
		{"EMAILADDRESS=x@y", "1.2.840.113549.1.9.1=X@Y", true},
	} {
		a, err := parseDN(tc.a)
		if err != nil {
			t.Fatal(err)
		}
		b, err := parseDN(tc.b)
		if err != nil {
			t.Fatal(err)
		}
		if sameDN(a, b) != tc.same || sameDN(b, a) != tc.same {
			t.Errorf("sameDN(%q, %q) = %v, want %v", tc.a, tc.b, !tc.same, tc.same)
		}
	}
}

// TestDNMatchesCertificate compares strings with certificate subjects as
// encoded, including those pkix.Name regroups or cannot print by name.
func TestDNMatchesCertificate(t *testing.T) {
	var (
		oidCN = asn1.ObjectIdentifier{2, 5, 4, 3}
		oidO  = asn1.ObjectIdentifier{2, 5, 4, 10}
		oidDC = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
	)
	one := func(oid asn1.ObjectIdentifier, v string) []pkix.AttributeTypeAndValue {
		return []pkix.AttributeTypeAndValue{{Type: oid, Value: v}}
	}
	mk := func(seq pkix.RDNSequence) *x509.Certificate {
		raw, err := asn1.Marshal(seq)
		if err != nil {
			t.Fatal(err)
		}
		return &x509.Certificate{RawSubject: raw}
	}
	swiftnet := mk(pkix.RDNSequence{one(oidO, "swift"), one(oidO, "bankbebb"), one(oidCN, "api")})
	grouped := mk(pkix.RDNSequence{{{Type: oidO, Value: "swift"}, {Type: oidO, Value: "bankbebb"}}, one(oidCN, "api")})
	withDC := mk(pkix.RDNSequence{one(oidDC, "com"), one(oidDC, "example"), one(oidCN, "x")})
	for _, tc := range []struct {
		s     string
		cert  *x509.Certificate
		match bool
	}{
		{"cn=api,o=bankbebb,o=swift", swiftnet, true},
		{"CN=api,O=BANKBEBB,O=SWIFT", swiftnet, true},
		{"CN=api,O=bankbebb+O=swift", swiftnet, false},
		{"cn=api,o=swift,o=bankbebb", swiftnet, false},
		{"CN=api,O=bankbebb+O=swift", grouped, true},
		{"cn=api,o=bankbebb,o=swift", grouped, false},
		{"CN=x,DC=example,DC=com", withDC, true},
		{subjectString(withDC), withDC, true},
		{subjectString(swiftnet), swiftnet, true},
		{"CN=x,DC=example", withDC, false},
		{"not a DN", swiftnet, false},
	} {
		if got := dnMatches(tc.s, tc.cert); got != tc.match {
			t.Errorf("dnMatches(%q, %s) = %v, want %v", tc.s, subjectString(tc.cert), got, tc.match)
		}
	}
	if got := subjectString(swiftnet); got != "CN=api,O=bankbebb,O=swift" {
		t.Errorf("subjectString = %q", got)
	}
	// A certificate with an unparsable raw subject falls back to Subject.
	bad := &x509.Certificate{RawSubject: []byte{0x30, 0x01}, Subject: pkix.Name{CommonName: "fallback"}}
	if !dnMatches("CN=fallback", bad) {
		t.Error("no fallback to Subject")
	}
}
