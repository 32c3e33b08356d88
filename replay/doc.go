// Package replay records the ids of accepted signed requests so that a
// replayed request is never executed twice, even when many gateway
// instances share the work.
//
// # Semantics
//
// [Store.Claim] atomically records an id for a ttl. It returns nil to
// exactly one caller per id per ttl window, across every process sharing the
// backend, and an error with code [Detected] to every other caller until the
// ttl has passed. The id is a request's jti (namespace it by partner, for
// example "partner:jti", when partners choose their own jtis) or, for
// schemes without one, [SignatureID] of the signature value. Every gateway
// instance must derive ids identically.
//
// The gateway claims the id after the signature and the time claims have
// verified and before the request is forwarded or its evidence written: an
// unverified message must not be able to burn a legitimate id.
//
// # TTL
//
// The caller passes the message's remaining validity window,
//
//	ttl = exp + skew - now
//
// where exp is the message's expiry (or iat/created plus the profile's
// maximum age) and skew the verifier's allowed clock skew. After that instant
// the verifier itself rejects the message as expired (jose.Expired), so the
// store may forget the id without reopening a replay. A ttl shorter than the
// window reopens replay; a longer one only costs memory. An id is held from
// the claim until, but not including, claim time + ttl. A message with no
// expiry cannot be protected by a bounded store: the profile must impose a
// maximum age.
//
// # Fail closed
//
// Every non-nil error means "do not execute". [Detected] is a replay
// (answer 409 or the profile's replay status). [Unavailable] means the store
// could not decide — backend error or timeout, canceled context, memory
// store full of live ids, store closed — and the request must be refused
// (503), never let through. [Invalid] is a caller bug (empty id, id longer
// than [MaxIDLen] bytes, ttl <= 0). Errors are *jose.Error values, so
// errors.Is(err, replay.Detected) and jose.CodeOf work.
//
// A claim whose outcome is unknown (say the Redis reply was lost) returns
// Unavailable even though the id may have been recorded; a retry of the
// same request is then refused as a replay. That loses a request but never
// executes one twice, which is the trade this package makes everywhere.
//
// # Backends
//
// [Memory] (this package) is a bounded, sharded in-process store for a single
// instance and for tests. Package redisstore shares ids across instances
// through Redis (SET key 1 NX PX ttl). Package replaytest is the conformance
// suite every backend passes.
//
// # Security
//
//   - A memory store never evicts an unexpired id to make room: a full
//     store fails closed with Unavailable instead.
//   - Ids are untrusted: they are length-capped, copied before being kept,
//     and quoted and truncated in error details.
//   - The memory store hashes ids to shards with a per-process random
//     maphash seed, so a sender cannot aim all its ids at one shard.
package replay
