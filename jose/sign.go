package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"io"
)

// SigningKey binds a crypto.Signer (a file key, an HSM or a KMS) to an
// algorithm and kid. For HS* set Secret instead of Signer. A SigningKey is
// safe for concurrent use if its Signer is.
type SigningKey struct {
	Alg Alg
	// Kid, when set, is written to the protected header.
	Kid    string
	Signer crypto.Signer
	Secret []byte
	// Rand is the randomness for RSA-PSS and ECDSA (default crypto/rand).
	Rand io.Reader
}

// NewSigningKey makes a SigningKey from a private JWK. alg may be empty when
// the JWK has an alg of its own.
func NewSigningKey(k *JWK, alg Alg) (*SigningKey, error) {
	if alg == "" {
		alg = k.Alg
	}
	if alg == "" {
		return nil, errorf(PolicyInvalid, "the key has no alg; name one")
	}
	if err := k.usableFor(alg, "sign", KeyPolicy{}); err != nil {
		return nil, err
	}
	sk := &SigningKey{Alg: alg, Kid: k.Kid}
	switch key := k.Key.(type) {
	case *rsa.PrivateKey:
		sk.Signer = key
	case *ecdsa.PrivateKey:
		sk.Signer = key
	case ed25519.PrivateKey:
		sk.Signer = key
	case []byte:
		sk.Secret = key
	default:
		return nil, errorf(KeyRejected, "key %s is not a private key", quote(k.Kid))
	}
	return sk, nil
}

// check validates that the signer's public key fits the algorithm.
func (k *SigningKey) check() error {
	info, ok := k.Alg.info()
	if !ok {
		return errorf(AlgNotAllowed, "unsupported alg %s", quote(string(k.Alg)))
	}
	if info.family == famHMAC {
		if len(k.Secret) < info.hash.Size() {
			return errorf(KeyRejected, "%s needs a secret of at least %d bytes", k.Alg, info.hash.Size())
		}
		return nil
	}
	if k.Signer == nil {
		return errorf(PolicyInvalid, "SigningKey has no Signer")
	}
	pk, err := NewJWK(k.Signer.Public(), k.Kid, "")
	if err != nil {
		return err
	}
	return pk.fitsAlg(k.Alg)
}

// sign signs input.
func (k *SigningKey) sign(input []byte) ([]byte, error) {
	info, _ := k.Alg.info()
	r := k.Rand
	if r == nil {
		r = rand.Reader
	}
	switch info.family {
	case famHMAC:
		m := hmac.New(info.hash.New, k.Secret)
		m.Write(input)
		return m.Sum(nil), nil
	case famEd:
		sig, err := k.Signer.Sign(r, input, crypto.Hash(0))
		if err != nil {
			return nil, wrapf(SignerFailed, err, "signer failed")
		}
		if len(sig) != ed25519.SignatureSize {
			return nil, errorf(SignerFailed, "signer returned %d bytes for EdDSA", len(sig))
		}
		return sig, nil
	}
	d, n := digest(info.hash, input)
	var opts crypto.SignerOpts = info.hash
	if info.family == famPSS {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: info.hash}
	}
	sig, err := k.Signer.Sign(r, d[:n], opts)
	if err != nil {
		return nil, wrapf(SignerFailed, err, "signer failed")
	}
	if info.family == famEC {
		return derToP1363(sig, info.size)
	}
	return sig, nil
}

// HeaderParam is an extra protected header member: a name and its exact
// JSON value.
type HeaderParam struct {
	Name  string
	Value []byte
}

// SignOptions shape the protected header and the payload's form.
type SignOptions struct {
	// Typ and Cty set "typ" and "cty".
	Typ, Cty string
	// Detached omits the payload from the serialization (RFC 7515 App. F).
	Detached bool
	// Unencoded sets "b64": false and lists "b64" in crit (RFC 7797).
	Unencoded bool
	// Crit lists extension names to mark critical; each must be in Header.
	Crit []string
	// Header adds protected members after the registered ones, in order.
	Header []HeaderParam
	// X5C puts a certificate chain (DER, leaf first) in the header.
	X5C [][]byte
	// Form is the serialization Bytes produces (default Compact for one
	// key, General for several).
	Form Form
}

