package diagnose

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
	"github.com/nonrep/nonrep/profile"
)

// variant is a candidate for the bytes the sender signed.
type variant struct {
	cause string
	// what says what happened to the body on the way, as a clause:
	// "a trailing \"\\n\" was added".
	what string
	body []byte
}

var bom = []byte("\xef\xbb\xbf")

// bodyVariants lists what the sender may have signed, given the body
// received, grouped by cause in the order they are tried.
func bodyVariants(b []byte) []variant {
	var vs []variant
	add := func(cause, what string, body []byte) {
		if bytes.Equal(body, b) {
			return
		}
		for _, v := range vs {
			if bytes.Equal(v.body, body) {
				return
			}
		}
		vs = append(vs, variant{cause, what, body})
	}
	// Trailing newline.
	switch {
	case bytes.HasSuffix(b, []byte("\r\n")):
		add(BodyTrailingNewline, `a trailing "\r\n" was added after signing`, b[:len(b)-2])
	case bytes.HasSuffix(b, []byte("\n")):
		add(BodyTrailingNewline, `a trailing "\n" was added after signing`, b[:len(b)-1])
	}
	if t := bytes.TrimRight(b, "\r\n"); len(t) < len(b)-1 {
		add(BodyTrailingNewline, "trailing newlines were added after signing", t)
	}
	add(BodyTrailingNewline, `the trailing "\n" the sender signed was removed`, append(clone(b), '\n'))
	add(BodyTrailingNewline, `the trailing "\r\n" the sender signed was removed`, append(clone(b), '\r', '\n'))

	// Line endings.
	if bytes.Contains(b, []byte("\r\n")) {
		add(BodyLineEndings, `LF line endings were converted to CRLF after signing`, bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")))
	}
	if bytes.Contains(b, []byte("\n")) {
		lf := bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
		add(BodyLineEndings, `CRLF line endings were converted to LF after signing`, bytes.ReplaceAll(lf, []byte("\n"), []byte("\r\n")))
	}

	// Whitespace.
	if t := bytes.TrimSpace(b); len(t) != len(b) {
		add(BodyWhitespace, "leading or trailing whitespace was added after signing", t)
		add(BodyWhitespace, "leading whitespace was added after signing", bytes.TrimLeft(b, " \t\r\n"))
		add(BodyWhitespace, "trailing whitespace was added after signing", bytes.TrimRight(b, " \t\r\n"))
	}
	if bytes.Contains(b, []byte(" \n")) || bytes.Contains(b, []byte("\t\n")) {
		lines := bytes.Split(b, []byte("\n"))
		for i := range lines {
			lines[i] = bytes.TrimRight(lines[i], " \t")
		}
		add(BodyWhitespace, "trailing spaces were added to lines after signing", bytes.Join(lines, []byte("\n")))
	}

	// Charset.
	if bytes.HasPrefix(b, bom) {
		add(BodyCharset, "a UTF-8 byte order mark was added after signing", b[len(bom):])
	} else {
		add(BodyCharset, "the UTF-8 byte order mark the sender signed was removed", append(clone(bom), b...))
	}
	if l, ok := utf8ToLatin1(b); ok {
		add(BodyCharset, "the sender signed Latin-1 (ISO-8859-1) bytes and the body was re-encoded to UTF-8 after signing", l)
	}
	if hasHigh(b) {
		add(BodyCharset, "the sender signed UTF-8 and the body was re-encoded to Latin-1 (ISO-8859-1) after signing", latin1ToUTF8(b))
	}

	// Re-serialized JSON.
	for _, j := range jsonVariants(b) {
		add(BodyReserializedJSON, "the JSON body was re-serialized after signing: the sender signed "+j.what, j.body)
		if !bytes.HasSuffix(j.body, []byte("\n")) {
			add(BodyReserializedJSON, "the JSON body was re-serialized after signing: the sender signed "+j.what+` followed by "\n"`, append(clone(j.body), '\n'))
		}
	}
	return vs
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

func hasHigh(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// utf8ToLatin1 encodes valid UTF-8 text with only code points up to U+00FF
// (and at least one above U+007F) as Latin-1.
func utf8ToLatin1(b []byte) ([]byte, bool) {
	if !utf8.Valid(b) || !hasHigh(b) {
		return nil, false
	}
	out := make([]byte, 0, len(b))
	for _, r := range string(b) {
		if r > 0xff {
			return nil, false
		}
		out = append(out, byte(r))
	}
	return out, true
}

// latin1ToUTF8 reads b as Latin-1 and encodes it as UTF-8.
func latin1ToUTF8(b []byte) []byte {
	out := make([]byte, 0, len(b)+8)
	for _, c := range b {
		out = utf8.AppendRune(out, rune(c))
	}
	return out
}

type jsonVariant struct {
	what string
	body []byte
}

// jsonVariants returns the common serializations of the JSON value in b.
func jsonVariants(b []byte) []jsonVariant {
	if !json.Valid(b) {
		return nil
	}
	var out []jsonVariant
	var buf bytes.Buffer
	if json.Compact(&buf, b) == nil {
		out = append(out, jsonVariant{"compact JSON (no whitespace; member order and literals as received)", clone(buf.Bytes())})
	}
	for _, ind := range []struct{ name, indent string }{{"2 spaces", "  "}, {"4 spaces", "    "}, {"a tab", "\t"}} {
		buf.Reset()
		if json.Indent(&buf, b, "", ind.indent) == nil {
			out = append(out, jsonVariant{"JSON indented with " + ind.name + " (member order and literals as received)", clone(buf.Bytes())})
		}
	}
	v, err := parseJSON(b)
	if err != nil {
		return out
	}
	for _, st := range []struct {
		what string
		s    jsonStyle
	}{
		{"JSON re-encoded compactly, strings with minimal escapes", jsonStyle{}},
		{`JSON with ", " and ": " separators (Python's json.dumps)`, jsonStyle{python: true}},
		{`JSON with ", " and ": " separators and non-ASCII characters as \u escapes (Python's json.dumps default)`, jsonStyle{python: true, ascii: true}},
		{`compact JSON with non-ASCII characters as \u escapes`, jsonStyle{ascii: true}},
		{"compact JSON with <, > and & escaped (Go's encoding/json)", jsonStyle{html: true}},
		{"compact JSON with members sorted by name", jsonStyle{sorted: true}},
		{"compact JSON with members sorted and <, > and & escaped (Go's json.Marshal of a map)", jsonStyle{sorted: true, html: true}},
		{`JSON with members sorted and ", " / ": " separators (Python's json.dumps(sort_keys=True))`, jsonStyle{sorted: true, python: true, ascii: true}},
		{"JSON with members sorted, indented with 2 spaces", jsonStyle{sorted: true, indent: "  "}},
	} {
		var w bytes.Buffer
		v.encode(&w, st.s, 0)
		out = append(out, jsonVariant{st.what, w.Bytes()})
	}
	if c, err := jcs.Transform(b); err == nil {
		out = append(out, jsonVariant{"the RFC 8785 canonical form (JCS)", c})
	}
	return out
}

// jnode is a JSON value with its object members in document order and
// numbers as written.
type jnode struct {
	kind byte // '{', '[', '"', '0' (number or literal)
	keys []string
	vals []*jnode
	str  string
}

func parseJSON(b []byte) (*jnode, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return parseNode(d)
}

func parseNode(d *json.Decoder) (*jnode, error) {
	t, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch t := t.(type) {
	case json.Delim:
		n := &jnode{kind: byte(t)}
		for d.More() {
			if n.kind == '{' {
				k, err := d.Token()
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k.(string))
			}
			v, err := parseNode(d)
			if err != nil {
				return nil, err
			}
			n.vals = append(n.vals, v)
		}
		if _, err := d.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return n, nil
	case string:
		return &jnode{kind: '"', str: t}, nil
	case json.Number:
		return &jnode{kind: '0', str: t.String()}, nil
	case bool:
		return &jnode{kind: '0', str: strconv.FormatBool(t)}, nil
	case nil:
		return &jnode{kind: '0', str: "null"}, nil
	}
	return nil, fmt.Errorf("unexpected token %v", t)
}

type jsonStyle struct {
	indent string
	python bool // ", " and ": " separators when compact
	ascii  bool // non-ASCII as \u escapes
	html   bool // <, >, & as \u escapes
	sorted bool // object members sorted by name
}

func (n *jnode) encode(w *bytes.Buffer, st jsonStyle, depth int) {
	switch n.kind {
	case '"':
		writeJSONString(w, n.str, st)
		return
	case '0':
		w.WriteString(n.str)
		return
	}
	open, close := byte('['), byte(']')
	if n.kind == '{' {
		open, close = '{', '}'
	}
	w.WriteByte(open)
	if len(n.vals) == 0 {
		w.WriteByte(close)
		return
	}
	order := make([]int, len(n.vals))
	for i := range order {
		order[i] = i
	}
	if n.kind == '{' && st.sorted {
		sort.SliceStable(order, func(a, b int) bool { return n.keys[order[a]] < n.keys[order[b]] })
	}
	newline := func(d int) {
		if st.indent != "" {
			w.WriteByte('\n')
			w.WriteString(strings.Repeat(st.indent, d))
		}
	}
	for i, idx := range order {
		if i > 0 {
			w.WriteByte(',')
			if st.python && st.indent == "" {
				w.WriteByte(' ')
			}
		}
		newline(depth + 1)
		if n.kind == '{' {
			writeJSONString(w, n.keys[idx], st)
			w.WriteByte(':')
			if st.python || st.indent != "" {
				w.WriteByte(' ')
			}
		}
		n.vals[idx].encode(w, st, depth+1)
	}
	newline(depth)
	w.WriteByte(close)
}

func writeJSONString(w *bytes.Buffer, s string, st jsonStyle) {
	const hexd = "0123456789abcdef"
	u := func(r rune) {
		w.WriteString(`\u`)
		w.WriteByte(hexd[r>>12&15])
		w.WriteByte(hexd[r>>8&15])
		w.WriteByte(hexd[r>>4&15])
		w.WriteByte(hexd[r&15])
	}
	w.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			w.WriteString(`\"`)
		case r == '\\':
			w.WriteString(`\\`)
		case r == '\n':
			w.WriteString(`\n`)
		case r == '\r':
			w.WriteString(`\r`)
		case r == '\t':
			w.WriteString(`\t`)
		case r == '\b':
			w.WriteString(`\b`)
		case r == '\f':
			w.WriteString(`\f`)
		case r < 0x20:
			u(r)
		case st.html && (r == '<' || r == '>' || r == '&'):
			u(r)
		case st.html && (r == 0x2028 || r == 0x2029):
			u(r)
		case st.ascii && r > 0x7e:
			if r > 0xffff {
				r -= 0x10000
				u(0xd800 + r>>10)
				u(0xdc00 + r&0x3ff)
			} else {
				u(r)
			}
		default:
			w.WriteRune(r)
		}
	}
	w.WriteByte('"')
}

