package txsign

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// PINParams are the Argon2id (RFC 9106) parameters for new PIN hashes.
// Each hash stores its own parameters, so raising them later does not
// invalidate stored PINs.
type PINParams struct {
	// Time is the number of passes (t), Memory the memory in KiB (m),
	// Threads the parallelism (p).
	Time    uint32
	Memory  uint32
	Threads uint8
}

// DefaultPINParams is RFC 9106 §4's second recommended option (t=3,
// m=64 MiB, p=4): memory-hard enough that a stolen table of PIN hashes
// cannot be searched cheaply, even for 4-to-8-digit PINs.
var DefaultPINParams = PINParams{Time: 3, Memory: 64 << 10, Threads: 4}

func (p PINParams) withDefaults() PINParams {
	if p.Time == 0 {
		p.Time = DefaultPINParams.Time
	}
	if p.Memory == 0 {
		p.Memory = DefaultPINParams.Memory
	}
	if p.Threads == 0 {
		p.Threads = DefaultPINParams.Threads
	}
	return p
}

// pinRE is what a transaction PIN may be: 4 to 12 digits.
var pinRE = regexp.MustCompile(`^[0-9]{4,12}$`)

// ValidPIN reports whether pin has the shape of a transaction PIN (4 to 12
// ASCII digits).
func ValidPIN(pin string) bool { return pinRE.MatchString(pin) }

// HashPIN returns the PHC string of pin under Argon2id with a random
// 16-byte salt: $argon2id$v=19$m=M,t=T,p=P$SALT$HASH (unpadded standard
// base64, as the reference implementation writes it).
func HashPIN(pin string, p PINParams) (string, error) {
	p = p.withDefaults()
	var salt [16]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return "", err
	}
	sum := argon2.IDKey([]byte(pin), salt[:], p.Time, p.Memory, p.Threads, 32)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		enc.EncodeToString(salt[:]), enc.EncodeToString(sum)), nil
}

// CheckPIN reports whether pin matches the PHC string hash, comparing in
// constant time. A malformed hash never matches.
func CheckPIN(pin, hash string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return false
	}
	var m, t uint32
	var p uint8
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); n != 3 || err != nil {
		return false
	}
	// Refuse absurd stored parameters rather than allocate them.
	if m == 0 || m > 4<<20 || t == 0 || t > 16 || p == 0 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	want, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(want) < 16 {
		return false
	}
	got := argon2.IDKey([]byte(pin), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}
