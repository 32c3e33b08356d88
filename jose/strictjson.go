package jose

import (
	"bytes"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is a small, strict JSON reader for untrusted headers, JWKs and
// claims sets. Go's encoding/json matches struct fields case-insensitively
// and keeps the last of duplicate members; both have been used to smuggle a
// second "alg" past one parser and not another. Here:
//
//   - the input is exactly one JSON value (RFC 8259), with nothing after it
//     but whitespace;
//   - strings are valid UTF-8 with no unescaped control characters and no
//     lone surrogate escapes (RFC 7493 I-JSON §2.1);
//   - no object, at any depth, has two members with the same name
//     (RFC 7493 §2.3; RFC 7515 §4 "MUST reject");
//   - nesting is bounded.

// jsonKind is the type of a JSON value.
type jsonKind uint8

const (
	kindNull jsonKind = iota
	kindFalse
	kindTrue
	kindNumber
	kindString
	kindArray
	kindObject
)

func (k jsonKind) String() string {
	return [...]string{"null", "false", "true", "number", "string", "array", "object"}[k]
}

// member is one name/value pair of a JSON object. raw is the exact JSON text
// of the value.
type member struct {
	name string
	kind jsonKind
	raw  []byte
}

// maxJSONDepth bounds nesting of arrays and objects.
const maxJSONDepth = 32

type jsonScanner struct {
	data []byte
	pos  int
}

func jsonErr(format string, args ...any) *Error {
	return errorf(Malformed, "json: "+format, args...)
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (s *jsonScanner) skipSpace() {
	for s.pos < len(s.data) && isJSONSpace(s.data[s.pos]) {
		s.pos++
	}
}

// parseObject parses data as one JSON object and returns its members in
// order. what names the document in error details.
func parseObject(data []byte, what string) ([]member, error) {
	return parseObjectInto(data, what, nil)
}

// parseObjectInto is parseObject appending to buf[:0], so that a caller can
// supply inline storage and avoid an allocation on the hot path.
func parseObjectInto(data []byte, what string, buf []member) ([]member, error) {
	s := jsonScanner{data: data}
	s.skipSpace()
	if s.pos >= len(data) || data[s.pos] != '{' {
		return nil, jsonErr("%s is not a JSON object", what)
	}
	members, err := s.objectInto(0, buf)
	if err != nil {
		return nil, err
	}
	s.skipSpace()
	if s.pos != len(data) {
		return nil, jsonErr("%s has trailing data after the JSON object", what)
	}
	return members, nil
}

// validJSON reports whether data is exactly one strict JSON value.
func validJSON(data []byte) error {
	s := jsonScanner{data: data}
	s.skipSpace()
	if _, err := s.value(0); err != nil {
		return err
	}
	s.skipSpace()
	if s.pos != len(data) {
		return jsonErr("trailing data after the JSON value")
	}
	return nil
}

// value parses any value at s.pos and returns its kind.
func (s *jsonScanner) value(depth int) (jsonKind, error) {
	if s.pos >= len(s.data) {
		return 0, jsonErr("unexpected end of input")
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		_, err := s.object(depth, false)
		return kindObject, err
	case c == '[':
		return kindArray, s.array(depth)
	case c == '"':
		_, err := s.str()
		return kindString, err
	case c == 't':
		return kindTrue, s.literal("true")
	case c == 'f':
		return kindFalse, s.literal("false")
	case c == 'n':
		return kindNull, s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return kindNumber, s.number()
	default:
		return 0, jsonErr("unexpected character %q at offset %d", c, s.pos)
	}
}

func (s *jsonScanner) literal(lit string) error {
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		return jsonErr("invalid literal at offset %d", s.pos)
	}
	s.pos += len(lit)
	return nil
}

// number validates the RFC 8259 number grammar.
func (s *jsonScanner) number() error {
	d, i := s.data, s.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		return jsonErr("invalid number at offset %d", s.pos)
	}
	if i < len(d) && d[i] == '.' {
		i++
		start := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == start {
			return jsonErr("invalid number at offset %d", s.pos)
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		start := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == start {
			return jsonErr("invalid number at offset %d", s.pos)
		}
	}
	s.pos = i
	return nil
}

// str scans a string at s.pos and returns its raw text including quotes,
// after validating escapes, UTF-8 and surrogates.
func (s *jsonScanner) str() ([]byte, error) {
	d, start := s.data, s.pos
	i := start + 1
	for {
		if i >= len(d) {
			return nil, jsonErr("unterminated string at offset %d", start)
		}
		c := d[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return d[start:s.pos], nil
		case c < 0x20:
			return nil, jsonErr("control character in string at offset %d", i)
		case c == '\\':
			if i+1 >= len(d) {
				return nil, jsonErr("unterminated escape at offset %d", i)
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				r, ok := hex4(d, i+2)
				if !ok {
					return nil, jsonErr("invalid \\u escape at offset %d", i)
				}
				i += 6
				if utf16.IsSurrogate(r) {
					// Must be a high surrogate followed by an escaped low one.
					if r >= 0xDC00 || i+1 >= len(d) || d[i] != '\\' || d[i+1] != 'u' {
						return nil, jsonErr("lone surrogate at offset %d", i-6)
					}
					r2, ok := hex4(d, i+2)
					if !ok || r2 < 0xDC00 || r2 > 0xDFFF {
						return nil, jsonErr("lone surrogate at offset %d", i-6)
					}
					i += 6
				}
			default:
				return nil, jsonErr("invalid escape at offset %d", i)
			}
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && size <= 1 {
				return nil, jsonErr("invalid UTF-8 at offset %d", i)
			}
			i += size
		}
	}
}

func hex4(d []byte, i int) (rune, bool) {
	if i+4 > len(d) {
		return 0, false
	}
	var r rune
	for _, c := range d[i : i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

func (s *jsonScanner) array(depth int) error {
	if depth >= maxJSONDepth {
		return jsonErr("nesting deeper than %d", maxJSONDepth)
	}
	s.pos++ // '['
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		return nil
	}
	for {
		s.skipSpace()
		if _, err := s.value(depth + 1); err != nil {
			return err
		}
		s.skipSpace()
		if s.pos >= len(s.data) {
			return jsonErr("unterminated array")
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return jsonErr("expected ',' or ']' at offset %d", s.pos)
		}
	}
}

// object parses an object. When collect is true the members are returned;
// otherwise only validated. Duplicate names are rejected either way.
func (s *jsonScanner) object(depth int, collect bool) ([]member, error) {
	if !collect {
		return s.objectMembers(depth, false, nil)
	}
	return s.objectMembers(depth, true, make([]member, 0, 8))
}

// objectInto parses an object, appending its members to buf[:0] (or a new
// slice when buf is nil).
func (s *jsonScanner) objectInto(depth int, buf []member) ([]member, error) {
	if buf == nil {
		buf = make([]member, 0, 8)
	}
	return s.objectMembers(depth, true, buf[:0])
}

func (s *jsonScanner) objectMembers(depth int, collect bool, members []member) ([]member, error) {
	if depth >= maxJSONDepth {
		return nil, jsonErr("nesting deeper than %d", maxJSONDepth)
	}
	s.pos++ // '{'
	var names nameSet
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		return members, nil
	}
	for {
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return nil, jsonErr("expected member name at offset %d", s.pos)
		}
		rawName, err := s.str()
		if err != nil {
			return nil, err
		}
		name, err := unquote(rawName)
		if err != nil {
			return nil, err
		}
		if !names.add(name) {
			return nil, jsonErr("duplicate member name %s", quote(name))
		}
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return nil, jsonErr("expected ':' at offset %d", s.pos)
		}
		s.pos++
		s.skipSpace()
		start := s.pos
		kind, err := s.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if collect {
			members = append(members, member{name: name, kind: kind, raw: s.data[start:s.pos]})
		}
		s.skipSpace()
		if s.pos >= len(s.data) {
			return nil, jsonErr("unterminated object")
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return members, nil
		default:
			return nil, jsonErr("expected ',' or '}' at offset %d", s.pos)
		}
	}
}

