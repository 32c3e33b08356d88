package evidence_test

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports keeps the core free of storage drivers (they live in the
// backend packages) and of the HTTP layer (httpevidence adapts it).
func TestImports(t *testing.T) {
	pkg, err := build.Import("github.com/nonrep/nonrep/evidence", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		for _, bad := range []string{"database/sql", "modernc.org/", "github.com/jackc/", "github.com/nonrep/nonrep/httpsig"} {
			if strings.HasPrefix(imp, bad) {
				t.Errorf("package evidence imports %s", imp)
			}
		}
	}
}
