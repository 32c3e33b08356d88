package txsign

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
)

// Limits on authorization_details (RFC 9396 §2).
const (
	// MaxDetailsBytes caps the canonical authorization_details.
	MaxDetailsBytes = 16 << 10
	// MaxDetails caps the number of objects in the array.
	MaxDetails = 8
	// MaxStringRunes caps every string value inside the details.
	MaxStringRunes = 256
)

// PaymentInitiation is the RFC 9396 §2 example type this package renders
// and validates in full: instructedAmount {amount, currency},
// creditorName, creditorAccount, remittanceInformationUnstructured.
const PaymentInitiation = "payment_initiation"

var (
	typeRE     = regexp.MustCompile(`^[A-Za-z0-9_.:/-]{1,64}$`)
	currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
	// ISO 20022 ActiveCurrencyAndAmount: at most 18 digits, at most 5 of
	// them after the point; no sign, no exponent, no leading zeros.
	amountRE = regexp.MustCompile(`^(0|[1-9][0-9]{0,17})(\.[0-9]{1,5})?$`)
)

// Canonicalize validates authorization_details and returns its RFC 8785
// (JCS) canonical form, which is what the service stores, renders, hashes
// and puts in the transaction token.
//
// The value must be a JSON array of 1 to MaxDetails objects, each with a
// string "type". Every string anywhere in it must be valid UTF-8 of at most
// MaxStringRunes runes with no control characters and no bidirectional
// formatting characters, so that no value can forge a line or reorder text
// on the device's screen. Objects of type payment_initiation must carry
// instructedAmount.amount as a decimal string (a JSON number is refused:
// binary floating point cannot carry money exactly), a three-letter
// currency and a creditorName. Duplicate member names are refused (JCS).
func Canonicalize(details []byte) ([]byte, error) {
	if len(bytes.TrimSpace(details)) == 0 {
		return nil, errorf(DetailsInvalid, "authorization_details is required")
	}
	if len(details) > 4*MaxDetailsBytes {
		return nil, errorf(DetailsInvalid, "authorization_details is larger than %d bytes", 4*MaxDetailsBytes)
	}
	canon, err := jcs.Transform(details)
	if err != nil {
		return nil, wrapf(DetailsInvalid, err, "authorization_details is not canonicalizable JSON (RFC 8785): duplicate member, invalid number or string")
	}
	if len(canon) > MaxDetailsBytes {
		return nil, errorf(DetailsInvalid, "authorization_details is %d bytes canonical; the limit is %d", len(canon), MaxDetailsBytes)
	}
	var arr []json.RawMessage
	if canon[0] != '[' || json.Unmarshal(canon, &arr) != nil {
		return nil, errorf(DetailsInvalid, "authorization_details must be a JSON array of objects (RFC 9396 §2)")
	}
	if len(arr) == 0 || len(arr) > MaxDetails {
		return nil, errorf(DetailsInvalid, "authorization_details must hold 1 to %d objects, not %d", MaxDetails, len(arr))
	}
	for i, raw := range arr {
		var v any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return nil, errorf(DetailsInvalid, "authorization_details[%d] is not JSON", i)
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, errorf(DetailsInvalid, "authorization_details[%d] is not an object", i)
		}
		if err := checkStrings(v, "authorization_details"); err != nil {
			return nil, err
		}
		typ, _ := obj["type"].(string)
		if !typeRE.MatchString(typ) {
			return nil, errorf(DetailsInvalid, `authorization_details[%d] needs a "type" string of [A-Za-z0-9_.:/-]{1,64}`, i)
		}
		if typ == PaymentInitiation {
			if err := checkPayment(obj, i); err != nil {
				return nil, err
			}
		}
	}
	return canon, nil
}

func checkPayment(obj map[string]any, i int) error {
	amt, ok := obj["instructedAmount"].(map[string]any)
	if !ok {
		return errorf(DetailsInvalid, "authorization_details[%d]: payment_initiation needs an instructedAmount object", i)
	}
	switch a := amt["amount"].(type) {
	case string:
		if !amountRE.MatchString(a) || strings.Trim(a, "0.") == "" {
			return errorf(DetailsInvalid, "authorization_details[%d]: instructedAmount.amount %s is not a positive decimal string (at most 18 digits, 5 after the point)", i, quote(a))
		}
		if digits := len(strings.ReplaceAll(a, ".", "")); digits > 18 {
			return errorf(DetailsInvalid, "authorization_details[%d]: instructedAmount.amount has %d digits; at most 18", i, digits)
		}
	case json.Number:
		return errorf(DetailsInvalid, "authorization_details[%d]: instructedAmount.amount must be a decimal string, not a JSON number", i)
	default:
		return errorf(DetailsInvalid, "authorization_details[%d]: instructedAmount.amount is required (a decimal string)", i)
	}
	if c, _ := amt["currency"].(string); !currencyRE.MatchString(c) {
		return errorf(DetailsInvalid, "authorization_details[%d]: instructedAmount.currency must be an ISO 4217 code", i)
	}
	if n, _ := obj["creditorName"].(string); strings.TrimSpace(n) == "" {
		return errorf(DetailsInvalid, "authorization_details[%d]: payment_initiation needs a creditorName", i)
	}
	return nil
}

// checkStrings walks v and refuses strings (values and member names) that
// could spoof a display.
func checkStrings(v any, path string) error {
	switch x := v.(type) {
	case string:
		return checkText(x, path, MaxStringRunes)
	case map[string]any:
		for k, e := range x {
			if err := checkText(k, path, 64); err != nil {
				return err
			}
			if err := checkStrings(e, path+"."+k); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := checkStrings(e, path+"[]"); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkText refuses invalid UTF-8, control characters (C0, DEL, C1),
// line and paragraph separators, and bidirectional formatting characters.
func checkText(s, path string, max int) error {
	if !utf8.ValidString(s) {
		return errorf(DetailsInvalid, "%s: invalid UTF-8", path)
	}
	n := 0
	for _, r := range s {
		n++
		if unsafeRune(r) {
			return errorf(DetailsInvalid, "%s: character U+%04X is not allowed in text shown to the user", path, r)
		}
	}
	if n > max {
		return errorf(DetailsInvalid, "%s: text longer than %d characters", path, max)
	}
	return nil
}

func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true // bidi embeddings, overrides, isolates and marks
	case r == 0xfeff:
		return true
	}
	return false
}

// TxHash returns tx_hash for canonical authorization_details: the
// unpadded base64url SHA-256 of the bytes. Pass the output of
// Canonicalize; HashDetails canonicalizes first.
func TxHash(canonical []byte) string {
	sum := sha256.Sum256(canonical)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// HashDetails canonicalizes details (RFC 8785) and returns its tx_hash.
// It does not apply Canonicalize's content rules, so that a gateway can
// hash whatever a token or request body carries.
func HashDetails(details []byte) (string, error) {
	canon, err := jcs.Transform(details)
	if err != nil {
		return "", wrapf(DetailsInvalid, err, "authorization_details is not canonicalizable JSON")
	}
	return TxHash(canon), nil
}

// DisplayHash returns display_hash: the unpadded base64url SHA-256 of the
// display text's UTF-8 bytes.
func DisplayHash(text string) string {
	sum := sha256.Sum256([]byte(text))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
