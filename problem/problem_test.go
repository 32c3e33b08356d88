package problem_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/problem"
)

var update = flag.Bool("update", false, "rewrite testdata/codes.golden")

// TestCodesGolden pins every code the HTTP layer answers with and its
// status: codes are API.
func TestCodesGolden(t *testing.T) {
	var b strings.Builder
	seen := map[jose.Code]bool{}
	for _, c := range problem.Codes() {
		if seen[c] {
			t.Errorf("code %s listed twice", c)
		}
		seen[c] = true
		if !problem.Known(c) {
			t.Errorf("code %s has no HTTP status", c)
		}
		fmt.Fprintf(&b, "%s %d\n", string(c), problem.Status(c))
	}
	const file = "testdata/codes.golden"
	if *update {
		if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Fatalf("codes changed; if intended, run go test ./problem -update\n got:\n%s", b.String())
	}
}

func TestWrite(t *testing.T) {
	w := httptest.NewRecorder()
	problem.Write(w, problem.From(&jose.Error{Code: jose.Expired, Detail: "expired 3s ago"}), 0)
	if w.Code != 401 || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
	var p map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if p["type"] != "urn:nonrep:error:expired" || p["code"] != "expired" || p["status"] != 401.0 || p["detail"] != "expired 3s ago" {
		t.Fatalf("%v", p)
	}

	// An error without a code is an internal error, and its text is not shown.
	w = httptest.NewRecorder()
	problem.Error(w, fmt.Errorf("pq: password authentication failed for user bank"))
	if w.Code != 500 || strings.Contains(w.Body.String(), "password") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}

	w = httptest.NewRecorder()
	problem.Write(w, problem.From(&jose.Error{Code: problem.RateLimited}), 3)
	if w.Code != 429 || w.Header().Get("Retry-After") != "3" {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
}
