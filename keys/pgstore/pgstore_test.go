package pgstore_test

import (
	"context"
	"testing"

	"github.com/nonrep/nonrep/internal/testenv"
	"github.com/nonrep/nonrep/keys"
	"github.com/nonrep/nonrep/keys/keystest"
	"github.com/nonrep/nonrep/keys/pgstore"
)

func TestConformance(t *testing.T) {
	keystest.Run(t, func(t *testing.T) keys.Store {
		s, err := pgstore.Open(context.Background(), pgstore.Config{DSN: testenv.Postgres(t)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// Opening twice on one schema (two instances starting) is fine.
func TestOpenTwice(t *testing.T) {
	dsn := testenv.Postgres(t)
	ctx := context.Background()
	for range 2 {
		s, err := pgstore.Open(ctx, pgstore.Config{DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
	}
}
