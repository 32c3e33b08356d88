package evidence

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/profile"
)

// incommAuthorization is InComm's fixed Authorization scheme marker. It
// is checked when the request arrives, is not signed, and is not stored
// (an Authorization header may carry a secret); re-verification supplies
// it.
const incommAuthorization = "INCOMM-OLS-EAPI-SIGNATURE-JWS"

// Reverified is the outcome of re-verifying a record.
type Reverified struct {
	// Result is the profile's verified result (nil when it failed).
	Result *profile.Result
	// At is the time the signature was checked at: the record's Received.
	At time.Time
	// Check holds what an OpenSSL user needs to check the signature by
	// hand; nil when the signature does not parse or no key is stored.
	Check *SignatureCheck
}

// Reverify checks a request record's signature again, with nothing but
// the record: the stored signature header value over the stored body
// bytes, with the stored key (or, for x5c schemes, the stored chain and
// its root), under the record's profile, at the record's Received time
// rather than today's clock. Replay is not checked (it was, at receipt).
//
// It returns the profile's error (signature_invalid, expired, …) when the
// signature does not verify; Reverified is returned in both cases.
func Reverify(ctx context.Context, r *Record) (*Reverified, error) {
	out := &Reverified{At: r.Received}
	if r.kind() != KindRequest {
		return out, errorf(jose.PolicyInvalid, "only request records carry a signature to re-verify")
	}
	if r.Profile == TxsignProfile {
		return reverifyTxsign(ctx, r, out)
	}
	msg := &profile.Message{
		Method: r.Method, Host: r.Host, Path: r.Path, RawQuery: r.Query,
		Header: http.Header{}, Body: r.Body,
	}
	if r.SignatureHeader != "" {
		msg.Header.Set(r.SignatureHeader, string(r.Signature))
	}
	if r.ContentType != "" {
		msg.Header.Set("Content-Type", r.ContentType)
	}
	trust := profile.Trust{Lenient: r.Lenient, Clock: func() time.Time { return r.Received }}
	if r.Key != nil {
		ks, err := jose.NewKeySet(r.Key.Public())
		if err != nil {
			return out, err
		}
		trust.Keys = ks
	}
	if len(r.Chain) > 0 {
		certs, err := r.Certificates()
		if err != nil {
			return out, err
		}
		// The chain was validated to a configured root when the request
		// arrived and stored root last; trust that root (and only it) to
		// show that the signature chains to it. Whether the root is the
		// partner's is for the reader to confirm from its fingerprint.
		trust.Roots = x509.NewCertPool()
		trust.Roots.AddCert(certs[len(certs)-1])
	}
	if trust.Keys == nil && trust.Roots == nil {
		return out, errorf(jose.KeyUnknown, "the record holds no key and no certificate chain to verify with")
	}
	var p profile.Profile
	switch r.Profile {
	case "generic":
		p = profile.Generic{Header: r.SignatureHeader}
		// The partner's allow-list is configuration, not evidence: accept
		// the stored key's algorithm (any asymmetric one if it names none).
		if r.Key != nil && r.Key.Alg != "" {
			trust.Algs = []jose.Alg{r.Key.Alg}
		} else {
			for _, a := range jose.Algs() {
				if a[0] != 'H' {
					trust.Algs = append(trust.Algs, a)
				}
			}
		}
	case "incomm":
		p = profile.InComm{}
		msg.Header.Set("Authorization", incommAuthorization)
	case "openbanking":
		// Open Banking up to 3.1.3 signs the raw body (b64:false); both
		// readings share the name "openbanking", and the header says which.
		p = profile.OpenBanking{}
		if j, err := jose.ParseCompact(r.Signature, jose.Limits{}); err == nil && !j.Header(0).B64 {
			p = profile.OpenBanking{Version: "3.1.3"}
		}
	default:
		var ok bool
		if p, ok = profile.ByName(r.Profile); !ok {
			return out, errorf(jose.PolicyInvalid, "profile %s is unknown to this version of nonrep", quote(r.Profile))
		}
	}
	v, err := p.NewVerifier(trust)
	if err != nil {
		return out, err
	}
	parsed, err := v.Parse(msg)
	if err != nil {
		return out, err
	}
	out.Check = signatureCheck(parsed, r)
	res, err := v.Verify(ctx, parsed)
	if err != nil {
		return out, err
	}
	out.Result = res
	return out, nil
}

// SignatureCheck is what an OpenSSL user needs to check a JWS signature by
// hand. Everything in it is derived from the record: SigningInput from the
// signature header value and the body, Signature from the header value's
// last segment (converted to DER for ECDSA, as OpenSSL expects), and the
// public key from the stored JWK.
type SignatureCheck struct {
	Alg          string `json:"alg"`
	PublicKeyPEM string `json:"public_key_pem"`
	// SigningInput is ASCII(BASE64URL(protected header)) '.' payload
	// segment (RFC 7515 §5.2; the raw body when "b64": false), standard
	// base64.
	SigningInput string `json:"signing_input"`
	// Signature is the signature, standard base64 (DER for ECDSA).
	Signature string `json:"signature"`
	// OpenSSL is the command that checks it, given key.pem,
	// signing-input.bin and signature.bin.
	OpenSSL string `json:"openssl"`
}

func signatureCheck(parsed *profile.Parsed, r *Record) *SignatureCheck {
	j := parsed.JWS
	if j.Len() != 1 {
		return nil
	}
	h := j.Header(0)
	var key any
	switch {
	case r.Key != nil:
		key = r.Key.PublicKey()
	case len(r.Chain) > 0:
		c, err := x509.ParseCertificate(r.Chain[0])
		if err != nil {
			return nil
		}
		key = c.PublicKey
	default:
		return nil
	}
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil
	}
	payload := r.Body
	if !j.Detached() {
		if payload, err = j.UnsafePayloadWithoutVerification(); err != nil {
			return nil
		}
	}
	input := base64.RawURLEncoding.AppendEncode(nil, h.Raw)
	input = append(input, '.')
	if h.B64 {
		input = base64.RawURLEncoding.AppendEncode(input, payload)
	} else {
		input = append(input, payload...)
	}
	sig := j.Signature(0)
	var cmd string
	switch h.Alg {
	case jose.RS256, jose.RS384, jose.RS512:
		cmd = fmt.Sprintf("openssl dgst -sha%s -verify key.pem -signature signature.bin signing-input.bin", h.Alg[2:])
	case jose.PS256, jose.PS384, jose.PS512:
		bits := h.Alg[2:]
		salt := map[jose.Alg]int{jose.PS256: 32, jose.PS384: 48, jose.PS512: 64}[h.Alg]
		cmd = fmt.Sprintf("openssl dgst -sha%s -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:%d -verify key.pem -signature signature.bin signing-input.bin", bits, salt)
	case jose.ES256, jose.ES384, jose.ES512:
		n := len(sig) / 2
		if n == 0 || len(sig) != 2*n {
			return nil
		}
		d, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])})
		if err != nil {
			return nil
		}
		sig = d
		cmd = fmt.Sprintf("openssl dgst -sha%s -verify key.pem -signature signature.bin signing-input.bin", h.Alg[2:])
	case jose.EdDSA:
		cmd = "openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in signing-input.bin -sigfile signature.bin"
	default:
		return nil
	}
	return &SignatureCheck{
		Alg:          string(h.Alg),
		PublicKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		SigningInput: base64.StdEncoding.EncodeToString(input),
		Signature:    base64.StdEncoding.EncodeToString(sig),
		OpenSSL:      cmd,
	}
}
