package jose

import (
	"bytes"
	"unicode/utf8"
)

// Form is a JWS serialization (RFC 7515 §7).
type Form uint8

const (
	Compact   Form = iota + 1 // BASE64URL(header).payload.BASE64URL(signature)
	Flattened                 // flattened JWS JSON serialization (§7.2.2)
	General                   // general JWS JSON serialization (§7.2.1)
)

func (f Form) String() string {
	switch f {
	case Compact:
		return "compact"
	case Flattened:
		return "flattened"
	case General:
		return "general"
	}
	return "unknown"
}

// JWS is a parsed (not yet verified) JSON Web Signature in any
// serialization. Its fields hold the exact bytes that were signed; nothing
// is re-encoded. Use a Verifier to check it; until then nothing in it is
// trustworthy.
type JWS struct {
	form Form
	// payloadSeg is the payload exactly as it appears in the signing input:
	// base64url text, or the raw bytes when b64 is false. nil when detached.
	payloadSeg []byte
	detached   bool
	b64        bool
	contiguous bool // parsed compact: signing input is a prefix of the input
	sigs       []sigEntry
	// For a compact JWS parsed inside Verify: room to decode the payload
	// into and a result to fill, allocated together with the JWS. Used only
	// by the Verify call that parsed it.
	scratch []byte
	res     *Verified
}

type sigEntry struct {
	header       Header
	protectedB64 []byte // exact base64url text of the protected header
	unprotected  []byte // exact JSON text of "header", or nil
	sig          []byte // decoded signature
}

// Form returns the serialization the JWS was parsed from or made for.
func (j *JWS) Form() Form { return j.form }

// Detached reports whether the payload is carried separately (RFC 7515
// Appendix F).
func (j *JWS) Detached() bool { return j.detached }

// Len returns the number of signatures.
func (j *JWS) Len() int { return len(j.sigs) }

// Header returns the protected header of signature i (UNVERIFIED).
func (j *JWS) Header(i int) *Header { return &j.sigs[i].header }

// Unprotected returns the exact JSON text of signature i's unprotected
// header, or nil.
func (j *JWS) Unprotected(i int) []byte { return j.sigs[i].unprotected }

// Signature returns the decoded signature i.
func (j *JWS) Signature(i int) []byte { return j.sigs[i].sig }

// UnsafePayloadWithoutVerification returns the payload bytes of an
// unverified JWS (nil when detached). Nothing about them is authenticated.
func (j *JWS) UnsafePayloadWithoutVerification() ([]byte, error) {
	if j.detached {
		return nil, nil
	}
	if !j.b64 {
		return j.payloadSeg, nil
	}
	return decodeB64(j.payloadSeg, "payload")
}

// Limits are the size caps applied before anything else is parsed. The
// zero value means the defaults.
type Limits struct {
	// MaxHeaderBytes caps each decoded protected header (default 8 KiB).
	MaxHeaderBytes int
	// MaxBytes caps the whole serialized JWS, plus a detached payload when
	// one is given (default 1 MiB).
	MaxBytes int
	// MaxSignatures caps the signatures of a general JSON JWS (default 8).
	MaxSignatures int
}

const (
	defaultMaxHeaderBytes = 8 << 10
	defaultMaxBytes       = 1 << 20
	defaultMaxSignatures  = 8
)

func (l Limits) withDefaults() Limits {
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = defaultMaxHeaderBytes
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = defaultMaxBytes
	}
	if l.MaxSignatures <= 0 {
		l.MaxSignatures = defaultMaxSignatures
	}
	return l
}

// Parse parses a JWS in any serialization: input starting with '{' (after
// optional JSON whitespace) is JSON, anything else compact. Parse applies
// every structural check that does not depend on a verifier's policy.
func Parse(data []byte, lim Limits) (*JWS, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxBytes {
		return nil, errorf(TooLarge, "JWS is %d bytes; the limit is %d", len(data), lim.MaxBytes)
	}
	i := 0
	for i < len(data) && isJSONSpace(data[i]) {
		i++
	}
	if i < len(data) && data[i] == '{' {
		return parseJSON(data, lim)
	}
	return parseCompact(data, lim)
}

// ParseCompact parses the compact serialization only.
func ParseCompact(data []byte, lim Limits) (*JWS, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxBytes {
		return nil, errorf(TooLarge, "JWS is %d bytes; the limit is %d", len(data), lim.MaxBytes)
	}
	return parseCompact(data, lim)
}

