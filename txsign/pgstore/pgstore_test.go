package pgstore_test

import (
	"context"
	"testing"

	"github.com/nonrep/nonrep/internal/testenv"
	"github.com/nonrep/nonrep/txsign"
	"github.com/nonrep/nonrep/txsign/pgstore"
	"github.com/nonrep/nonrep/txsign/txsigntest"
)

// TestConformance runs the suite on the real PostgreSQL server (skipped
// where there is none, a failure under CI=true).
func TestConformance(t *testing.T) {
	txsigntest.Run(t, func(t *testing.T) txsign.Store {
		s, err := pgstore.Open(context.Background(), pgstore.Config{DSN: testenv.Postgres(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
