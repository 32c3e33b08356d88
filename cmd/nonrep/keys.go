package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/keys"
	"github.com/nonrep/nonrep/keys/pgstore"
	"github.com/nonrep/nonrep/keys/sqlitestore"
)

func init() { registerCommand(keysCmd) }

// defaultStore is the registry used without --store or $NONREP_STORE: the
// one nonrep serve uses on embedded defaults.
const defaultStore = "nonrep-data/keys.db"

var keysCmd = &command{
	name:    "keys",
	summary: "manage our signing keys: list, add, promote, retire, revoke, rotate",
	usage: `Usage: nonrep keys COMMAND [flags] [KID]

Manages our signing keys in the key registry. Each key goes through four
phases: pending (published in our JWKS, not signing) → active (signs; one
per purpose) → retiring (verify-only, still published) → retired
(unpublished, kept for evidence). revoked is terminal. Every change is
recorded with who made it and why.

Commands:
  list                     every key with its state and the time of each phase
  add --key FILE           add a key as pending (that publishes it)
  promote KID              make a pending key active: only once it has been
                           published for --max-age plus --margin; the
                           purpose's active key becomes retiring. A retiring
                           key may be promoted again (roll back).
  retire KID               active → retiring, or retiring → retired (only
                           after --retiring), or pending → retired
  revoke KID --reason WHY  revoke a key in any state; never accepted again
  rotate --key FILE        run a whole rotation to a new key (or --kid KID to
                           resume one): publish it, wait, make it active,
                           wait, retire the old key. Prints what happens when.

Flags (every command):
  --store DSN      the registry: a SQLite file (default $NONREP_STORE, else
                   ` + defaultStore + `; "sqlite:PATH" also works) or a PostgreSQL URL
                   (postgres://…)
  --actor NAME     who is making the change (default $USER)
  --reason TEXT    why (recorded; required by revoke)
  --max-age D      the Cache-Control max-age our JWKS endpoint advertises
                   (default 10m0s); must match the server's setting
  --margin D       added to --max-age before a promotion (default 1m0s)
  --retiring D     the shortest retiring period (default 1h0m0s)

Flags of add and rotate:
  --key FILE       the private key: a JWK or PEM file that only its owner
                   may read (mode 0600); the registry stores its public part
                   and the file's path, never the private key
  --kid ID         the key's kid (default: the file's kid, else the RFC 7638
                   thumbprint)
  --alg ALG        the algorithm it signs with (default: the file's alg)
  --purpose NAME   the key's purpose (default "sign"); one active key each

Flags of rotate:
  --no-wait        do the steps that are due, print the rest, and exit;
                   run the same command again later to continue
  --kid ID         with no --key: continue the rotation to this key

Flags of list:
  --json           print the keys as a JSON array

Exit status: 0 done; 1 refused by a rule (too_early, transition_invalid,
key_not_found, key_exists, key_rejected); 2 usage, I/O or store error.

Example:
  nonrep keygen --alg ES256 --kid gw-2027 --out /etc/nonrep/gw-2027.jwk
  nonrep keys rotate --key /etc/nonrep/gw-2027.jwk --reason "yearly rotation"
`,
	run: runKeys,
}

// keysFlags are the flags every keys subcommand takes.
type keysFlags struct {
	store, actor, reason     string
	maxAge, margin, retiring time.Duration
	key, kid, alg, purpose   string
	noWait, json             bool
	fs                       *flag.FlagSet
	sub                      string
}

func newKeysFlags(sub string) *keysFlags {
	f := &keysFlags{sub: sub, fs: newFlagSet("keys " + sub)}
	fs := f.fs
	fs.StringVar(&f.store, "store", "", "")
	fs.StringVar(&f.actor, "actor", "", "")
	fs.StringVar(&f.reason, "reason", "", "")
	fs.DurationVar(&f.maxAge, "max-age", keys.DefaultMaxAge, "")
	fs.DurationVar(&f.margin, "margin", keys.DefaultMargin, "")
	fs.DurationVar(&f.retiring, "retiring", keys.DefaultRetiring, "")
	switch sub {
	case "add", "rotate":
		fs.StringVar(&f.key, "key", "", "")
		fs.StringVar(&f.kid, "kid", "", "")
		fs.StringVar(&f.alg, "alg", "", "")
		fs.StringVar(&f.purpose, "purpose", "", "")
	}
	if sub == "rotate" {
		fs.BoolVar(&f.noWait, "no-wait", false, "")
	}
	if sub == "list" {
		fs.BoolVar(&f.json, "json", false, "")
	}
	return f
}

