package pgstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nonrep/nonrep/evidence"
	"github.com/nonrep/nonrep/evidence/evidencetest"
	"github.com/nonrep/nonrep/evidence/pgstore"
	"github.com/nonrep/nonrep/internal/testenv"
)

// go test ./evidence/pgstore -run XXX -bench Append -benchtime 20000x
func BenchmarkAppend(b *testing.B) {
	for _, w := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("writers=%d", w), func(b *testing.B) {
			evidencetest.BenchAppend(b, func(b *testing.B) evidence.Store {
				s, err := pgstore.Open(context.Background(), pgstore.Config{DSN: testenv.Postgres(b)})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close() })
				return s
			}, w)
		})
	}
}

// BenchmarkInclusionProof1M builds a log of 1,048,576 records in a fresh
// schema (once: the parent benchmark runs once) and measures one inclusion
// proof read from the store.
//
//	go test ./evidence/pgstore -run XXX -bench InclusionProof1M
func BenchmarkInclusionProof1M(b *testing.B) {
	const n = 1 << 20
	ctx := context.Background()
	s, err := pgstore.Open(ctx, pgstore.Config{DSN: testenv.Postgres(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	l, err := evidence.Open(ctx, evidence.Config{Store: s, Key: evidencetest.LogKey, Origin: evidencetest.Origin, Logger: slog.New(slog.DiscardHandler), CommitTimeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	t0 := time.Now()
	if err := evidencetest.Fill(ctx, l, n, 8192); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d records in %v", n, time.Since(t0))
	b.Run("proof", func(b *testing.B) { evidencetest.BenchInclusionProof(b, l, n) })
}
