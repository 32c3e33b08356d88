package server

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nonrep/nonrep/evidence"
	"github.com/nonrep/nonrep/evidence/httpevidence"
	"github.com/nonrep/nonrep/httpsig"
	"github.com/nonrep/nonrep/internal/config"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/problem"
	"github.com/nonrep/nonrep/profile"
)

// EgressPrefix is where apps send requests to be signed: /egress/NAME/path.
const EgressPrefix = "/egress/"

// egressTarget is one partner we sign for: its client signs (httpsig),
// records what it sends before sending and the answer after
// (httpevidence), and checks response integrity where configured.
type egressTarget struct {
	cfg    config.Egress
	target *url.URL
	client *http.Client
}

// egress signs plain requests from apps for the named partner and returns
// the partner's answer. Nothing is sent unless its evidence is durable.
type egress struct {
	targets map[string]*egressTarget
	m       *metrics
	log     *slog.Logger
	maxBody int64
}

func egressBase() http.RoundTripper {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
		ResponseHeaderTimeout: 30 * time.Second,
	}
}

// signatureHeader is where each profile puts its signature ("" when the
// body is the JWS).
func signatureHeader(p profile.Profile) string {
	switch p := p.(type) {
	case profile.InComm:
		return "Signature"
	case profile.EBANX:
		return "X-JWS-Signature"
	case profile.Swift:
		return "X-SWIFT-Signature"
	case profile.OpenBanking:
		return "x-jws-signature"
	case profile.Generic:
		return p.Header
	}
	return ""
}

func newEgressTarget(ec config.Egress, prof profile.Profile, signer *profile.Signer, integrity *profile.Trust, log *evidence.Log, timeout time.Duration, logger *slog.Logger) (*egressTarget, error) {
	target, err := url.Parse(ec.Target)
	if err != nil {
		return nil, err
	}
	pub, err := jose.NewJWK(signer.Key.Signer.Public(), signer.Key.Kid, signer.Key.Alg)
	if err != nil {
		return nil, err
	}
	ev := &httpevidence.Transport{
		Base: egressBase(), Log: log, Partner: ec.Name, Profile: prof.Name(),
		SignatureHeader: signatureHeader(prof), Key: pub, Chain: signer.Chain, Logger: logger,
	}
	if _, ok := prof.(profile.Swift); ok {
		ev.ResponseSignatureHeader = "X-SWIFT-Integrity"
	}
	tr := &httpsig.Transport{Base: ev, Profile: prof, Signer: signer, Integrity: integrity}
	return &egressTarget{cfg: ec, target: target, client: &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}, nil
}

// hopHeaders are connection-specific (RFC 9110 §7.6.1) and never copied.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func stripHop(h http.Header) {
	for _, c := range h.Values("Connection") {
		for _, f := range strings.Split(c, ",") {
			if f = strings.TrimSpace(f); f != "" {
				h.Del(f)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

func (e *egress) fail(w http.ResponseWriter, partner string, err error) {
	code := jose.CodeOf(err)
	status := 0
	var ne net.Error
	switch {
	case code != "":
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		code, status = UpstreamTimeout, http.StatusGatewayTimeout
	default:
		code, status = UpstreamUnavailable, http.StatusBadGateway
	}
	e.m.egress.WithLabelValues(partner, string(code)).Inc()
	e.log.Warn("egress failed", "partner", partner, "code", string(code))
	p := problem.From(&jose.Error{Code: code, Detail: detailOf(err)})
	if status != 0 {
		p.Status, p.Title = status, http.StatusText(status)
	}
	problem.Write(w, p, 0)
}

func detailOf(err error) string {
	var je *jose.Error
	if errors.As(err, &je) {
		return je.Detail
	}
	return "the partner did not answer"
}

func (e *egress) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), EgressPrefix)
	name, path, _ := strings.Cut(rest, "/")
	t := e.targets[name]
	if t == nil {
		e.fail(w, "unknown", &jose.Error{Code: problem.PartnerUnknown, Detail: fmt.Sprintf("no egress partner %q", name)})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, e.maxBody))
	if err != nil {
		e.fail(w, name, &jose.Error{Code: jose.TooLarge, Detail: "the body is too large or could not be read"})
		return
	}
	u := *t.target
	esc := strings.TrimSuffix(t.target.EscapedPath(), "/") + "/" + path
	p, err := url.PathUnescape(esc)
	if err != nil {
		e.fail(w, name, &jose.Error{Code: jose.Malformed, Detail: "the path is not validly escaped"})
		return
	}
	u.Path, u.RawPath = p, esc
	u.RawQuery = r.URL.RawQuery
	out, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		e.fail(w, name, &jose.Error{Code: jose.Malformed, Detail: "cannot build the outgoing request"})
		return
	}
	out.Header = r.Header.Clone()
	stripHop(out.Header)
	out.Header.Del("Host")
	resp, err := t.client.Do(out)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		e.fail(w, name, err)
		return
	}
	defer resp.Body.Close()
	h := w.Header()
	for k, v := range resp.Header {
		h[k] = v
	}
	stripHop(h)
	e.m.egress.WithLabelValues(name, statusClass(resp.StatusCode)).Inc()
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// rootsFromPEM reads a PEM bundle of trust anchors.
func rootsFromPEM(data []byte) (*x509.CertPool, error) {
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(data) {
		return nil, errors.New("no certificates in the PEM file")
	}
	return p, nil
}
