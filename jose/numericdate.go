package jose

import "time"

// ParseNumericDate decodes the exact JSON text of an RFC 7519 NumericDate
// (a header parameter or claim obtained through Header.Param or
// Claims.Get): one JSON number, finite, within ±2^53. Strings, booleans,
// exponents that overflow and out-of-range values are ClaimsInvalid.
// Profiles use it for time values carried in protected headers (InComm's
// iat/exp, Open Banking's http://openbanking.org.uk/iat).
func ParseNumericDate(name string, raw []byte) (time.Time, error) {
	s := jsonScanner{data: raw}
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return time.Time{}, errorf(ClaimsInvalid, "%s must be a JSON number", quote(name))
	}
	if err := s.number(); err != nil || s.pos != len(raw) {
		return time.Time{}, errorf(ClaimsInvalid, "%s must be a JSON number", quote(name))
	}
	m := member{name: name, kind: kindNumber, raw: raw}
	return m.claimTime()
}