func parseCompact(data []byte, lim Limits) (*JWS, error) {
	d1 := bytes.IndexByte(data, '.')
	if d1 < 0 {
		return nil, errorf(Malformed, "compact JWS must have exactly three segments")
	}
	d2 := bytes.IndexByte(data[d1+1:], '.')
	if d2 < 0 {
		return nil, errorf(Malformed, "compact JWS must have exactly three segments")
	}
	d2 += d1 + 1
	if bytes.IndexByte(data[d2+1:], '.') >= 0 {
		return nil, errorf(Malformed, "compact JWS must have exactly three segments")
	}
	hSeg, pSeg, sSeg := data[:d1], data[d1+1:d2], data[d2+1:]
	if b64.DecodedLen(len(hSeg)) > lim.MaxHeaderBytes {
		return nil, errorf(TooLarge, "protected header exceeds %d bytes", lim.MaxHeaderBytes)
	}
	if len(hSeg) == 0 {
		return nil, errorf(Malformed, "protected header is empty")
	}
	// One allocation for the JWS, its signature entry and a result slot,
	// and one for the decoded header, signature and payload bytes.
	type compactJWS struct {
		JWS
		one [1]sigEntry
		res Verified
	}
	c := &compactJWS{}
	j := &c.JWS
	j.form = Compact
	j.contiguous = true
	j.sigs = c.one[:]
	j.res = &c.res
	e := &j.sigs[0]
	buf := make([]byte, b64.DecodedLen(len(hSeg))+b64.DecodedLen(len(sSeg))+b64.DecodedLen(len(pSeg)))
	hdr, err := decodeB64Into(buf, hSeg, "protected header")
	if err != nil {
		return nil, err
	}
	sig, err := decodeB64Into(buf[len(hdr):], sSeg, "signature")
	if err != nil {
		return nil, err
	}
	if err := e.header.parse(hdr); err != nil {
		return nil, err
	}
	if len(sig) == 0 {
		return nil, errorf(SignatureInvalid, "signature is empty")
	}
	e.protectedB64 = hSeg
	e.sig = sig
	j.scratch = buf[len(hdr)+len(sig):]
	j.b64 = e.header.B64
	switch {
	case len(pSeg) == 0:
		// RFC 7515 Appendix F: an empty payload segment means detached. An
		// empty payload, attached, serializes the same way; Verify without
		// a detached payload treats it as the empty payload.
		j.detached = true
	case j.b64:
		if !validB64(pSeg) {
			return nil, errorf(Malformed, "payload is not canonical unpadded base64url")
		}
		j.payloadSeg = pSeg
	default:
		// RFC 7797 §5.2: with b64 false the compact payload may be carried
		// only if it contains no '.', which the segment count guarantees.
		j.payloadSeg = pSeg
	}
	return j, nil
}

// parseJSON parses the flattened or general JSON serialization.
func parseJSON(data []byte, lim Limits) (*JWS, error) {
	top, err := parseObject(data, "JWS")
	if err != nil {
		return nil, err
	}
	var payload, signatures *member
	var flat []member // protected, header, signature of the flattened form
	for i := range top {
		m := &top[i]
		switch m.name {
		case "payload":
			payload = m
		case "signatures":
			signatures = m
		case "protected", "header", "signature":
			flat = append(flat, *m)
		default:
			// RFC 7515 §7.2.1 lets a reader ignore unknown members; evidence
			// must not carry bytes nobody checked, so we reject them.
			return nil, errorf(Malformed, "JWS JSON has unknown member %s", quote(m.name))
		}
	}
	j := &JWS{}
	switch {
	case signatures != nil && len(flat) > 0:
		return nil, errorf(Malformed, `JWS JSON mixes "signatures" with flattened members`)
	case signatures != nil:
		j.form = General
		if signatures.kind != kindArray {
			return nil, errorf(Malformed, `"signatures" must be a JSON array`)
		}
		objs, err := arrayObjectsAny(signatures.raw, `"signatures"`)
		if err != nil {
			return nil, err
		}
		if len(objs) == 0 {
			return nil, errorf(Malformed, `"signatures" is empty`)
		}
		if len(objs) > lim.MaxSignatures {
			return nil, errorf(TooLarge, "JWS has %d signatures; the limit is %d", len(objs), lim.MaxSignatures)
		}
		j.sigs = make([]sigEntry, len(objs))
		for i, o := range objs {
			if err := j.sigs[i].parseJSON(o, lim); err != nil {
				return nil, err
			}
		}
	default:
		j.form = Flattened
		j.sigs = make([]sigEntry, 1)
		if err := j.sigs[0].parseJSON(flat, lim); err != nil {
			return nil, err
		}
	}
	// RFC 7797 §3: every signature must use the same b64 value.
	j.b64 = j.sigs[0].header.B64
	for i := range j.sigs {
		if j.sigs[i].header.B64 != j.b64 {
			return nil, errorf(HeaderInvalid, `signatures disagree on "b64"`)
		}
	}
	if payload == nil {
		j.detached = true
		return j, nil
	}
	if payload.kind != kindString {
		return nil, errorf(Malformed, `"payload" must be a JSON string`)
	}
	if j.b64 {
		seg := payload.raw[1 : len(payload.raw)-1]
		if !validB64(seg) {
			return nil, errorf(Malformed, "payload is not canonical unpadded base64url")
		}
		j.payloadSeg = seg
	} else {
		s, err := unquote(payload.raw)
		if err != nil {
			return nil, err
		}
		j.payloadSeg = []byte(s)
	}
	return j, nil
}

