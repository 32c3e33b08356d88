package server

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"

	"github.com/nonrep/nonrep/internal/config"
)

// echoHandler is the built-in upstream of the embedded default: it answers
// with what it received, so a newcomer sees exactly what an upstream API
// gets from the gateway (the verified identity headers and the exact body).
func echoHandler(id config.Identity) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			http.Error(w, "read error", http.StatusBadRequest)
			return
		}
		sum := sha256.Sum256(body)
		headers := map[string]string{}
		for _, name := range []string{id.Partner, id.Kid, id.Subject, id.Thumbprint, id.Evidence, txsignDetailsHeader, "Content-Type"} {
			if v := r.Header.Get(name); v != "" {
				headers[name] = v
			}
		}
		out, _ := json.MarshalIndent(map[string]any{
			"echo":        "nonrep built-in upstream",
			"method":      r.Method,
			"path":        r.URL.Path,
			"query":       r.URL.RawQuery,
			"headers":     headers,
			"body":        string(body),
			"body_sha256": hex.EncodeToString(sum[:]),
		}, "", "  ")
		w.Header().Set("Content-Type", "application/json")
		w.Write(append(out, '\n'))
	})
}
