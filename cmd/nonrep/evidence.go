package main

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nonrep/nonrep/evidence"
	"github.com/nonrep/nonrep/evidence/pgstore"
	"github.com/nonrep/nonrep/evidence/sqlitestore"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/profile"
)

const defaultEvidenceStore = "sqlite:./nonrep-data/evidence.db"

var evidenceCmd = &command{
	name:    "evidence",
	summary: "export, verify and check evidence (bundles, the log)",
	usage: `Usage: nonrep evidence SUBCOMMAND [flags] [args]

The evidence log records every signed exchange (the signature and body
bytes exactly as received, the key, the verdict) as a leaf of a Merkle tree
whose checkpoints the log signs. A bundle is one file that proves one
record to someone with nothing of ours: see its VERIFY section.

Subcommands:
  verify FILE [--log-key KEY] [--json]
      Check a bundle offline: record and body hashes, the checkpoint's
      signature, the inclusion proof, and the request's signature with the
      stored key at the stored time (not today's). Exit 1 names the check
      that failed.
  export INDEX --out FILE [--tree-size N] [--store S]
      Write the bundle of record INDEX (FILE "-" is standard output). The
      same INDEX and --tree-size give the same bytes.
  check [--log-key KEY] [--checkpoint FILE]... [--store S]
      Walk the whole store: recompute every hash, verify every checkpoint,
      and say which record was changed or deleted, or where the log was
      truncated. --checkpoint adds checkpoints kept elsewhere, which is
      what catches a log rewritten together with its own checkpoints.
  consistency OLD [NEW] [--log-key KEY] [--store S]
      Prove that checkpoint NEW (default: the latest) extends checkpoint
      OLD: nothing was removed or changed in between. OLD and NEW are
      checkpoint files or tree sizes of stored checkpoints.
  checkpoint [--store S]
      Print the latest signed checkpoint (keep it elsewhere).
  info [--store S]
      Print the log's name, tree head and verifier keys.
  search [--partner P] [--kid K] [--verdict V] [--replay-id R] [--path P]
         [--from TIME] [--to TIME] [--after INDEX] [--limit N] [--store S]
      List matching records, one per line.
  append --log-key PRIVATE --profile NAME --partner NAME --key PARTNER
         --method M --path P [--query Q] [--host H] --body FILE
         (--signature VALUE | --signature-file FILE) [--header NAME]
         [--content-type T] [--time TIME] [--origin O] [--policy-version V]
         [--store S]
      Verify a signed request under a scheme at TIME (default now) with
      the partner's key, and append the outcome (accepted or rejected)
      to the log. For imports, replays of captured traffic and tests.

Flags:
  --store S        sqlite:PATH (default ` + defaultEvidenceStore + `) or
                   postgres:DSN (a libpq URL or key=value string)
  --log-key KEY    the log's checkpoint key: a note verifier key
                   ("name+hash+base64"), a file holding one, or an Ed25519
                   JWK or PEM file. For verify, pin the key you got from the
                   log's operator: without it the bundle's own key is used.
                   For append, the Ed25519 private key (nonrep keygen --alg
                   EdDSA).
  --json           verify: print the report as JSON
  TIME             RFC 3339, e.g. 2026-03-04T09:30:00Z

Errors name what failed: record_hash_mismatch, inclusion_invalid,
checkpoint_invalid, consistency_invalid, log_inconsistent,
verdict_mismatch, record_not_found, or the signature's own code
(signature_invalid, expired, ...). Exit 1 for a failed check, 2 for usage
and I/O errors (including a store that cannot be reached).

Examples:
  nonrep evidence export 1842 --out transfer-1842.json
  nonrep evidence verify transfer-1842.json --log-key 'payments.example/evidence+1a2b3c4d+AW...'
  nonrep evidence checkpoint > checkpoint-2026-03.txt
  nonrep evidence check --checkpoint checkpoint-2026-03.txt
`,
	run: runEvidence,
}

func init() { registerCommand(evidenceCmd) }

