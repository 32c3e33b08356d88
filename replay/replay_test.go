package replay_test

import (
	"crypto/sha256"
	"encoding/base64"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/replay"
)

func TestValidateClaim(t *testing.T) {
	tests := []struct {
		name string
		id   string
		ttl  time.Duration
		want jose.Code
	}{
		{name: "ok", id: "jti", ttl: time.Second},
		{name: "max length", id: strings.Repeat("a", replay.MaxIDLen), ttl: time.Second},
		{name: "1ns", id: "jti", ttl: time.Nanosecond},
		{name: "empty", id: "", ttl: time.Second, want: replay.Invalid},
		{name: "too long", id: strings.Repeat("a", replay.MaxIDLen+1), ttl: time.Second, want: replay.Invalid},
		{name: "too long multibyte", id: strings.Repeat("é", replay.MaxIDLen/2+1), ttl: time.Second, want: replay.Invalid},
		{name: "zero ttl", id: "jti", ttl: 0, want: replay.Invalid},
		{name: "negative ttl", id: "jti", ttl: -1, want: replay.Invalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := jose.CodeOf(replay.ValidateClaim(tc.id, tc.ttl)); got != tc.want {
				t.Fatalf("code %q, want %q", got, tc.want)
			}
		})
	}
}

// An error detail quotes a hostile id and cuts it short.
func TestDetailTruncatesID(t *testing.T) {
	err := replay.DetectedError(strings.Repeat("A", 400) + "\n")
	if msg := err.Error(); len(msg) > 120 || strings.Contains(msg, "\n") {
		t.Fatalf("detail not truncated and quoted: %q", msg)
	}
}

func TestSignatureID(t *testing.T) {
	sig := []byte{0, 1, 2, 0xff}
	sum := sha256.Sum256(sig)
	want := "sig-sha256:" + base64.RawURLEncoding.EncodeToString(sum[:])
	if got := replay.SignatureID(sig); got != want {
		t.Fatalf("SignatureID = %q, want %q", got, want)
	}
	if err := replay.ValidateClaim(want, time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestCodes(t *testing.T) {
	seen := map[jose.Code]bool{}
	for _, c := range replay.Codes() {
		if !strings.HasPrefix(string(c), "replay_") || seen[c] {
			t.Fatalf("bad or duplicate code %q", c)
		}
		seen[c] = true
		for _, jc := range jose.Codes() {
			if c == jc {
				t.Fatalf("code %q collides with a jose code", c)
			}
		}
	}
}

// The package imports nothing but the standard library and jose: backends
// with third-party clients live in sub-packages. It has a package doc.
func TestImportsAndDoc(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	doc := false
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if f.Doc != nil && strings.HasPrefix(f.Doc.Text(), "Package replay ") {
			doc = true
		}
		for _, imp := range f.Imports {
			path := strings.Trim(imp.Path.Value, `"`)
			if strings.Contains(strings.SplitN(path, "/", 2)[0], ".") && path != "github.com/nonrep/nonrep/jose" {
				t.Errorf("%s imports %s", name, path)
			}
		}
	}
	if !doc {
		t.Error("no package doc comment starting \"Package replay \"")
	}
}
