// Package jwkscache follows partners' JWKS URLs (RFC 7517 §5) and serves
// their keys to verifiers: each partner's *Resolver is the
// jose.KeyResolver of its profile.Trust.
//
// Only configured URLs are fetched (never a "jku" from a message), over
// HTTPS with the client's normal certificate checks, and redirects are
// refused.
//
// # Freshness
//
//   - TTL: the response's Cache-Control max-age (less Age), clamped to
//     [MinTTL, MaxTTL] (default [1 min, 1 h]); DefaultTTL (15 min) without
//     one. Requests are conditional (If-None-Match / If-Modified-Since);
//     a 304 renews the set.
//   - Background refresh (Run, or RefreshDue on your own schedule) fetches
//     each partner at 75–85 % of its TTL (spread per partner), so a lookup
//     never waits for a routine refresh.
//   - Stale-while-revalidate: when refreshes fail, the last good set is
//     served until MaxStale (default 24 h) after it expired, with backoff
//     between attempts and log lines whose level rises with the set's age
//     (the time since the endpoint last answered): Bucket1h and Bucket4h
//     warn, Bucket12h and BucketBeyond are errors ("alert": "critical",
//     "page"). Past MaxStale the fetched keys are gone and lookups fail
//     with key_unavailable (inline keys stay).
//   - Unknown kid: at most one refetch per partner per UnknownKidInterval
//     (default 1 min; fleet-wide with Shared), joined by every concurrent
//     lookup (singleflight); other unknown kids fail key_unknown at once.
//     After BreakerFailures consecutive failed fetches the partner's
//     breaker opens for BreakerCooldown: no fetch at all, then one probe.
//
// # Import
//
// Each fetch is bounded (Limits: body size, key count, timeout) and every
// key is validated as jose does (curve point, RSA size and exponent, alg
// fitting the key) plus: no private members, no shared secrets, "use"
// absent or "sig", "key_ops" allowing "verify", unique kid. One bad key is
// dropped, logged and reported (Status.Dropped, Stats.KeysDropped); the
// rest of the set is kept. A set with no usable key is treated as a failed
// fetch.
//
// # Operator actions
//
// Purge drops a partner's fetched keys at once (recorded with who and why
// through Config.Audit). Revoke and SetRevocations withdraw keys by kid or
// RFC 7638 thumbprint: a revoked key is refused (key_rejected) whatever
// any cache holds, fresh, stale, shared or inline, and a refetch never
// brings it back.
//
// # Fleet
//
// With Config.Shared (NewRedis), instances share fetched sets: the one
// that finds the set due takes a lock and fetches, the others import its
// result, so the fleet makes about one fetch per partner per TTL. Purges
// and revocations are announced to every instance.
//
// # Cost
//
// A lookup that hits reads one atomic pointer, a map and a flag, and
// allocates nothing; it does not read the clock (time.Now costs more than
// the rest of the lookup): max-stale is enforced by a timer and by every
// refresh pass. See BenchmarkResolveHit.
package jwkscache
