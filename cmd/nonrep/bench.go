package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/nonrep/nonrep/httpsig"
	"github.com/nonrep/nonrep/internal/loadgen"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/profile"
	"github.com/nonrep/nonrep/replay"
)

func init() { registerCommand(benchCmd) }

var benchCmd = &command{
	name:    "bench",
	summary: "load-test a gateway with signed requests; measure the raw-verify bound",
	usage: `Usage: nonrep bench --profile NAME --key PRIVATE.jwk [--cert CHAIN.pem]
                    --url [LABEL=]URL... [--concurrency N]
                    [--duration D | --count N] [--raw] [--json]
       nonrep bench --profile NAME --key PRIVATE.jwk [--cert CHAIN.pem] --raw
       nonrep bench --serve MODE --listen ADDR [--upstream URL]
                    [--profile NAME --key KEY [--roots CA.pem]]

Sends requests signed for a partner's scheme to each --url in turn, N at a
time, and prints throughput (successful requests per second) and latency
percentiles, one row per URL. Any answer other than 2xx is a failure,
listed by status and problem code; the command exits 1 if there was any.

With --count N, N requests are signed before the clock starts (on every
core) and each is sent once to every URL: the generator then spends no
CPU on signing while it measures, which matters for RSA schemes (one
PS512-3072 signature costs about as much as fifteen verifications). The
same signed requests go to every URL (except swift, whose signatures name
the host: signed per URL), so every URL must be a separate gateway with
its own replay store. Without --count each request is signed as it is
sent, for --duration (default 10s).

--raw adds the raw-verify bound: the profile's own verification (parse and
signature, nothing else: no HTTP, no replay, no evidence) on every core
for --duration, in verifications per second. With --raw, rows show their
share of the bound.

--serve runs one of the minimal servers scripts/loadbench.sh compares
nonrep serve with, until SIGINT or SIGTERM:
  upstream       answers 200 to everything (the upstream API)
  proxy          a plain reverse proxy to --upstream, no verification
  verify         the verifying middleware (package httpsig) for one
                 partner (--profile, --key: its public key; --roots for
                 swift) in front of a reverse proxy; no replay check, no
                 evidence
  verify-replay  the same with an in-memory replay store
It prints "listening on http://ADDR" once ready.

Flags:
  --profile, --key, --cert, --kid, --ob-version, --ob-iss
                   as for "nonrep request sign"
  --url [LABEL=]URL
                   a target, repeatable; LABEL names its row
  --method M       HTTP method (default POST)
  --concurrency N  requests in flight (default 8)
  --duration D     length of each run without --count, and of --raw
                   (default 10s)
  --count N        pre-sign N requests; send each once per URL
  --raw            measure the raw-verify bound too
  --json           print the reports as JSON
  --max-concurrent N
                   --serve verify modes: verifications in progress
                   (default 64)

The machine's load average is printed with the results: on a shared
machine, compare rows of one run only.

Example:
  nonrep keygen --alg PS512 --bits 3072 --kid bench --out incomm.jwk > incomm.pub.jwk
  nonrep bench --profile incomm --key incomm.jwk --count 5000 --concurrency 16 \
      --url gateway=http://127.0.0.1:8080/partners/incomm/payments --raw
`,
	run: runBench,
}

type benchFlags struct {
	prof, key, cert, kid, obVersion, obIss, method string
	urls                                           listFlag
	concurrency, count, maxConcurrent              int
	duration                                       time.Duration
	raw, asJSON                                    bool
	serve, listen, upstream, roots                 string
}

