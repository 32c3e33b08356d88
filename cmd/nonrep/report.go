package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/nonrep/nonrep/jose"
)

// The JSON documents printed by "verify --json" and "inspect". Their
// member names are API; see README.md (CLI reference).

// verifyReport is printed by "verify --json".
type verifyReport struct {
	Verified   bool             `json:"verified"` // always true
	Form       string           `json:"form"`
	Detached   bool             `json:"detached"`
	Signatures []verifiedSigRep `json:"signatures"`
	payloadRep
	// Claims is the JWT claims set, exactly as signed (with --jwt).
	Claims json.RawMessage `json:"claims,omitempty"`
}

type verifiedSigRep struct {
	Alg           string          `json:"alg"`
	Kid           string          `json:"kid,omitempty"` // the protected header's kid
	KeyKid        string          `json:"key_kid,omitempty"`
	KeyThumbprint string          `json:"key_thumbprint"` // RFC 7638, SHA-256, base64url
	Protected     json.RawMessage `json:"protected"`
	// Unprotected is NOT integrity protected.
	Unprotected json.RawMessage `json:"unprotected,omitempty"`
}

// inspectReport is printed by "inspect". Nothing in it is verified.
type inspectReport struct {
	Verified   bool            `json:"verified"` // always false
	Warning    string          `json:"warning"`
	Form       string          `json:"form"`
	Detached   bool            `json:"detached"`
	Signatures []inspectSigRep `json:"signatures"`
	payloadRep
}

type inspectSigRep struct {
	Protected   json.RawMessage `json:"protected"`
	Unprotected json.RawMessage `json:"unprotected,omitempty"`
	Signature   string          `json:"signature"` // base64url
}

// payloadRep carries payload bytes exactly: as a JSON string when they are
// valid UTF-8 ("utf-8"), otherwise as unpadded base64url ("base64url").
type payloadRep struct {
	PayloadEncoding string  `json:"payload_encoding,omitempty"`
	Payload         *string `json:"payload,omitempty"`
}

func newPayloadRep(p []byte) payloadRep {
	if utf8.Valid(p) {
		s := string(p)
		return payloadRep{PayloadEncoding: "utf-8", Payload: &s}
	}
	s := base64.RawURLEncoding.EncodeToString(p)
	return payloadRep{PayloadEncoding: "base64url", Payload: &s}
}

// verifiedReport describes res; detached says the payload came separately.
func verifiedReport(res *jose.Verified, detached bool) *verifyReport {
	r := &verifyReport{
		Verified:   true,
		Form:       res.Form.String(),
		Detached:   detached,
		Signatures: make([]verifiedSigRep, len(res.Signatures)),
		payloadRep: newPayloadRep(res.Payload),
	}
	for i := range res.Signatures {
		s := &res.Signatures[i]
		r.Signatures[i] = verifiedSigRep{
			Alg:           string(s.Header.Alg),
			Kid:           s.Header.Kid,
			KeyThumbprint: s.Thumbprint,
			Protected:     json.RawMessage(s.Header.Raw),
			Unprotected:   json.RawMessage(s.Unprotected),
		}
		if s.Key != nil {
			r.Signatures[i].KeyKid = s.Key.Kid
		}
	}
	if res.Claims != nil {
		r.Claims = json.RawMessage(res.Payload)
	}
	return r
}

// writeReport prints v as indented JSON, HTML characters unescaped.
func writeReport(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		// Every raw member was checked by jose's strict parser first.
		return ioErr(fmt.Errorf("encoding the report: %w", err))
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return ioErr(fmt.Errorf("writing output: %w", err))
	}
	return nil
}