// parseJSON fills e from the members {protected, header, signature}.
func (e *sigEntry) parseJSON(members []member, lim Limits) error {
	var protected, sig *member
	for i := range members {
		m := &members[i]
		switch m.name {
		case "protected":
			protected = m
		case "signature":
			sig = m
		case "header":
			if m.kind != kindObject {
				return errorf(Malformed, `"header" must be a JSON object`)
			}
			e.unprotected = m.raw
		default:
			return errorf(Malformed, "JWS signature object has unknown member %s", quote(m.name))
		}
	}
	if sig == nil {
		return errorf(Malformed, `JWS JSON signature has no "signature"`)
	}
	if sig.kind != kindString {
		return errorf(Malformed, `"signature" must be a JSON string`)
	}
	if protected == nil {
		// Legal JSON JWS, but we require "alg" (and everything else that
		// decides verification) to be protected: the verifier refuses this
		// signature with HeaderInvalid. It is kept so that a general JWS
		// whose other signature is selected by kid can still be read.
		e.header = Header{B64: true}
		var err error
		e.sig, err = decodeB64(sig.raw[1:len(sig.raw)-1], "signature")
		return err
	}
	if protected.kind != kindString {
		return errorf(Malformed, `"protected" must be a JSON string`)
	}
	hSeg := protected.raw[1 : len(protected.raw)-1]
	if len(hSeg) == 0 {
		return errorf(Malformed, "protected header is empty")
	}
	if b64.DecodedLen(len(hSeg)) > lim.MaxHeaderBytes {
		return errorf(TooLarge, "protected header exceeds %d bytes", lim.MaxHeaderBytes)
	}
	hdr, err := decodeB64(hSeg, "protected header")
	if err != nil {
		return err
	}
	if err := e.header.parse(hdr); err != nil {
		return err
	}
	e.protectedB64 = hSeg
	sSeg := sig.raw[1 : len(sig.raw)-1]
	if e.sig, err = decodeB64(sSeg, "signature"); err != nil {
		return err
	}
	if len(e.sig) == 0 {
		return errorf(SignatureInvalid, "signature is empty")
	}
	return nil
}

// signingInput returns ASCII(BASE64URL(protected)) || '.' || payload segment
// (RFC 7515 §5.1 step 5, RFC 7797 §3). For a compact JWS with an attached
// payload it is a sub-slice of the input and costs nothing.
func (j *JWS) signingInput(i int, detached []byte) []byte {
	e := &j.sigs[i]
	seg := j.payloadSeg
	if j.detached {
		if j.b64 {
			n := len(e.protectedB64) + 1 + b64.EncodedLen(len(detached))
			buf := make([]byte, 0, n)
			buf = append(append(buf, e.protectedB64...), '.')
			return appendB64(buf, detached)
		}
		seg = detached
	}
	if j.contiguous && !j.detached {
		// Parsed compact input: the header, '.', and the payload segment are
		// adjacent in the caller's bytes.
		n := len(e.protectedB64) + 1 + len(seg)
		return e.protectedB64[:n:n]
	}
	buf := make([]byte, 0, len(e.protectedB64)+1+len(seg))
	buf = append(append(buf, e.protectedB64...), '.')
	return append(buf, seg...)
}

