package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nonrep/nonrep/httpsig"
	"github.com/nonrep/nonrep/internal/config"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/problem"
	"github.com/nonrep/nonrep/profile"
	"github.com/nonrep/nonrep/txsign"
)

// Codes of the gateway.
const (
	// UpstreamUnavailable: the upstream could not be reached or failed
	// before answering (502).
	UpstreamUnavailable jose.Code = "upstream_unavailable"
	// UpstreamTimeout: the upstream did not answer in time (504).
	UpstreamTimeout jose.Code = "upstream_timeout"
)

// gateway forwards verified requests for one route.
type gateway struct {
	route    config.Route
	identity config.Identity
	upstream *url.URL // nil for the echo upstream
	echo     http.Handler
	proxy    *httputil.ReverseProxy
	m        *metrics
	log      *slog.Logger
	// swift signs responses (X-SWIFT-Integrity) when the route asks.
	swift *profile.Signer
}

func newGateway(r config.Route, id config.Identity, timeout time.Duration, m *metrics, log *slog.Logger, swift *profile.Signer) (*gateway, error) {
	g := &gateway{route: r, identity: id, m: m, log: log, swift: swift}
	if r.Upstream == "echo" {
		g.echo = echoHandler(id)
		return g, nil
	}
	u, err := url.Parse(r.Upstream)
	if err != nil {
		return nil, err
	}
	g.upstream = u
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	g.proxy = &httputil.ReverseProxy{
		Rewrite:        g.rewrite,
		Transport:      tr,
		ModifyResponse: g.modifyResponse,
		ErrorHandler:   g.errorHandler,
		FlushInterval:  -1,
	}
	return g, nil
}

// identityHeaders are stripped from every incoming request: only the
// gateway may set them.
func (g *gateway) identityHeaders() []string {
	id := g.identity
	return []string{id.Partner, id.Kid, id.Subject, id.Thumbprint, id.Evidence, txsignDetailsHeader}
}

// setIdentity writes the verified identity on the outgoing header.
func (g *gateway) setIdentity(h http.Header, ctx context.Context) {
	for _, name := range g.identityHeaders() {
		h.Del(name)
	}
	if t, ok := txsign.TokenFromContext(ctx); ok {
		// A txn_token route: the customer's approval, not a partner's
		// signature, is what lets the request through.
		h.Set(g.identity.Partner, "txsign:"+t.ClientID)
		h.Set(g.identity.Subject, t.Subject)
		h.Set(g.identity.Evidence, t.EvidenceRef)
		h.Set(txsignDetailsHeader, string(t.AuthorizationDetails))
		return
	}
	o, _ := httpsig.OutcomeFromContext(ctx)
	if o != nil && o.Ref != "" {
		h.Set(g.identity.Evidence, o.Ref)
	}
	v, ok := httpsig.FromContext(ctx)
	if !ok {
		return
	}
	h.Set(g.identity.Partner, v.Partner)
	if v.Kid != "" {
		h.Set(g.identity.Kid, v.Kid)
	}
	if v.Subject != "" {
		h.Set(g.identity.Subject, v.Subject)
	}
	h.Set(g.identity.Thumbprint, v.Thumbprint)
}

func (g *gateway) stripped(path string) string {
	if !g.route.StripPrefix {
		return path
	}
	prefix := strings.TrimSuffix(g.route.Path, "/")
	p := strings.TrimPrefix(path, prefix)
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	return p
}

func (g *gateway) rewrite(pr *httputil.ProxyRequest) {
	in := pr.In
	pr.Out.URL.Path = g.stripped(in.URL.Path)
	pr.Out.URL.RawPath = ""
	if in.URL.RawPath != "" {
		pr.Out.URL.RawPath = g.stripped(in.URL.RawPath)
	}
	pr.SetURL(g.upstream)
	pr.SetXForwarded()
	g.setIdentity(pr.Out.Header, in.Context())
	// Generic flattened: the body is the JWS; upstream gets the verified
	// payload bytes, exactly as signed.
	if v, ok := httpsig.FromContext(in.Context()); ok && v.Profile == "generic" && v.SignatureHeader == "" {
		pr.Out.Body = io.NopCloser(bytes.NewReader(v.Payload))
		pr.Out.ContentLength = int64(len(v.Payload))
		pr.Out.Header.Set("Content-Type", "application/json")
		pr.Out.Header.Set("Content-Length", strconv.Itoa(len(v.Payload)))
	}
}

func (g *gateway) modifyResponse(resp *http.Response) error {
	g.m.upstream.WithLabelValues(g.route.Path, statusClass(resp.StatusCode)).Inc()
	if g.route.SignResponse {
		b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		if err != nil {
			return err
		}
		h, err := profile.Swift{}.SignResponse(b, clientDN(resp.Request), g.swift)
		if err != nil {
			return err
		}
		resp.Header.Set("X-SWIFT-Integrity", h.Get("X-SWIFT-Integrity"))
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
	}
	return nil
}

func (g *gateway) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	code := UpstreamUnavailable
	status := http.StatusBadGateway
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		code, status = UpstreamTimeout, http.StatusGatewayTimeout
	}
	g.m.upstream.WithLabelValues(g.route.Path, "error").Inc()
	g.log.Warn("upstream failed", "route", g.route.Path, "err", err)
	p := problem.From(&jose.Error{Code: code, Detail: "the upstream did not answer"})
	p.Status, p.Title = status, http.StatusText(status)
	problem.Write(w, p, 0)
}

// ServeHTTP runs after the verifying middleware.
func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.echo != nil {
		// The in-process upstream sees what a real one would.
		out := r.Clone(r.Context())
		out.URL.Path = g.stripped(r.URL.Path)
		out.URL.RawPath = ""
		g.setIdentity(out.Header, r.Context())
		if v, ok := httpsig.FromContext(r.Context()); ok && v.Profile == "generic" && v.SignatureHeader == "" {
			out.Body = io.NopCloser(bytes.NewReader(v.Payload))
			out.ContentLength = int64(len(v.Payload))
			out.Header.Set("Content-Type", "application/json")
		}
		g.echo.ServeHTTP(w, out)
		return
	}
	g.proxy.ServeHTTP(w, r)
}

// clientDN is the subject of the request's verified client certificate,
// the aud of a Swift response integrity token.
func clientDN(r *http.Request) string {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return r.TLS.PeerCertificates[0].Subject.String()
	}
	if v, ok := httpsig.FromContext(r.Context()); ok && len(v.Chain) > 0 {
		return v.Chain[0].Subject.String()
	}
	return ""
}
