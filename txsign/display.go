package txsign

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// DisplayV1 is the first display template. A template version, once
// published, never changes its output: a device that renders the same
// authorization_details with the same version must get the same text,
// byte for byte, or display_hash would not match.
//
// What-you-see-is-what-you-sign: the service renders the display text of a
// request with its template and stores the text's hash (display_hash). The
// device shows the text and signs the hash of what it showed; the service
// refuses a decision whose display_hash differs (display_hash_mismatch). A
// reference device also re-renders the text itself from the
// authorization_details and refuses to show a text that differs, so a
// service cannot show one thing and have another signed.
//
// nonrep-display/v1 renders, for each object of the array in order, and
// separated by one empty line:
//
//	payment_initiation:  "Pay AMOUNT CURRENCY" / "To: creditorName" /
//	                     "Account: k v, k v" (creditorAccount members) /
//	                     "Reference: remittanceInformationUnstructured"
//	any other type:      "Authorize TYPE"
//
// followed by one "path: value" line for every other leaf value, in the
// RFC 8785 member order, nested members joined with "." and array
// elements written as [i]. Every value the user signs is on the screen.
// A non-empty binding message ends the text as "Code: MESSAGE". Lines end
// with "\n"; the text has no trailing empty line.
const DisplayV1 = "nonrep-display/v1"

// DisplayTemplates lists the template versions this package renders.
func DisplayTemplates() []string { return []string{DisplayV1} }

// RenderDisplay renders canonical authorization_details (the output of
// Canonicalize) and a binding message with the template version.
func RenderDisplay(version string, canonical []byte, binding string) (string, error) {
	if version != DisplayV1 {
		return "", errorf(RequestInvalid, "unknown display template %s", quote(version))
	}
	root, err := parseOrdered(canonical)
	if err != nil || root.kind != '[' {
		return "", errorf(DetailsInvalid, "authorization_details is not a JSON array")
	}
	var b strings.Builder
	for i, d := range root.elems {
		if i > 0 {
			b.WriteString("\n")
		}
		if d.kind != '{' {
			return "", errorf(DetailsInvalid, "authorization_details[%d] is not an object", i)
		}
		renderDetail(&b, d)
	}
	if binding != "" {
		b.WriteString("Code: " + binding + "\n")
	}
	return b.String(), nil
}

func renderDetail(b *strings.Builder, d *node) {
	typ := d.get("type").text()
	shown := map[string]bool{"type": true}
	if typ == PaymentInitiation {
		amt := d.get("instructedAmount")
		b.WriteString("Pay " + amt.get("amount").text() + " " + amt.get("currency").text() + "\n")
		shown["instructedAmount"] = true
		if amt != nil && len(amt.members) > 2 {
			// Members other than amount and currency are shown as well.
			for _, m := range amt.members {
				if m.name != "amount" && m.name != "currency" {
					writeLeaves(b, "instructedAmount."+m.name, m.val)
				}
			}
		}
		if n := d.get("creditorName"); n != nil {
			b.WriteString("To: " + n.text() + "\n")
			shown["creditorName"] = true
		}
		if acc := d.get("creditorAccount"); acc != nil && acc.kind == '{' && flat(acc) {
			parts := make([]string, len(acc.members))
			for i, m := range acc.members {
				parts[i] = m.name + " " + m.val.text()
			}
			b.WriteString("Account: " + strings.Join(parts, ", ") + "\n")
			shown["creditorAccount"] = true
		}
		if r := d.get("remittanceInformationUnstructured"); r != nil && r.kind == '"' {
			b.WriteString("Reference: " + r.text() + "\n")
			shown["remittanceInformationUnstructured"] = true
		}
	} else {
		b.WriteString("Authorize " + typ + "\n")
	}
	for _, m := range d.members {
		if !shown[m.name] {
			writeLeaves(b, m.name, m.val)
		}
	}
}

// flat reports whether every member of an object is a scalar.
func flat(n *node) bool {
	for _, m := range n.members {
		if m.val.kind == '{' || m.val.kind == '[' {
			return false
		}
	}
	return true
}

func writeLeaves(b *strings.Builder, path string, n *node) {
	switch n.kind {
	case '{':
		if len(n.members) == 0 {
			b.WriteString(path + ": {}\n")
		}
		for _, m := range n.members {
			writeLeaves(b, path+"."+m.name, m.val)
		}
	case '[':
		if len(n.elems) == 0 {
			b.WriteString(path + ": []\n")
		}
		for i, e := range n.elems {
			writeLeaves(b, path+"["+itoa(i)+"]", e)
		}
	default:
		b.WriteString(path + ": " + n.text() + "\n")
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// node is a JSON value with object members in document order (the
// canonical input is in RFC 8785 order, so this is that order).
type node struct {
	kind    byte // '{', '[', '"', 'n' number, 'b' bool, '0' null
	str     string
	members []member
	elems   []*node
}

type member struct {
	name string
	val  *node
}

func (n *node) get(name string) *node {
	if n == nil {
		return nil
	}
	for _, m := range n.members {
		if m.name == name {
			return m.val
		}
	}
	return nil
}

// text is a scalar's display form: a string as is, a number as its
// canonical text, true, false or null.
func (n *node) text() string {
	if n == nil {
		return ""
	}
	return n.str
}

func parseOrdered(data []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := parseValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	return n, nil
}

func parseValue(dec *json.Decoder, depth int) (*node, error) {
	if depth > 32 {
		return nil, errors.New("too deep")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &node{kind: '{'}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := parseValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.members = append(n.members, member{k, v})
			}
			_, err := dec.Token()
			return n, err
		case '[':
			n := &node{kind: '['}
			for dec.More() {
				v, err := parseValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, v)
			}
			_, err := dec.Token()
			return n, err
		}
		return nil, errors.New("unexpected delimiter")
	case string:
		return &node{kind: '"', str: t}, nil
	case json.Number:
		return &node{kind: 'n', str: t.String()}, nil
	case bool:
		if t {
			return &node{kind: 'b', str: "true"}, nil
		}
		return &node{kind: 'b', str: "false"}, nil
	case nil:
		return &node{kind: '0', str: "null"}, nil
	}
	return nil, errors.New("unexpected token")
}
