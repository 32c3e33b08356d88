// Package loadgen measures nonrep under load: it signs requests for one
// partner's scheme, sends them at a fixed concurrency (for a duration, or
// each of a pre-signed pool exactly once) and reports throughput and
// latency percentiles. Raw measures the bound the gateway is compared
// with: the profile's own verification (parse + crypto) on every core,
// nothing else. servers.go holds the minimal servers scripts/loadbench.sh
// sets beside nonrep serve (an upstream, a plain reverse proxy, the
// verifying middleware alone).
//
// Signing is expensive for RSA schemes (an RSA-3072 PS512 signature costs
// about fifteen verifications), so a load generator that signs while it
// measures measures itself. Presign builds the requests before the clock
// starts; Run with a Pool sends each once.
package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/profile"
)

// Source signs requests for one partner's scheme.
type Source struct {
	Profile profile.Profile
	Signer  *profile.Signer
	// Method is the HTTP method (default POST).
	Method string
	// Body returns the i-th request's body (default: a payment instruction
	// numbered i, about 150 bytes).
	Body func(i int) []byte
}

// Signed is one signed request, ready to send.
type Signed struct {
	Method string
	URL    *url.URL
	Header http.Header
	Body   []byte
}

// Message is the request as a verifier sees it.
func (s *Signed) Message() *profile.Message {
	return &profile.Message{Method: s.Method, Host: s.URL.Host, Path: s.URL.EscapedPath(), RawQuery: s.URL.RawQuery, Header: s.Header, Body: s.Body}
}

// DefaultBody is the default request body: a payment instruction.
func DefaultBody(i int) []byte {
	return []byte(`{"instructionId":"bench-` + strconv.Itoa(i) + `","amount":"1240.00","currency":"EUR","creditorName":"ACME Ltd","creditorAccount":"BE71096123456769"}`)
}

func (s *Source) method() string {
	if s.Method != "" {
		return s.Method
	}
	return http.MethodPost
}

