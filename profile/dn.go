package profile

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// dnAttr is one attribute of a distinguished name in comparable form.
type dnAttr struct{ typ, value string }

var dnNames = map[string]string{
	"CN": "2.5.4.3", "SERIALNUMBER": "2.5.4.5", "C": "2.5.4.6", "L": "2.5.4.7",
	"ST": "2.5.4.8", "STREET": "2.5.4.9", "O": "2.5.4.10", "OU": "2.5.4.11",
	"POSTALCODE": "2.5.4.17", "DC": "0.9.2342.19200300.100.1.25",
	"UID": "0.9.2342.19200300.100.1.1", "EMAILADDRESS": "1.2.840.113549.1.9.1",
}

// parseDN parses an RFC 4514 string into RDNs (most significant last, as
// written) of attributes with OID types and case-folded values.
func parseDN(s string) ([][]dnAttr, error) {
	var (
		rdns [][]dnAttr
		rdn  []dnAttr
	)
	i := 0
	for {
		// attribute type
		j := strings.IndexByte(s[i:], '=')
		if j < 0 {
			return nil, fmt.Errorf("missing '=' in %q", s[i:])
		}
		typ := strings.TrimSpace(s[i : i+j])
		oid, ok := dnNames[strings.ToUpper(typ)]
		if !ok {
			o, err := parseOID(typ)
			if err != nil {
				return nil, fmt.Errorf("unknown attribute type %q", typ)
			}
			oid = o.String() // "2.5.4.03" is 2.5.4.3
		}
		i += j + 1
		// attribute value
		for i < len(s) && s[i] == ' ' {
			i++
		}
		var val string
		if i < len(s) && s[i] == '#' {
			// RFC 4514 §2.4 hexstring: the BER of the value. pkix.Name.String
			// writes attribute types it has no name for this way (DC,
			// emailAddress, UID), so Swift's own sub claims carry it.
			j := i + 1
			for j < len(s) && isHex(s[j]) {
				j++
			}
			der, err := hex.DecodeString(s[i+1 : j])
			if err != nil {
				return nil, fmt.Errorf("bad hex-encoded attribute value")
			}
			if rest, err := asn1.Unmarshal(der, &val); err != nil || len(rest) > 0 {
				return nil, fmt.Errorf("hex-encoded attribute value is not a DER string")
			}
			for j < len(s) && s[j] == ' ' {
				j++
			}
			if j < len(s) && s[j] != ',' && s[j] != '+' {
				return nil, fmt.Errorf("junk after a hex-encoded attribute value")
			}
			i = j
		} else {
			var v strings.Builder
			trail := 0
			for i < len(s) && s[i] != ',' && s[i] != '+' {
				c := s[i]
				if c == '\\' {
					i++
					if i >= len(s) {
						return nil, fmt.Errorf("dangling escape")
					}
					if i+1 < len(s) && isHex(s[i]) && isHex(s[i+1]) {
						b, _ := hex.DecodeString(s[i : i+2])
						v.WriteByte(b[0])
						i += 2
					} else {
						v.WriteByte(s[i])
						i++
					}
					trail = 0
					continue
				}
				if c == ' ' {
					trail++
				} else {
					trail = 0
				}
				v.WriteByte(c)
				i++
			}
			val = v.String()
			val = val[:len(val)-trail]
		}
		rdn = append(rdn, dnAttr{oid, strings.ToLower(val)})
		if i >= len(s) || s[i] == ',' {
			rdns = append(rdns, rdn)
			rdn = nil
		}
		if i >= len(s) {
			return rdns, nil
		}
		i++
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func parseOID(s string) (asn1.ObjectIdentifier, error) {
	var oid asn1.ObjectIdentifier
	for _, p := range strings.Split(s, ".") {
		n := 0
		if p == "" {
			return nil, fmt.Errorf("bad OID")
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return nil, fmt.Errorf("bad OID")
			}
			n = n*10 + int(c-'0')
		}
		oid = append(oid, n)
	}
	if len(oid) < 2 {
		return nil, fmt.Errorf("bad OID")
	}
	return oid, nil
}

// subjectRDNs returns the certificate's subject RDNs exactly as encoded.
// pkix.Name cannot stand in for them: it regroups repeated attributes into
// one multi-valued RDN (SWIFTNet's "o=bankbebb,o=swift" becomes
// "O=swift+O=bankbebb") and, for a parsed certificate, drops the types it
// has no field for (DC, emailAddress, UID) from ToRDNSequence.
func subjectRDNs(c *x509.Certificate) pkix.RDNSequence {
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(c.RawSubject, &seq); err != nil || len(rest) > 0 {
		return c.Subject.ToRDNSequence()
	}
	return seq
}

// subjectString is the RFC 4514 form of the certificate's subject, as
// encoded: what Swift puts in sub.
func subjectString(c *x509.Certificate) string { return subjectRDNs(c).String() }

// nameRDNs returns seq's RDNs in the order an RFC 4514 string writes them
// (most specific first), comparable with parseDN's output.
func nameRDNs(seq pkix.RDNSequence) [][]dnAttr {
	out := make([][]dnAttr, 0, len(seq))
	for i := len(seq) - 1; i >= 0; i-- {
		var rdn []dnAttr
		for _, a := range seq[i] {
			rdn = append(rdn, dnAttr{a.Type.String(), strings.ToLower(fmt.Sprint(a.Value))})
		}
		out = append(out, rdn)
	}
	return out
}

// sameDN compares two DNs RDN by RDN; attributes within a multi-valued RDN
// compare as a set; types by OID; values case-insensitively.
func sameDN(a, b [][]dnAttr) bool {
	if len(a) != len(b) {
		return false
	}
	cmp := func(x, y dnAttr) int {
		if c := strings.Compare(x.typ, y.typ); c != 0 {
			return c
		}
		return strings.Compare(x.value, y.value)
	}
	for i := range a {
		x, y := slices.Clone(a[i]), slices.Clone(b[i])
		slices.SortFunc(x, cmp)
		slices.SortFunc(y, cmp)
		if !slices.Equal(x, y) {
			return false
		}
	}
	return true
}

// dnMatches reports whether the RFC 4514 string s names the certificate's
// subject.
func dnMatches(s string, c *x509.Certificate) bool {
	rdns, err := parseDN(s)
	return err == nil && sameDN(rdns, nameRDNs(subjectRDNs(c)))
}