// parse parses flags and positional arguments in any order and returns
// the positional ones.
func (f *keysFlags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(f.fs, "keys", args, true); err != nil {
			return nil, err
		}
		if f.fs.NArg() == 0 {
			break
		}
		pos = append(pos, f.fs.Arg(0))
		args = f.fs.Args()[1:]
	}
	hint := `run "nonrep keys --help"`
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"max-age", f.maxAge}, {"margin", f.margin}, {"retiring", f.retiring}} {
		if d.v < 0 {
			return nil, usageErr(hint, "--%s must not be negative", d.name)
		}
	}
	if f.maxAge == 0 {
		return nil, usageErr(hint, "--max-age must be positive: it is what our JWKS endpoint advertises")
	}
	return pos, nil
}

func (f *keysFlags) actorName() string {
	if f.actor != "" {
		return f.actor
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}

// openStore opens the registry store named by --store, $NONREP_STORE or
// the default SQLite file.
func openStore(ctx context.Context, dsn string) (keys.Store, error) {
	if dsn == "" {
		dsn = os.Getenv("NONREP_STORE")
	}
	if dsn == "" {
		dsn = defaultStore
	}
	var s keys.Store
	var err error
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		s, err = pgstore.Open(ctx, pgstore.Config{DSN: dsn})
	} else {
		s, err = sqlitestore.Open(ctx, sqlitestore.Config{Path: strings.TrimPrefix(dsn, "sqlite:")})
	}
	if err != nil {
		return nil, keysErr(err, "")
	}
	return s, nil
}

// keysErr reports a registry error: store failures are I/O errors (exit
// 2), every other code is a refusal by a rule (exit 1).
func keysErr(err error, hint string) error {
	var ce *cliError
	if errors.As(err, &ce) {
		return ce
	}
	if jose.CodeOf(err) == keys.StoreUnavailable {
		msg := strings.Replace(err.Error(), "jose: "+string(keys.StoreUnavailable)+": ", "", 1)
		var je *jose.Error
		if errors.As(err, &je) && je.Err != nil {
			msg += ": " + je.Err.Error()
		}
		return &cliError{code: codeIO, msg: string(keys.StoreUnavailable) + ": " + msg, hint: hint}
	}
	return joseErr(err, "", hint)
}

func runKeys(e *env, args []string) error {
	const hint = `run "nonrep keys --help"`
	if len(args) == 0 {
		return usageErr(hint, "name a keys command: list, add, promote, retire, revoke or rotate")
	}
	sub := args[0]
	switch sub {
	case "-h", "-help", "--help", "help":
		return flag.ErrHelp
	case "list", "add", "promote", "retire", "revoke", "rotate":
	default:
		return usageErr(hint, "unknown keys command %q", sub)
	}
	f := newKeysFlags(sub)
	pos, err := f.parse(args[1:])
	if err != nil {
		return err
	}
	wantPos := map[string]int{"list": 0, "add": 0, "rotate": 0, "promote": 1, "retire": 1, "revoke": 1}[sub]
	if len(pos) != wantPos {
		if wantPos == 0 {
			return usageErr(hint, "unexpected argument %q", pos[0])
		}
		return usageErr(hint, "keys %s takes one KID", sub)
	}
	ctx := context.Background()
	store, err := openStore(ctx, f.store)
	if err != nil {
		return err
	}
	defer store.Close()
	margin := f.margin
	if margin == 0 {
		margin = -1 // none
	}
	retiring := f.retiring
	if retiring == 0 {
		retiring = time.Nanosecond
	}
	reg, err := keys.New(keys.Config{Store: store, MaxAge: f.maxAge, Margin: margin, Retiring: retiring})
	if err != nil {
		return keysErr(err, "")
	}
	k := &keysRun{e: e, f: f, reg: reg, ctx: ctx}
	switch sub {
	case "list":
		return k.list()
	case "add":
		_, err := k.add()
		return err
	case "promote":
		return k.promote(pos[0])
	case "retire":
		return k.retire(pos[0])
	case "revoke":
		return k.revoke(pos[0])
	default:
		return k.rotate()
	}
}

type keysRun struct {
	e   *env
	f   *keysFlags
	reg *keys.Registry
	ctx context.Context
}