// Sign signs the i-th request for target, a full URL.
func (s *Source) Sign(target *url.URL, i int) (*Signed, error) {
	if s.Profile == nil || s.Signer == nil {
		return nil, errors.New("loadgen: Source needs a Profile and a Signer")
	}
	body := DefaultBody(i)
	if s.Body != nil {
		body = s.Body(i)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	m := &profile.Message{Method: s.method(), Host: target.Host, Path: target.EscapedPath(), RawQuery: target.RawQuery, Header: h, Body: body}
	sig, err := s.Profile.Sign(m, s.Signer)
	if err != nil {
		return nil, err
	}
	for k, v := range sig.Header {
		h[k] = v
	}
	if sig.Body != nil {
		body = sig.Body
	}
	return &Signed{Method: m.Method, URL: target, Header: h, Body: body}, nil
}

// Presign signs n requests for target on every core. Request i of the
// pool is Sign(target, first+i).
func (s *Source) Presign(ctx context.Context, target *url.URL, first, n int) ([]*Signed, error) {
	out := make([]*Signed, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				r, err := s.Sign(target, first+i)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				out[i] = r
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// BindsHost reports whether p's signatures cover the target's host (Swift's
// aud), so that a pool signed for one target cannot be sent to another.
func BindsHost(p profile.Profile) bool {
	_, ok := p.(profile.Swift)
	return ok
}

// Retarget returns the pool's requests addressed to target's scheme and
// host (path and query kept). Only for profiles that do not bind the host.
func Retarget(pool []*Signed, target *url.URL) []*Signed {
	out := make([]*Signed, len(pool))
	for i, r := range pool {
		u := *r.URL
		u.Scheme, u.Host = target.Scheme, target.Host
		c := *r
		c.URL = &u
		out[i] = &c
	}
	return out
}

// Options configure Run.
type Options struct {
	// Label names the run in the report.
	Label string
	// Concurrency is the number of requests in flight (default 8).
	Concurrency int
	// Pool, when set, is sent request by request, each once; the run ends
	// when it is exhausted (or Duration passes, when set).
	Pool []*Signed
	// Source and Target sign on the fly when Pool is nil; the run lasts
	// Duration. The signing cost then counts in the client.
	Source *Source
	Target *url.URL
	// Duration bounds the run (required without a Pool).
	Duration time.Duration
	// Client sends the requests (default: a keep-alive client sized for
	// Concurrency, no proxy, no compression).
	Client *http.Client
	// OK reports whether a response counts as a success (default: 2xx).
	OK func(status int) bool
}

// Report is what a run measured.
type Report struct {
	Label string `json:"label"`
	// Requests were completed (answered or failed); OK succeeded.
	Requests int64 `json:"requests"`
	OK       int64 `json:"ok"`
	// Failures counts the rest by cause: "409 replay_detected",
	// "transport: connection refused", ...
	Failures map[string]int64 `json:"failures,omitempty"`
	Elapsed  time.Duration    `json:"elapsed_ns"`
	// Throughput is successes per second.
	Throughput float64 `json:"throughput"`
	// Latency percentiles of every completed request.
	P50 time.Duration `json:"p50_ns"`
	P90 time.Duration `json:"p90_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
	// Concurrency is the number of requests (or verifications) in flight.
	Concurrency int `json:"concurrency"`
}

// NewClient returns a keep-alive client for n concurrent requests.
func NewClient(n int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        2 * n,
			MaxIdleConnsPerHost: 2 * n,
			MaxConnsPerHost:     0,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		Timeout:       60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type worker struct {
	lat      []time.Duration
	ok       int64
	failures map[string]int64
}

// Run sends requests and measures them.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Pool == nil && (o.Source == nil || o.Target == nil || o.Duration <= 0) {
		return nil, errors.New("loadgen: give a Pool, or a Source, a Target and a Duration")
	}
	if o.Client == nil {
		o.Client = NewClient(o.Concurrency)
	}
	if o.OK == nil {
		o.OK = func(s int) bool { return s >= 200 && s < 300 }
	}
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	var next atomic.Int64
	workers := make([]*worker, o.Concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wk := &worker{failures: map[string]int64{}}
		if o.Pool != nil {
			wk.lat = make([]time.Duration, 0, len(o.Pool)/o.Concurrency+1)
		}
		workers[w] = wk
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				var r *Signed
				if o.Pool != nil {
					if i >= len(o.Pool) {
						return
					}
					r = o.Pool[i]
				} else {
					var err error
					if r, err = o.Source.Sign(o.Target, i); err != nil {
						wk.failures["sign: "+err.Error()]++
						return
					}
				}
				t0 := time.Now()
				status, code, err := send(ctx, o.Client, r)
				d := time.Since(t0)
				if err != nil && ctx.Err() != nil {
					return // the run ended under this request: not counted
				}
				wk.lat = append(wk.lat, d)
				switch {
				case err != nil:
					wk.failures["transport: "+errText(err)]++
				case o.OK(status):
					wk.ok++
				default:
					wk.failures[strings.TrimSpace(strconv.Itoa(status)+" "+code)]++
				}
			}
		}()
	}
	wg.Wait()
	rep := summarize(o.Label, time.Since(start), workers)
	rep.Concurrency = o.Concurrency
	return rep, nil
}

func summarize(label string, elapsed time.Duration, workers []*worker) *Report {
	rep := &Report{Label: label, Elapsed: elapsed, Failures: map[string]int64{}}
	var lat []time.Duration
	for _, w := range workers {
		lat = append(lat, w.lat...)
		rep.OK += w.ok
		for k, v := range w.failures {
			rep.Failures[k] += v
		}
	}
	rep.Requests = int64(len(lat))
	if len(rep.Failures) == 0 {
		rep.Failures = nil
	}
	if elapsed > 0 {
		rep.Throughput = float64(rep.OK) / elapsed.Seconds()
	}
	slices.Sort(lat)
	rep.P50, rep.P90, rep.P99 = percentile(lat, 50), percentile(lat, 90), percentile(lat, 99)
	if len(lat) > 0 {
		rep.Max = lat[len(lat)-1]
	}
	return rep
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 × n)
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func errText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:] // "dial tcp 127.0.0.1:1: connect: connection refused" → the cause
	}
	return s
}

// send sends r and returns the status and, for a problem document, its
// code.
func send(ctx context.Context, c *http.Client, r *Signed) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL.String(), bytes.NewReader(r.Body))
	if err != nil {
		return 0, "", err
	}
	for k, v := range r.Header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	code := ""
	if resp.StatusCode >= 300 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		var p struct {
			Code string `json:"code"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &p) == nil {
			code = p.Code
		}
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, code, err
}

// RawOptions configure Raw.
type RawOptions struct {
	// Workers verify in parallel (default GOMAXPROCS).
	Workers int
	// Duration bounds the run; Count, when set, stops it after that many
	// verifications. One of them is required.
	Duration time.Duration
	Count    int
}

// Raw measures the raw-verify bound: v parses and verifies the messages
// (cycling through them) on Workers goroutines, with no HTTP, no replay
// store, no evidence. Throughput is verifications per second.
func Raw(ctx context.Context, v profile.Verifier, msgs []*profile.Message, o RawOptions) (*Report, error) {
	if len(msgs) == 0 {
		return nil, errors.New("loadgen: Raw needs messages")
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Duration <= 0 && o.Count <= 0 {
		return nil, errors.New("loadgen: Raw needs a Duration or a Count")
	}
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	// Check once, outside the clock, that the messages verify at all.
	if _, err := verifyOnce(ctx, v, msgs[0]); err != nil {
		return nil, fmt.Errorf("loadgen: the first message does not verify: %w", err)
	}
	var next atomic.Int64
	workers := make([]*worker, o.Workers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wk := &worker{failures: map[string]int64{}}
		workers[w] = wk
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if o.Count > 0 && i >= o.Count {
					return
				}
				t0 := time.Now()
				_, err := verifyOnce(ctx, v, msgs[i%len(msgs)])
				wk.lat = append(wk.lat, time.Since(t0))
				if err != nil {
					wk.failures[string(jose.CodeOf(err))]++
					continue
				}
				wk.ok++
			}
		}()
	}
	wg.Wait()
	rep := summarize("raw-verify", time.Since(start), workers)
	rep.Concurrency = o.Workers
	return rep, nil
}

func verifyOnce(ctx context.Context, v profile.Verifier, m *profile.Message) (*profile.Result, error) {
	p, err := v.Parse(m)
	if err != nil {
		return nil, err
	}
	return v.Verify(ctx, p)
}

// Table formats reports side by side; when raw is set, each row also
// shows its throughput as a percentage of the raw-verify bound.
func Table(reports []*Report, raw *Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-22s %8s %8s %10s %9s %9s %9s %9s %7s  %s\n", "target", "requests", "ok", "req/s", "p50", "p90", "p99", "max", "of raw", "failures")
	rows := slices.Clone(reports)
	if raw != nil {
		rows = append(rows, raw)
	}
	for _, r := range rows {
		pct := ""
		if raw != nil && raw.Throughput > 0 {
			pct = fmt.Sprintf("%6.1f%%", 100*r.Throughput/raw.Throughput)
		}
		fmt.Fprintf(&b, "%-22s %8d %8d %10.0f %9s %9s %9s %9s %7s  %s\n", r.Label, r.Requests, r.OK, r.Throughput,
			ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max), pct, failures(r.Failures))
	}
	return b.String()
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + "ms"
}

func failures(f map[string]int64) string {
	if len(f) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d× %s", f[k], k))
	}
	return strings.Join(parts, ", ")
}