func runEvidence(e *env, args []string) error {
	if len(args) == 0 {
		return usageErr(`run "nonrep evidence --help"`, "no evidence subcommand given")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "-h", "-help", "--help", "help":
		return flag.ErrHelp
	case "verify":
		return evidenceVerify(e, rest)
	case "export":
		return evidenceExport(e, rest)
	case "check":
		return evidenceCheck(e, rest)
	case "consistency":
		return evidenceConsistency(e, rest)
	case "checkpoint":
		return evidenceCheckpoint(e, rest)
	case "info":
		return evidenceInfo(e, rest)
	case "search":
		return evidenceSearch(e, rest)
	case "append":
		return evidenceAppend(e, rest)
	}
	return usageErr(`run "nonrep evidence --help"`, "unknown evidence subcommand %q", sub)
}

// parseEvidenceFlags parses flags that may come before or after the
// positional arguments, and returns the positional ones.
func parseEvidenceFlags(fs *flag.FlagSet, sub string, args []string, nargs, optional int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageErr(`run "nonrep evidence --help"`, "%s", flagMsg(err))
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) < nargs || len(pos) > nargs+optional {
		want := fmt.Sprint(nargs)
		if optional > 0 {
			want = fmt.Sprintf("%d or %d", nargs, nargs+optional)
		}
		return nil, usageErr(`run "nonrep evidence --help"`, "evidence %s takes %s argument(s), got %d", sub, want, len(pos))
	}
	return pos, nil
}

// evidenceErr turns a package evidence error into the CLI's: a store that
// cannot answer is an I/O error (exit 2), everything else keeps its code.
func evidenceErr(err error, prefix string) error {
	var ce *cliError
	if errors.As(err, &ce) {
		return ce
	}
	if jose.CodeOf(err) == evidence.Unavailable {
		msg := err.Error()
		var je *jose.Error
		if errors.As(err, &je) {
			msg = je.Detail
			if je.Err != nil {
				msg += ": " + je.Err.Error()
			}
		}
		if prefix != "" {
			msg = prefix + ": " + msg
		}
		return &cliError{code: codeIO, msg: msg, hint: "check --store and that the database is reachable"}
	}
	return joseErr(err, prefix, "")
}

// openEvidenceStore opens the store named by spec. Unless create is set, a
// SQLite file that does not exist is an error rather than a new store.
func openEvidenceStore(ctx context.Context, spec string, create bool) (evidence.Store, error) {
	kind, target, ok := strings.Cut(spec, ":")
	if strings.HasPrefix(spec, "postgres://") || strings.HasPrefix(spec, "postgresql://") {
		kind, target, ok = "postgres", spec, true
	}
	if !ok || target == "" {
		return nil, usageErr("use --store sqlite:PATH or --store postgres:DSN", "--store %q names no store", spec)
	}
	switch kind {
	case "sqlite":
		if !create {
			if _, err := os.Stat(target); errors.Is(err, fs.ErrNotExist) {
				return nil, &cliError{code: codeIO, msg: fmt.Sprintf("no evidence store at %s", target), hint: "give --store sqlite:PATH or --store postgres:DSN"}
			}
		}
		s, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: target})
		if err != nil {
			return nil, evidenceErr(err, "sqlite:"+target)
		}
		return s, nil
	case "postgres", "postgresql":
		s, err := pgstore.Open(ctx, pgstore.Config{DSN: target, MaxConns: 4})
		if err != nil {
			return nil, evidenceErr(err, "postgres")
		}
		return s, nil
	}
	return nil, usageErr("use --store sqlite:PATH or --store postgres:DSN", "unknown store kind %q", kind)
}

// openEvidenceLog opens an existing log read-only.
func openEvidenceLog(ctx context.Context, spec string) (*evidence.Log, func(), error) {
	s, err := openEvidenceStore(ctx, spec, false)
	if err != nil {
		return nil, nil, err
	}
	l, err := evidence.Open(ctx, evidence.Config{Store: s})
	if err != nil {
		s.Close()
		return nil, nil, evidenceErr(err, spec)
	}
	return l, func() { l.Close(); s.Close() }, nil
}

