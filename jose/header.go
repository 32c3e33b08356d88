package jose

import (
	"encoding/base64"
	"strings"
)

// Header is a parsed JOSE protected header (RFC 7515 §4). Only the
// registered parameters are decoded into fields; every member, registered
// or not, is available through Param with its exact JSON text.
//
// A Header returned by this package has passed the strict checks in the
// package documentation. It is safe for concurrent reads.
type Header struct {
	// Raw is the exact decoded bytes of the protected header: what was
	// signed. Evidence stores these bytes, never a re-serialization.
	Raw []byte

	Alg  Alg
	Kid  string
	Typ  string
	Cty  string
	Crit []string
	// B64 is false only when the header carries "b64": false (RFC 7797):
	// the payload is then signed as raw bytes.
	B64 bool
	// X5C is the certificate chain from "x5c", DER, leaf first. It is never
	// trusted by itself; see Policy.Roots.
	X5C [][]byte
	// X5T and X5TS256 are the decoded "x5t" (SHA-1) and "x5t#S256" values.
	X5T, X5TS256 []byte
	// JKU, X5U and JWK are informational only: they never choose or supply
	// the verification key.
	JKU, X5U string
	JWK      []byte

	members []member
	hasB64  bool
	// inline holds the members of a typical header without a separate
	// allocation.
	inline [8]member
}

// registeredJWS lists the header parameters registered by RFC 7515 §4.1 and
// RFC 7797; these may not appear in crit, nor in an unprotected header.
var registeredJWS = []string{"alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit", "b64"}

// registeredJWE lists JWE parameters (RFC 7516, RFC 7518 §4, §7.1) that a
// JWS header must not carry.
var registeredJWE = []string{"enc", "zip", "epk", "apu", "apv", "iv", "tag", "p2s", "p2c"}

func isRegistered(name string) bool {
	for _, r := range registeredJWS {
		if r == name {
			return true
		}
	}
	for _, r := range registeredJWE {
		if r == name {
			return true
		}
	}
	return false
}

// Param returns the exact JSON text of the named member and whether it is
// present.
func (h *Header) Param(name string) ([]byte, bool) {
	for i := range h.members {
		if h.members[i].name == name {
			return h.members[i].raw, true
		}
	}
	return nil, false
}

// Names returns the member names in the order they appear.
func (h *Header) Names() []string {
	out := make([]string, len(h.members))
	for i, m := range h.members {
		out[i] = m.name
	}
	return out
}

// ParamString returns a string-valued member. ok is false if the member is
// absent or not a JSON string.
func (h *Header) ParamString(name string) (v string, ok bool) {
	for i := range h.members {
		if h.members[i].name == name {
			s, err := h.members[i].jsonString()
			return s, err == nil
		}
	}
	return "", false
}

// parseProtected parses and checks the decoded protected header raw. It
// checks syntax, member names and the JSON types of registered parameters,
// crit's shape, and b64; it does not check whether crit names are
// understood, which depends on the verifier's policy (see checkCrit).
func (h *Header) parse(raw []byte) error {
	*h = Header{Raw: raw, B64: true}
	members, err := parseObjectInto(raw, "protected header", h.inline[:0])
	if err != nil {
		return err
	}
	h.members = members
	if err := checkCaseVariants(members, "protected header"); err != nil {
		return err
	}
	for i := range members {
		m := &members[i]
		switch m.name {
		case "alg":
			s, err := m.jsonString()
			if err != nil {
				return err
			}
			h.Alg = Alg(s)
		case "kid":
			if h.Kid, err = m.jsonString(); err != nil {
				return err
			}
		case "typ":
			if h.Typ, err = m.jsonString(); err != nil {
				return err
			}
		case "cty":
			if h.Cty, err = m.jsonString(); err != nil {
				return err
			}
		case "jku":
			if h.JKU, err = m.jsonString(); err != nil {
				return err
			}
		case "x5u":
			if h.X5U, err = m.jsonString(); err != nil {
				return err
			}
		case "jwk":
			if m.kind != kindObject {
				return errorf(Malformed, `"jwk" must be a JSON object, not %s`, m.kind)
			}
			h.JWK = m.raw
		case "crit":
			if h.Crit, err = m.stringArray(); err != nil {
				return err
			}
		case "b64":
			switch m.kind {
			case kindTrue:
				h.B64 = true
			case kindFalse:
				h.B64 = false
			default:
				return errorf(Malformed, `"b64" must be a JSON boolean, not %s`, m.kind)
			}
			h.hasB64 = true
		case "x5c":
			if h.X5C, err = parseX5C(m); err != nil {
				return err
			}
		case "x5t":
			if h.X5T, err = decodeThumbParam(m, 20); err != nil {
				return err
			}
		case "x5t#S256":
			if h.X5TS256, err = decodeThumbParam(m, 32); err != nil {
				return err
			}
		default:
			for _, r := range registeredJWE {
				if m.name == r {
					return errorf(HeaderInvalid, "JWE parameter %s in a JWS header", quote(r))
				}
			}
		}
	}
	if _, ok := h.Param("alg"); !ok {
		return errorf(Malformed, `protected header has no "alg"`)
	}
	if h.Alg == "" || strings.EqualFold(string(h.Alg), "none") {
		// RFC 7518 §3.6 "none" is never accepted, whatever a policy says.
		return errorf(AlgNotAllowed, "alg %s is never accepted", quote(string(h.Alg)))
	}
	if _, ok := h.Param("crit"); ok {
		if err := checkCritShape(h); err != nil {
			return err
		}
	}
	// RFC 7797 §6: "b64" must be understood; we require it listed in crit
	// whenever it is present, whatever its value.
	if h.hasB64 && !h.critHas("b64") {
		return errorf(HeaderInvalid, `"b64" present but not listed in "crit"`)
	}
	return nil
}

