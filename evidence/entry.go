package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/nonrep/nonrep/jose"
)

// The entry is the canonical encoding of a record without its body: a
// JSON object whose members come in a fixed order, each present exactly
// when its value is not the zero value, with no insignificant whitespace.
// It is the leaf data of the log: the leaf hash is SHA-256(0x00 || entry)
// (RFC 6962 §2.1), and the entry commits to the body by body_sha256 and
// body_len. Text that is not valid UTF-8 is stored as standard base64
// under the member's name with "_b64" appended, so that every byte is kept.
//
// Members, in order: v, received, direction, kind, response_to, partner,
// profile, policy_version, lenient, method, host, path, query,
// content_type, signature_header, signature, body_sha256, body_len, kid,
// key, key_thumbprint, chain, verdict, code, replay_id, response_status,
// response_signature_header, response_signature.

// EntryVersion is the entry format's version, its "v" member.
const EntryVersion = 1

const timeLayout = "2006-01-02T15:04:05.000000000Z"

// FormatTime renders t as an entry stores it: UTC, RFC 3339 with exactly
// nine fractional digits.
func FormatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// MaxEntry caps an entry's size (the body is not part of it).
const MaxEntry = 1 << 20

// Entry returns r's canonical entry. It does not validate r; Append does.
func (r *Record) Entry() ([]byte, error) {
	return r.encode(sha256.Sum256(r.Body), int64(len(r.Body)))
}

func (r *Record) encode(bodySum [32]byte, bodyLen int64) ([]byte, error) {
	keyJSON := r.keyRaw
	if keyJSON == nil && r.Key != nil && r.Key.Kty != "oct" {
		var err error
		if keyJSON, err = r.Key.Public().MarshalJSON(); err != nil {
			return nil, wrapf(RecordInvalid, err, "the key does not serialize")
		}
	}
	b := make([]byte, 0, 512+len(r.Signature)+len(keyJSON)+len(r.ResponseSignature))
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, EntryVersion, 10)
	b = append(b, `,"received":"`...)
	b = r.Received.UTC().AppendFormat(b, timeLayout)
	b = append(b, '"')
	b = appendText(b, "direction", string(r.Direction))
	b = appendText(b, "kind", string(r.kind()))
	if r.kind() == KindResponse {
		b = append(b, `,"response_to":`...)
		b = strconv.AppendInt(b, r.ResponseTo, 10)
	}
	b = appendText(b, "partner", r.Partner)
	b = appendText(b, "profile", r.Profile)
	b = appendText(b, "policy_version", r.PolicyVersion)
	if r.Lenient {
		b = append(b, `,"lenient":true`...)
	}
	b = appendText(b, "method", r.Method)
	b = appendText(b, "host", r.Host)
	b = appendText(b, "path", r.Path)
	b = appendText(b, "query", r.Query)
	b = appendText(b, "content_type", r.ContentType)
	b = appendText(b, "signature_header", r.SignatureHeader)
	b = appendText(b, "signature", string(r.Signature))
	b = append(b, `,"body_sha256":"`...)
	b = hex.AppendEncode(b, bodySum[:])
	b = append(b, `","body_len":`...)
	b = strconv.AppendInt(b, bodyLen, 10)
	b = appendText(b, "kid", r.Kid)
	if keyJSON != nil {
		b = append(b, `,"key":`...)
		b = append(b, keyJSON...)
		b = appendText(b, "key_thumbprint", r.Key.Thumbprint())
	}
	if len(r.Chain) > 0 {
		b = append(b, `,"chain":[`...)
		for i, der := range r.Chain {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = base64.StdEncoding.AppendEncode(b, der)
			b = append(b, '"')
		}
		b = append(b, ']')
	}
	b = appendText(b, "verdict", string(r.Verdict))
	b = appendText(b, "code", string(r.Code))
	b = appendText(b, "replay_id", r.ReplayID)
	if r.ResponseStatus != 0 {
		b = append(b, `,"response_status":`...)
		b = strconv.AppendInt(b, int64(r.ResponseStatus), 10)
	}
	b = appendText(b, "response_signature_header", r.ResponseSignatureHeader)
	b = appendText(b, "response_signature", string(r.ResponseSignature))
	b = append(b, '}')
	if len(b) > MaxEntry {
		return nil, errorf(RecordInvalid, "the entry is %d bytes, more than %d", len(b), MaxEntry)
	}
	return b, nil
}

