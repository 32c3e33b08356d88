package profile

import (
	"bytes"
	"testing"

	"github.com/nonrep/nonrep/jose"
)

// TestB64RefusedWhereUnused: InComm, Swift and Generic sign ordinary
// base64url payloads; a header carrying b64 (even true, even listed in
// crit) is refused before any crypto.
func TestB64RefusedWhereUnused(t *testing.T) {
	for _, fx := range allFixtures(t) {
		switch fx.p.(type) {
		case InComm, Swift, Generic:
		default:
			continue
		}
		t.Run(fx.name, func(t *testing.T) {
			m := newMessage()
			sm := mustSign(t, fx.p, m, fx.signer)
			name, value := sigLocation(t, fx, sm)
			j, err := jose.Parse([]byte(value), jose.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			raw := j.Header(0).Raw
			// Add "b64":true and list it in crit (adding crit if absent).
			var hdr []byte
			if bytes.Contains(raw, []byte(`"crit":[`)) {
				hdr = bytes.Replace(raw, []byte(`"crit":[`), []byte(`"b64":true,"crit":["b64",`), 1)
			} else {
				hdr = append(bytes.TrimSuffix(raw, []byte("}")), []byte(`,"b64":true,"crit":["b64"]}`)...)
			}
			payload, _ := j.UnsafePayloadWithoutVerification()
			detached := j.Detached()
			if detached {
				payload = sm.Body
			}
			forged, err := jose.SignWithHeader(payload, hdr, detached, j.Form(), fx.signer.Key)
			if err != nil {
				t.Fatal(err)
			}
			out, err := forged.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			bad := sm.clone()
			if name == "" {
				bad.Body = out
			} else {
				bad.Header.Set(name, string(out))
			}
			v := mustVerifier(t, fx.p, fx.trust)
			if _, err := v.Parse(bad); jose.CodeOf(err) != jose.HeaderInvalid {
				t.Fatalf("got %v, want header_invalid", err)
			}
		})
	}
}

// sigLocation returns where the fixture's signature travels: a header name
// and value, or "" and the body.
func sigLocation(t *testing.T, fx fixture, sm *Message) (string, string) {
	switch p := fx.p.(type) {
	case InComm:
		return "Signature", sm.Header.Get("Signature")
	case Swift:
		return "X-SWIFT-Signature", sm.Header.Get("X-SWIFT-Signature")
	case Generic:
		if p.Header != "" {
			return p.Header, sm.Header.Get(p.Header)
		}
		return "", string(sm.Body)
	}
	t.Fatal("no location")
	return "", ""
}