func runBench(e *env, args []string) error {
	fs := newFlagSet("bench")
	var f benchFlags
	fs.StringVar(&f.prof, "profile", "", "")
	fs.StringVar(&f.key, "key", "", "")
	fs.StringVar(&f.cert, "cert", "", "")
	fs.StringVar(&f.kid, "kid", "", "")
	fs.StringVar(&f.obVersion, "ob-version", "", "")
	fs.StringVar(&f.obIss, "ob-iss", "", "")
	fs.StringVar(&f.method, "method", http.MethodPost, "")
	fs.Var(&f.urls, "url", "")
	fs.IntVar(&f.concurrency, "concurrency", 8, "")
	fs.IntVar(&f.count, "count", 0, "")
	fs.IntVar(&f.maxConcurrent, "max-concurrent", 64, "")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "")
	fs.BoolVar(&f.raw, "raw", false, "")
	fs.BoolVar(&f.asJSON, "json", false, "")
	fs.StringVar(&f.serve, "serve", "", "")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:0", "")
	fs.StringVar(&f.upstream, "upstream", "", "")
	fs.StringVar(&f.roots, "roots", "", "")
	if err := parseFlags(fs, "bench", args, false); err != nil {
		return err
	}
	const hint = `run "nonrep bench --help"`
	if f.serve != "" {
		return benchServe(e, &f, hint)
	}
	if len(f.urls) == 0 && !f.raw {
		return usageErr(hint, "give at least one --url, or --raw")
	}
	if f.concurrency < 1 || f.count < 0 || f.duration <= 0 {
		return usageErr(hint, "--concurrency and --duration must be positive, --count not negative")
	}
	p, err := selectProfile(f.prof, f.obVersion, f.obIss, hint)
	if err != nil {
		return err
	}
	if _, ok := p.(profile.OpenBanking); ok && f.obIss == "" {
		return usageErr("give the signer's organisation or software id: --ob-iss ID", "the %s profile needs --ob-iss", p.Name())
	}
	signer, err := loadSigner(p, f.key, f.kid, f.cert, isSet(fs, "kid"), hint)
	if err != nil {
		return err
	}
	type target struct {
		label string
		u     *url.URL
	}
	var targets []target
	for _, raw := range f.urls {
		label, s := raw, raw
		if i := strings.Index(raw, "="); i > 0 && !strings.Contains(raw[:i], "://") {
			label, s = raw[:i], raw[i+1:]
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageErr(hint, "--url %q is not an http(s) URL", s)
		}
		targets = append(targets, target{label, u})
	}
	src := &loadgen.Source{Profile: p, Signer: signer, Method: strings.ToUpper(f.method)}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// One pool for every target unless the scheme binds the host.
	var pool []*loadgen.Signed
	var reports []*loadgen.Report
	for _, t := range targets {
		o := loadgen.Options{Label: t.label, Concurrency: f.concurrency}
		if f.count > 0 {
			switch {
			case loadgen.BindsHost(p) || pool == nil:
				if pool, err = src.Presign(ctx, t.u, 0, f.count); err != nil {
					return joseErr(err, "signing", "")
				}
				o.Pool = pool
			default:
				o.Pool = loadgen.Retarget(pool, t.u)
			}
		} else {
			o.Source, o.Target, o.Duration = src, t.u, f.duration
		}
		rep, err := loadgen.Run(ctx, o)
		if err != nil {
			return usageErr(hint, "%v", err)
		}
		reports = append(reports, rep)
		if !f.asJSON {
			fmt.Fprintf(e.stderr, "nonrep: bench: %s done: %.0f req/s\n", t.label, rep.Throughput)
		}
	}
	var raw *loadgen.Report
	if f.raw {
		if raw, err = benchRaw(ctx, p, src, signer, f); err != nil {
			return err
		}
	}
	if f.asJSON {
		out := struct {
			Profile     string            `json:"profile"`
			Alg         string            `json:"alg"`
			GOMAXPROCS  int               `json:"gomaxprocs"`
			LoadAverage string            `json:"load_average,omitempty"`
			Reports     []*loadgen.Report `json:"reports"`
			Raw         *loadgen.Report   `json:"raw,omitempty"`
		}{p.Name(), string(signer.Key.Alg), runtime.GOMAXPROCS(0), loadAverage(), reports, raw}
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Fprintf(e.stdout, "%s\n", b)
	} else {
		mode := fmt.Sprintf("%s per URL, signed while sending", f.duration)
		if f.count > 0 {
			mode = fmt.Sprintf("%d pre-signed requests per URL", f.count)
		}
		fmt.Fprintf(e.stdout, "profile %s (%s), concurrency %d, %s; GOMAXPROCS %d; load average %s\n",
			p.Name(), signer.Key.Alg, f.concurrency, mode, runtime.GOMAXPROCS(0), orDash(loadAverage()))
		fmt.Fprint(e.stdout, loadgen.Table(reports, raw))
	}
	var failed int64
	for _, r := range reports {
		failed += r.Requests - r.OK
	}
	if failed > 0 {
		return &cliError{code: "requests_failed", msg: fmt.Sprintf("%d requests were not answered 2xx", failed), hint: "the failures column says why (a replay_detected means a URL shares a replay store with an earlier one)"}
	}
	if err := ctx.Err(); err != nil {
		return &cliError{code: "interrupted", msg: "interrupted"}
	}
	return nil
}

