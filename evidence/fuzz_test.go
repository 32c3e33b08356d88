package evidence_test

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/nonrep/nonrep/evidence"
)

// FuzzParseEntry: ParseEntry never panics, and accepts only entries that
// re-encode to exactly their own bytes (it checks that itself: entries are
// hashed, so two spellings of one record must not exist); the record it
// returns encodes stably.
func FuzzParseEntry(f *testing.F) {
	golden, err := os.ReadFile("testdata/entries.golden")
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range bytes.Split(golden, []byte("\n")) {
		if len(line) > 0 {
			f.Add(line)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := evidence.ParseEntry(data)
		if err != nil {
			return
		}
		r := d.Record
		again, err := r.Entry()
		if err != nil {
			t.Fatalf("a parsed entry does not encode: %v", err)
		}
		d2, err := evidence.ParseEntry(again)
		if err != nil {
			t.Fatalf("a re-encoded entry does not parse: %v", err)
		}
		a, _ := d2.Record.Entry()
		if !bytes.Equal(a, again) {
			t.Fatal("encoding is not stable")
		}
	})
}

// FuzzVerifyBundle: no input makes VerifyBundle panic, and nothing but a
// well-formed bundle verifies.
func FuzzVerifyBundle(f *testing.F) {
	f.Add([]byte(`{"format":"nonrep-evidence-bundle/v1"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := evidence.VerifyBundle(context.Background(), data, evidence.VerifyOptions{}); err == nil {
			t.Fatalf("a fuzzed bundle verified: %q", data)
		}
	})
}
