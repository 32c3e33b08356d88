package loadgen

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/nonrep/nonrep/httpsig"
	"github.com/nonrep/nonrep/replay"
)

// Upstream is the benchmark's upstream API: it reads the body and answers
// 200 with a small JSON document, as cheaply as net/http allows.
func Upstream() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"accepted"}` + "\n"))
	})
}

// transport is the upstream transport of the benchmark's proxies, shaped
// like nonrep serve's.
func transport() *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
}

// Proxy is a plain reverse proxy to upstream: configuration (a) of the
// benchmark, what the gateway costs with no verification at all.
func Proxy(upstream *url.URL) http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			pr.SetXForwarded()
		},
		Transport:     transport(),
		FlushInterval: -1,
	}
}

// NoReplay is a replay.Store that remembers nothing: every claim
// succeeds. It exists only to measure verification without a replay check
// (configuration (b)); never use it to protect anything.
type NoReplay struct{}

func (NoReplay) Claim(context.Context, string, time.Duration) error { return nil }

var _ replay.Store = NoReplay{}

// VerifyProxy is the verifying middleware of package httpsig in front of a
// plain reverse proxy, with no evidence recorder: configurations (b)
// (store NoReplay) and (c) (a replay.Memory) of the benchmark. nonrep
// serve adds evidence, metrics and identity headers to the same middleware.
func VerifyProxy(p *httpsig.Partner, store replay.Store, upstream *url.URL, maxConcurrent int) (http.Handler, error) {
	mw, err := httpsig.Middleware(httpsig.Config{
		Partners:      httpsig.Fixed{Partner: p},
		Replay:        store,
		MaxConcurrent: maxConcurrent,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return nil, err
	}
	return mw(Proxy(upstream)), nil
}
