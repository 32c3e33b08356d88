package jose

import (
	"math"
	"time"
)

// ClaimsPolicy checks a JWT claims set (RFC 7519 §4.1). As with Policy,
// nothing is skipped by leaving a field empty: the audience and issuer
// must be named, or explicitly waived with AnyAudience / AnyIssuer.
type ClaimsPolicy struct {
	// Audience: aud (a string or an array of strings) must contain one of
	// these. Required unless AnyAudience.
	Audience    []string
	AnyAudience bool
	// Issuer: iss must equal it. Required unless AnyIssuer.
	Issuer    string
	AnyIssuer bool
	// Subject, when set, must equal sub.
	Subject string
	// Skew is the allowed clock difference (default 60 s).
	Skew time.Duration
	// MaxLifetime, when set, bounds exp - iat (both then required).
	MaxLifetime time.Duration
	// AllowNoExp accepts a token without exp. By default exp is required.
	AllowNoExp bool
	// RequireIat, RequireNbf and RequireJTI make those claims mandatory.
	RequireIat, RequireNbf, RequireJTI bool
}

const defaultSkew = 60 * time.Second

func (p *ClaimsPolicy) check() error {
	if len(p.Audience) == 0 && !p.AnyAudience {
		return errorf(PolicyInvalid, "ClaimsPolicy needs Audience, or AnyAudience set explicitly")
	}
	if p.Issuer == "" && !p.AnyIssuer {
		return errorf(PolicyInvalid, "ClaimsPolicy needs Issuer, or AnyIssuer set explicitly")
	}
	if p.Skew < 0 || p.MaxLifetime < 0 {
		return errorf(PolicyInvalid, "ClaimsPolicy durations must not be negative")
	}
	return nil
}

// Claims is a parsed JWT claims set. Registered claims are decoded into
// fields (time fields are zero when absent); every claim is available with
// its exact JSON text through Get.
type Claims struct {
	Issuer   string
	Subject  string
	Audience []string
	ID       string // jti
	// Expiry, NotBefore and IssuedAt are the exp, nbf and iat claims; the
	// zero time means the claim is absent.
	Expiry, NotBefore, IssuedAt time.Time

	members []member
}

// Get returns the exact JSON text of a claim.
func (c *Claims) Get(name string) ([]byte, bool) {
	for i := range c.members {
		if c.members[i].name == name {
			return c.members[i].raw, true
		}
	}
	return nil, false
}

// GetString returns a string claim; ok is false when absent or not a string.
func (c *Claims) GetString(name string) (string, bool) {
	for i := range c.members {
		if c.members[i].name == name {
			s, err := c.members[i].jsonString()
			return s, err == nil
		}
	}
	return "", false
}

// Names returns the claim names in order.
func (c *Claims) Names() []string {
	out := make([]string, len(c.members))
	for i, m := range c.members {
		out[i] = m.name
	}
	return out
}

