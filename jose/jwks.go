package jose

import (
	"context"
	"fmt"
)

// KeyResolver returns the candidate verification keys for a protected
// header. It is consulted only after the header has passed every structural
// check, and its answer is the only source of keys besides a validated x5c
// chain: keys carried in the message ("jwk", "jku", "x5u") are never used.
//
// ResolveKeys returns the keys the message may have been signed with
// (usually those with the header's kid). It returns an error with code
// KeyUnknown when none match, or KeyUnavailable when it cannot answer; any
// other error is treated as KeyUnavailable, so a resolver failure always
// fails closed. Implementations must be safe for concurrent use.
type KeyResolver interface {
	ResolveKeys(ctx context.Context, h *Header) ([]*JWK, error)
}

// KeySet is an immutable set of verification keys (a JWKS) and a
// KeyResolver over it: with a kid in the header it returns the key with that
// kid; without, every key whose type fits the header's alg.
//
// A KeySet never holds asymmetric private keys ("private members never
// accepted in a verification set"); oct keys are allowed for HS*. kids are
// unique within a set. Safe for concurrent use.
type KeySet struct {
	keys  []*JWK
	byKid map[string][]*JWK
}

// NewKeySet builds a verification set from keys.
func NewKeySet(keys ...*JWK) (*KeySet, error) {
	s := &KeySet{byKid: make(map[string][]*JWK, len(keys))}
	for i, k := range keys {
		if err := checkVerificationKey(k); err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		if k.Kid != "" {
			if _, dup := s.byKid[k.Kid]; dup {
				return nil, errorf(KeyRejected, "key %d: duplicate kid %s", i, quote(k.Kid))
			}
			s.byKid[k.Kid] = []*JWK{k}
		}
		s.keys = append(s.keys, k)
	}
	return s, nil
}

func checkVerificationKey(k *JWK) error {
	if k == nil {
		return errorf(KeyRejected, "nil key")
	}
	if k.Kty != "oct" && k.IsPrivate() {
		return errorf(KeyRejected, "private key %s in a verification set; publish only the public part", quote(k.Kid))
	}
	return nil
}

// ParseJWKS parses a JWK Set document (RFC 7517 §5) strictly: the document
// and every key must be valid, with no private members and no duplicate
// kid.
func ParseJWKS(data []byte) (*KeySet, error) {
	set, rejected, err := ParseJWKSPartial(data)
	if err != nil {
		return nil, err
	}
	if len(rejected) > 0 {
		return nil, rejected[0]
	}
	return set, nil
}

// ParseJWKSPartial parses a JWK Set, keeping every valid key and returning
// one error per rejected key (each names the key's index and kid). err is
// set only when the document itself is unusable.
func ParseJWKSPartial(data []byte) (set *KeySet, rejected []error, err error) {
	top, err := parseObject(data, "JWKS")
	if err != nil {
		return nil, nil, err
	}
	var keysM *member
	for i := range top {
		if top[i].name == "keys" {
			keysM = &top[i]
		}
	}
	if keysM == nil || keysM.kind != kindArray {
		return nil, nil, errorf(Malformed, `JWKS must have a "keys" array`)
	}
	objs, err := arrayObjectsAny(keysM.raw, "JWKS keys")
	if err != nil {
		return nil, nil, err
	}
	set = &KeySet{byKid: make(map[string][]*JWK, len(objs))}
	dupKids := map[string]bool{}
	var keys []*JWK
	for i, o := range objs {
		k, err := jwkFromMembers(o)
		if err == nil {
			err = checkVerificationKey(k)
		}
		if err != nil {
			rejected = append(rejected, fmt.Errorf("key %d: %w", i, err))
			continue
		}
		if k.Kid != "" {
			if _, dup := set.byKid[k.Kid]; dup {
				dupKids[k.Kid] = true
			}
			set.byKid[k.Kid] = append(set.byKid[k.Kid], k)
		}
		keys = append(keys, k)
	}
	// Keys sharing a kid are ambiguous: all of them are dropped.
	for kid := range dupKids {
		rejected = append(rejected, errorf(KeyRejected, "duplicate kid %s: every key with it dropped", quote(kid)))
		delete(set.byKid, kid)
	}
	for _, k := range keys {
		if k.Kid == "" || !dupKids[k.Kid] {
			set.keys = append(set.keys, k)
		}
	}
	return set, rejected, nil
}

// arrayObjectsAny splits a JSON array whose elements must all be objects.
func arrayObjectsAny(raw []byte, what string) ([][]member, error) {
	s := jsonScanner{data: raw, pos: 1}
	var out [][]member
	for {
		s.skipSpace()
		if s.data[s.pos] == ']' {
			return out, nil
		}
		if s.data[s.pos] != '{' {
			return nil, errorf(Malformed, "%s entries must be JSON objects", what)
		}
		members, err := s.object(0, true)
		if err != nil {
			return nil, err
		}
		out = append(out, members)
		s.skipSpace()
		if s.data[s.pos] == ',' {
			s.pos++
		}
	}
}

// Keys returns the keys in the set, in order. The slice must not be modified.
func (s *KeySet) Keys() []*JWK { return s.keys }

// Lookup returns the key with kid, or nil.
func (s *KeySet) Lookup(kid string) *JWK {
	if ks := s.byKid[kid]; len(ks) == 1 {
		return ks[0]
	}
	return nil
}

// ResolveKeys implements KeyResolver.
func (s *KeySet) ResolveKeys(_ context.Context, h *Header) ([]*JWK, error) {
	if h.Kid != "" {
		if ks := s.byKid[h.Kid]; len(ks) > 0 {
			return ks, nil
		}
		return nil, errorf(KeyUnknown, "no key with kid %s", quote(h.Kid))
	}
	if len(s.keys) == 0 {
		return nil, errorf(KeyUnknown, "the key set is empty")
	}
	return s.keys, nil
}

// MarshalJSON serializes the public parts of the set as {"keys":[…]}; oct
// keys are never published.
func (s *KeySet) MarshalJSON() ([]byte, error) {
	return MarshalJWKS(s.keys...)
}

// MarshalJWKS serializes the public parts of keys as a JWK Set document.
// Secret (oct) keys are omitted.
func MarshalJWKS(keys ...*JWK) ([]byte, error) {
	out := []byte(`{"keys":[`)
	n := 0
	for _, k := range keys {
		pub := k.Public()
		if pub == nil {
			continue
		}
		b, err := pub.MarshalJSON()
		if err != nil {
			return nil, err
		}
		if n > 0 {
			out = append(out, ',')
		}
		out = append(out, b...)
		n++
	}
	return append(out, "]}"...), nil
}
