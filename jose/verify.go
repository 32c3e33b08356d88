package jose

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"strings"
	"time"
)

// Policy says what a Verifier accepts. There are no "zero value skips the
// check" fields: a zero limit means the documented default, and the fields
// without a safe default (Algs, and Keys or Roots) are required by
// NewVerifier.
type Policy struct {
	// Algs is the allow-list. Required; "none" can never be listed. An HS*
	// algorithm verifies only with an oct key.
	Algs []Alg
	// Keys resolves verification keys. Required unless Roots is set.
	Keys KeyResolver
	// Roots, when set, lets a message's "x5c" chain supply the key: the
	// chain must validate to these roots at the policy's time (intermediates
	// may come from x5c; roots never do). When nil, x5c is ignored and keys
	// come only from Keys.
	Roots *x509.CertPool
	// Crit lists the extension header names this verifier understands and
	// checks itself (for example "http-method"). "b64" is always understood.
	Crit []string
	// Limits caps sizes before parsing.
	Limits Limits
	// KeyPolicy bounds acceptable keys (RSA minimum size).
	KeyPolicy KeyPolicy
	// MaxKeyCandidates bounds how many keys are tried for one signature
	// when the resolver returns several (a header without kid). Beyond it
	// the message is rejected with KeyUnknown rather than tried (default 4).
	MaxKeyCandidates int
	// RequireKid rejects a header without "kid" (HeaderInvalid).
	RequireKid bool
	// Typ, when set, is the required "typ" header, compared as RFC 7515
	// §4.1.9 says (case-insensitive, "application/" optional).
	Typ string
	// SelectKid, when set, verifies only the one signature whose protected
	// kid equals it (a general JSON JWS must have exactly one such
	// signature; the others are neither checked nor returned). When empty,
	// every signature must verify.
	SelectKid string
	// AllowUnprotectedKid accepts "kid" in a JSON serialization's
	// unprotected header, as RFC 7515 A.6/A.7 and RFC 7520 §4.6 do. The kid
	// is then only a hint for the resolver: it is not integrity protected,
	// and Signed.Header (the protected header) does not carry it. Off by
	// default: our profiles require a protected kid.
	AllowUnprotectedKid bool
	// JWT, when set, makes the payload a JWT claims set checked by it.
	JWT *ClaimsPolicy
	// Clock returns the current time for claims and certificate checks
	// (default time.Now). Re-verifying evidence passes the stored time.
	Clock func() time.Time
}

// Verifier verifies JWS messages under a Policy. It is safe for concurrent
// use.
type Verifier struct {
	p Policy
}

// NewVerifier checks the policy and returns a Verifier.
func NewVerifier(p Policy) (*Verifier, error) {
	if len(p.Algs) == 0 {
		return nil, errorf(PolicyInvalid, "Policy.Algs is empty: list the algorithms to accept")
	}
	for _, a := range p.Algs {
		if !a.Supported() {
			return nil, errorf(PolicyInvalid, "Policy.Algs lists unsupported alg %s", quote(string(a)))
		}
	}
	if p.Keys == nil && p.Roots == nil {
		return nil, errorf(PolicyInvalid, "Policy needs Keys or Roots")
	}
	for _, c := range p.Crit {
		if isRegistered(c) {
			return nil, errorf(PolicyInvalid, "Policy.Crit lists registered parameter %s", quote(c))
		}
	}
	if p.JWT != nil {
		if err := p.JWT.check(); err != nil {
			return nil, err
		}
	}
	if p.MaxKeyCandidates <= 0 {
		p.MaxKeyCandidates = 4
	}
	p.Limits = p.Limits.withDefaults()
	if p.Clock == nil {
		p.Clock = time.Now
	}
	p.Algs = append([]Alg(nil), p.Algs...)
	p.Crit = append([]string(nil), p.Crit...)
	return &Verifier{p: p}, nil
}