// CompactBytes serializes a single-signature JWS in compact form. A
// detached JWS gives "header..signature".
func (j *JWS) CompactBytes() ([]byte, error) {
	if len(j.sigs) != 1 {
		return nil, errorf(PolicyInvalid, "compact serialization needs exactly one signature, have %d", len(j.sigs))
	}
	e := &j.sigs[0]
	if e.protectedB64 == nil {
		// A JSON signature without "protected" would give ".payload.sig",
		// which no compact parser accepts.
		return nil, errorf(PolicyInvalid, "compact serialization needs a protected header")
	}
	if e.unprotected != nil {
		return nil, errorf(PolicyInvalid, "compact serialization cannot carry an unprotected header")
	}
	if !j.detached && !j.b64 && bytes.IndexByte(j.payloadSeg, '.') >= 0 {
		return nil, errorf(PolicyInvalid, "an unencoded payload containing '.' can only be detached in compact form (RFC 7797 §5.2)")
	}
	if !j.detached && !j.b64 && len(j.payloadSeg) == 0 {
		// "H..S" would read back as detached; say so rather than guess.
		return nil, errorf(PolicyInvalid, "an empty unencoded payload can only be detached in compact form")
	}
	seg := j.payloadSeg
	if j.detached {
		seg = nil
	}
	out := make([]byte, 0, len(e.protectedB64)+2+len(seg)+b64.EncodedLen(len(e.sig)))
	out = append(append(out, e.protectedB64...), '.')
	out = append(append(out, seg...), '.')
	return appendB64(out, e.sig), nil
}

// FlattenedBytes serializes a single-signature JWS as flattened JSON, with
// members in the order payload, protected, header, signature.
func (j *JWS) FlattenedBytes() ([]byte, error) {
	if len(j.sigs) != 1 {
		return nil, errorf(PolicyInvalid, "flattened serialization needs exactly one signature, have %d", len(j.sigs))
	}
	out, err := j.appendPayloadMember([]byte{'{'})
	if err != nil {
		return nil, err
	}
	out = j.sigs[0].appendJSON(out)
	return append(out, '}'), nil
}

// GeneralBytes serializes the JWS as general JSON:
// {"payload":…,"signatures":[{"protected":…,"header":…,"signature":…}]}.
func (j *JWS) GeneralBytes() ([]byte, error) {
	out, err := j.appendPayloadMember([]byte{'{'})
	if err != nil {
		return nil, err
	}
	out = append(out, `"signatures":[`...)
	for i := range j.sigs {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, '{')
		out = j.sigs[i].appendJSON(out)
		out = append(out, '}')
	}
	return append(out, "]}"...), nil
}

// Bytes serializes the JWS in the form it was parsed from or made for.
func (j *JWS) Bytes() ([]byte, error) {
	switch j.form {
	case Compact:
		return j.CompactBytes()
	case Flattened:
		return j.FlattenedBytes()
	default:
		return j.GeneralBytes()
	}
}

func (j *JWS) appendPayloadMember(out []byte) ([]byte, error) {
	if j.detached {
		return out, nil
	}
	out = append(out, `"payload":`...)
	if j.b64 {
		out = append(append(append(out, '"'), j.payloadSeg...), '"')
	} else {
		if !utf8.Valid(j.payloadSeg) {
			return nil, errorf(PolicyInvalid, "an unencoded payload in JSON must be valid UTF-8; use detached")
		}
		out = appendJSONString(out, j.payloadSeg)
	}
	return append(out, ','), nil
}

func (e *sigEntry) appendJSON(out []byte) []byte {
	if e.protectedB64 != nil {
		out = append(out, `"protected":"`...)
		out = append(out, e.protectedB64...)
		out = append(out, `",`...)
	}
	if e.unprotected != nil {
		out = append(out, `"header":`...)
		out = append(out, e.unprotected...)
		out = append(out, ',')
	}
	out = append(out, `"signature":"`...)
	out = appendB64(out, e.sig)
	return append(out, '"')
}

// appendJSONString appends s as a JSON string: '"' and '\\' escaped,
// control characters as short escapes or \u00XX, everything else literal.
func appendJSONString(out, s []byte) []byte {
	const hex = "0123456789abcdef"
	out = append(out, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			out = append(out, '\\', c)
		case c == '\n':
			out = append(out, '\\', 'n')
		case c == '\r':
			out = append(out, '\\', 'r')
		case c == '\t':
			out = append(out, '\\', 't')
		case c < 0x20:
			out = append(out, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		default:
			out = append(out, c)
		}
	}
	return append(out, '"')
}
