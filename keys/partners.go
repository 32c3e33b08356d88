package keys

import (
	"context"
)

// PutPartner creates or replaces a partner (validated first) and records
// who did it. Created is kept from the first version; Updated is now.
func (r *Registry) PutPartner(ctx context.Context, p *Partner, actor, reason string) error {
	if err := ValidatePartner(p); err != nil {
		return err
	}
	now := r.Now()
	c := *p
	c.Created, c.Updated = now, now
	if old, err := r.cfg.Store.Partner(ctx, p.Name); err == nil {
		c.Created = old.Created
	}
	if err := r.cfg.Store.PutPartner(ctx, &c); err != nil {
		return err
	}
	p.Created, p.Updated = c.Created, c.Updated
	return r.cfg.Store.RecordEvent(ctx, Event{At: now, Actor: actorOr(actor), Action: "partner_put", Partner: p.Name, Reason: reason})
}

// Partner returns the named partner.
func (r *Registry) Partner(ctx context.Context, name string) (*Partner, error) {
	return r.cfg.Store.Partner(ctx, name)
}

// Partners returns every partner, by name.
func (r *Registry) Partners(ctx context.Context) ([]*Partner, error) {
	return r.cfg.Store.Partners(ctx)
}

// DeletePartner removes a partner and records who did it and why.
func (r *Registry) DeletePartner(ctx context.Context, name, actor, reason string) error {
	if err := r.cfg.Store.DeletePartner(ctx, name); err != nil {
		return err
	}
	return r.cfg.Store.RecordEvent(ctx, Event{At: r.Now(), Actor: actorOr(actor), Action: "partner_delete", Partner: name, Reason: reason})
}

// RevokePartnerKey records a revocation of a partner key (At is set to
// now) and the operator event. The store's revocation list is what every
// gateway's JWKS cache loads (jwkscache.Cache.SetRevocations); tell the
// local cache too (jwkscache.Cache.Revoke) for immediate effect.
func (r *Registry) RevokePartnerKey(ctx context.Context, rv Revocation) (Revocation, error) {
	rv.At = r.Now()
	if err := ValidateRevocation(&rv); err != nil {
		return rv, err
	}
	if err := r.cfg.Store.AddRevocation(ctx, rv); err != nil {
		return rv, err
	}
	kid := rv.Kid
	if kid == "" {
		kid = "thumbprint:" + rv.Thumbprint
	}
	return rv, r.cfg.Store.RecordEvent(ctx, Event{At: rv.At, Actor: rv.Actor, Action: "revoke", Partner: rv.Partner, Kid: kid, Reason: rv.Reason})
}

// Revocations returns the partner key revocation list, oldest first.
func (r *Registry) Revocations(ctx context.Context) ([]Revocation, error) {
	return r.cfg.Store.Revocations(ctx)
}

func actorOr(a string) string {
	if a == "" {
		return "unknown"
	}
	return a
}