// Verified is the result of a successful verification. Everything in it
// was integrity-protected by a signature that verified, except Unprotected.
type Verified struct {
	Form Form
	// Payload is the exact payload bytes that were signed. For b64:false
	// it may share memory with the input given to Verify.
	Payload []byte
	// Signatures holds one entry per verified signature (one for compact and
	// flattened; with SelectKid, the selected one).
	Signatures []Signed
	// Claims is set when the policy has a JWT part.
	Claims *Claims

	one [1]Signed
}

// Signed describes one verified signature.
type Signed struct {
	// Header is the protected header; Header.Raw holds its exact bytes.
	Header Header
	// Unprotected is the exact JSON of the unprotected header (JSON
	// serializations only); it is NOT integrity protected.
	Unprotected []byte
	// Key is the key that verified the signature.
	Key *JWK
	// Thumbprint is Key's RFC 7638 SHA-256 thumbprint (base64url).
	Thumbprint string
	// Chain is the validated chain, leaf first and ending at a configured
	// root, when the key came from x5c; nil otherwise.
	Chain []*x509.Certificate
	// Signature is the decoded signature value.
	Signature []byte
}

// Header returns the protected header of the first verified signature.
func (v *Verified) Header() *Header { return &v.Signatures[0].Header }

// Verify parses and verifies a JWS in any serialization with an attached
// payload. A compact "header..signature" is verified over the empty payload;
// use VerifyDetached for a detached payload.
func (v *Verifier) Verify(ctx context.Context, data []byte) (*Verified, error) {
	j, err := Parse(data, v.p.Limits)
	if err != nil {
		return nil, err
	}
	return v.verify(ctx, j, nil, false, true)
}

// VerifyDetached verifies a JWS whose payload travels separately (RFC 7515
// Appendix F); payload is its exact bytes. A JWS that carries a payload of
// its own is rejected with PayloadMismatch.
func (v *Verifier) VerifyDetached(ctx context.Context, data, payload []byte) (*Verified, error) {
	if len(data)+len(payload) > v.p.Limits.MaxBytes {
		return nil, errorf(TooLarge, "JWS and payload are %d bytes; the limit is %d", len(data)+len(payload), v.p.Limits.MaxBytes)
	}
	j, err := Parse(data, v.p.Limits)
	if err != nil {
		return nil, err
	}
	return v.verify(ctx, j, payload, true, true)
}

// VerifyParsed verifies an already parsed JWS. detached reports whether
// payload is a detached payload to use.
func (v *Verifier) VerifyParsed(ctx context.Context, j *JWS, payload []byte, detached bool) (*Verified, error) {
	return v.verify(ctx, j, payload, detached, false)
}

