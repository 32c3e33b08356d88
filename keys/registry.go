package keys

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nonrep/nonrep/jose"
)

// Defaults of Config.
const (
	// DefaultMaxAge is the JWKS max-age we advertise (jwksserver's default).
	DefaultMaxAge = 600 * time.Second
	// DefaultMargin is added to MaxAge before a promotion.
	DefaultMargin = time.Minute
	// DefaultRetiring is the shortest time a key stays retiring.
	DefaultRetiring = time.Hour
)

// Config configures a Registry. Only Store is required.
type Config struct {
	Store Store
	// MaxAge is the longest cache lifetime our JWKS endpoint advertises
	// (its Cache-Control max-age; default DefaultMaxAge). A pending key may
	// become active only after it has been published for MaxAge + Margin:
	// by then every cache that honours our max-age holds it.
	MaxAge time.Duration
	// Margin covers the JWKS server's reload interval and clock skew
	// between us and partners (default DefaultMargin; negative for none).
	Margin time.Duration
	// Retiring is the shortest time a key stays retiring (verify-only,
	// still published) before it may be retired: at least the longest
	// message lifetime any partner accepts plus skew (default
	// DefaultRetiring).
	Retiring time.Duration
	// Signers opens private keys (default FileSigners).
	Signers SignerOpener
	// Clock is the registry's time (default time.Now).
	Clock func() time.Time
}

// Registry applies the key lifecycle rules over a Store. It is safe for
// concurrent use; several registries (processes) may share one store: the
// store's conditional updates arbitrate.
type Registry struct {
	cfg Config

	mu      sync.Mutex
	signers map[string]crypto.Signer // kid → opened signer
}