// nameSet detects duplicate member names: a linear scan over a fixed array
// for small objects, a map beyond that so that a large hostile object
// cannot make parsing quadratic.
type nameSet struct {
	small [16]string
	n     int
	m     map[string]struct{}
}

func (ns *nameSet) add(name string) bool {
	if ns.m == nil {
		for _, o := range ns.small[:ns.n] {
			if o == name {
				return false
			}
		}
		if ns.n < len(ns.small) {
			ns.small[ns.n] = name
			ns.n++
			return true
		}
		ns.m = make(map[string]struct{}, 2*len(ns.small))
		for _, o := range ns.small {
			ns.m[o] = struct{}{}
		}
	}
	if _, dup := ns.m[name]; dup {
		return false
	}
	ns.m[name] = struct{}{}
	return true
}

// internName returns well-known member names without allocating.
func internName(b []byte) string {
	switch string(b) {
	case "alg":
		return "alg"
	case "kid":
		return "kid"
	case "typ":
		return "typ"
	case "cty":
		return "cty"
	case "crit":
		return "crit"
	case "b64":
		return "b64"
	case "jku":
		return "jku"
	case "jwk":
		return "jwk"
	case "x5u":
		return "x5u"
	case "x5c":
		return "x5c"
	case "x5t":
		return "x5t"
	case "x5t#S256":
		return "x5t#S256"
	case "iat":
		return "iat"
	case "exp":
		return "exp"
	case "nbf":
		return "nbf"
	case "iss":
		return "iss"
	case "sub":
		return "sub"
	case "aud":
		return "aud"
	case "jti":
		return "jti"
	case "kty":
		return "kty"
	case "crv":
		return "crv"
	case "use":
		return "use"
	case "key_ops":
		return "key_ops"
	case "x":
		return "x"
	case "y":
		return "y"
	case "n":
		return "n"
	case "e":
		return "e"
	case "d":
		return "d"
	case "k":
		return "k"
	case "payload":
		return "payload"
	case "protected":
		return "protected"
	case "header":
		return "header"
	case "signature":
		return "signature"
	case "signatures":
		return "signatures"
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
		"ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512":
		for _, a := range [...]string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
			"ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512"} {
			if a == string(b) {
				return a
			}
		}
	case "JWT":
		return "JWT"
	case "JOSE":
		return "JOSE"
	case "sig":
		return "sig"
	case "RSA":
		return "RSA"
	case "EC":
		return "EC"
	case "OKP":
		return "OKP"
	case "oct":
		return "oct"
	case "P-256":
		return "P-256"
	case "P-384":
		return "P-384"
	case "P-521":
		return "P-521"
	case "Ed25519":
		return "Ed25519"
	}
	return string(b)
}