func (k *keysRun) printf(format string, args ...any) error {
	if _, err := fmt.Fprintf(k.e.stdout, format, args...); err != nil {
		return ioErr(fmt.Errorf("writing output: %w", err))
	}
	return nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// keyJSON is one key in "keys list --json". Member names are API.
type keyJSON struct {
	Kid        string          `json:"kid"`
	Purpose    string          `json:"purpose"`
	Alg        string          `json:"alg"`
	State      string          `json:"state"`
	Thumbprint string          `json:"thumbprint"`
	SignerRef  string          `json:"signer_ref"`
	Published  string          `json:"published"`
	Activated  string          `json:"activated,omitempty"`
	Retiring   string          `json:"retiring,omitempty"`
	Retired    string          `json:"retired,omitempty"`
	Revoked    string          `json:"revoked,omitempty"`
	JWK        json.RawMessage `json:"jwk"`
}

func (k *keysRun) list() error {
	ks, err := k.reg.Keys(k.ctx)
	if err != nil {
		return keysErr(err, "")
	}
	if k.f.json {
		out := make([]keyJSON, 0, len(ks))
		for _, key := range ks {
			j, _ := key.Public.MarshalJSON()
			opt := func(t time.Time) string {
				if t.IsZero() {
					return ""
				}
				return stamp(t)
			}
			out = append(out, keyJSON{
				Kid: key.Kid, Purpose: key.Purpose, Alg: string(key.Alg), State: string(key.State),
				Thumbprint: key.Thumbprint(), SignerRef: key.SignerRef, Published: stamp(key.Published),
				Activated: opt(key.Activated), Retiring: opt(key.RetiringSince), Retired: opt(key.Retired), Revoked: opt(key.Revoked),
				JWK: j,
			})
		}
		return writeReport(k.e.stdout, out)
	}
	tw := tabwriter.NewWriter(k.e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tPURPOSE\tALG\tSTATE\tPUBLISHED\tACTIVATED\tRETIRING\tRETIRED\tREVOKED")
	for _, key := range ks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", key.Kid, key.Purpose, key.Alg, key.State,
			stamp(key.Published), stamp(key.Activated), stamp(key.RetiringSince), stamp(key.Retired), stamp(key.Revoked))
	}
	if err := tw.Flush(); err != nil {
		return ioErr(fmt.Errorf("writing output: %w", err))
	}
	return nil
}

// readSigningKey reads --key: a private key file (mode 0600).
func (k *keysRun) readSigningKey() (*jose.JWK, string, error) {
	if k.f.key == "" {
		return nil, "", usageErr(`run "nonrep keys --help"`, "--key is required: the private key file of the new key")
	}
	if _, err := os.Stat(k.f.key); err != nil {
		return nil, "", ioErr(err)
	}
	priv, err := keys.ReadPrivateKeyFile(k.f.key)
	if err != nil {
		hint := ""
		if strings.Contains(err.Error(), "chmod 600") {
			hint = "chmod 600 " + k.f.key
		}
		return nil, "", joseErr(err, "", hint)
	}
	ref, err := keys.FileRef(k.f.key)
	if err != nil {
		return nil, "", ioErr(err)
	}
	return priv, ref, nil
}

func (k *keysRun) add() (*keys.Key, error) {
	priv, ref, err := k.readSigningKey()
	if err != nil {
		return nil, err
	}
	key, err := k.reg.Add(k.ctx, keys.NewKey{
		Key: priv, Kid: k.f.kid, Alg: jose.Alg(k.f.alg), Purpose: k.f.purpose, SignerRef: ref,
		Actor: k.f.actorName(), Reason: k.f.reason,
	})
	if err != nil {
		hint := ""
		if jose.CodeOf(err) == keys.KeyExists {
			hint = `run "nonrep keys list"; to continue a rotation to it, use "nonrep keys rotate --kid KID"`
		}
		return nil, keysErr(err, hint)
	}
	return key, k.printf("%s: added %s key %q (%s) as pending: published now; it may become active at %s\n",
		stamp(key.Published), key.Purpose, key.Kid, key.Alg, stamp(k.reg.EarliestActivation(key)))
}

func (k *keysRun) promote(kid string) error {
	key, err := k.reg.Promote(k.ctx, kid, k.f.actorName(), k.f.reason)
	if err != nil {
		hint := ""
		if jose.CodeOf(err) == keys.TooEarly {
			hint = `run it again then, or let "nonrep keys rotate --kid ` + kid + `" wait for you`
		}
		return keysErr(err, hint)
	}
	return k.printf("%s: key %q is active (purpose %s); the previous active key, if any, is retiring\n", stamp(key.Activated), key.Kid, key.Purpose)
}

func (k *keysRun) retire(kid string) error {
	key, err := k.reg.Retire(k.ctx, kid, k.f.actorName(), k.f.reason)
	if err != nil {
		return keysErr(err, "")
	}
	switch key.State {
	case keys.Retiring:
		return k.printf("%s: key %q is retiring: no longer signs, still published; it may be retired at %s\n",
			stamp(key.RetiringSince), key.Kid, stamp(k.reg.EarliestRetirement(key)))
	default:
		return k.printf("%s: key %q is retired: unpublished, kept for evidence\n", stamp(key.Retired), key.Kid)
	}
}

