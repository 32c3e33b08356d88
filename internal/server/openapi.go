package server

import _ "embed"

// OpenAPI describes the server's own JSON endpoints (served at
// /openapi.yaml).
//
//go:embed openapi.yaml
var OpenAPI []byte
