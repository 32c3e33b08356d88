package txsign

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the OpenAPI 3.1 document of the service's HTTP API.
//
//go:embed openapi.yaml
var OpenAPI []byte

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(OpenAPI)
}
