// Package httpevidence records the signed HTTP exchanges of package
// httpsig as evidence: Recorder.Record is an httpsig.Config.Record for the
// verifying middleware, Recorder.Responses records what the handler
// answered, and Transport records what a signing client sends, before it
// is sent.
//
// The middleware calls Record before the handler runs and answers 503
// (evidence_unavailable) when it fails; Record returns only once the
// record is durable (evidence.Log.Append), so nothing is executed without
// its evidence. Signature header values and bodies go into the record
// exactly as received.
package httpevidence

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/nonrep/nonrep/evidence"
	"github.com/nonrep/nonrep/httpsig"
	"github.com/nonrep/nonrep/jose"
)

// Appender is what this package needs of a log; *evidence.Log is one.
type Appender interface {
	Append(ctx context.Context, r *evidence.Record) (int64, error)
}

var _ Appender = (*evidence.Log)(nil)

// Recorder turns the verifying middleware's outcomes into records. Its
// zero value plus Log is usable; it is safe for concurrent use.
type Recorder struct {
	Log Appender
	// PolicyVersion is stored in every record (a configuration version).
	PolicyVersion string
	// Lenient, when set, reports whether a partner's profile.Trust is
	// lenient, so that re-verification reads its signatures the same way.
	Lenient func(partner string) bool
	// GenericHeader names the header that carries a Generic-profile
	// detached JWS, for recording rejected requests (an accepted request's
	// header is known from its verified result). Empty: the body is the
	// JWS.
	GenericHeader string
	// ResponseSignatureHeader names the header of a response signature we
	// make (X-SWIFT-Integrity); Responses records its value verbatim.
	ResponseSignatureHeader string
	// Clock stamps response records (default time.Now).
	Clock func() time.Time
	// Logger receives response records that could not be written (the
	// response was already sent). Default slog.Default().
	Logger *slog.Logger
}

// schemeHeaders are the fixed signature headers of the schemes, used to
// find a rejected request's signature (the profiles parsed it from there).
var schemeHeaders = map[string]string{
	"incomm":      "Signature",
	"ebanx":       "X-JWS-Signature",
	"swift":       "X-SWIFT-Signature",
	"openbanking": "x-jws-signature",
}

// FromOutcome maps one middleware outcome to a record. Everything signed
// is copied verbatim: the signature header value, the body.
func (rc *Recorder) FromOutcome(o *httpsig.Outcome) *evidence.Record {
	r := &evidence.Record{
		Received:      o.Received,
		Direction:     evidence.Inbound,
		Partner:       o.Partner,
		Profile:       o.Profile,
		PolicyVersion: rc.PolicyVersion,
		Method:        o.Method,
		Path:          o.Path,
		Query:         o.Query,
		Verdict:       evidence.Accepted,
	}
	if rc.Lenient != nil {
		r.Lenient = rc.Lenient(o.Partner)
	}
	if m := o.Message; m != nil {
		r.Host = m.Host
		r.Body = m.Body
		r.ContentType = m.Header.Get("Content-Type")
	}
	switch {
	case o.Err == nil:
	case o.Detected:
		r.Verdict, r.Code = evidence.Detected, o.Code
	default:
		r.Verdict, r.Code = evidence.Rejected, o.Code
	}
	if res := o.Result; res != nil {
		r.SignatureHeader, r.Signature = res.SignatureHeader, []byte(res.SignatureValue)
		r.Kid, r.Key, r.ReplayID = res.Kid, res.Key, res.ReplayID
		for _, c := range res.Chain {
			r.Chain = append(r.Chain, c.Raw)
		}
		return r
	}
	// Not verified: keep the signature as received, and the kid it
	// claims (unverified, for search).
	name := schemeHeaders[o.Profile]
	if o.Profile == "generic" {
		name = rc.GenericHeader
	}
	if o.Message != nil {
		if name != "" {
			if v := o.Message.Header.Values(name); len(v) == 1 {
				r.SignatureHeader, r.Signature = name, []byte(v[0])
			}
		} else if o.Profile == "generic" {
			r.Signature = o.Message.Body
		}
	}
	if len(r.Signature) > 0 && name != "" {
		if j, err := jose.ParseCompact(r.Signature, jose.Limits{}); err == nil {
			r.Kid = j.Header(0).Kid
		}
	}
	return r
}

type slotKey struct{}

// slot carries the request record's index from Record to Responses.
type slot struct {
	index            int64
	partner, profile string
	ok               bool
}

// Record makes the outcome's record durable and sets o.Ref to its index
// in the log (what "nonrep evidence export" takes); use it as
// httpsig.Config.Record.
func (rc *Recorder) Record(ctx context.Context, o *httpsig.Outcome) error {
	idx, err := rc.Log.Append(ctx, rc.FromOutcome(o))
	if err != nil {
		return err
	}
	o.Ref = strconv.FormatInt(idx, 10)
	if s, ok := ctx.Value(slotKey{}).(*slot); ok {
		*s = slot{index: idx, partner: o.Partner, profile: o.Profile, ok: true}
	}
	return nil
}

