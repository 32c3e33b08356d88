package txsign_test

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/nonrep/nonrep/txsign"
)

// TestOpenAPI checks that the served document is the embedded one and
// that it names every route of the Handler and every code of the package.
func TestOpenAPI(t *testing.T) {
	e := newEnv(t, envOptions{})
	resp, err := http.Get(e.srv.URL + "/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Equal(b, txsign.OpenAPI) || !bytes.HasPrefix(b, []byte("openapi: 3.1.0\n")) {
		t.Fatalf("served %d, %d bytes", resp.StatusCode, len(b))
	}
	doc := string(b)
	if strings.Contains(doc, "\t") {
		t.Fatal("YAML must not contain tabs")
	}
	routes := map[string][]string{
		"/.well-known/jwks.json":         {"get"},
		"/openapi.yaml":                  {"get"},
		"/v1/devices/challenge":          {"post"},
		"/v1/devices":                    {"post", "get"},
		"/v1/devices/{device_id}":        {"get"},
		"/v1/devices/{device_id}/revoke": {"post"},
		"/v1/devices/{device_id}/rotate": {"post"},
		"/v1/devices/{device_id}/inbox":  {"get"},
		"/v1/pin":                        {"put"},
		"/v1/signing-requests":           {"post"},
		"/v1/decisions":                  {"post"},
		"/v1/token":                      {"post"},
	}
	paths := regexp.MustCompile(`(?m)^  (/\S*):$`).FindAllStringSubmatch(doc, -1)
	if len(paths) != len(routes) {
		t.Fatalf("document has %d paths; the handler %d", len(paths), len(routes))
	}
	for _, p := range paths {
		methods, ok := routes[p[1]]
		if !ok {
			t.Fatalf("document path %s is not a route", p[1])
		}
		section := doc[strings.Index(doc, "  "+p[1]+":\n"):]
		if next := regexp.MustCompile(`(?m)^  /`).FindStringIndex(section[3:]); next != nil {
			section = section[:next[0]+3]
		}
		for _, m := range methods {
			if !strings.Contains(section, "\n    "+m+":\n") {
				t.Errorf("%s %s is not documented", strings.ToUpper(m), p[1])
			}
		}
	}
	for _, c := range txsign.Codes() {
		if !strings.Contains(doc, string(c)) {
			t.Errorf("code %s is not documented", c)
		}
	}
}
