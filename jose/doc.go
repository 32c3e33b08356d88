// Package jose is nonrep's strict JOSE core: JSON Web Signature (RFC 7515),
// JSON Web Key (RFC 7517), the JWS algorithms of RFC 7518 §3 and RFC 8037,
// unencoded payloads (RFC 7797), JWK thumbprints (RFC 7638) and JWT claims
// checks (RFC 7519 §4.1, §7.2). It imports only the standard library.
//
// # What it implements
//
//   - Serializations: compact, flattened JSON and general JSON (RFC 7515
//     §7), each with an attached or detached payload (Appendix F), and
//     "b64": false (RFC 7797; compact only when the payload has no '.').
//   - Algorithms: RS256/384/512, PS256/384/512 (salt length = hash length,
//     exactly), ES256/384/512 (IEEE P1363 R||S of exact length, r and s in
//     [1, n-1]; DER refused), EdDSA (Ed25519), and HS256/384/512 only with
//     an oct key and an allow-list that names them. "none" never.
//   - Keys: RSA (2048–8192 bits, odd e ≥ 65537; minimum raisable per
//     policy), EC P-256/384/521 (exact coordinate length, point on curve),
//     OKP Ed25519 (X25519 refused for signatures), oct; PEM import and
//     export (PKIX, PKCS#8, X.509, PKCS#1, SEC 1); RFC 7638 thumbprints.
//
// # Verification order
//
// A Verifier checks, in this order, and stops at the first failure:
//
//  1. size caps (whole JWS, protected header, signature count) and the
//     exact segment count, before any decoding;
//  2. base64url: unpadded, alphabet only, canonical trailing bits;
//  3. the protected header: one JSON object, valid UTF-8, no lone
//     surrogates, no duplicate or case-variant member names, nothing after
//     it, registered parameters of the right JSON type;
//  4. "alg" against the allow-list; "crit" (RFC 7515 §4.1.11): a non-empty
//     array of unique names, each understood ("b64" or Policy.Crit), none
//     registered by RFC 7515/7518, each present in the protected header;
//     "b64" present ⇒ listed in crit; the unprotected header carries no
//     registered or critical parameter and no name of the protected one;
//  5. the key: from Policy.Keys (a KeyResolver) or, only when Policy.Roots
//     is set, from an x5c chain that validates to those roots. Keys in the
//     message ("jwk", "jku", "x5u") are never used. The key's type must fit
//     the algorithm; its own "alg", "use" and "key_ops" must allow it;
//  6. the signature over the exact signing input;
//  7. with Policy.JWT, the claims.
//
// A general JSON JWS with several signatures verifies only if every
// signature verifies against an allowed key; Policy.SelectKid verifies
// exactly the one signature with that kid instead.
//
// # Errors
//
// Every error is an *Error with a stable Code; test with errors.Is(err,
// jose.Expired) or CodeOf. Details never contain key material or payloads.
//
// # Security
//
// Parse never trusts: a *JWS is unverified until a Verifier returns a
// *Verified. Every parameter that decides how a signature is checked — alg,
// kid, crit, b64, x5c and any extension the caller lists in Policy.Crit —
// must be in the protected header: RFC 7515 allows alg in a JSON
// serialization's unprotected header, and this package refuses it
// (HeaderInvalid). Unknown top-level members of a JSON serialization are
// refused rather than ignored, so that stored evidence holds no bytes that
// nobody checked. Bytes that were signed are kept exactly as received
// (Header.Raw, Verified.Payload); nothing is re-serialized to verify.
package jose