// describe shows the start and end of a body for evidence lines.
func describe(b []byte) string {
	const edge = 24
	if len(b) <= 2*edge {
		return fmt.Sprintf("%d bytes: %s", len(b), strconv.Quote(string(b)))
	}
	return fmt.Sprintf("%d bytes, starting %s and ending %s", len(b), strconv.Quote(string(b[:edge])), strconv.Quote(string(b[len(b)-edge:])))
}

var bodyFixes = map[string]string{
	BodyTrailingNewline:  "sign exactly the bytes that are sent and send them unchanged: look for what adds or strips the final newline (echo, heredocs and editors add one; curl -d strips newlines, use --data-binary; templates; proxies)",
	BodyLineEndings:      "send the body as binary, byte for byte: something on the way (an FTP-style text mode, a Windows tool, a proxy rewriting text) converted line endings after signing",
	BodyWhitespace:       "sign exactly the bytes that are sent and send them unchanged: something trims or pads the body after signing (a template, a logging filter, a proxy)",
	BodyReserializedJSON: "sign the serialized bytes and send those same bytes: do not parse and re-serialize the JSON after signing (JSON middleware, API gateways, HTTP client libraries that take an object instead of bytes)",
	BodyCharset:          "keep one charset end to end (UTF-8): sign the bytes as sent, and check the Content-Type charset and any proxy or client that transcodes text",
}