// Sign signs payload with each key (one signature per key) and returns the
// JWS. The protected header has members in this order: alg, kid, typ, cty,
// b64, crit, x5c, then opts.Header. It is checked with the same strict
// parser a verifier uses, so Sign never emits what Verify would refuse for
// its shape.
func Sign(payload []byte, opts SignOptions, keys ...*SigningKey) (*JWS, error) {
	if len(keys) == 0 {
		return nil, errorf(PolicyInvalid, "no signing key")
	}
	raws := make([][]byte, len(keys))
	for i, k := range keys {
		raws[i] = buildHeader(k, &opts)
	}
	return signRaw(payload, raws, opts.Detached, opts.Form, keys)
}

// SignWithHeader signs payload with key under the exact protected header
// bytes raw (which must name key's alg). It exists for test vectors and
// for schemes that fix the header's bytes.
func SignWithHeader(payload, raw []byte, detached bool, form Form, key *SigningKey) (*JWS, error) {
	return signRaw(payload, [][]byte{raw}, detached, form, []*SigningKey{key})
}

func buildHeader(k *SigningKey, o *SignOptions) []byte {
	h := []byte(`{"alg":`)
	h = appendJSONString(h, []byte(k.Alg))
	if k.Kid != "" {
		h = append(h, `,"kid":`...)
		h = appendJSONString(h, []byte(k.Kid))
	}
	if o.Typ != "" {
		h = append(h, `,"typ":`...)
		h = appendJSONString(h, []byte(o.Typ))
	}
	if o.Cty != "" {
		h = append(h, `,"cty":`...)
		h = appendJSONString(h, []byte(o.Cty))
	}
	crit := o.Crit
	if o.Unencoded {
		h = append(h, `,"b64":false`...)
		crit = append([]string{"b64"}, crit...)
	}
	if len(crit) > 0 {
		h = append(h, `,"crit":[`...)
		for i, c := range crit {
			if i > 0 {
				h = append(h, ',')
			}
			h = appendJSONString(h, []byte(c))
		}
		h = append(h, ']')
	}
	if len(o.X5C) > 0 {
		h = append(h, `,"x5c":[`...)
		for i, der := range o.X5C {
			if i > 0 {
				h = append(h, ',')
			}
			h = append(h, '"')
			h = appendStdB64(h, der)
			h = append(h, '"')
		}
		h = append(h, ']')
	}
	for _, p := range o.Header {
		h = append(h, ',')
		h = appendJSONString(h, []byte(p.Name))
		h = append(h, ':')
		h = append(h, p.Value...)
	}
	return append(h, '}')
}

func signRaw(payload []byte, raws [][]byte, detached bool, form Form, keys []*SigningKey) (*JWS, error) {
	if form == 0 {
		form = Compact
		if len(keys) > 1 {
			form = General
		}
	}
	if form != General && len(keys) != 1 {
		return nil, errorf(PolicyInvalid, "%s serialization takes exactly one signature", form)
	}
	j := &JWS{form: form, detached: detached, sigs: make([]sigEntry, len(keys))}
	for i, k := range keys {
		if err := k.check(); err != nil {
			return nil, err
		}
		e := &j.sigs[i]
		if err := e.header.parse(raws[i]); err != nil {
			return nil, err
		}
		if err := e.header.checkCrit(e.header.Crit); err != nil {
			return nil, err
		}
		if e.header.Alg != k.Alg {
			return nil, errorf(PolicyInvalid, "header alg %s does not match the key's %s", quote(string(e.header.Alg)), k.Alg)
		}
		if i == 0 {
			j.b64 = e.header.B64
		} else if e.header.B64 != j.b64 {
			return nil, errorf(PolicyInvalid, `signatures disagree on "b64"`)
		}
		e.protectedB64 = []byte(encodeB64(raws[i]))
	}
	if j.b64 {
		j.payloadSeg = []byte(encodeB64(payload))
	} else {
		j.payloadSeg = append([]byte{}, payload...)
	}
	for i, k := range keys {
		e := &j.sigs[i]
		input := make([]byte, 0, len(e.protectedB64)+1+len(j.payloadSeg))
		input = append(append(append(input, e.protectedB64...), '.'), j.payloadSeg...)
		sig, err := k.sign(input)
		if err != nil {
			return nil, err
		}
		e.sig = sig
	}
	if detached {
		// Keep the payload out of the serialization; the signature covers it.
		j.payloadSeg = nil
	}
	// Fail now rather than at serialization for the compact b64:false rule.
	if form == Compact {
		if _, err := j.CompactBytes(); err != nil {
			return nil, err
		}
	}
	return j, nil
}
