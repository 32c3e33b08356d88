package evidence_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/nonrep/nonrep/evidence"
	"github.com/nonrep/nonrep/evidence/evidencetest"
	"github.com/nonrep/nonrep/jose"
)

func TestCheckpointFormat(t *testing.T) {
	tree := evidence.Tree{Size: 42, Root: tlog.RecordHash([]byte("x"))}
	text := evidence.FormatCheckpoint("example.com/log", tree)
	want := "example.com/log\n42\n" + base64.StdEncoding.EncodeToString(tree.Root[:]) + "\n"
	if string(text) != want {
		t.Fatalf("got %q", text)
	}
	origin, got, err := evidence.ParseCheckpointText(string(text) + "extension line\n")
	if err != nil || origin != "example.com/log" || got != tree {
		t.Fatalf("ParseCheckpointText = %q %v %v", origin, got, err)
	}
	for _, bad := range []string{
		"", "o\n1\n", "o\n01\n" + base64.StdEncoding.EncodeToString(tree.Root[:]) + "\n",
		"o\n-1\n" + base64.StdEncoding.EncodeToString(tree.Root[:]) + "\n",
		"o\n1\nAAAA\n", "\n1\n" + base64.StdEncoding.EncodeToString(tree.Root[:]) + "\n",
		"o\n1\n" + base64.StdEncoding.EncodeToString(tree.Root[:]),
	} {
		if _, _, err := evidence.ParseCheckpointText(bad); jose.CodeOf(err) != evidence.CheckpointInvalid {
			t.Errorf("ParseCheckpointText(%q) = %v", bad, err)
		}
	}
}

// TestNoteInterop checks that our Ed25519 note signer (any crypto.Signer)
// is the one golang.org/x/mod/sumdb/note builds from an encoded key: the
// same key hash, the same signed note, verifiable with the standard
// verifier key.
func TestNoteInterop(t *testing.T) {
	key := evidencetest.LogKey
	pub := key.Public().(ed25519.PublicKey)
	s, vkey, err := evidence.NewNoteSigner("example.com/log", key)
	if err != nil {
		t.Fatal(err)
	}
	skey := fmt.Sprintf("PRIVATE+KEY+example.com/log+%08x+%s", s.KeyHash(), base64.StdEncoding.EncodeToString(append([]byte{1}, key.Seed()...)))
	ref, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	if ref.KeyHash() != s.KeyHash() {
		t.Fatalf("key hash %08x, sumdb computes %08x", s.KeyHash(), ref.KeyHash())
	}
	want, _ := note.NewEd25519VerifierKey("example.com/log", pub)
	if vkey != want {
		t.Fatalf("verifier key %q, want %q", vkey, want)
	}
	tree := evidence.Tree{Size: 3, Root: tlog.RecordHash([]byte("r"))}
	ours, err := evidence.SignCheckpoint(s, "example.com/log", tree)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := note.Sign(&note.Note{Text: string(evidence.FormatCheckpoint("example.com/log", tree))}, ref)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ours, theirs) {
		t.Fatalf("signed notes differ:\n%s\n%s", ours, theirs)
	}
	cp, err := evidence.OpenCheckpoint(ours, vkey)
	if err != nil || cp.Tree != tree || cp.Key != vkey || cp.Origin != "example.com/log" {
		t.Fatalf("OpenCheckpoint = %+v, %v", cp, err)
	}
	if got, err := evidence.VerifierPublicKey(vkey); err != nil || !got.Equal(pub) {
		t.Fatalf("VerifierPublicKey = %v, %v", got, err)
	}
}

func TestOpenCheckpointRefuses(t *testing.T) {
	key := evidencetest.LogKey
	s, vkey, _ := evidence.NewNoteSigner("example.com/log", key)
	_, other, _ := ed25519.GenerateKey(nil)
	_, otherKey, _ := evidence.NewNoteSigner("example.com/log", other)
	tree := evidence.Tree{Size: 3, Root: tlog.RecordHash([]byte("r"))}
	good, _ := evidence.SignCheckpoint(s, "example.com/log", tree)
	foreign, _ := evidence.SignCheckpoint(s, "another.example/log", tree)
	tests := []struct {
		name string
		msg  []byte
		keys []string
	}{
		{"other key", good, []string{otherKey}},
		{"no key", good, nil},
		{"size changed", bytes.Replace(good, []byte("\n3\n"), []byte("\n4\n"), 1), []string{vkey}},
		{"signature changed", append(append([]byte{}, good[:len(good)-5]...), []byte("AAAA\n")...), []string{vkey}},
		{"origin is not the key's name", foreign, []string{vkey}},
		{"not a note", []byte("hello"), []string{vkey}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := evidence.OpenCheckpoint(tc.msg, tc.keys...); jose.CodeOf(err) != evidence.CheckpointInvalid {
				t.Fatalf("OpenCheckpoint = %v, want %s", err, evidence.CheckpointInvalid)
			}
		})
	}
	if _, _, err := evidence.NewNoteSigner("bad name", key); jose.CodeOf(err) != jose.PolicyInvalid {
		t.Fatalf("a name with a space: %v", err)
	}
	if !strings.HasPrefix(vkey, "example.com/log+") {
		t.Fatal(vkey)
	}
}
