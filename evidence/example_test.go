package evidence_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nonrep/nonrep/evidence"
	"github.com/nonrep/nonrep/evidence/sqlitestore"
	"github.com/nonrep/nonrep/jose"
)

// A log in a SQLite file: append a record, export its bundle, verify the
// bundle with nothing but its bytes and the pinned log key.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "evidence-example")
	defer os.RemoveAll(dir)

	store, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(dir, "evidence.db")})
	if err != nil {
		panic(err)
	}
	defer store.Close()
	_, logKey, _ := ed25519.GenerateKey(nil) // in production: a file or KMS key
	log, err := evidence.Open(ctx, evidence.Config{Store: store, Key: logKey, Origin: "payments.example/evidence"})
	if err != nil {
		panic(err)
	}
	defer log.Close()

	// Append returns once the record is durable.
	idx, err := log.Append(ctx, &evidence.Record{
		Received:  time.Date(2026, 3, 4, 9, 30, 0, 0, time.UTC),
		Direction: evidence.Inbound,
		Partner:   "acme-bank",
		Profile:   "generic",
		Method:    "POST",
		Path:      "/v1/transfers",
		Body:      []byte(`{"amount":"50000.00","currency":"EUR"}`),
		Verdict:   evidence.Rejected,
		Code:      jose.KeyUnknown,
	})
	if err != nil {
		panic(err) // answer 503: nothing may be executed without its evidence
	}

	bundle, err := log.Bundle(ctx, idx, evidence.BundleOptions{})
	if err != nil {
		panic(err)
	}
	rep, err := evidence.VerifyBundle(ctx, bundle, evidence.VerifyOptions{LogKeys: []string{log.VerifierKey()}})
	fmt.Println("verified:", err == nil)
	for _, s := range rep.Steps {
		fmt.Println(s.Name, s.OK)
	}
	// Output:
	// verified: true
	// record true
	// checkpoint true
	// inclusion true
	// signature true
}