// verify checks j. fresh is true when j was parsed by this call, so its
// preallocated result and payload room may be used.
func (v *Verifier) verify(ctx context.Context, j *JWS, payload []byte, hasDetached, fresh bool) (*Verified, error) {
	switch {
	case hasDetached && !j.detached:
		return nil, errorf(PayloadMismatch, "a detached payload was given, but the JWS carries its own")
	case !hasDetached && j.detached && j.form != Compact:
		return nil, errorf(PayloadMismatch, "the JWS has no payload; give the detached payload")
	}
	selected := -1
	if v.p.SelectKid != "" {
		for i := range j.sigs {
			if j.sigs[i].header.Kid == v.p.SelectKid {
				if selected >= 0 {
					return nil, errorf(HeaderInvalid, "more than one signature has kid %s", quote(v.p.SelectKid))
				}
				selected = i
			}
		}
		if selected < 0 {
			return nil, errorf(KeyUnknown, "no signature has kid %s", quote(v.p.SelectKid))
		}
	}
	// Policy checks on every header that will be verified, before any key
	// lookup or crypto.
	for i := range j.sigs {
		if selected >= 0 && i != selected {
			continue
		}
		if err := v.checkHeader(&j.sigs[i]); err != nil {
			return nil, err
		}
	}

	res := j.res
	if !fresh || res == nil {
		res = &Verified{}
	}
	res.Form = j.form
	if len(j.sigs) == 1 || selected >= 0 {
		res.Signatures = res.one[:]
	} else {
		res.Signatures = make([]Signed, len(j.sigs))
	}
	for i := range j.sigs {
		if selected >= 0 && i != selected {
			continue
		}
		out := &res.Signatures[0]
		if selected < 0 {
			out = &res.Signatures[i]
		}
		if err := v.verifyOne(ctx, j, i, payload, out); err != nil {
			return nil, err
		}
	}

	switch {
	case j.detached:
		res.Payload = payload
		if !hasDetached {
			res.Payload = []byte{}
		}
	case j.b64:
		var p []byte
		var err error
		if fresh && cap(j.scratch) >= b64.DecodedLen(len(j.payloadSeg)) {
			p, err = decodeB64Into(j.scratch[:cap(j.scratch)], j.payloadSeg, "payload")
		} else {
			p, err = decodeB64(j.payloadSeg, "payload")
		}
		if err != nil {
			return nil, err
		}
		res.Payload = p
	default:
		res.Payload = j.payloadSeg
	}
	if v.p.JWT != nil {
		c, err := ParseClaims(res.Payload)
		if err != nil {
			return nil, err
		}
		if err := v.p.JWT.Validate(c, v.p.Clock()); err != nil {
			return nil, err
		}
		res.Claims = c
	}
	return res, nil
}

// checkHeader applies the policy to one signature's headers.
func (v *Verifier) checkHeader(e *sigEntry) error {
	h := &e.header
	if e.protectedB64 == nil {
		return errorf(HeaderInvalid, `JWS JSON signature has no "protected" header; alg and kid must be protected`)
	}
	if !v.algAllowed(h.Alg) {
		return errorf(AlgNotAllowed, "alg %s is not allowed", quote(string(h.Alg)))
	}
	if err := h.checkCrit(v.p.Crit); err != nil {
		return err
	}
	for _, c := range v.p.Crit {
		// A name this verifier checks as critical must be declared critical:
		// otherwise a signer could omit it from crit and a naive reader would
		// not know it is security-relevant. Presence without crit is refused.
		if _, ok := h.Param(c); ok && !h.critHas(c) {
			return errorf(CritUnsupported, "%s is present but not listed in \"crit\"", quote(c))
		}
	}
	if e.unprotected != nil {
		if err := checkUnprotected(e.unprotected, h, v.p.Crit, v.p.AllowUnprotectedKid); err != nil {
			return err
		}
	}
	if v.p.RequireKid && h.Kid == "" && unprotectedKid(e) == "" {
		return errorf(HeaderInvalid, `protected header has no "kid"`)
	}
	if v.p.Typ != "" && !typEqual(h.Typ, v.p.Typ) {
		return errorf(TypMismatch, "typ is %s, want %q", quote(h.Typ), v.p.Typ)
	}
	return nil
}

func (v *Verifier) algAllowed(a Alg) bool {
	for _, x := range v.p.Algs {
		if x == a {
			return true
		}
	}
	return false
}

// typEqual compares media types as RFC 7515 §4.1.9 recommends.
func typEqual(got, want string) bool {
	norm := func(s string) string {
		if len(s) > 12 && strings.EqualFold(s[:12], "application/") && !strings.Contains(s[12:], "/") {
			return s[12:]
		}
		return s
	}
	return strings.EqualFold(norm(got), norm(want))
}