// logVerifierKeys resolves --log-key for checking: a note verifier key, a
// file holding one, or an Ed25519 JWK/PEM file (named origin).
func logVerifierKeys(arg, origin string) ([]string, error) {
	if arg == "" {
		return nil, nil
	}
	if looksLikeVKey(arg) {
		if _, err := evidence.VerifierPublicKey(arg); err != nil {
			return nil, joseErr(err, "--log-key", "")
		}
		return []string{arg}, nil
	}
	data, err := readFile(arg, maxKeyFile)
	if err != nil {
		return nil, err
	}
	text := strings.TrimSpace(string(data))
	if looksLikeVKey(text) {
		if _, err := evidence.VerifierPublicKey(text); err != nil {
			return nil, joseErr(err, arg, "")
		}
		return []string{text}, nil
	}
	k, err := loadKey(arg)
	if err != nil {
		return nil, err
	}
	pub, ok := k.PublicKey().(ed25519.PublicKey)
	if !ok {
		return nil, &cliError{code: string(jose.KeyRejected), msg: fmt.Sprintf("%s: the log key must be Ed25519", arg)}
	}
	v, err := evidence.VerifierKeyFor(origin, pub)
	if err != nil {
		return nil, joseErr(err, arg, "")
	}
	return []string{v}, nil
}

// looksLikeVKey reports whether s has the shape name+hash+base64.
func looksLikeVKey(s string) bool {
	parts := strings.SplitN(s, "+", 3)
	if len(parts) != 3 || len(parts[1]) != 8 || strings.ContainsAny(s, " \n") {
		return false
	}
	_, err := strconv.ParseUint(parts[1], 16, 32)
	return err == nil
}

func evidenceVerify(e *env, args []string) error {
	fs := newFlagSet("evidence verify")
	logKey := fs.String("log-key", "", "")
	asJSON := fs.Bool("json", false, "")
	pos, err := parseEvidenceFlags(fs, "verify", args, 1, 0)
	if err != nil {
		return err
	}
	data, err := readInput(e, pos[0], evidence.MaxBundle)
	if err != nil {
		return err
	}
	var opts evidence.VerifyOptions
	if *logKey != "" {
		origin := bundleOrigin(data)
		if opts.LogKeys, err = logVerifierKeys(*logKey, origin); err != nil {
			return err
		}
	}
	rep, verr := evidence.VerifyBundle(context.Background(), data, opts)
	if *asJSON {
		out := verifyJSON{Verified: verr == nil, Index: rep.Index, KeyPinned: rep.KeyPinned, Steps: []stepJSON{}}
		if verr != nil {
			out.Code = string(jose.CodeOf(verr))
		}
		for _, s := range rep.Steps {
			out.Steps = append(out.Steps, stepJSON{s.Name, s.OK, s.Detail})
		}
		if rep.Record != nil {
			out.Received = evidence.FormatTime(rep.Record.Received)
			out.Partner, out.Verdict = rep.Record.Partner, string(rep.Record.Verdict)
		}
		if err := writeReport(e.stdout, out); err != nil {
			return err
		}
	} else {
		if r := rep.Record; r != nil {
			fmt.Fprintf(e.stdout, "record %d: %s %s %s %s from %q (%s), received %s, %s\n",
				rep.Index, r.Direction, r.Kind, r.Method, r.Path, r.Partner, r.Profile, evidence.FormatTime(r.Received), r.Verdict)
		}
		for _, s := range rep.Steps {
			mark := "ok  "
			if !s.OK {
				mark = "FAIL"
			}
			fmt.Fprintf(e.stdout, "%s %-10s %s\n", mark, s.Name, oneLine(s.Detail))
		}
		if verr == nil {
			if !rep.KeyPinned {
				fmt.Fprintln(e.stdout, "note: the log key was taken from the bundle itself; pin the operator's key with --log-key")
			}
			fmt.Fprintln(e.stdout, "verified")
		}
	}
	if verr != nil {
		return joseErr(verr, pos[0], verifyHint(jose.CodeOf(verr)))
	}
	return nil
}

type verifyJSON struct {
	Verified  bool       `json:"verified"`
	Code      string     `json:"code,omitempty"`
	Index     int64      `json:"index"`
	Received  string     `json:"received,omitempty"`
	Partner   string     `json:"partner,omitempty"`
	Verdict   string     `json:"verdict,omitempty"`
	KeyPinned bool       `json:"log_key_pinned"`
	Steps     []stepJSON `json:"steps"`
}

type stepJSON struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

func verifyHint(c jose.Code) string {
	switch c {
	case evidence.CheckpointInvalid:
		return "the checkpoint is not signed by the log key; check --log-key against the key the log's operator publishes"
	case evidence.RecordHashMismatch, evidence.InclusionInvalid:
		return "the bundle was altered after export; ask for a fresh export and compare"
	}
	return ""
}

