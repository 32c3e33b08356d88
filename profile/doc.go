// Package profile speaks the signature schemes of nonrep's users, on both
// sides of the wire: InComm (PS512, method/path/query in crit, detached),
// EBANX (RS256 ≥ 4096, b64:false, detached), Swift (X-SWIFT-Signature JWT
// with x5c and a body digest; X-SWIFT-Integrity on responses over the RFC
// 8785 canonical body), UK Open Banking (x-jws-signature, PS256, the
// openbanking.org.uk crit parameters, b64:false up to 3.1.3) and Generic
// (the guide's flattened JWS body, or a detached JWS in a header). The
// rules, and the decisions taken where the schemes' documents are silent,
// are in docs/schemes.md.
//
// A Profile signs a Message (Sign) and makes a per-partner Verifier
// (NewVerifier with a Trust). Verification is split in two so that an
// HTTP layer can run its cheap gates in between: Parse checks the scheme's
// headers and parses the JWS strictly without keys or crypto; Verify
// resolves the key, checks the signature over the exact body bytes, the
// request binding (method, path, query, aud, digest) and the time policy,
// and returns a Result carrying the signer's identity, the verbatim
// signature header value and the replay id.
//
// Every rejection is a *jose.Error whose Code is stable; this package adds
// HeaderMissing, RequestMismatch and DigestMismatch to the JOSE core's.
// The body is never re-serialized: Swift's response integrity is the only
// place JSON is canonicalized, as that scheme requires.
package profile
