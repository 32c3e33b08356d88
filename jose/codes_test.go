package jose

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestCodesGolden pins the list of error codes: codes are wire API, so a
// change here must be deliberate (go test -run TestCodesGolden -update).
func TestCodesGolden(t *testing.T) {
	var b strings.Builder
	seen := map[Code]bool{}
	for _, c := range Codes() {
		if seen[c] {
			t.Fatalf("code %q listed twice", c)
		}
		seen[c] = true
		for _, r := range string(c) {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
				t.Fatalf("code %q: codes are lower_snake_case", c)
			}
		}
		b.WriteString(string(c) + "\n")
	}
	const golden = "testdata/codes.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != b.String() {
		t.Fatalf("codes changed; if deliberate, run go test -run TestCodesGolden -update\ngot:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestImportsStdlibOnly: the JOSE core depends on the standard library
// only, and never on net/http or a database driver, even transitively.
func TestImportsStdlibOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 20 {
		t.Fatalf("go list returned %d packages; expected the crypto tree", len(lines))
	}
	for _, l := range lines {
		path, std, _ := strings.Cut(l, " ")
		if path == "github.com/nonrep/nonrep/jose" {
			continue
		}
		if std != "true" {
			t.Errorf("jose depends on non-standard package %s", path)
		}
		if path == "net/http" || strings.HasPrefix(path, "net/http/") || path == "database/sql" || strings.HasPrefix(path, "database/") {
			t.Errorf("jose depends on %s", path)
		}
	}
}

func TestErrorIs(t *testing.T) {
	err := error(errorf(Expired, "x"))
	if !strings.HasPrefix(err.Error(), "jose: expired: ") {
		t.Fatalf("message %q", err)
	}
	if CodeOf(err) != Expired || CodeOf(nil) != "" {
		t.Fatal("CodeOf")
	}
	if !isErr(err, Expired) || isErr(err, SignatureInvalid) || !isErr(err, &Error{Code: Expired}) {
		t.Fatal("errors.Is by code")
	}
}

func isErr(err, target error) bool { return errors.Is(err, target) }
