package txsign

import (
	"bytes"
	"encoding/json"
	"slices"

	"github.com/nonrep/nonrep/jose"
)

// marshalJSON is json.Marshal without HTML escaping, so that text and
// authorization_details keep their exact characters.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// strictClaims parses a signed claims set strictly (jose's parser: no
// duplicate or case-variant members, registered claims of the right
// type), requires every name in required, refuses any name outside
// required and optional, and decodes it into out.
func strictClaims(payload []byte, out any, required []string, optional ...string) error {
	c, err := jose.ParseClaims(payload)
	if err != nil {
		return err
	}
	names := c.Names()
	for _, r := range required {
		if !slices.Contains(names, r) {
			return errorf(jose.ClaimMissing, "claim %s is required", quote(r))
		}
	}
	for _, n := range names {
		if !slices.Contains(required, n) && !slices.Contains(optional, n) {
			return errorf(jose.ClaimsInvalid, "claim %s is not allowed here", quote(n))
		}
	}
	if err := json.Unmarshal(payload, out); err != nil {
		return errorf(jose.ClaimsInvalid, "a claim has the wrong type")
	}
	return nil
}