// Responses is middleware to place outside httpsig.Middleware: after the
// handler (or the middleware's rejection) has answered, it appends a
// response record with the status and, if ResponseSignatureHeader is set,
// that header's value, answering the request's record. The response has
// already been sent by then; a failure is logged.
func (rc *Recorder) Responses(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := &slot{}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), slotKey{}, s)))
		if !s.ok {
			return
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		rec := &evidence.Record{
			Received: rc.now(), Direction: evidence.Inbound, Kind: evidence.KindResponse,
			ResponseTo: s.index, Partner: s.partner, Profile: s.profile,
			PolicyVersion: rc.PolicyVersion, ResponseStatus: status,
		}
		if h := rc.ResponseSignatureHeader; h != "" {
			if v := w.Header().Get(h); v != "" {
				rec.ResponseSignatureHeader, rec.ResponseSignature = h, []byte(v)
				rec.Verdict = evidence.Signed
			}
		}
		if _, err := rc.Log.Append(context.WithoutCancel(r.Context()), rec); err != nil {
			rc.logger().Error("evidence: response not recorded", "partner", s.partner, "request", s.index, "err", err)
		}
	})
}

func (rc *Recorder) now() time.Time {
	if rc.Clock != nil {
		return rc.Clock()
	}
	return time.Now()
}

func (rc *Recorder) logger() *slog.Logger {
	if rc.Logger != nil {
		return rc.Logger
	}
	return slog.Default()
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Transport records each outgoing signed request before sending it, and
// its response after. Put it under the signing transport, so that it sees
// the request as signed:
//
//	&httpsig.Transport{Base: &httpevidence.Transport{Log: log, …}, Profile: p, Signer: s}
//
// If the request's record cannot be written, nothing is sent and
// RoundTrip returns the error (code evidence_unavailable). The response's
// record is written before the response is returned; if that fails the
// response is still returned (the request was sent) and the failure
// logged.
type Transport struct {
	Base    http.RoundTripper
	Log     Appender
	Partner string
	Profile string
	// SignatureHeader is the header the signing profile sets ("" when
	// the body is the JWS).
	SignatureHeader string
	// Key is our signing key (its public part is stored) and Chain its
	// certificate chain, DER, leaf first.
	Key   *jose.JWK
	Chain [][]byte
	// ResponseSignatureHeader names a response signature header to
	// record verbatim (X-SWIFT-Integrity).
	ResponseSignatureHeader string
	PolicyVersion           string
	// MaxBody caps the bodies read (default httpsig.DefaultMaxBody).
	MaxBody int64
	Clock   func() time.Time
	Logger  *slog.Logger
}

func (t *Transport) now() time.Time {
	if t.Clock != nil {
		return t.Clock()
	}
	return time.Now()
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	limit := t.MaxBody
	if limit <= 0 {
		limit = httpsig.DefaultMaxBody
	}
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(req.Body, limit+1))
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		if int64(len(b)) > limit {
			return nil, &jose.Error{Code: jose.TooLarge, Detail: "the request body is too large to record"}
		}
		body = b
	}
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	out.ContentLength = int64(len(body))
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	rec := &evidence.Record{
		Received: t.now(), Direction: evidence.Outbound, Partner: t.Partner, Profile: t.Profile,
		PolicyVersion: t.PolicyVersion, Method: req.Method, Host: host, Path: req.URL.EscapedPath(),
		Query: req.URL.RawQuery, ContentType: req.Header.Get("Content-Type"), Body: body,
		Key: t.Key, Chain: t.Chain, Verdict: evidence.Signed,
	}
	if t.SignatureHeader != "" {
		if v := req.Header.Get(t.SignatureHeader); v != "" {
			rec.SignatureHeader, rec.Signature = t.SignatureHeader, []byte(v)
		}
	} else {
		rec.Signature = body
	}
	if j, err := jose.ParseCompact(rec.Signature, jose.Limits{}); err == nil {
		rec.Kid = j.Header(0).Kid
	}
	idx, err := t.Log.Append(req.Context(), rec)
	if err != nil {
		return nil, err // nothing was sent
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	rr := &evidence.Record{
		Received: t.now(), Direction: evidence.Outbound, Kind: evidence.KindResponse, ResponseTo: idx,
		Partner: t.Partner, Profile: t.Profile, PolicyVersion: t.PolicyVersion, ResponseStatus: resp.StatusCode,
	}
	if h := t.ResponseSignatureHeader; h != "" {
		if v := resp.Header.Get(h); v != "" {
			rr.ResponseSignatureHeader, rr.ResponseSignature = h, []byte(v)
		}
	}
	if _, err := t.Log.Append(context.WithoutCancel(req.Context()), rr); err != nil {
		lg := t.Logger
		if lg == nil {
			lg = slog.Default()
		}
		lg.Error("evidence: response not recorded", "partner", t.Partner, "request", idx, "err", err)
	}
	return resp, nil
}