// bundleOrigin reads the bundle's log_origin without trusting it (it names
// the key for a JWK/PEM --log-key; the checkpoint must then match).
func bundleOrigin(data []byte) string {
	var b struct {
		Origin string `json:"log_origin"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return ""
	}
	return b.Origin
}

func evidenceExport(e *env, args []string) error {
	fs := newFlagSet("evidence export")
	store := fs.String("store", defaultEvidenceStore, "")
	out := fs.String("out", "", "")
	treeSize := fs.Int64("tree-size", 0, "")
	pos, err := parseEvidenceFlags(fs, "export", args, 1, 0)
	if err != nil {
		return err
	}
	if *out == "" {
		return usageErr(`give --out FILE, or --out - for standard output`, "--out is required")
	}
	idx, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || idx < 0 {
		return usageErr(`INDEX is a record's position in the log, as "evidence search" prints it`, "record index %q is not a non-negative number", pos[0])
	}
	ctx := context.Background()
	l, done, err := openEvidenceLog(ctx, *store)
	if err != nil {
		return err
	}
	defer done()
	b, err := l.Bundle(ctx, idx, evidence.BundleOptions{TreeSize: *treeSize})
	if err != nil {
		return evidenceErr(err, "")
	}
	if *out == "-" {
		if _, err := e.stdout.Write(b); err != nil {
			return ioErr(err)
		}
		return nil
	}
	return writeExclusive(*out, b)
}

// writeExclusive creates path (mode 0600: bundles hold payment data),
// refusing to replace a file, and fsyncs it.
func writeExclusive(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return &cliError{code: codeIO, msg: fmt.Sprintf("%s already exists; export never overwrites", path), hint: "choose another --out"}
	}
	if err != nil {
		return ioErr(err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return ioErr(err)
	}
	return nil
}

func evidenceCheck(e *env, args []string) error {
	fs := newFlagSet("evidence check")
	store := fs.String("store", defaultEvidenceStore, "")
	logKey := fs.String("log-key", "", "")
	var cps listFlag
	fs.Var(&cps, "checkpoint", "")
	if _, err := parseEvidenceFlags(fs, "check", args, 0, 0); err != nil {
		return err
	}
	ctx := context.Background()
	l, done, err := openEvidenceLog(ctx, *store)
	if err != nil {
		return err
	}
	defer done()
	opts := evidence.CheckOptions{}
	if opts.LogKeys, err = logVerifierKeys(*logKey, l.Origin()); err != nil {
		return err
	}
	for _, path := range cps {
		data, err := readFile(path, 1<<20)
		if err != nil {
			return err
		}
		opts.Checkpoints = append(opts.Checkpoints, data)
	}
	rep, cerr := evidence.Check(ctx, l.Store(), opts)
	if cerr != nil && len(rep.Problems) == 0 {
		return evidenceErr(cerr, "")
	}
	fmt.Fprintf(e.stdout, "log %s: %d records, %d checkpoints checked; tree head %d records, root %s\n",
		rep.Origin, rep.Records, rep.Checkpoints, rep.Head.Size, base64.StdEncoding.EncodeToString(rep.Head.Root[:]))
	for _, p := range rep.Problems {
		fmt.Fprintf(e.stdout, "problem %s: %s\n", string(p.Code), oneLine(p.Detail))
	}
	if cerr != nil {
		return joseErr(cerr, "", "")
	}
	fmt.Fprintln(e.stdout, "ok")
	return nil
}