// unquote decodes the raw text of a JSON string that str has validated.
func unquote(raw []byte) (string, error) {
	body := raw[1 : len(raw)-1]
	simple := true
	for _, c := range body {
		if c == '\\' {
			simple = false
			break
		}
	}
	if simple {
		return internName(body), nil
	}
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); {
		c := body[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch body[i+1] {
		case '"':
			out = append(out, '"')
		case '\\':
			out = append(out, '\\')
		case '/':
			out = append(out, '/')
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, _ := hex4(body, i+2)
			i += 6
			if utf16.IsSurrogate(r) {
				r2, _ := hex4(body, i+2)
				r = utf16.DecodeRune(r, r2)
				i += 6
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return "", jsonErr("invalid escape")
		}
		i += 2
	}
	return string(out), nil
}

// jsonString decodes a member that must be a JSON string.
func (m *member) jsonString() (string, error) {
	if m.kind != kindString {
		return "", errorf(Malformed, "%s must be a JSON string, not %s", quote(m.name), m.kind)
	}
	return unquote(m.raw)
}

// stringArray decodes a member that must be an array of strings.
func (m *member) stringArray() ([]string, error) {
	if m.kind != kindArray {
		return nil, errorf(Malformed, "%s must be a JSON array of strings, not %s", quote(m.name), m.kind)
	}
	s := jsonScanner{data: m.raw, pos: 1}
	var out []string
	s.skipSpace()
	if s.data[s.pos] == ']' {
		return []string{}, nil
	}
	for {
		s.skipSpace()
		if s.data[s.pos] != '"' {
			return nil, errorf(Malformed, "%s must be a JSON array of strings", quote(m.name))
		}
		raw, err := s.str()
		if err != nil {
			return nil, err
		}
		v, err := unquote(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		s.skipSpace()
		if s.data[s.pos] == ']' {
			return out, nil
		}
		s.pos++ // ',' (validated by the first pass)
	}
}

// maxSafeInteger is 2^53: the largest magnitude at which every integer has
// an exact float64 (and JavaScript Number) representation.
const maxSafeInteger = 1 << 53

// numericDate decodes a member that must be a JSON number usable as an
// RFC 7519 NumericDate: finite and within ±2^53.
func (m *member) numericDate() (float64, error) {
	if m.kind != kindNumber {
		return 0, errorf(ClaimsInvalid, "%s must be a JSON number, not %s", quote(m.name), m.kind)
	}
	if bytes.IndexAny(m.raw, ".eE") < 0 {
		// An integer literal: check it exactly; a float64 would round
		// 2^53+1 down to 2^53.
		i, err := strconv.ParseInt(string(m.raw), 10, 64)
		if err != nil || i > maxSafeInteger || i < -maxSafeInteger {
			return 0, errorf(ClaimsInvalid, "%s is out of range", quote(m.name))
		}
		return float64(i), nil
	}
	f, err := strconv.ParseFloat(string(m.raw), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || math.Abs(f) >= maxSafeInteger {
		return 0, errorf(ClaimsInvalid, "%s is out of range", quote(m.name))
	}
	return f, nil
}
