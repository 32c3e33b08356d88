package httpsig

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/profile"
)

// DefaultMaxBody caps the body a Transport reads to sign and the body the
// middleware reads to verify (1 MiB).
const DefaultMaxBody = 1 << 20

// Transport is an http.RoundTripper that signs every request for one
// partner's scheme. The caller's request is never modified: the body is
// read once, the request cloned, the signature headers set on the clone
// and the exact bytes sent.
type Transport struct {
	// Base sends the signed request (default http.DefaultTransport).
	Base http.RoundTripper
	// Profile is the partner's scheme and Signer our key for it.
	Profile profile.Profile
	Signer  *profile.Signer
	// MaxBody caps the request body (default DefaultMaxBody); a larger
	// body fails with TooLarge before anything is sent.
	MaxBody int64
	// Integrity, when set and Profile is Swift, makes the Transport verify
	// each response's X-SWIFT-Integrity header against these settings
	// (Roots; Audience = our client certificate's DN). A response that
	// fails is closed and an error returned in its place.
	Integrity *profile.Trust
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

func (t *Transport) maxBody() int64 {
	if t.MaxBody > 0 {
		return t.MaxBody
	}
	return DefaultMaxBody
}

// readBody reads at most limit bytes of rc and closes it.
func readBody(rc io.ReadCloser, limit int64) ([]byte, error) {
	if rc == nil || rc == http.NoBody {
		return nil, nil
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, &jose.Error{Code: jose.TooLarge, Detail: "the body is larger than " + strconv.FormatInt(limit, 10) + " bytes"}
	}
	return b, nil
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.Profile == nil || t.Signer == nil {
		closeBody(req)
		return nil, &jose.Error{Code: jose.PolicyInvalid, Detail: "httpsig.Transport needs a Profile and a Signer"}
	}
	body, err := readBody(req.Body, t.maxBody())
	if err != nil {
		return nil, err
	}
	out := req.Clone(req.Context())
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	m := &profile.Message{
		Method:   req.Method,
		Host:     host,
		Path:     req.URL.EscapedPath(),
		RawQuery: req.URL.RawQuery,
		Header:   out.Header,
		Body:     body,
	}
	sig, err := t.Profile.Sign(m, t.Signer)
	if err != nil {
		return nil, err
	}
	for name, v := range sig.Header {
		out.Header[name] = v
	}
	if sig.Body != nil {
		body = sig.Body
	}
	setBody(out, body)
	resp, err := t.base().RoundTrip(out)
	if err != nil || t.Integrity == nil {
		return resp, err
	}
	sw, ok := t.Profile.(profile.Swift)
	if !ok {
		return resp, nil
	}
	if err := verifyIntegrity(req.Context(), sw, resp, *t.Integrity, t.maxBody()); err != nil {
		return nil, err
	}
	return resp, nil
}

func verifyIntegrity(ctx context.Context, sw profile.Swift, resp *http.Response, trust profile.Trust, limit int64) error {
	b, err := readBody(resp.Body, limit)
	if err != nil {
		return err
	}
	if _, err := sw.VerifyResponse(ctx, resp.Header, b, trust); err != nil {
		return err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return nil
}

func setBody(r *http.Request, body []byte) {
	r.ContentLength = int64(len(body))
	if len(body) == 0 {
		r.Body = http.NoBody
		r.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
}

func closeBody(r *http.Request) {
	if r.Body != nil {
		r.Body.Close()
	}
}