func evidenceConsistency(e *env, args []string) error {
	fs := newFlagSet("evidence consistency")
	store := fs.String("store", defaultEvidenceStore, "")
	logKey := fs.String("log-key", "", "")
	pos, err := parseEvidenceFlags(fs, "consistency", args, 1, 1)
	if err != nil {
		return err
	}
	ctx := context.Background()
	l, done, err := openEvidenceLog(ctx, *store)
	if err != nil {
		return err
	}
	defer done()
	keys, err := logVerifierKeys(*logKey, l.Origin())
	if err != nil {
		return err
	}
	if keys == nil {
		if keys, err = l.VerifierKeys(ctx); err != nil {
			return evidenceErr(err, "")
		}
	}
	load := func(arg string) (*evidence.Checkpoint, error) {
		var note []byte
		if arg == "" {
			_, n, err := l.Store().Checkpoint(ctx, -1)
			if err != nil {
				return nil, evidenceErr(err, "")
			}
			note = n
		} else if n, err := strconv.ParseInt(arg, 10, 64); err == nil {
			_, b, err := l.Store().Checkpoint(ctx, n)
			if err != nil {
				return nil, evidenceErr(err, "")
			}
			note = b
		} else {
			if note, err = readFile(arg, 1<<20); err != nil {
				return nil, err
			}
		}
		cp, err := evidence.OpenCheckpoint(note, keys...)
		if err != nil {
			return nil, joseErr(err, arg, "")
		}
		if cp.Origin != l.Origin() {
			return nil, &cliError{code: string(evidence.CheckpointInvalid), msg: fmt.Sprintf("%s: the checkpoint is of log %q, the store holds %q", arg, cp.Origin, l.Origin())}
		}
		return cp, nil
	}
	older, err := load(pos[0])
	if err != nil {
		return err
	}
	newArg := ""
	if len(pos) > 1 {
		newArg = pos[1]
	}
	newer, err := load(newArg)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "old: %d records, root %s\n", older.Size, base64.StdEncoding.EncodeToString(older.Root[:]))
	fmt.Fprintf(e.stdout, "new: %d records, root %s\n", newer.Size, base64.StdEncoding.EncodeToString(newer.Root[:]))
	if older.Size > newer.Size {
		err := evidence.VerifyConsistency(older.Tree, newer.Tree, nil)
		return joseErr(err, "", "the log holds fewer records than a checkpoint it signed")
	}
	head, err := l.Head(ctx)
	if err != nil {
		return evidenceErr(err, "")
	}
	if newer.Size > head.Size {
		return &cliError{code: string(evidence.ConsistencyInvalid), msg: fmt.Sprintf("the store holds %d records, fewer than the %d the newer checkpoint covers: the log was truncated", head.Size, newer.Size)}
	}
	proof, err := l.ConsistencyProof(ctx, older.Size, newer.Size)
	if err != nil {
		if jose.CodeOf(err) == evidence.LogInconsistent {
			return &cliError{code: string(evidence.ConsistencyInvalid), msg: "the store cannot prove consistency: " + err.Error()}
		}
		return evidenceErr(err, "")
	}
	for _, h := range proof {
		fmt.Fprintf(e.stdout, "proof: %s\n", base64.StdEncoding.EncodeToString(h[:]))
	}
	if err := evidence.VerifyConsistency(older.Tree, newer.Tree, proof); err != nil {
		return joseErr(err, "", "run \"nonrep evidence check\" to find what changed")
	}
	fmt.Fprintf(e.stdout, "consistent: the tree of %d records extends the tree of %d\n", newer.Size, older.Size)
	return nil
}

func evidenceCheckpoint(e *env, args []string) error {
	fs := newFlagSet("evidence checkpoint")
	store := fs.String("store", defaultEvidenceStore, "")
	if _, err := parseEvidenceFlags(fs, "checkpoint", args, 0, 0); err != nil {
		return err
	}
	ctx := context.Background()
	l, done, err := openEvidenceLog(ctx, *store)
	if err != nil {
		return err
	}
	defer done()
	cp, err := l.LatestCheckpoint(ctx)
	if err != nil {
		return evidenceErr(err, "")
	}
	_, err = e.stdout.Write(cp.Note)
	if err != nil {
		return ioErr(err)
	}
	return nil
}

func evidenceInfo(e *env, args []string) error {
	fs := newFlagSet("evidence info")
	store := fs.String("store", defaultEvidenceStore, "")
	if _, err := parseEvidenceFlags(fs, "info", args, 0, 0); err != nil {
		return err
	}
	ctx := context.Background()
	l, done, err := openEvidenceLog(ctx, *store)
	if err != nil {
		return err
	}
	defer done()
	head, err := l.Head(ctx)
	if err != nil {
		return evidenceErr(err, "")
	}
	keys, err := l.VerifierKeys(ctx)
	if err != nil {
		return evidenceErr(err, "")
	}
	fmt.Fprintf(e.stdout, "origin: %s\n", l.Origin())
	fmt.Fprintf(e.stdout, "records: %d\n", head.Size)
	fmt.Fprintf(e.stdout, "root: %s\n", base64.StdEncoding.EncodeToString(head.Root[:]))
	if cp, err := l.LatestCheckpoint(ctx); err == nil {
		fmt.Fprintf(e.stdout, "latest checkpoint: %d records\n", cp.Size)
	}
	for _, k := range keys {
		fmt.Fprintf(e.stdout, "log key: %s\n", k)
	}
	return nil
}