func (k *keysRun) revoke(kid string) error {
	if k.f.reason == "" {
		return usageErr(`say why with --reason "..."`, "revoking a key needs a reason")
	}
	key, err := k.reg.Revoke(k.ctx, kid, k.f.actorName(), k.f.reason)
	if err != nil {
		return keysErr(err, "")
	}
	return k.printf("%s: key %q is revoked: unpublished now and never accepted again\n", stamp(key.Revoked), key.Kid)
}

// rotate runs (or resumes) a rotation, waiting between the phases.
func (k *keysRun) rotate() error {
	const hint = `run "nonrep keys --help"`
	kid := k.f.kid
	switch {
	case k.f.key == "" && kid == "":
		return usageErr(hint, "name the new key: --key FILE (a new key) or --kid KID (a rotation under way)")
	case k.f.key != "":
		priv, _, err := k.readSigningKey()
		if err != nil {
			return err
		}
		existing, err := k.findByThumbprint(priv.Thumbprint())
		if err != nil {
			return err
		}
		if existing != nil {
			kid = existing.Kid
			if err := k.printf("key %q is already registered (%s): resuming its rotation\n", kid, existing.State); err != nil {
				return err
			}
		} else {
			key, err := k.add()
			if err != nil {
				return err
			}
			kid = key.Kid
		}
	}
	plan, err := k.reg.Plan(k.ctx, kid)
	if err != nil {
		return keysErr(err, "")
	}
	if err := k.printPlan(plan); err != nil {
		return err
	}
	done := map[string]bool{}
	for _, s := range plan.Steps {
		done[s.Kid+"/"+string(s.To)] = s.Done
	}
	for {
		plan, err = k.reg.Rotate(k.ctx, kid, k.f.actorName())
		if err != nil {
			return keysErr(err, "")
		}
		for _, s := range plan.Steps {
			key := s.Kid + "/" + string(s.To)
			if s.Done && !done[key] {
				done[key] = true
				if err := k.printf("%s: %s\n", stamp(s.At), phaseText(s, true)); err != nil {
					return err
				}
			}
		}
		next := plan.Next()
		if next == nil {
			return k.printf("rotation of %s to %q complete\n", plan.Purpose, kid)
		}
		if k.f.noWait {
			return k.printf("next: %s at %s; run this command again then\n", phaseText(*next, false), stamp(next.At))
		}
		wait := time.Until(next.At)
		if err := k.printf("waiting %v, until %s: %s\n", wait.Round(time.Second), stamp(next.At), phaseText(*next, false)); err != nil {
			return err
		}
		time.Sleep(max(wait, 0) + 10*time.Millisecond)
	}
}

func (k *keysRun) findByThumbprint(th string) (*keys.Key, error) {
	ks, err := k.reg.Keys(k.ctx)
	if err != nil {
		return nil, keysErr(err, "")
	}
	for _, key := range ks {
		if key.Thumbprint() == th {
			return key, nil
		}
	}
	return nil, nil
}

var phaseNumber = map[keys.State]int{keys.Pending: 1, keys.Active: 2, keys.Retiring: 3, keys.Retired: 4}

func phaseText(s keys.Step, done bool) string {
	what := map[keys.State][2]string{
		keys.Pending:  {"is published (pending): in our JWKS, not signing", "gets published"},
		keys.Active:   {"is active: it signs from now on", "becomes active and signs"},
		keys.Retiring: {"is retiring: verify-only, still published", "becomes retiring (verify-only, still published)"},
		keys.Retired:  {"is retired: unpublished, kept for evidence", "gets retired (unpublished)"},
	}[s.To]
	i := 1
	if done {
		i = 0
	}
	return fmt.Sprintf("phase %d: key %q %s", phaseNumber[s.To], s.Kid, what[i])
}

func (k *keysRun) printPlan(p *keys.Plan) error {
	var b strings.Builder
	fmt.Fprintf(&b, "rotation of purpose %s to key %q (max-age %v + margin %v before activation, %v retiring):\n",
		p.Purpose, p.New.Kid, k.f.maxAge, k.f.margin, k.f.retiring)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, s := range p.Steps {
		when := "at " + stamp(s.At) + " (done)"
		if !s.Done {
			when = "at " + stamp(s.At) + " at the earliest"
		}
		fmt.Fprintf(tw, "  phase %d\t%s\t%q\t%s\n", phaseNumber[s.To], s.To, s.Kid, when)
	}
	tw.Flush()
	_, err := io.WriteString(k.e.stdout, b.String())
	if err != nil {
		return ioErr(err)
	}
	return nil
}
