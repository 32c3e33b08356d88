package diagnose

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nonrep/nonrep/jose"
)

// times are a request's unverified time values.
type times struct {
	iat, nbf, exp time.Time // zero when absent
}

const obIat = "http://openbanking.org.uk/iat"

func (s *state) times() times {
	var t times
	if s.parsed == nil {
		return t
	}
	h := s.parsed.Header()
	get := func(name string) time.Time {
		raw, ok := h.Param(name)
		if !ok {
			return time.Time{}
		}
		v, err := jose.ParseNumericDate(name, raw)
		if err != nil {
			return time.Time{}
		}
		return v
	}
	t.iat, t.nbf, t.exp = get("iat"), get("nbf"), get("exp")
	if t.iat.IsZero() {
		t.iat = get(obIat)
	}
	if !s.parsed.JWS.Detached() {
		if p, err := s.parsed.JWS.UnsafePayloadWithoutVerification(); err == nil {
			if c, err := jose.ParseClaims(p); err == nil {
				if t.iat.IsZero() {
					t.iat = c.IssuedAt
				}
				if t.nbf.IsZero() {
					t.nbf = c.NotBefore
				}
				if t.exp.IsZero() {
					t.exp = c.Expiry
				}
			}
		}
	}
	return t
}

func secs(d time.Duration) int64 {
	if d < 0 {
		d = -d
	}
	return int64((d + time.Second - 1) / time.Second)
}

// human renders a number of seconds, with a rounded duration when large:
// "3300 s (55m0s)".
func human(d time.Duration) string {
	n := secs(d)
	if n < 120 {
		return fmt.Sprintf("%d s", n)
	}
	r := time.Duration(n) * time.Second
	switch {
	case r >= 48*time.Hour:
		return fmt.Sprintf("%d s (about %d days)", n, int64(r/(24*time.Hour)))
	case r >= time.Hour:
		r = r.Round(time.Minute)
	}
	return fmt.Sprintf("%d s (%s)", n, r)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// clockSkew explains expired / not_yet_valid / iat_in_future: it finds a
// time at which the request verifies and the skew that would accept it
// now.
func (s *state) clockSkew() bool {
	t := s.times()
	if t.iat.IsZero() && t.nbf.IsZero() && t.exp.IsZero() {
		return false
	}
	s.tried = append(s.tried, "other verification times")
	// A time at which it verifies.
	var at time.Time
	for _, c := range []time.Time{t.iat, t.nbf, t.iat.Add(time.Second), t.exp.Add(-time.Second)} {
		if c.IsZero() || c.Year() < 1971 {
			continue
		}
		tr := s.trust
		c := c
		tr.Clock = func() time.Time { return c }
		if _, _, err := s.verify(s.prof, tr, s.msg); err == nil {
			at = c
			break
		}
	}
	if at.IsZero() {
		return false
	}
	// The smallest skew, in whole seconds, that accepts it now.
	var cands []time.Duration
	for _, c := range []time.Time{t.exp, t.nbf, t.iat, t.iat.Add(5 * time.Minute), t.iat.Add(15 * time.Minute), t.iat.Add(s.trust.MaxLifetime)} {
		if c.IsZero() {
			continue
		}
		cands = append(cands, time.Duration(secs(s.now.Sub(c))+1)*time.Second)
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i] < cands[j] })
	var skew time.Duration
	for _, d := range cands {
		tr := s.trust
		tr.Skew = d
		if _, _, err := s.verify(s.prof, tr, s.msg); err == nil {
			skew = d
			break
		}
	}

	allowed := s.trust.Skew
	if allowed <= 0 {
		allowed = 60 * time.Second
	}
	var summary string
	switch {
	case s.code == jose.Expired && !t.exp.IsZero() && s.now.After(t.exp):
		summary = fmt.Sprintf("The request expired %s before it was checked (beyond the allowed skew of %d s): the sender's and this verifier's clocks disagree by about that much, or the request was delayed or replayed.", human(s.now.Sub(t.exp)), secs(allowed))
	case s.code == jose.Expired:
		summary = fmt.Sprintf("The request was issued %s before it was checked, longer ago than its lifetime plus the allowed skew of %d s: the clocks disagree, or the request was delayed or replayed.", human(s.now.Sub(t.iat)), secs(allowed))
	case s.code == jose.NotYetValid && !t.nbf.IsZero():
		summary = fmt.Sprintf("The request is not valid until %s after the time it was checked (nbf, beyond the allowed skew of %d s): the sender's clock runs ahead of this verifier's, or ours behind.", human(t.nbf.Sub(s.now)), secs(allowed))
	default:
		summary = fmt.Sprintf("The request was issued %s in the future by this verifier's clock (iat, beyond the allowed skew of %d s): the sender's clock runs ahead of this verifier's, or ours behind.", human(t.iat.Sub(s.now)), secs(allowed))
	}
	var parts []string
	if !t.iat.IsZero() {
		parts = append(parts, "iat "+stamp(t.iat))
	}
	if !t.nbf.IsZero() {
		parts = append(parts, "nbf "+stamp(t.nbf))
	}
	if !t.exp.IsZero() {
		parts = append(parts, "exp "+stamp(t.exp))
	}
	ev := []string{
		fmt.Sprintf("the request says %s; it was checked at %s with a skew of %d s", strings.Join(parts, ", "), stamp(s.now), secs(allowed)),
		fmt.Sprintf("it verifies at %s (nonrep: --at %s)", stamp(at), stamp(at)),
	}
	fix := "check the clocks (NTP) of the sender and of this host"
	if skew > 0 {
		ev = append(ev, fmt.Sprintf("it verifies now with a skew of %d s (nonrep: --skew %ds)", secs(skew), secs(skew)))
		fix += fmt.Sprintf("; to examine this one request, verify it with --skew %ds or --at %s", secs(skew), stamp(at))
	} else {
		fix += fmt.Sprintf("; to examine this one request, verify it with --at %s", stamp(at))
	}
	fix += ". Do not widen the production skew to hide a clock fault: an old request may be a replay"
	return s.set(ClockSkew, summary, fix, ev...)
}
