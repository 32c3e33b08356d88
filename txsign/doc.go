// Package txsign is nonrep's transaction-signing service: a customer's
// enrolled device signs the exact amount and payee of a payment, and the
// payment API executes only what was signed, once.
//
// # The flow
//
//  1. Enrolment. A user's app gets a challenge, and enrols a device id, its
//     metadata, an optional webhook (push_url) and a public key (ES256 on
//     P-256 by default, EdDSA allowed) with a proof of possession: a JWS by
//     the key over the challenge. The key's RFC 7638 thumbprint becomes its
//     kid. Devices are listed, revoked from another channel, re-enrolled
//     with a new key, and rotate keys by a statement signed by the old key
//     and the new one.
//  2. Signing request (CIBA-shaped, OpenID CIBA Core §7). A relying app
//     posts authorization_details (RFC 9396 §2; amounts as decimal
//     strings), the user (login_hint), an optional binding message, expiry
//     and Idempotency-Key. The service stores the RFC 8785 canonical form,
//     tx_hash = base64url(SHA-256(canonical authorization_details)), and the
//     display text rendered by a versioned template with its hash
//     (display_hash), and answers auth_req_id, expires_in, interval.
//  3. Delivery. The request, signed by the service (typ txn-request+jwt,
//     aud the device id), is POSTed to the device's webhook and waits in the
//     device's pull inbox.
//  4. Decision. The device shows the text and returns a compact JWS (typ
//     txn-decision+jwt, kid its key's thumbprint) over {auth_req_id, nonce,
//     tx_hash, display_hash, decision approve|deny, iat, uv}. The service
//     checks key, revocation, request state and expiry, nonce, tx_hash,
//     display_hash, the signing time against the request's validity, and
//     the transaction PIN when demanded; it records the first decision only
//     (already_decided for the rest). A decision signed offline is accepted
//     only within the request's validity and is flagged offline.
//  5. Token. The relying app polls the token endpoint (CIBA poll mode):
//     authorization_pending, slow_down (one poll per interval, enforced
//     atomically by the store), expired_token, access_denied, then one
//     transaction token: a JWT (typ txn+jwt, at most 2 minutes) signed by
//     the service's active key, with sub, aud, jti, iat, exp, client_id, the
//     exact canonical authorization_details, tx_hash and evidence_ref.
//  6. Execution. The payment API's gateway (Gateway, or TokenVerifier)
//     validates the token locally with the service's keys, checks aud,
//     re-hashes the token's details against its tx_hash, optionally checks
//     the request's own details against it, consumes the jti atomically
//     (replay.Store: memory or Redis), and hands the handler the signed
//     authorization_details. A second use is token_used.
//
// # What you see is what you sign
//
// The device signs the hash of the text it showed, not only the hash of
// the data. The service renders that text itself (DisplayV1 documents the
// template) and refuses a decision whose display_hash is not the hash of
// its rendering. The reference device (package device) re-renders the
// text from the delivered authorization_details and refuses to show a
// text that differs, so neither side can show one thing and have another
// signed. Strings that could forge a line or reorder the screen (control
// characters, line separators, bidirectional overrides) are refused at
// request creation.
//
// # Evidence
//
// Every step — enrolment, key rotation, revocation, PIN change, request,
// delivery, decision, token issue, token use — is a Recorder event, made
// durable before the step takes effect; a recorder failure aborts the step
// with 503. Each event holds the exact signed bytes of its step and the key
// that verified or made them, and names the step it follows (Prev), so the
// chain of a payment reads request → delivery → device signature → token
// → execution, and the device's signature can be re-verified from its
// record alone. The token's evidence_ref is the decision's record.
//
// # Errors
//
// Codes are jose.Code values listed by Codes, each with an HTTP status
// (Status). The API answers RFC 9457 problem+json, except the token
// endpoint, which answers the OAuth 2.0 error shape {"error": CODE} (RFC
// 6749 §5.2) that CIBA clients expect. The HTTP API is described by
// openapi.yaml (OpenAPI, served at /openapi.yaml).
//
// # Security
//
//   - One approval, one token, one execution: the store moves a request
//     pending → approved|denied and approved → token_issued with
//     conditional updates, and the gateway claims each jti once.
//   - Fail closed: a store, signer, recorder or replay-store failure
//     refuses the step (503); nothing is decided, issued or executed
//     without its record.
//   - The transaction PIN is hashed with Argon2id (RFC 9106), never
//     recorded, and locked after Config.PINAttempts consecutive failures;
//     each attempt is counted before it is checked, so concurrent guesses
//     cannot exceed the limit. A new PIN (set through the user's
//     authenticated channel) unlocks it. A PIN is checked only after the
//     device's signature verifies, so only the key holder can make the
//     service run the memory-hard hash.
//   - Push delivery POSTs to URLs that users supply: https only by
//     default, no redirects followed, and PushConfig.CheckURL should
//     restrict hosts (SSRF).
//   - Revocation refuses a device's later decisions, including offline
//     ones signed earlier; tokens already issued live at most 2 minutes.
//   - A key, once enrolled, is never accepted for enrolment again (a
//     stolen old key cannot be re-registered).
package txsign
