package evidence

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/nonrep/nonrep/jose"
)

// A checkpoint is the C2SP tlog-checkpoint text
//
//	<origin>\n<tree size, decimal>\n<root hash, standard base64>\n
//
// signed as a C2SP signed note (golang.org/x/mod/sumdb/note) with the
// log's Ed25519 key, whose name is the origin. Its verifier key is the
// note verifier key "<origin>+<key hash, 8 hex>+<base64(0x01 || public key)>".

// Checkpoint is a signed tree head whose signature has been verified.
type Checkpoint struct {
	Origin string
	Tree
	// Note is the signed note exactly as stored or received.
	Note []byte
	// Key is the verifier key that verified it.
	Key string
}

// FormatCheckpoint returns the checkpoint text for a tree.
func FormatCheckpoint(origin string, t Tree) []byte {
	var b []byte
	b = append(b, origin...)
	b = append(b, '\n')
	b = strconv.AppendInt(b, t.Size, 10)
	b = append(b, '\n')
	b = base64.StdEncoding.AppendEncode(b, t.Root[:])
	return append(b, '\n')
}

// ParseCheckpointText parses an unsigned checkpoint body. Extension lines
// after the root are allowed (C2SP) and ignored.
func ParseCheckpointText(text string) (origin string, t Tree, err error) {
	bad := func(format string, args ...any) (string, Tree, error) {
		return "", Tree{}, errorf(CheckpointInvalid, format, args...)
	}
	if !strings.HasSuffix(text, "\n") {
		return bad("the checkpoint text does not end with a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return bad("the checkpoint has %d lines; want origin, size and root", len(lines))
	}
	if lines[0] == "" {
		return bad("the checkpoint's origin is empty")
	}
	n, perr := strconv.ParseInt(lines[1], 10, 64)
	if perr != nil || n < 0 || strconv.FormatInt(n, 10) != lines[1] {
		return bad("tree size %s is not a canonical decimal number", quote(lines[1]))
	}
	h, derr := base64.StdEncoding.Strict().DecodeString(lines[2])
	if derr != nil || len(h) != tlog.HashSize {
		return bad("root hash %s is not 32 bytes of standard base64", quote(lines[2]))
	}
	t.Size = n
	copy(t.Root[:], h)
	return lines[0], t, nil
}

// ValidOrigin reports whether s can name a log: non-empty UTF-8 with no
// spaces and no '+', as note key names require.
func ValidOrigin(s string) bool {
	if s == "" || !utf8.ValidString(s) || strings.ContainsRune(s, '+') {
		return false
	}
	return strings.IndexFunc(s, unicode.IsSpace) < 0
}

// ed25519Signer signs notes with any crypto.Signer holding an Ed25519 key
// (a file key, an HSM or a KMS).
type ed25519Signer struct {
	name string
	hash uint32
	key  crypto.Signer
}

func (s *ed25519Signer) Name() string    { return s.name }
func (s *ed25519Signer) KeyHash() uint32 { return s.hash }
func (s *ed25519Signer) Sign(msg []byte) ([]byte, error) {
	return s.key.Sign(nil, msg, crypto.Hash(0))
}

const algEd25519 = 1 // C2SP signed-note signature type

// noteKeyHash is the note key hash: the first four bytes of
// SHA-256(name || "\n" || type || public key).
func noteKeyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', algEd25519})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// NewNoteSigner returns a note signer named name for an Ed25519 key, and
// its verifier key.
func NewNoteSigner(name string, key crypto.Signer) (note.Signer, string, error) {
	if !ValidOrigin(name) {
		return nil, "", errorf(jose.PolicyInvalid, "log name %s must be non-empty with no spaces and no '+'", quote(name))
	}
	pub, ok := key.Public().(ed25519.PublicKey)
	if !ok {
		return nil, "", errorf(jose.KeyRejected, "the log key must be Ed25519, not %T", key.Public())
	}
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return nil, "", wrapf(jose.KeyRejected, err, "the log key")
	}
	return &ed25519Signer{name: name, hash: noteKeyHash(name, pub), key: key}, vkey, nil
}

