package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/nonrep/nonrep/txsign"
	"github.com/nonrep/nonrep/txsign/sqlitestore"
	"github.com/nonrep/nonrep/txsign/txsigntest"
)

func TestConformance(t *testing.T) {
	txsigntest.Run(t, func(t *testing.T) txsign.Store {
		s, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Path: filepath.Join(t.TempDir(), "txsign.db")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestConformanceMemory(t *testing.T) {
	txsigntest.Run(t, func(t *testing.T) txsign.Store {
		s, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Path: ":memory:"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
