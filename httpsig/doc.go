// Package httpsig signs outgoing HTTP requests (Transport, an
// http.RoundTripper) and verifies incoming ones (Middleware,
// func(http.Handler) http.Handler) under a partner's scheme from package
// profile.
//
// The middleware runs its gates in a fixed order so that nothing expensive
// happens before the cheap checks pass: size caps; partner identification
// (Fixed route, APIKey header, or verified mTLS ClientCert); body read
// under http.MaxBytesReader and the scheme's headers parsed strictly;
// unknown kid rejected without crypto; per-partner token bucket and a
// bound on concurrent verifications (429 / 503 with Retry-After, never an
// unbounded queue); signature, request binding and time policy; an atomic
// replay claim; then Config.Record, which must make the evidence durable.
// Only then does the handler run, with the verified Result in the request
// context (FromContext) and the exact body bytes as its body.
//
// Failures are RFC 9457 problem+json with a stable code (package problem).
// Every store error fails closed: a replay store or evidence recorder that
// cannot answer turns the request away with 503. A partner in detection
// mode (Partner.Detect) is verified and recorded but never blocked by a
// verdict on its signature; store failures still block it.
//
// A replay id is claimed before the evidence is written, so a request
// whose evidence write failed must be re-signed to be retried: it is
// never executed without its record, nor twice.
package httpsig