// benchRaw measures the profile's verification alone on every core.
func benchRaw(ctx context.Context, p profile.Profile, src *loadgen.Source, signer *profile.Signer, f benchFlags) (*loadgen.Report, error) {
	pub, err := jose.NewJWK(signer.Key.Signer.Public(), signer.Key.Kid, signer.Key.Alg)
	if err != nil {
		return nil, joseErr(err, f.key, "")
	}
	trust, err := benchTrust(p, []*jose.JWK{pub}, f.roots, signer.Chain)
	if err != nil {
		return nil, err
	}
	v, err := p.NewVerifier(trust)
	if err != nil {
		return nil, joseErr(err, "", "")
	}
	u, _ := url.Parse("http://127.0.0.1:8080/bench/payments")
	// Distinct messages, so that nothing can be cached between them.
	n := 64
	msgs := make([]*profile.Message, 0, n)
	pool, err := src.Presign(ctx, u, 1<<30, n)
	if err != nil {
		return nil, joseErr(err, "signing", "")
	}
	for _, s := range pool {
		msgs = append(msgs, s.Message())
	}
	rep, err := loadgen.Raw(ctx, v, msgs, loadgen.RawOptions{Duration: f.duration})
	if err != nil {
		return nil, &cliError{code: string(jose.CodeOf(err)), msg: err.Error()}
	}
	return rep, nil
}

// benchTrust builds a partner's trust from its public keys, or for swift
// from roots (a PEM file, or the top of our own chain).
func benchTrust(p profile.Profile, keys []*jose.JWK, rootsFile string, chain [][]byte) (profile.Trust, error) {
	var t profile.Trust
	if _, ok := p.(profile.Swift); ok {
		pool := x509.NewCertPool()
		switch {
		case rootsFile != "":
			certs, err := readCerts(rootsFile)
			if err != nil {
				return t, err
			}
			for _, c := range certs {
				pool.AddCert(c)
			}
		case len(chain) > 0:
			c, err := x509.ParseCertificate(chain[len(chain)-1])
			if err != nil {
				return t, &cliError{code: string(jose.X5CInvalid), msg: err.Error()}
			}
			pool.AddCert(c)
		default:
			return t, usageErr("give the partner's trust anchors: --roots CA.pem", "swift needs --roots")
		}
		t.Roots = pool
		return t, nil
	}
	for i, k := range keys {
		if k.IsPrivate() {
			keys[i] = k.Public()
		}
	}
	set, err := jose.NewKeySet(keys...)
	if err != nil {
		return t, joseErr(err, "", "")
	}
	t.Keys = set
	if k := keys[0]; k.Alg != "" {
		if _, ok := p.(profile.Generic); ok {
			t.Algs = []jose.Alg{k.Alg}
		}
	}
	return t, nil
}

// benchServe runs one of the comparison servers.
func benchServe(e *env, f *benchFlags, hint string) error {
	var up *url.URL
	if f.serve != "upstream" {
		var err error
		up, err = url.Parse(f.upstream)
		if err != nil || (up.Scheme != "http" && up.Scheme != "https") || up.Host == "" {
			return usageErr(hint, "--serve %s needs --upstream URL", f.serve)
		}
	}
	var h http.Handler
	switch f.serve {
	case "upstream":
		h = loadgen.Upstream()
	case "proxy":
		h = loadgen.Proxy(up)
	case "verify", "verify-replay":
		p, err := selectProfile(f.prof, f.obVersion, "", hint)
		if err != nil {
			return err
		}
		var keys []*jose.JWK
		if _, isSwift := p.(profile.Swift); !isSwift {
			if f.key == "" {
				return usageErr(hint, "--serve %s needs --key (the partner's public key)", f.serve)
			}
			if keys, err = loadKeys(f.key); err != nil {
				return err
			}
		}
		trust, err := benchTrust(p, keys, f.roots, nil)
		if err != nil {
			return err
		}
		var store replay.Store = loadgen.NoReplay{}
		if f.serve == "verify-replay" {
			m, err := replay.NewMemory(replay.MemoryConfig{})
			if err != nil {
				return joseErr(err, "", "")
			}
			defer m.Close()
			store = m
		}
		partner := &httpsig.Partner{Name: "bench", Profile: p, Trust: trust}
		if err := partner.Prepare(); err != nil {
			return joseErr(err, "", "")
		}
		if h, err = loadgen.VerifyProxy(partner, store, up, f.maxConcurrent); err != nil {
			return joseErr(err, "", "")
		}
	default:
		return usageErr(hint, "unknown --serve mode %q: use upstream, proxy, verify or verify-replay", f.serve)
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return ioErr(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(slog.NewTextHandler(e.stderr, nil), slog.LevelWarn)}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(e.stdout, "listening on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return ioErr(err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return ioErr(err)
	}
	return nil
}

// loadAverage is the 1, 5 and 15 minute load average ("" where the system
// does not say).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