// New returns a Registry over cfg.Store.
func New(cfg Config) (*Registry, error) {
	if cfg.Store == nil {
		return nil, errorf(jose.PolicyInvalid, "keys: Config.Store is required")
	}
	if cfg.MaxAge < 0 || cfg.Retiring < 0 {
		return nil, errorf(jose.PolicyInvalid, "keys: negative MaxAge or Retiring")
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.Margin == 0 {
		cfg.Margin = DefaultMargin
	} else if cfg.Margin < 0 {
		cfg.Margin = 0
	}
	if cfg.Retiring == 0 {
		cfg.Retiring = DefaultRetiring
	}
	if cfg.Signers == nil {
		cfg.Signers = FileSigners{}
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Registry{cfg: cfg, signers: map[string]crypto.Signer{}}, nil
}

// Store returns the registry's store.
func (r *Registry) Store() Store { return r.cfg.Store }

// PendingFor is how long a key must be published before it may become
// active: MaxAge + Margin.
func (r *Registry) PendingFor() time.Duration { return r.cfg.MaxAge + r.cfg.Margin }

// RetiringFor is the shortest time a key stays retiring.
func (r *Registry) RetiringFor() time.Duration { return r.cfg.Retiring }

// Now returns the registry's time as it records it (UTC, microseconds).
func (r *Registry) Now() time.Time { return Timestamp(r.cfg.Clock()) }

// Timestamp normalizes t the way every store keeps times: UTC, truncated
// to the microsecond.
func Timestamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// EarliestActivation is the first time k (pending) may become active.
func (r *Registry) EarliestActivation(k *Key) time.Time { return k.Published.Add(r.PendingFor()) }

// EarliestRetirement is the first time k (retiring) may be retired.
func (r *Registry) EarliestRetirement(k *Key) time.Time {
	return k.RetiringSince.Add(r.cfg.Retiring)
}

// NewKey describes a key to add.
type NewKey struct {
	// Key is the key, public or private; only its public part is stored.
	Key *jose.JWK
	// Kid defaults to Key's kid, else its RFC 7638 thumbprint.
	Kid string
	// Alg defaults to Key's alg; one of the two is required.
	Alg jose.Alg
	// Purpose defaults to DefaultPurpose.
	Purpose string
	// SignerRef locates the private half (see FileRef). Required: a key we
	// cannot sign with has no place among our signing keys.
	SignerRef string
	// Actor and Reason are recorded with the transition.
	Actor, Reason string
}

// Add registers a new key as pending, which publishes it. The signer named
// by SignerRef is opened and must hold the private half of Key.
func (r *Registry) Add(ctx context.Context, nk NewKey) (*Key, error) {
	if nk.Key == nil {
		return nil, errorf(jose.KeyRejected, "no key given")
	}
	if nk.Key.Kty == "oct" {
		return nil, errorf(jose.KeyRejected, "a shared secret (oct) cannot be published; our signing keys are asymmetric")
	}
	if nk.SignerRef == "" {
		return nil, errorf(jose.KeyRejected, "no signer reference: say where the private key lives")
	}
	kid := nk.Kid
	if kid == "" {
		kid = nk.Key.Kid
	}
	if kid == "" {
		kid = nk.Key.Thumbprint()
	}
	alg := nk.Alg
	if alg == "" {
		alg = nk.Key.Alg
	}
	if alg == "" {
		return nil, errorf(jose.KeyRejected, "key %s has no alg: name the one algorithm it signs with", quote(kid))
	}
	if nk.Key.Alg != "" && nk.Key.Alg != alg {
		return nil, errorf(jose.KeyRejected, "key %s is bound to alg %s, not %s", quote(kid), nk.Key.Alg, alg)
	}
	purpose := nk.Purpose
	if purpose == "" {
		purpose = DefaultPurpose
	}
	pub, err := publishable(nk.Key, kid, alg)
	if err != nil {
		return nil, err
	}
	now := r.Now()
	k := &Key{
		Kid: kid, Purpose: purpose, Alg: alg, Public: pub, SignerRef: nk.SignerRef,
		State: Pending, Published: now,
	}
	if err := ValidateKey(k); err != nil {
		return nil, err
	}
	// The store refuses duplicates anyway; this names the existing key.
	if ks, err := r.cfg.Store.Keys(ctx); err == nil {
		for _, o := range ks {
			switch {
			case o.Thumbprint() == pub.Thumbprint():
				return nil, errorf(KeyExists, "this key is already registered as %s (%s); a kid and a key are never reused", quote(o.Kid), o.State)
			case o.Kid == kid:
				return nil, errorf(KeyExists, "kid %s is already taken (by a %s key); a kid and a key are never reused", quote(kid), o.State)
			}
		}
	}
	if _, err := r.openSigner(ctx, k); err != nil {
		return nil, err
	}
	t := Transition{Kid: kid, To: Pending, At: now, Actor: nk.Actor, Reason: nk.Reason}
	if err := r.cfg.Store.CreateKey(ctx, k, t); err != nil {
		return nil, err
	}
	return k.Clone(), nil
}

// publishable builds the public JWK we publish: kid, use "sig", alg, and
// the public key alone (no key_ops, no certificates).
func publishable(k *jose.JWK, kid string, alg jose.Alg) (*jose.JWK, error) {
	// NewJWK checks that the key fits alg and its size and shape.
	pub, err := jose.NewJWK(k.PublicKey(), kid, alg)
	if err != nil {
		return nil, err
	}
	pub.Use = "sig"
	return pub, nil
}

// Key returns the key with kid.
func (r *Registry) Key(ctx context.Context, kid string) (*Key, error) {
	return r.cfg.Store.Key(ctx, kid)
}

// Keys returns every key, oldest first.
func (r *Registry) Keys(ctx context.Context) ([]*Key, error) { return r.cfg.Store.Keys(ctx) }

// History returns kid's recorded transitions, oldest first.
func (r *Registry) History(ctx context.Context, kid string) ([]Transition, error) {
	return r.cfg.Store.History(ctx, kid)
}

// Active returns the active key of purpose, or KeyNotFound.
func (r *Registry) Active(ctx context.Context, purpose string) (*Key, error) {
	ks, err := r.cfg.Store.Keys(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range ks {
		if k.Purpose == purpose && k.State == Active {
			return k, nil
		}
	}
	return nil, errorf(KeyNotFound, "no active key for purpose %s", quote(purpose))
}

// Promote makes kid active: a pending key once it has been published for
// PendingFor (else TooEarly, naming the earliest time), or a retiring key
// (rolling a rotation back). The purpose's current active key becomes
// retiring in the same atomic step.
func (r *Registry) Promote(ctx context.Context, kid, actor, reason string) (*Key, error) {
	k, err := r.cfg.Store.Key(ctx, kid)
	if err != nil {
		return nil, err
	}
	now := r.Now()
	switch k.State {
	case Pending:
		if at := r.EarliestActivation(k); now.Before(at) {
			return nil, errorf(TooEarly, "key %s was published at %s; it may become active at %s at the earliest (published for the advertised JWKS max-age %v plus margin %v, so that every cache following our JWKS holds it), in %v",
				quote(kid), fmtTime(k.Published), fmtTime(at), r.cfg.MaxAge, r.cfg.Margin, at.Sub(now).Round(time.Second))
		}
	case Retiring:
	default:
		return nil, errorf(TransitionInvalid, "key %s is %s; only a pending or retiring key can become active", quote(kid), k.State)
	}
	var ts []Transition
	cur, err := r.Active(ctx, k.Purpose)
	switch {
	case err == nil:
		ts = append(ts, Transition{Kid: cur.Kid, From: Active, To: Retiring, At: now, Actor: actor, Reason: "superseded by " + kid})
	case jose.CodeOf(err) != KeyNotFound:
		return nil, err
	}
	ts = append(ts, Transition{Kid: kid, From: k.State, To: Active, At: now, Actor: actor, Reason: reason})
	if err := r.cfg.Store.Apply(ctx, ts...); err != nil {
		return nil, err
	}
	return r.cfg.Store.Key(ctx, kid)
}

// Retire moves kid one step towards retirement: active → retiring,
// retiring → retired (only after RetiringFor, else TooEarly), or pending →
// retired (a key that never signed).
func (r *Registry) Retire(ctx context.Context, kid, actor, reason string) (*Key, error) {
	k, err := r.cfg.Store.Key(ctx, kid)
	if err != nil {
		return nil, err
	}
	now := r.Now()
	var to State
	switch k.State {
	case Active:
		to = Retiring
	case Retiring:
		if at := r.EarliestRetirement(k); now.Before(at) {
			return nil, errorf(TooEarly, "key %s has been retiring since %s; it may be retired (unpublished) at %s at the earliest, in %v",
				quote(kid), fmtTime(k.RetiringSince), fmtTime(at), at.Sub(now).Round(time.Second))
		}
		to = Retired
	case Pending:
		to = Retired
	default:
		return nil, errorf(TransitionInvalid, "key %s is %s; nothing to retire", quote(kid), k.State)
	}
	if err := r.cfg.Store.Apply(ctx, Transition{Kid: kid, From: k.State, To: to, At: now, Actor: actor, Reason: reason}); err != nil {
		return nil, err
	}
	return r.cfg.Store.Key(ctx, kid)
}

// Revoke makes kid revoked: unpublished at once and never accepted again.
// A reason is required; it is recorded with the transition.
func (r *Registry) Revoke(ctx context.Context, kid, actor, reason string) (*Key, error) {
	if reason == "" {
		return nil, errorf(TransitionInvalid, "revoking key %s needs a reason", quote(kid))
	}
	k, err := r.cfg.Store.Key(ctx, kid)
	if err != nil {
		return nil, err
	}
	if k.State == Revoked {
		return nil, errorf(TransitionInvalid, "key %s is already revoked (since %s)", quote(kid), fmtTime(k.Revoked))
	}
	if err := r.cfg.Store.Apply(ctx, Transition{Kid: kid, From: k.State, To: Revoked, At: r.Now(), Actor: actor, Reason: reason}); err != nil {
		return nil, err
	}
	r.mu.Lock()
	delete(r.signers, kid)
	r.mu.Unlock()
	return r.cfg.Store.Key(ctx, kid)
}

// Published returns the public JWKs of the pending, active and retiring
// keys, oldest first: what our JWKS endpoint serves.
func (r *Registry) Published(ctx context.Context) ([]*jose.JWK, error) {
	ks, err := r.cfg.Store.Keys(ctx)
	if err != nil {
		return nil, err
	}
	var out []*jose.JWK
	for _, k := range ks {
		if k.State.Published() {
			out = append(out, k.Public)
		}
	}
	return out, nil
}

// Signer returns a SigningKey for the active key of purpose, its private
// half opened through Config.Signers (once per key, then kept). It reads
// the store on every call: a caller on a hot path keeps the result and
// asks again every few seconds (a rotation takes minutes).
func (r *Registry) Signer(ctx context.Context, purpose string) (*jose.SigningKey, error) {
	k, err := r.Active(ctx, purpose)
	if err != nil {
		return nil, err
	}
	s, err := r.openSigner(ctx, k)
	if err != nil {
		return nil, err
	}
	return &jose.SigningKey{Alg: k.Alg, Kid: k.Kid, Signer: s}, nil
}

func (r *Registry) openSigner(ctx context.Context, k *Key) (crypto.Signer, error) {
	r.mu.Lock()
	s, ok := r.signers[k.Kid]
	r.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := r.cfg.Signers.OpenSigner(ctx, k)
	if err != nil {
		return nil, err
	}
	if !publicEqual(s.Public(), k.Public) {
		return nil, errorf(jose.KeyRejected, "the signer of key %s does not hold its private key (public keys differ)", quote(k.Kid))
	}
	r.mu.Lock()
	r.signers[k.Kid] = s
	r.mu.Unlock()
	return s, nil
}

// ResolveKeys implements jose.KeyResolver over our own keys, for checking
// our own signatures (receipts, evidence re-verification): a key of any
// state but revoked (KeyRejected) is returned, retired ones included, since
// old evidence must stay verifiable. A kid is required.
func (r *Registry) ResolveKeys(ctx context.Context, h *jose.Header) ([]*jose.JWK, error) {
	if h.Kid == "" {
		return nil, errorf(jose.KeyUnknown, "our signatures always carry a kid")
	}
	k, err := r.cfg.Store.Key(ctx, h.Kid)
	if err != nil {
		if jose.CodeOf(err) == KeyNotFound {
			return nil, errorf(jose.KeyUnknown, "no key with kid %s", quote(h.Kid))
		}
		return nil, &jose.Error{Code: jose.KeyUnavailable, Detail: "the key store cannot answer", Err: err}
	}
	if k.State == Revoked {
		return nil, errorf(jose.KeyRejected, "key %s was revoked at %s", quote(h.Kid), fmtTime(k.Revoked))
	}
	return []*jose.JWK{k.Public}, nil
}

var _ jose.KeyResolver = (*Registry)(nil)

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Step is one step of a rotation plan: key Kid enters state To at At
// (when Done) or at the earliest at At (when not).
type Step struct {
	Kid  string
	To   State
	At   time.Time
	Done bool
}

// Plan is the schedule of a rotation of Purpose to the key New.
type Plan struct {
	Purpose string
	New     *Key
	// Steps, in order: New pending (done: it is published), New active,
	// the purpose's previous keys retiring, then retired.
	Steps []Step
}

// Complete reports whether every step is done.
func (p *Plan) Complete() bool {
	for _, s := range p.Steps {
		if !s.Done {
			return false
		}
	}
	return true
}

// Next returns the first step not done, or nil.
func (p *Plan) Next() *Step {
	for i := range p.Steps {
		if !p.Steps[i].Done {
			return &p.Steps[i]
		}
	}
	return nil
}

// Plan computes the rotation of newKid's purpose to newKid, with the
// earliest time of each step not yet done. newKid must be pending or
// active.
func (r *Registry) Plan(ctx context.Context, newKid string) (*Plan, error) {
	nk, err := r.cfg.Store.Key(ctx, newKid)
	if err != nil {
		return nil, err
	}
	ks, err := r.cfg.Store.Keys(ctx)
	if err != nil {
		return nil, err
	}
	p := &Plan{Purpose: nk.Purpose, New: nk}
	p.Steps = append(p.Steps, Step{Kid: nk.Kid, To: Pending, At: nk.Published, Done: true})
	var activation time.Time
	switch nk.State {
	case Pending:
		activation = r.EarliestActivation(nk)
		if now := r.Now(); activation.Before(now) {
			activation = now
		}
		p.Steps = append(p.Steps, Step{Kid: nk.Kid, To: Active, At: activation})
	case Active:
		activation = nk.Activated
		p.Steps = append(p.Steps, Step{Kid: nk.Kid, To: Active, At: activation, Done: true})
	default:
		return nil, errorf(TransitionInvalid, "key %s is %s: rotate to a new key (add one, it starts pending)", quote(newKid), nk.State)
	}
	var old []*Key
	for _, k := range ks {
		if k.Kid == nk.Kid || k.Purpose != nk.Purpose {
			continue
		}
		switch {
		case k.State == Retiring, k.State == Active && nk.State == Pending:
			old = append(old, k)
		case k.State == Retired && nk.State == Active && k.RetiringSince.Equal(nk.Activated):
			old = append(old, k) // superseded by this rotation, since retired
		}
	}
	sort.SliceStable(old, func(i, j int) bool { return old[i].Published.Before(old[j].Published) })
	for _, k := range old {
		if k.State == Active {
			p.Steps = append(p.Steps, Step{Kid: k.Kid, To: Retiring, At: activation})
			p.Steps = append(p.Steps, Step{Kid: k.Kid, To: Retired, At: activation.Add(r.cfg.Retiring)})
			continue
		}
		p.Steps = append(p.Steps, Step{Kid: k.Kid, To: Retiring, At: k.RetiringSince, Done: true})
		if k.State == Retired {
			p.Steps = append(p.Steps, Step{Kid: k.Kid, To: Retired, At: k.Retired, Done: true})
			continue
		}
		p.Steps = append(p.Steps, Step{Kid: k.Kid, To: Retired, At: r.EarliestRetirement(k)})
	}
	return p, nil
}

// Rotate carries out every step of newKid's rotation that is due now, in
// order, and returns the plan as it then stands. Call it again at
// Plan.Next().At until Plan.Complete(); it is safe to run from several
// processes, and to resume after a crash.
func (r *Registry) Rotate(ctx context.Context, newKid, actor string) (*Plan, error) {
	for {
		p, err := r.Plan(ctx, newKid)
		if err != nil {
			return nil, err
		}
		s := p.Next()
		if s == nil || r.Now().Before(s.At) {
			return p, nil
		}
		switch s.To {
		case Active:
			_, err = r.Promote(ctx, s.Kid, actor, "rotation")
		case Retired:
			_, err = r.Retire(ctx, s.Kid, actor, "rotation to "+newKid)
		default:
			err = errorf(TransitionInvalid, "rotation step %s → %s cannot run on its own", quote(s.Kid), s.To)
		}
		if err != nil {
			var je *jose.Error
			if errors.As(err, &je) && je.Code == TooEarly {
				return p, nil
			}
			return nil, fmt.Errorf("rotation of %s: %w", quote(p.Purpose), err)
		}
	}
}

// Bootstrap adds the first key of a purpose and makes it active at once.
// Waiting out the JWKS max-age protects caches that hold an older set; a
// purpose that has never had a key has no such caches: nobody can be
// verifying signatures of it yet, and a verifier meeting the new kid
// fetches our JWKS. Any existing key of the purpose, in any state, makes
// Bootstrap refuse with TransitionInvalid: rotate instead.
func (r *Registry) Bootstrap(ctx context.Context, nk NewKey) (*Key, error) {
	purpose := nk.Purpose
	if purpose == "" {
		purpose = DefaultPurpose
	}
	all, err := r.cfg.Store.Keys(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range all {
		if k.Purpose == purpose {
			return nil, errorf(TransitionInvalid, "purpose %s already has key %s (%s): rotate instead of bootstrapping", quote(purpose), quote(k.Kid), k.State)
		}
	}
	k, err := r.Add(ctx, nk)
	if err != nil {
		return nil, err
	}
	reason := nk.Reason
	if reason == "" {
		reason = "bootstrap: first key of the purpose"
	}
	if err := r.cfg.Store.Apply(ctx, Transition{Kid: k.Kid, From: Pending, To: Active, At: r.Now(), Actor: nk.Actor, Reason: reason}); err != nil {
		return nil, err
	}
	return r.cfg.Store.Key(ctx, k.Kid)
}