// verifyOne finds the key for signature i and checks it.
func (v *Verifier) verifyOne(ctx context.Context, j *JWS, i int, payload []byte, out *Signed) error {
	e := &j.sigs[i]
	h := &e.header
	var candidates []*JWK
	var chain []*x509.Certificate
	switch {
	case len(h.X5C) > 0 && v.p.Roots != nil:
		leaf, chains, err := v.verifyChain(h)
		if err != nil {
			return err
		}
		candidates, chain = []*JWK{leaf}, chains
	case v.p.Keys != nil:
		hint := h
		if h.Kid == "" && v.p.AllowUnprotectedKid {
			if kid := unprotectedKid(e); kid != "" {
				c := *h
				c.Kid = kid
				hint = &c
			}
		}
		ks, err := v.p.Keys.ResolveKeys(ctx, hint)
		if err != nil {
			switch CodeOf(err) {
			case KeyUnknown, KeyUnavailable, KeyRejected:
				return err
			}
			return wrapf(KeyUnavailable, err, "key resolver failed")
		}
		if len(ks) == 0 {
			return errorf(KeyUnknown, "no key for kid %s", quote(h.Kid))
		}
		if len(ks) > v.p.MaxKeyCandidates {
			return errorf(KeyUnknown, "%d candidate keys and no kid to choose; the limit is %d", len(ks), v.p.MaxKeyCandidates)
		}
		candidates = ks
	case len(h.X5C) == 0:
		return errorf(KeyUnknown, `no "x5c" in the header and no key resolver configured`)
	default:
		return errorf(X5CInvalid, "x5c given but no trust roots are configured")
	}

	input := j.signingInput(i, payload)
	var firstErr error
	usable := 0
	for _, k := range candidates {
		if err := k.usableFor(h.Alg, "verify", v.p.KeyPolicy); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if k.Kty != "oct" && k.IsPrivate() {
			if firstErr == nil {
				firstErr = errorf(KeyRejected, "private key offered for verification")
			}
			continue
		}
		usable++
		if err := verifySig(h.Alg, k.public(), input, e.sig); err != nil {
			continue
		}
		*out = Signed{Header: *h, Unprotected: e.unprotected, Key: k, Thumbprint: k.thumb, Chain: chain, Signature: e.sig}
		return nil
	}
	if usable == 0 && firstErr != nil {
		return firstErr
	}
	return errorf(SignatureInvalid, "%s signature does not verify", h.Alg)
}

// verifyChain validates the header's x5c chain against the policy's roots
// and returns the leaf's key.
func (v *Verifier) verifyChain(h *Header) (*JWK, []*x509.Certificate, error) {
	certs := make([]*x509.Certificate, len(h.X5C))
	for i, der := range h.X5C {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, wrapf(X5CInvalid, err, "x5c[%d] is not a valid certificate", i)
		}
		certs[i] = c
	}
	if h.X5T != nil {
		if s := sha1.Sum(h.X5C[0]); !bytes.Equal(s[:], h.X5T) {
			return nil, nil, errorf(HeaderInvalid, `"x5t" does not match the x5c leaf`)
		}
	}
	if h.X5TS256 != nil {
		if s := sha256.Sum256(h.X5C[0]); !bytes.Equal(s[:], h.X5TS256) {
			return nil, nil, errorf(HeaderInvalid, `"x5t#S256" does not match the x5c leaf`)
		}
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	chains, err := certs[0].Verify(x509.VerifyOptions{
		Roots:         v.p.Roots,
		Intermediates: inter,
		CurrentTime:   v.p.Clock(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, nil, wrapf(X5CInvalid, err, "x5c chain does not validate to the configured roots")
	}
	if certs[0].KeyUsage != 0 && certs[0].KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, nil, errorf(X5CInvalid, "x5c leaf certificate does not allow digitalSignature")
	}
	k, err := NewJWK(certs[0].PublicKey, h.Kid, "")
	if err != nil {
		return nil, nil, err
	}
	k.Certificates = certs
	return k, chains[0], nil
}

// unprotectedKid returns a string "kid" from the unprotected header, or "".
func unprotectedKid(e *sigEntry) string {
	if e.unprotected == nil {
		return ""
	}
	members, err := parseObject(e.unprotected, "unprotected header")
	if err != nil {
		return ""
	}
	for i := range members {
		if members[i].name == "kid" {
			s, _ := members[i].jsonString()
			return s
		}
	}
	return ""
}
