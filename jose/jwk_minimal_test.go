package jose

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"testing"
)

// TestRSAPrivateMembersMinimal: every RSA private member must be a
// minimal Base64urlUInt (RFC 7518 §6.3.2), like n and e.
func TestRSAPrivateMembersMinimal(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	j, err := NewJWK(k, "k1", RS256)
	if err != nil {
		t.Fatal(err)
	}
	good, err := j.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseJWK(good); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"d", "p", "q", "dp", "dq", "qi"} {
		var m map[string]any
		json.Unmarshal(good, &m)
		b, _ := base64.RawURLEncoding.DecodeString(m[name].(string))
		m[name] = base64.RawURLEncoding.EncodeToString(append([]byte{0}, b...))
		bad, _ := json.Marshal(m)
		if bytes.Equal(bad, good) {
			t.Fatal("no change")
		}
		if _, err := ParseJWK(bad); CodeOf(err) != KeyRejected {
			t.Errorf("%s with a leading zero: %v", name, err)
		}
	}
}