func evidenceSearch(e *env, args []string) error {
	fs := newFlagSet("evidence search")
	store := fs.String("store", defaultEvidenceStore, "")
	var q evidence.Query
	fs.StringVar(&q.Partner, "partner", "", "")
	fs.StringVar(&q.Kid, "kid", "", "")
	verdict := fs.String("verdict", "", "")
	fs.StringVar(&q.ReplayID, "replay-id", "", "")
	fs.StringVar(&q.Path, "path", "", "")
	from := fs.String("from", "", "")
	to := fs.String("to", "", "")
	fs.Int64Var(&q.After, "after", -1, "")
	fs.IntVar(&q.Limit, "limit", 100, "")
	if _, err := parseEvidenceFlags(fs, "search", args, 0, 0); err != nil {
		return err
	}
	q.Verdict = evidence.Verdict(*verdict)
	var err error
	if q.From, err = parseFlagTime("--from", *from); err != nil {
		return err
	}
	if q.To, err = parseFlagTime("--to", *to); err != nil {
		return err
	}
	ctx := context.Background()
	l, done, err := openEvidenceLog(ctx, *store)
	if err != nil {
		return err
	}
	defer done()
	res, err := l.Search(ctx, q)
	if err != nil {
		return evidenceErr(err, "")
	}
	for _, s := range res {
		code := string(s.Code)
		if code == "" {
			code = "-"
		}
		kid := s.Kid
		if kid == "" {
			kid = "-"
		}
		fmt.Fprintf(e.stdout, "%d\t%s\t%s\t%s\t%s\t%s %s\t%s\t%s\t%s\n", s.Index, evidence.FormatTime(s.Received),
			s.Partner, s.Direction, s.Kind, s.Method, s.Path, kid, s.Verdict, code)
	}
	return nil
}

func parseFlagTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, usageErr("times are RFC 3339, e.g. 2026-03-04T09:30:00Z", "%s %q is not a time", name, v)
	}
	return t, nil
}

