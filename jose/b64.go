package jose

import "encoding/base64"

// b64 is base64url without padding (RFC 7515 §2). Strict() makes the
// decoder reject non-zero trailing bits, so every byte string has exactly
// one accepted encoding.
var b64 = base64.RawURLEncoding.Strict()

// b64Value[c] is the 6-bit value of a base64url character plus one, or 0
// for a character outside the alphabet. Go's decoder silently skips '\r'
// and '\n'; checking the alphabet first closes that gap (and rejects '=',
// '+', '/' and whitespace).
var b64Value = func() (t [256]byte) {
	for i, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[c] = byte(i) + 1
	}
	return t
}()

// validB64 reports whether s is canonical unpadded base64url: alphabet only,
// a possible length, and zero unused bits in the last character, so that
// every byte string has exactly one accepted encoding. It does not decode.
func validB64[T string | []byte](s T) bool {
	if len(s)%4 == 1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b64Value[s[i]] == 0 {
			return false
		}
	}
	if len(s) == 0 {
		return true
	}
	last := b64Value[s[len(s)-1]] - 1
	switch len(s) % 4 {
	case 2:
		return last&0x0F == 0
	case 3:
		return last&0x03 == 0
	}
	return true
}

// decodeB64Into decodes src into dst, which must have room for
// b64.DecodedLen(len(src)) bytes, and returns the decoded bytes. what names
// the field for the error detail.
func decodeB64Into(dst, src []byte, what string) ([]byte, error) {
	if !validB64(src) {
		return nil, errorf(Malformed, "%s is not canonical unpadded base64url", what)
	}
	n, err := b64.Decode(dst, src)
	if err != nil {
		return nil, errorf(Malformed, "%s is not canonical unpadded base64url", what)
	}
	return dst[:n], nil
}

// decodeB64 decodes a base64url field into a new slice.
func decodeB64[T string | []byte](src T, what string) ([]byte, error) {
	if !validB64(src) {
		return nil, errorf(Malformed, "%s is not canonical unpadded base64url", what)
	}
	dst := make([]byte, b64.DecodedLen(len(src)))
	n, err := b64.Decode(dst, []byte(src))
	if err != nil {
		return nil, errorf(Malformed, "%s is not canonical unpadded base64url", what)
	}
	return dst[:n], nil
}

func encodeB64(src []byte) string { return b64.EncodeToString(src) }

func appendB64(dst, src []byte) []byte { return b64.AppendEncode(dst, src) }

// appendStdB64 appends standard, padded base64 (as x5c uses).
func appendStdB64(dst, src []byte) []byte { return base64.StdEncoding.AppendEncode(dst, src) }