// body tries the body variants: re-runs verification over each.
func (s *state) body() bool {
	if s.parsed == nil {
		return false
	}
	if _, swift := s.prof.(profile.Swift); !swift && !s.parsed.JWS.Detached() {
		// The body is the JWS itself (generic flattened): its payload
		// travels base64url-encoded and cannot change with the body's
		// whitespace.
		return false
	}
	vs := bodyVariants(s.msg.Body)
	s.tried = append(s.tried, fmt.Sprintf("%d variants of the body (trailing newline, line endings, whitespace, charset, JSON re-serializations)", len(vs)))
	for _, v := range vs {
		m := s.withMessage(func(m *profile.Message) { m.Body = v.body })
		if !s.confirms(s.prof, s.trust, m) {
			continue
		}
		return s.set(v.cause,
			"The body changed between the signer and this verifier: "+v.what+".",
			bodyFixes[v.cause],
			"the body as received: "+describe(s.msg.Body),
			"the bytes that verify: "+describe(v.body),
			"verification succeeds over those bytes, with everything else unchanged")
	}
	return false
}

// digestEncoding: Swift's digest claim computed another way over the
// exact body.
func (s *state) digestEncoding() bool {
	if _, ok := s.prof.(profile.Swift); !ok || s.parsed == nil {
		return false
	}
	payload, err := s.parsed.JWS.UnsafePayloadWithoutVerification()
	if err != nil {
		return false
	}
	var claims struct {
		Digest string `json:"digest"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Digest == "" {
		return false
	}
	body := s.msg.Body
	b64body := base64.StdEncoding.EncodeToString(body)
	sumBody := sha256.Sum256(body)
	sumB64 := sha256.Sum256([]byte(b64body))
	sumB64URL := sha256.Sum256([]byte(base64.RawURLEncoding.EncodeToString(body)))
	s.tried = append(s.tried, "other encodings of the digest")
	for _, c := range []struct{ what, value string }{
		{"hex of SHA-256 of the raw body", hex.EncodeToString(sumBody[:])},
		{"base64 of SHA-256 of the raw body (the base64(body) step skipped)", base64.StdEncoding.EncodeToString(sumBody[:])},
		{"base64url of SHA-256 of the raw body", base64.RawURLEncoding.EncodeToString(sumBody[:])},
		{"base64 without padding of SHA-256 of the raw body", base64.RawStdEncoding.EncodeToString(sumBody[:])},
		{"hex of SHA-256 of base64(body) (hex instead of base64)", hex.EncodeToString(sumB64[:])},
		{"base64url of SHA-256 of base64(body) (base64url instead of base64)", base64.RawURLEncoding.EncodeToString(sumB64[:])},
		{"base64 without padding of SHA-256 of base64(body)", base64.RawStdEncoding.EncodeToString(sumB64[:])},
		{"base64 of SHA-256 of base64url(body) (base64url instead of base64 for the body)", base64.StdEncoding.EncodeToString(sumB64URL[:])},
		{"base64(body) itself, not its SHA-256", b64body},
	} {
		if claims.Digest != c.value && !(isHex(claims.Digest) && strings.EqualFold(claims.Digest, c.value)) {
			continue
		}
		return s.set(DigestEncoding,
			"The Swift digest claim was computed the wrong way: it is the "+c.what+".",
			"compute digest as std-base64 (with padding) of SHA-256 over the ASCII bytes of std-base64 (with padding) of the exact body",
			fmt.Sprintf("the digest claim is %q", claims.Digest),
			fmt.Sprintf("Swift's digest of this body, base64(SHA-256(ASCII(base64(body)))), is %q", profile.SwiftDigest(body)),
			"the claim equals the "+c.what+" of the same body: the body arrived intact")
	}
	return false
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