// ParseClaims parses payload as a JWT claims set: one strict JSON object;
// exp, nbf and iat JSON numbers (not strings, not booleans) within ±2^53;
// iss, sub and jti strings; aud a string or an array of strings.
func ParseClaims(payload []byte) (*Claims, error) {
	members, err := parseObject(payload, "JWT claims set")
	if err != nil {
		return nil, &Error{Code: ClaimsInvalid, Detail: err.(*Error).Detail}
	}
	c := &Claims{members: members}
	for i := range members {
		m := &members[i]
		var err error
		switch m.name {
		case "iss":
			c.Issuer, err = m.claimString()
		case "sub":
			c.Subject, err = m.claimString()
		case "jti":
			c.ID, err = m.claimString()
		case "aud":
			switch m.kind {
			case kindString:
				var s string
				s, err = m.claimString()
				c.Audience = []string{s}
			case kindArray:
				c.Audience, err = m.stringArray()
				if err != nil {
					err = errorf(ClaimsInvalid, `"aud" must be a string or an array of strings`)
				}
			default:
				err = errorf(ClaimsInvalid, `"aud" must be a string or an array of strings`)
			}
		case "exp":
			c.Expiry, err = m.claimTime()
		case "nbf":
			c.NotBefore, err = m.claimTime()
		case "iat":
			c.IssuedAt, err = m.claimTime()
		}
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (m *member) claimString() (string, error) {
	if m.kind != kindString {
		return "", errorf(ClaimsInvalid, "%s must be a JSON string, not %s", quote(m.name), m.kind)
	}
	return unquote(m.raw)
}

func (m *member) claimTime() (time.Time, error) {
	f, err := m.numericDate()
	if err != nil {
		return time.Time{}, err
	}
	sec, frac := math.Modf(f)
	t := time.Unix(int64(sec), int64(frac*1e9)).UTC()
	if t.IsZero() {
		// The zero time is our "absent" marker; nudge it by a nanosecond.
		t = t.Add(time.Nanosecond)
	}
	return t, nil
}

func (c *Claims) has(name string) bool {
	_, ok := c.Get(name)
	return ok
}

// Validate checks c against the policy at time now.
func (p *ClaimsPolicy) Validate(c *Claims, now time.Time) error {
	if err := p.check(); err != nil {
		return err
	}
	skew := p.Skew
	if skew == 0 {
		skew = defaultSkew
	}
	if c.has("exp") {
		// RFC 7519 §4.1.4: the current time MUST be before exp.
		if !now.Before(c.Expiry.Add(skew)) {
			return errorf(Expired, "expired at %s", c.Expiry.Format(time.RFC3339))
		}
	} else if !p.AllowNoExp {
		return errorf(ClaimMissing, `"exp" is required`)
	}
	if c.has("nbf") {
		if now.Add(skew).Before(c.NotBefore) {
			return errorf(NotYetValid, "not valid before %s", c.NotBefore.Format(time.RFC3339))
		}
	} else if p.RequireNbf {
		return errorf(ClaimMissing, `"nbf" is required`)
	}
	if c.has("iat") {
		if c.IssuedAt.After(now.Add(skew)) {
			return errorf(IssuedInFuture, "issued at %s, in the future", c.IssuedAt.Format(time.RFC3339))
		}
	} else if p.RequireIat || p.MaxLifetime > 0 {
		return errorf(ClaimMissing, `"iat" is required`)
	}
	if p.MaxLifetime > 0 {
		if !c.has("exp") {
			return errorf(ClaimMissing, `"exp" is required`)
		}
		if c.Expiry.Sub(c.IssuedAt) > p.MaxLifetime {
			return errorf(LifetimeExceeded, "lifetime %s exceeds %s", c.Expiry.Sub(c.IssuedAt), p.MaxLifetime)
		}
	}
	if c.has("exp") && c.has("iat") && c.Expiry.Before(c.IssuedAt) {
		return errorf(ClaimsInvalid, `"exp" is before "iat"`)
	}
	if p.RequireJTI && c.ID == "" {
		return errorf(ClaimMissing, `"jti" is required`)
	}
	if !p.AnyIssuer && c.Issuer != p.Issuer {
		if !c.has("iss") {
			return errorf(ClaimMissing, `"iss" is required`)
		}
		return errorf(IssuerMismatch, "iss is %s", quote(c.Issuer))
	}
	if p.Subject != "" && c.Subject != p.Subject {
		if !c.has("sub") {
			return errorf(ClaimMissing, `"sub" is required`)
		}
		return errorf(SubjectMismatch, "sub is %s", quote(c.Subject))
	}
	if !p.AnyAudience {
		if !c.has("aud") {
			return errorf(ClaimMissing, `"aud" is required`)
		}
		ok := false
		for _, a := range c.Audience {
			for _, w := range p.Audience {
				if a == w {
					ok = true
				}
			}
		}
		if !ok {
			return errorf(AudienceMismatch, "aud does not name this recipient")
		}
	}
	return nil
}
