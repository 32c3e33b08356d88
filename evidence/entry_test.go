package evidence_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nonrep/nonrep/evidence"
	"github.com/nonrep/nonrep/evidence/evidencetest"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/problem"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestEntryGolden pins the entry format: entries are leaf data, so a
// change of one byte would make every stored record unverifiable.
func TestEntryGolden(t *testing.T) {
	var out bytes.Buffer
	for _, r := range []*evidence.Record{evidencetest.PlainRecord(1), evidencetest.OddRecord()} {
		e, err := r.Entry()
		if err != nil {
			t.Fatal(err)
		}
		out.Write(e)
		out.WriteByte('\n')
	}
	golden := filepath.Join("testdata", "entries.golden")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("entries changed (run with -update only if the format version changes):\n%s", out.Bytes())
	}
}

func TestEntryRoundTrip(t *testing.T) {
	for _, r := range []*evidence.Record{evidencetest.PlainRecord(3), evidencetest.OddRecord(), evidencetest.SignedRecord(t, evidencetest.T0, "{}")} {
		e, err := r.Entry()
		if err != nil {
			t.Fatal(err)
		}
		d, err := evidence.ParseEntry(e)
		if err != nil {
			t.Fatalf("ParseEntry(%s): %v", e, err)
		}
		again, err := d.Record.Entry()
		if err != nil {
			t.Fatal(err)
		}
		// The body is not in the entry: re-encoding without it changes
		// only body_sha256 and body_len.
		d.Record.Body = r.Body
		if again, _ = d.Record.Entry(); !bytes.Equal(again, e) {
			t.Fatalf("round trip:\n got %s\nwant %s", again, e)
		}
		if d.BodyLen != int64(len(r.Body)) || d.BodySHA256 != r.BodySHA256() {
			t.Fatal("body commitment lost")
		}
		if !d.Record.Received.Equal(r.Received) || d.Record.Received.Nanosecond() != r.Received.Nanosecond() {
			t.Fatal("received time lost precision")
		}
	}
}

func TestParseEntryRefusesNonCanonical(t *testing.T) {
	e, err := evidencetest.PlainRecord(2).Entry()
	if err != nil {
		t.Fatal(err)
	}
	s := string(e)
	tests := []struct {
		name string
		in   string
	}{
		{"whitespace", strings.Replace(s, `,"direction"`, `, "direction"`, 1)},
		{"member order", strings.Replace(strings.Replace(s, `"partner":"partner-2",`, ``, 1), `"profile":"generic"`, `"profile":"generic","partner":"partner-2"`, 1)},
		{"duplicate member", strings.Replace(s, `"method":"POST"`, `"method":"POST","method":"GET"`, 1)},
		{"unknown member", strings.Replace(s, `"method":"POST"`, `"method":"POST","extra":1`, 1)},
		{"case variant", strings.Replace(s, `"method"`, `"Method"`, 1)},
		{"zero value present", strings.Replace(s, `"method":"POST"`, `"method":"POST","lenient":false`, 1)},
		{"text and b64", strings.Replace(s, `"query":"a=1&b=2"`, `"query":"a=1&b=2","query_b64":"YQ=="`, 1)},
		{"b64 of UTF-8", strings.Replace(s, `"query":"a=1&b=2"`, `"query_b64":"YT0xJmI9Mg=="`, 1)},
		{"escaped slash", strings.Replace(s, `"/v1/payments/2"`, `"\/v1/payments/2"`, 1)},
		{"time without nanoseconds", strings.Replace(s, `.892123456Z`, `.892Z`, 1)},
		{"body hash upper case", upperHash(s)},
		{"body hash short", strings.Replace(s, `"body_sha256":"`, `"body_sha256":"0`, 1)},
		{"version", strings.Replace(s, `{"v":1`, `{"v":2`, 1)},
		{"trailing data", s + " "},
		{"invalid record", strings.Replace(s, `"verdict":"accepted"`, `"verdict":"maybe"`, 1)},
		{"negative body length", strings.Replace(s, `"body_len":`, `"body_len":-`, 1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.in == s {
				t.Fatal("the test case does not change the entry")
			}
			if _, err := evidence.ParseEntry([]byte(tc.in)); jose.CodeOf(err) != jose.Malformed {
				t.Fatalf("ParseEntry = %v, want %s", err, jose.Malformed)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*evidence.Record)
	}{
		{"no time", func(r *evidence.Record) { r.Received = time.Time{} }},
		{"direction", func(r *evidence.Record) { r.Direction = "sideways" }},
		{"no partner", func(r *evidence.Record) { r.Partner = "" }},
		{"no profile", func(r *evidence.Record) { r.Profile = "" }},
		{"no method", func(r *evidence.Record) { r.Method = "" }},
		{"verdict", func(r *evidence.Record) { r.Verdict = "" }},
		{"accepted with code", func(r *evidence.Record) { r.Code = jose.Expired }},
		{"rejected without code", func(r *evidence.Record) { r.Verdict = evidence.Rejected }},
		{"kind", func(r *evidence.Record) { r.Kind = "note" }},
		{"response_to on request", func(r *evidence.Record) { r.ResponseTo = 3 }},
		{"status", func(r *evidence.Record) { r.ResponseStatus = 1000 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := evidencetest.PlainRecord(1)
			tc.edit(r)
			if err := r.Validate(); jose.CodeOf(err) != evidence.RecordInvalid {
				t.Fatalf("Validate = %v, want %s", err, evidence.RecordInvalid)
			}
		})
	}
	if err := evidencetest.PlainRecord(1).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestHMACKeyNeverStored(t *testing.T) {
	k, err := jose.NewJWK([]byte("0123456789abcdef0123456789abcdef"), "hk", jose.HS256)
	if err != nil {
		t.Fatal(err)
	}
	r := evidencetest.PlainRecord(1)
	r.Key = k
	e, err := r.Entry()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(e, []byte(`"key"`)) || bytes.Contains(e, []byte("MDEyMzQ1")) {
		t.Fatalf("an HMAC key was stored: %s", e)
	}
}

func TestCodes(t *testing.T) {
	seen := map[jose.Code]bool{}
	for _, c := range append(jose.Codes(), evidence.Codes()...) {
		if seen[c] {
			t.Fatalf("code %s defined twice", c)
		}
		seen[c] = true
	}
	if seen[evidence.Unavailable] {
		t.Fatal("Unavailable is problem.EvidenceUnavailable and must not be listed twice")
	}
	for _, c := range evidence.Codes() {
		if !problem.Known(c) {
			t.Errorf("code %s has no HTTP status", c)
		}
	}
	if problem.Status(evidence.InclusionInvalid) != 422 || problem.Status(evidence.RecordNotFound) != 404 || problem.Status(evidence.Unavailable) != 503 {
		t.Fatal("statuses")
	}
}

func upperHash(s string) string {
	i := strings.Index(s, `"body_sha256":"`) + len(`"body_sha256":"`)
	return s[:i] + strings.ToUpper(s[i:i+64]) + s[i+64:]
}
