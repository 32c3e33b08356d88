package keys

import (
	"context"
)

// Store persists the registry. Implementations (sqlitestore, pgstore) pass
// keystest.Run and are safe for concurrent use, including by several
// processes sharing the database.
//
// Errors are *jose.Error values: KeyNotFound, KeyExists, TransitionInvalid,
// PartnerNotFound, or StoreUnavailable (wrapping the cause) for anything the
// backend could not do. A store never answers "not found" because it could
// not look.
type Store interface {
	// CreateKey inserts k, which must be pending, and records t (its
	// creation, From ""). It returns KeyExists if the kid or the public
	// key's thumbprint is already registered.
	CreateKey(ctx context.Context, k *Key, t Transition) error
	// Key returns the key with kid, or KeyNotFound.
	Key(ctx context.Context, kid string) (*Key, error)
	// Keys returns every key, oldest first.
	Keys(ctx context.Context) ([]*Key, error)
	// Apply makes every transition, in order, in one atomic step: each
	// applies only if its key is in t.From at that point; otherwise
	// nothing is changed and Apply returns TransitionInvalid (or
	// KeyNotFound). A transition that would make a second key of one
	// purpose active fails with TransitionInvalid. Each transition is
	// recorded in the key's history and sets its state's timestamp.
	Apply(ctx context.Context, ts ...Transition) error
	// History returns the transitions of kid, oldest first (KeyNotFound
	// for an unknown kid).
	History(ctx context.Context, kid string) ([]Transition, error)

	// PutPartner creates or replaces the partner with p.Name.
	PutPartner(ctx context.Context, p *Partner) error
	// Partner returns the named partner, or PartnerNotFound.
	Partner(ctx context.Context, name string) (*Partner, error)
	// Partners returns every partner, by name.
	Partners(ctx context.Context) ([]*Partner, error)
	// DeletePartner removes the partner (PartnerNotFound if absent). Its
	// revocations and events are kept.
	DeletePartner(ctx context.Context, name string) error

	// AddRevocation records r. Revoking the same (partner, kid,
	// thumbprint) twice keeps the first record.
	AddRevocation(ctx context.Context, r Revocation) error
	// Revocations returns every revocation, oldest first.
	Revocations(ctx context.Context) ([]Revocation, error)
	// RecordEvent appends e to the audit log.
	RecordEvent(ctx context.Context, e Event) error
	// Events returns the audit log of partner ("" for all), oldest first.
	Events(ctx context.Context, partner string) ([]Event, error)

	// Close releases the store's resources.
	Close() error
}
