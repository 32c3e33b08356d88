package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/nonrep/nonrep/keys"
	"github.com/nonrep/nonrep/keys/keystest"
	"github.com/nonrep/nonrep/keys/sqlitestore"
)

func TestConformance(t *testing.T) {
	keystest.Run(t, func(t *testing.T) keys.Store {
		s, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Path: filepath.Join(t.TempDir(), "keys.db")})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestConformanceMemory(t *testing.T) {
	keystest.Run(t, func(t *testing.T) keys.Store {
		s, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Path: ":memory:"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// Two handles on one file (a gateway and the CLI) see each other's writes.
func TestSharedFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keys.db")
	a, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	k := keystest.NewKey(t, "k1", "sign", keystest.T0)
	if err := a.CreateKey(ctx, k, keys.Transition{Kid: "k1", To: keys.Pending, At: keystest.T0, Actor: "t"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Key(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
}