// VerifierKeyFor returns the note verifier key of an Ed25519 public key
// under a log name.
func VerifierKeyFor(name string, pub ed25519.PublicKey) (string, error) {
	if !ValidOrigin(name) {
		return "", errorf(jose.PolicyInvalid, "log name %s must be non-empty with no spaces and no '+'", quote(name))
	}
	v, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return "", wrapf(jose.KeyRejected, err, "the log key")
	}
	return v, nil
}

// VerifierPublicKey returns the Ed25519 public key inside a note verifier
// key.
func VerifierPublicKey(vkey string) (ed25519.PublicKey, error) {
	if _, err := note.NewVerifier(vkey); err != nil {
		return nil, wrapf(CheckpointInvalid, err, "%s is not a note verifier key", quote(vkey))
	}
	// name+hash+keydata: the name has no '+', the hash is hex, the key
	// data is standard base64 (which may hold '+').
	parts := strings.SplitN(vkey, "+", 3)
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != algEd25519 {
		return nil, errorf(CheckpointInvalid, "%s is not an Ed25519 note verifier key", quote(vkey))
	}
	return ed25519.PublicKey(raw[1:]), nil
}

// SignCheckpoint signs the checkpoint of t.
func SignCheckpoint(s note.Signer, origin string, t Tree) ([]byte, error) {
	msg, err := note.Sign(&note.Note{Text: string(FormatCheckpoint(origin, t))}, s)
	if err != nil {
		return nil, wrapf(jose.SignerFailed, err, "signing the checkpoint")
	}
	return msg, nil
}

// OpenCheckpoint verifies a signed checkpoint against the given verifier
// keys (at least one must have signed it) and parses it. The origin must
// be the signing key's name.
func OpenCheckpoint(msg []byte, vkeys ...string) (*Checkpoint, error) {
	if len(vkeys) == 0 {
		return nil, errorf(CheckpointInvalid, "no log key to verify the checkpoint with")
	}
	vs := make([]note.Verifier, 0, len(vkeys))
	byID := map[string]string{}
	for _, k := range vkeys {
		v, err := note.NewVerifier(k)
		if err != nil {
			return nil, wrapf(CheckpointInvalid, err, "log key %s is not a note verifier key", quote(k))
		}
		vs = append(vs, v)
		byID[v.Name()+"+"+strconv.FormatUint(uint64(v.KeyHash()), 16)] = k
	}
	n, err := note.Open(msg, note.VerifierList(vs...))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified):
			names := make([]string, 0, len(unverified.Note.UnverifiedSigs))
			for _, s := range unverified.Note.UnverifiedSigs {
				names = append(names, s.Name+"+"+strconv.FormatUint(uint64(s.Hash), 16))
			}
			return nil, wrapf(CheckpointInvalid, err, "the checkpoint is not signed by the expected log key (signed by %s)", strings.Join(names, ", "))
		case errors.As(err, &invalid):
			return nil, wrapf(CheckpointInvalid, err, "the checkpoint signature by %s does not verify", invalid.Name)
		}
		return nil, wrapf(CheckpointInvalid, err, "the checkpoint is not a well-formed signed note")
	}
	origin, t, err := ParseCheckpointText(n.Text)
	if err != nil {
		return nil, err
	}
	sig := n.Sigs[0]
	if sig.Name != origin {
		return nil, errorf(CheckpointInvalid, "the checkpoint of %s is signed by key %s, another log's", quote(origin), quote(sig.Name))
	}
	return &Checkpoint{
		Origin: origin, Tree: t, Note: bytes.Clone(msg),
		Key: byID[sig.Name+"+"+strconv.FormatUint(uint64(sig.Hash), 16)],
	}, nil
}

// CheckpointSigners lists the "name+hash" of every signature on a note,
// verified or not, without verifying anything.
func CheckpointSigners(msg []byte) []string {
	n, err := note.Open(msg, note.VerifierList())
	var unverified *note.UnverifiedNoteError
	if !errors.As(err, &unverified) {
		_ = n
		return nil
	}
	var out []string
	for _, s := range unverified.Note.UnverifiedSigs {
		out = append(out, s.Name+"+"+strconv.FormatUint(uint64(s.Hash), 16))
	}
	return out
}