func evidenceAppend(e *env, args []string) error {
	fs := newFlagSet("evidence append")
	store := fs.String("store", defaultEvidenceStore, "")
	logKeyPath := fs.String("log-key", "", "")
	origin := fs.String("origin", "", "")
	profName := fs.String("profile", "", "")
	partner := fs.String("partner", "", "")
	keyPath := fs.String("key", "", "")
	method := fs.String("method", "POST", "")
	path := fs.String("path", "", "")
	query := fs.String("query", "", "")
	host := fs.String("host", "", "")
	bodyPath := fs.String("body", "", "")
	sigValue := fs.String("signature", "", "")
	sigFile := fs.String("signature-file", "", "")
	header := fs.String("header", "", "")
	contentType := fs.String("content-type", "", "")
	at := fs.String("time", "", "")
	policy := fs.String("policy-version", "", "")
	if _, err := parseEvidenceFlags(fs, "append", args, 0, 0); err != nil {
		return err
	}
	const hint = `run "nonrep evidence --help"`
	switch {
	case *logKeyPath == "":
		return usageErr(hint, "--log-key (the log's Ed25519 private key) is required")
	case *profName == "" || *partner == "" || *keyPath == "" || *path == "" || *bodyPath == "":
		return usageErr(hint, "--profile, --partner, --key, --path and --body are required")
	case (*sigValue == "") == (*sigFile == "") && !(*profName == "generic" && *header == ""):
		return usageErr(hint, "give one of --signature and --signature-file")
	}
	received := time.Now()
	if *at != "" {
		var err error
		if received, err = parseFlagTime("--time", *at); err != nil {
			return err
		}
	}
	logKey, err := loadKey(*logKeyPath)
	if err != nil {
		return err
	}
	signer, ok := logKey.Key.(crypto.Signer)
	if _, ed := logKey.Key.(ed25519.PrivateKey); !ok || !ed {
		return &cliError{code: string(jose.KeyRejected), msg: fmt.Sprintf("%s: the log key must be an Ed25519 private key", *logKeyPath), hint: "make one with: nonrep keygen --alg EdDSA --out log.jwk"}
	}
	partnerKeys, err := loadKeys(*keyPath)
	if err != nil {
		return err
	}
	var pubs []*jose.JWK
	for _, k := range partnerKeys {
		pubs = append(pubs, k.Public())
	}
	set, err := jose.NewKeySet(pubs...)
	if err != nil {
		return joseErr(err, *keyPath, "")
	}
	body, err := readFile(*bodyPath, maxMessage)
	if err != nil {
		return err
	}
	var p profile.Profile
	sigHeader := *header
	switch *profName {
	case "generic":
		p = profile.Generic{Header: *header}
	case "incomm":
		p, sigHeader = profile.InComm{}, "Signature"
	case "ebanx":
		p, sigHeader = profile.EBANX{}, "X-JWS-Signature"
	case "openbanking", "openbanking-3.1.3":
		p, _ = profile.ByName(*profName)
		sigHeader = "x-jws-signature"
	default:
		return usageErr("--profile is generic, incomm, ebanx, openbanking or openbanking-3.1.3", "unknown profile %q", *profName)
	}
	m := &profile.Message{Method: *method, Host: *host, Path: *path, RawQuery: *query, Header: http.Header{}, Body: body}
	ct := *contentType
	if ct == "" {
		ct = "application/json"
		if *profName == "generic" && *header == "" {
			ct = profile.GenericContentType
		}
	}
	m.Header.Set("Content-Type", ct)
	if *profName == "incomm" {
		m.Header.Set("Authorization", "INCOMM-OLS-EAPI-SIGNATURE-JWS")
	}
	if sigHeader != "" {
		v := *sigValue
		if *sigFile != "" {
			b, err := readFile(*sigFile, maxMessage)
			if err != nil {
				return err
			}
			v = string(trimOneNewline(b))
		}
		m.Header.Set(sigHeader, v)
	}
	trust := profile.Trust{Keys: set, Clock: func() time.Time { return received }}
	if *profName == "generic" {
		for _, k := range pubs {
			if k.Alg != "" {
				trust.Algs = append(trust.Algs, k.Alg)
			}
		}
	}
	v, err := p.NewVerifier(trust)
	if err != nil {
		return joseErr(err, "", "")
	}
	rec := &evidence.Record{
		Received: received, Direction: evidence.Inbound, Partner: *partner, Profile: p.Name(),
		PolicyVersion: *policy, Method: m.Method, Host: m.Host, Path: m.Path, Query: m.RawQuery,
		ContentType: ct, SignatureHeader: sigHeader, Body: body, Verdict: evidence.Accepted,
	}
	if sigHeader != "" {
		rec.Signature = []byte(m.Header.Get(sigHeader))
	} else {
		rec.Signature = body
	}
	parsed, err := v.Parse(m)
	var res *profile.Result
	if err == nil {
		res, err = v.Verify(context.Background(), parsed)
	}
	if err != nil {
		code := jose.CodeOf(err)
		if code == "" {
			return ioErr(err)
		}
		rec.Verdict, rec.Code = evidence.Rejected, code
		if j, perr := jose.ParseCompact(rec.Signature, jose.Limits{}); perr == nil {
			// Keep the key the signature names, so that the rejection can
			// be re-checked from the record alone.
			rec.Kid, rec.Key = j.Header(0).Kid, set.Lookup(j.Header(0).Kid)
		}
	} else {
		rec.Kid, rec.Key, rec.ReplayID = res.Kid, res.Key, res.ReplayID
	}
	ctx := context.Background()
	s, err := openEvidenceStore(ctx, *store, true)
	if err != nil {
		return err
	}
	defer s.Close()
	l, err := evidence.Open(ctx, evidence.Config{Store: s, Key: signer, Origin: *origin})
	if err != nil {
		return evidenceErr(err, *store)
	}
	defer l.Close()
	idx, err := l.Append(ctx, rec)
	if err != nil {
		return evidenceErr(err, *store)
	}
	if rec.Verdict == evidence.Accepted {
		fmt.Fprintf(e.stdout, "appended record %d: accepted\n", idx)
	} else {
		fmt.Fprintf(e.stdout, "appended record %d: rejected (%s)\n", idx, string(rec.Code))
	}
	return nil
}