// checkCaseVariants rejects two members whose names differ only in case, and
// a member whose name is a case variant of a registered parameter ("ALG").
// Parsers that match names case-insensitively would read such a header
// differently from us.
func checkCaseVariants(members []member, what string) error {
	for i := range members {
		n := members[i].name
		for j := 0; j < i; j++ {
			if strings.EqualFold(n, members[j].name) {
				return errorf(Malformed, "%s has members differing only in case: %s, %s", what, quote(members[j].name), quote(n))
			}
		}
		if !isRegistered(n) {
			for _, r := range registeredJWS {
				if strings.EqualFold(n, r) {
					return errorf(Malformed, "%s has %s, a case variant of %q", what, quote(n), r)
				}
			}
		}
	}
	return nil
}

func (h *Header) critHas(name string) bool {
	for _, c := range h.Crit {
		if c == name {
			return true
		}
	}
	return false
}

// checkCritShape applies RFC 7515 §4.1.11 independent of policy: a non-empty
// array of unique names, none registered by RFC 7515/7518, each present in
// this (protected) header.
func checkCritShape(h *Header) error {
	if len(h.Crit) == 0 {
		return errorf(CritUnsupported, `"crit" must not be empty`)
	}
	for i, c := range h.Crit {
		for _, o := range h.Crit[:i] {
			if o == c {
				return errorf(CritUnsupported, `"crit" lists %s twice`, quote(c))
			}
		}
		if c != "b64" && isRegistered(c) {
			return errorf(CritUnsupported, `"crit" lists %s, a parameter registered by RFC 7515/7518`, quote(c))
		}
		if _, ok := h.Param(c); !ok {
			return errorf(CritUnsupported, `"crit" lists %s, which is not in the protected header`, quote(c))
		}
	}
	return nil
}

// checkCrit requires every crit name to be understood: "b64", or a name in
// understood.
func (h *Header) checkCrit(understood []string) error {
	for _, c := range h.Crit {
		if c == "b64" {
			continue
		}
		ok := false
		for _, u := range understood {
			if u == c {
				ok = true
				break
			}
		}
		if !ok {
			return errorf(CritUnsupported, `"crit" lists %s, which this verifier does not understand`, quote(c))
		}
	}
	return nil
}

func parseX5C(m *member) ([][]byte, error) {
	certs, err := m.stringArray()
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, errorf(Malformed, `"x5c" must not be empty`)
	}
	if len(certs) > maxX5C {
		return nil, errorf(TooLarge, `"x5c" has %d certificates; at most %d`, len(certs), maxX5C)
	}
	out := make([][]byte, len(certs))
	for i, c := range certs {
		// RFC 7515 §4.1.6: base64 (not base64url) DER, padded.
		der, err := base64.StdEncoding.Strict().DecodeString(c)
		if err != nil || strings.ContainsAny(c, "\r\n") || len(der) == 0 {
			return nil, errorf(Malformed, `"x5c"[%d] is not standard base64`, i)
		}
		out[i] = der
	}
	return out, nil
}

// maxX5C bounds the length of an x5c chain.
const maxX5C = 8

func decodeThumbParam(m *member, size int) ([]byte, error) {
	s, err := m.jsonString()
	if err != nil {
		return nil, err
	}
	b, err := decodeB64(s, quote(m.name))
	if err != nil {
		return nil, err
	}
	if len(b) != size {
		return nil, errorf(Malformed, "%s must be %d bytes", quote(m.name), size)
	}
	return b, nil
}

// checkUnprotected applies our rule for JSON serializations' unprotected
// "header": it is a JSON object whose names do not overlap the protected
// header's, and it carries no registered parameter and no name the
// verifier treats as critical: everything that decides how a signature is
// checked must be integrity protected.
func checkUnprotected(raw []byte, protected *Header, understood []string, allowKid bool) error {
	members, err := parseObject(raw, "unprotected header")
	if err != nil {
		return err
	}
	if err := checkCaseVariants(members, "unprotected header"); err != nil {
		return err
	}
	for _, m := range members {
		if m.name == "kid" && allowKid {
			if m.kind != kindString {
				return errorf(Malformed, `"kid" must be a JSON string, not %s`, m.kind)
			}
		} else if isRegistered(m.name) {
			return errorf(HeaderInvalid, "%s must be in the protected header, not the unprotected one", quote(m.name))
		}
		for _, u := range understood {
			if u == m.name {
				return errorf(HeaderInvalid, "%s must be in the protected header, not the unprotected one", quote(m.name))
			}
		}
		for _, pm := range protected.members {
			if strings.EqualFold(pm.name, m.name) {
				return errorf(HeaderInvalid, "%s appears in both the protected and unprotected headers", quote(m.name))
			}
		}
	}
	return nil
}