// appendText appends ,"name":"s" when s is non-empty: a JSON string when s
// is valid UTF-8, else ,"name_b64":"base64".
func appendText(b []byte, name, s string) []byte {
	if s == "" {
		return b
	}
	if !utf8.ValidString(s) {
		b = append(b, `,"`...)
		b = append(b, name...)
		b = append(b, `_b64":"`...)
		b = base64.StdEncoding.AppendEncode(b, []byte(s))
		return append(b, '"')
	}
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":`...)
	return appendJSONString(b, s)
}

// appendJSONString escapes only what JSON requires: '"', '\\' and the
// control characters.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// entryJSON is the decoding shape of an entry. Decoding is followed by a
// re-encoding that must give the same bytes, which refuses duplicate,
// unknown, misordered or case-variant members and any other spelling.
type entryJSON struct {
	V                          int             `json:"v"`
	Received                   string          `json:"received"`
	Direction                  string          `json:"direction"`
	Kind                       string          `json:"kind"`
	ResponseTo                 int64           `json:"response_to"`
	Partner                    text            `json:"partner"`
	PartnerB64                 b64             `json:"partner_b64"`
	Profile                    text            `json:"profile"`
	ProfileB64                 b64             `json:"profile_b64"`
	PolicyVersion              text            `json:"policy_version"`
	PolicyVersionB64           b64             `json:"policy_version_b64"`
	Lenient                    bool            `json:"lenient"`
	Method                     text            `json:"method"`
	MethodB64                  b64             `json:"method_b64"`
	Host                       text            `json:"host"`
	HostB64                    b64             `json:"host_b64"`
	Path                       text            `json:"path"`
	PathB64                    b64             `json:"path_b64"`
	Query                      text            `json:"query"`
	QueryB64                   b64             `json:"query_b64"`
	ContentType                text            `json:"content_type"`
	ContentTypeB64             b64             `json:"content_type_b64"`
	SignatureHeader            text            `json:"signature_header"`
	SignatureHeaderB64         b64             `json:"signature_header_b64"`
	Signature                  text            `json:"signature"`
	SignatureB64               b64             `json:"signature_b64"`
	BodySHA256                 string          `json:"body_sha256"`
	BodyLen                    int64           `json:"body_len"`
	Kid                        text            `json:"kid"`
	KidB64                     b64             `json:"kid_b64"`
	Key                        json.RawMessage `json:"key"`
	KeyThumbprint              string          `json:"key_thumbprint"`
	Chain                      []string        `json:"chain"`
	Verdict                    string          `json:"verdict"`
	Code                       string          `json:"code"`
	ReplayID                   text            `json:"replay_id"`
	ReplayIDB64                b64             `json:"replay_id_b64"`
	ResponseStatus             int             `json:"response_status"`
	ResponseSignatureHeader    text            `json:"response_signature_header"`
	ResponseSignatureHeaderB64 b64             `json:"response_signature_header_b64"`
	ResponseSignature          text            `json:"response_signature"`
	ResponseSignatureB64       b64             `json:"response_signature_b64"`
}

type text = string

// b64 is a standard-base64 member decoded to its bytes.
type b64 []byte

func (b *b64) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	v, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

func pick(s string, raw b64) string {
	if raw != nil {
		return string(raw)
	}
	return s
}

// DecodedEntry is an entry read back: the record without its body, and
// the body's committed hash and length.
type DecodedEntry struct {
	Record     *Record
	BodySHA256 [32]byte
	BodyLen    int64
}

