// Package keys is nonrep's key registry: our own signing keys with their
// four-phase lifecycle, our partners' keys and policies, and the records
// (transitions, revocations, operator actions) that must survive every
// rotation for evidence to stay verifiable.
//
// Sub-packages: sqlitestore (the embedded default) and pgstore implement
// [Store] and pass the one conformance suite in keystest; jwksserver
// publishes our keys at /.well-known/jwks.json; jwkscache follows partners'
// JWKS URLs and is the [jose.KeyResolver] a profile.Trust uses.
//
// # Lifecycle of our keys
//
//		pending ──► active ──► retiring ──► retired
//		   │           ▲          │
//		   │           └──────────┘ (roll back: promote a retiring key again)
//		   └───────────────────────────────► retired (a pending key never used)
//		any state but revoked ──► revoked (terminal)
//
//	  - pending: published in our JWKS, never used to sign. A key may become
//	    active only after it has been published for the longest cache
//	    lifetime we advertise (Config.MaxAge) plus a margin; Promote refuses
//	    an early promotion with code TooEarly and names the earliest time.
//	  - active: signs. At most one key per purpose, enforced by the store
//	    itself (a unique index), so that two operators racing cannot both
//	    win. Promoting a key makes the previous active key of its purpose
//	    retiring in the same transaction.
//	  - retiring: verify-only, still published, for at least
//	    Config.Retiring, so that messages signed just before the switch
//	    still verify at every partner.
//	  - retired: unpublished, kept forever: evidence re-verification needs
//	    the public key of every key that ever signed.
//	  - revoked: never accepted again, by Registry.ResolveKeys or anyone
//	    following our JWKS (it is unpublished at once).
//
// Every transition is timestamped and recorded with who made it and why
// (Registry.History).
//
// # Private keys
//
// The registry stores only public keys and a reference (Key.SignerRef) to
// where the private half lives. A [SignerOpener] turns the reference into
// a crypto.Signer: [FileSigners] reads a JWK or PEM file that only its
// owner may read (mode 0600); an HSM or KMS opener implements the same
// one-method interface, and nothing else changes.
//
// # Security
//
//   - No private key material is ever stored, logged or returned in an
//     error; CreateKey refuses a Key whose Public holds a private key.
//   - Store errors fail closed: a registry that cannot read its store
//     returns StoreUnavailable, never an empty answer.
//   - Timestamps are the registry's clock, truncated to microseconds and in
//     UTC, so that every backend stores and returns them exactly.
package keys
