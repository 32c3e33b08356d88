package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/nonrep/nonrep/internal/config"
	"github.com/nonrep/nonrep/internal/server"
)

func init() {
	registerCommand(serveCmd)
	registerCommand(configCmd)
}

var serveCmd = &command{
	name:    "serve",
	summary: "run the verifying gateway and signing egress proxy",
	usage: `Usage: nonrep serve [--config FILE] [--listen ADDR] [--data DIR]

Runs the gateway: every partner request on a configured route is verified
under that partner's scheme, checked for replay, recorded as evidence
(durably) and only then forwarded upstream; apps' requests to
/egress/PARTNER/... are signed for the partner, recorded and sent. It also
serves /.well-known/jwks.json (our public keys), /metrics, /healthz,
/readyz and /openapi.yaml. With "txsign: {enabled: true, …}" in the file,
the transaction-signing API (devices, signing requests, decisions,
transaction tokens; txsign/openapi.yaml) is mounted at /txsign/.

Without --config it starts the embedded default on 127.0.0.1:8080: the data
directory (./nonrep-data) is created, a signing key generated and
published, evidence kept in SQLite, replays in memory, one demo partner per
scheme with its keys written to DATA/demo, routed at /demo/SCHEME/ to a
built-in echo upstream. It prints how to send a signed request to it.

SIGINT or SIGTERM stops it gracefully: in-flight requests are drained and
the evidence log flushed.

Flags:
  --config FILE   the YAML configuration (see examples/; check it with
                  "nonrep config check FILE")
  --listen ADDR   overrides listen (also $NONREP_LISTEN)
  --data DIR      overrides data_dir (also $NONREP_DATA_DIR)

Environment: NONREP_POSTGRES_DSN and NONREP_REDIS_ADDR override the store
addresses; secrets in the file may be written "env:NAME".
`,
	run: runServe,
}

func runServe(e *env, args []string) error {
	fs := newFlagSet("serve")
	file := fs.String("config", "", "")
	listen := fs.String("listen", "", "")
	data := fs.String("data", "", "")
	if err := parseFlags(fs, "serve", args, false); err != nil {
		return err
	}
	var (
		cfg   *config.Config
		demo  []server.DemoPartner
		err   error
		loggr = slog.New(slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	)
	if *file != "" {
		if cfg, err = config.Load(*file); err != nil {
			return &cliError{code: "config_invalid", msg: err.Error(), hint: "run \"nonrep config check " + *file + "\" for every problem with its line"}
		}
	} else {
		cfg = config.Default(os.Getenv)
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *data != "" {
		cfg.DataDir = *data
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return ioErr(err)
	}
	if *file == "" {
		demo, err = server.Demo(cfg, func(msg string) { fmt.Fprintln(e.stdout, msg) })
		if err != nil {
			return ioErr(err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ev, err := server.OpenEvidence(ctx, cfg, loggr)
	if err != nil {
		return storeErr("evidence", err)
	}
	defer ev.Close()
	ks, err := server.OpenKeys(ctx, cfg, loggr)
	if err != nil {
		return storeErr("keys", err)
	}
	defer ks.Close()
	signer, err := server.SwiftSigner(cfg)
	if err != nil {
		return joseErr(err, "signing", "")
	}
	srv, err := server.New(ctx, cfg, server.Options{Logger: loggr, Evidence: ev, JWKS: ks.JWKS, Signer: signer,
		Registry: ks.Registry, Audit: ks.Registry.Store().RecordEvent})
	if err != nil {
		return joseErr(err, "", "")
	}
	return srv.Serve(ctx, func(addr string) {
		scheme := "http"
		if cfg.TLS != nil {
			scheme = "https"
		}
		base := scheme + "://" + addr
		if demo != nil {
			fmt.Fprint(e.stdout, server.DemoInstructions(base, demo))
		} else {
			fmt.Fprintf(e.stdout, "nonrep serve is listening on %s\n", base)
		}
		loggr.Info("listening", "addr", base, "routes", len(cfg.Routes), "egress", len(cfg.Egress))
	})
}

func storeErr(what string, err error) error {
	return &cliError{code: "store_unavailable", msg: what + ": " + err.Error(), hint: "check the data directory or the database address"}
}

var configCmd = &command{
	name:    "config",
	summary: "check a serve configuration file",
	usage: `Usage: nonrep config check FILE

Reads and validates FILE as nonrep serve would (unknown fields, types,
profiles, partners, routes, egress, files that must exist, environment
variables named by "env:NAME"). Prints "ok" and exits 0, or prints every
problem as FILE:LINE: FIELD: message and exits 1.
`,
	run: runConfig,
}

func runConfig(e *env, args []string) error {
	fs := newFlagSet("config")
	if err := parseFlags(fs, "config", args, true); err != nil {
		return err
	}
	if fs.NArg() != 2 || fs.Arg(0) != "check" {
		return usageErr(`run "nonrep config --help"`, "usage: nonrep config check FILE")
	}
	if _, err := os.Stat(fs.Arg(1)); err != nil {
		return ioErr(err)
	}
	if _, err := config.Load(fs.Arg(1)); err != nil {
		var errs config.Errors
		if !errors.As(err, &errs) {
			return &cliError{code: "config_invalid", msg: err.Error()}
		}
		for _, ce := range errs {
			fmt.Fprintf(e.stderr, "nonrep: error: config_invalid: %s\n", oneLine(ce.Error()))
		}
		return errRejectedReported{}
	}
	fmt.Fprintln(e.stdout, "ok")
	return nil
}