// ParseEntry decodes a canonical entry. Anything that is not exactly what
// Entry would produce is refused with jose.Malformed.
func ParseEntry(data []byte) (*DecodedEntry, error) {
	if len(data) > MaxEntry {
		return nil, errorf(jose.Malformed, "the entry is %d bytes, more than %d", len(data), MaxEntry)
	}
	var e entryJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return nil, wrapf(jose.Malformed, err, "the entry is not a valid entry document")
	}
	if dec.More() {
		return nil, errorf(jose.Malformed, "the entry has data after its object")
	}
	if e.V != EntryVersion {
		return nil, errorf(jose.Malformed, "entry version %d is not %d", e.V, EntryVersion)
	}
	received, err := time.Parse(timeLayout, e.Received)
	if err != nil {
		return nil, wrapf(jose.Malformed, err, "received %s is not a UTC time with nanoseconds", quote(e.Received))
	}
	r := &Record{
		Received:                received,
		Direction:               Direction(e.Direction),
		Kind:                    Kind(e.Kind),
		ResponseTo:              e.ResponseTo,
		Partner:                 pick(e.Partner, e.PartnerB64),
		Profile:                 pick(e.Profile, e.ProfileB64),
		PolicyVersion:           pick(e.PolicyVersion, e.PolicyVersionB64),
		Lenient:                 e.Lenient,
		Method:                  pick(e.Method, e.MethodB64),
		Host:                    pick(e.Host, e.HostB64),
		Path:                    pick(e.Path, e.PathB64),
		Query:                   pick(e.Query, e.QueryB64),
		ContentType:             pick(e.ContentType, e.ContentTypeB64),
		SignatureHeader:         pick(e.SignatureHeader, e.SignatureHeaderB64),
		Kid:                     pick(e.Kid, e.KidB64),
		Verdict:                 Verdict(e.Verdict),
		Code:                    jose.Code(e.Code),
		ReplayID:                pick(e.ReplayID, e.ReplayIDB64),
		ResponseStatus:          e.ResponseStatus,
		ResponseSignatureHeader: pick(e.ResponseSignatureHeader, e.ResponseSignatureHeaderB64),
	}
	if s := pick(e.Signature, e.SignatureB64); s != "" {
		r.Signature = []byte(s)
	}
	if s := pick(e.ResponseSignature, e.ResponseSignatureB64); s != "" {
		r.ResponseSignature = []byte(s)
	}
	if e.Key != nil {
		k, err := jose.ParseJWK(e.Key)
		if err != nil {
			return nil, wrapf(jose.Malformed, err, "the entry's key does not parse")
		}
		if k.IsPrivate() || k.Kty == "oct" {
			return nil, errorf(jose.Malformed, "the entry's key is not a public key")
		}
		if k.Thumbprint() != e.KeyThumbprint {
			return nil, errorf(jose.Malformed, "key_thumbprint %s is not the key's thumbprint %s", quote(e.KeyThumbprint), k.Thumbprint())
		}
		r.Key = k
		r.keyRaw = append([]byte(nil), e.Key...)
	}
	for i, c := range e.Chain {
		der, err := base64.StdEncoding.Strict().DecodeString(c)
		if err != nil {
			return nil, wrapf(jose.Malformed, err, "chain[%d] is not base64", i)
		}
		r.Chain = append(r.Chain, der)
	}
	if err := r.Validate(); err != nil {
		return nil, wrapf(jose.Malformed, err, "the entry does not describe a valid record: %s", err.(*jose.Error).Detail)
	}
	if e.BodyLen < 0 {
		return nil, errorf(jose.Malformed, "body_len %d is negative", e.BodyLen)
	}
	out := &DecodedEntry{Record: r, BodyLen: e.BodyLen}
	if n, err := hex.Decode(out.BodySHA256[:], []byte(e.BodySHA256)); err != nil || n != 32 || len(e.BodySHA256) != 64 {
		return nil, errorf(jose.Malformed, "body_sha256 %s is not 64 hex digits", quote(e.BodySHA256))
	}
	// Re-encode with the committed body hash and length: the bytes must
	// come back unchanged.
	again, err := r.encode(out.BodySHA256, out.BodyLen)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(again, data) {
		return nil, errorf(jose.Malformed, "the entry is not in canonical form (member order, spelling, escaping or a zero value present)")
	}
	return out, nil
}
