package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/txsign"
	"github.com/nonrep/nonrep/txsign/device"
)

func init() { registerCommand(deviceCmd) }

var deviceCmd = &command{
	name:    "device",
	summary: "play an enrolled phone for transaction signing",
	usage: `Usage: nonrep device enrol   --service URL --id ID --state FILE [flags]
       nonrep device inbox   --state FILE [--wait DURATION]
       nonrep device show    --state FILE (--request ID | --item FILE) [--save FILE]
       nonrep device approve --state FILE (--request ID | --item FILE) [--pin PIN] [--uv HOW] [--offline --out FILE]
       nonrep device deny    --state FILE (--request ID | --item FILE) [--uv HOW] [--offline --out FILE]
       nonrep device submit  --state FILE --decision FILE [--pin PIN]
       nonrep device rotate  --state FILE
       nonrep device listen  --state FILE --addr HOST:PORT [--count N] [--timeout DURATION]

A reference device for nonrep's transaction-signing service (package
txsign): it enrols with a key of its own, reads the requests waiting for
it, shows exactly what it would sign, and approves or denies them with its
key, online or offline. It is for tests and demos; a phone keeps its key in
a secure element, this command in the state file.

Before it shows or signs anything, the device verifies the request: the
service's signature (with the service's JWKS, cached in the state file), its
audience and expiry, that tx_hash is the SHA-256 of the canonical
authorization_details, and that the display text is exactly what the
versioned template renders from them. What it signs is the hash of that
text (what-you-see-is-what-you-sign).

Subcommands:
  enrol    generate a key (ES256 by default), prove possession of it over
           the service's challenge, enrol; write the state FILE (mode 0600,
           never overwritten) and print the enrolled device as JSON
  inbox    print each pending request, verified, as one JSON line;
           --wait polls until there is one (exit 1, inbox_empty, when none
           came in time)
  show     print the display text of one request, exactly as signed;
           --save writes the signed request to FILE for offline use
  approve  sign and submit an approval; print the service's answer
  deny     sign and submit a denial
  submit   submit a decision signed earlier with --offline
  rotate   replace the device's key: the new key is signed by the old,
           and the state file is rewritten
  listen   receive pushed requests on a webhook at ADDR; print each
           verified one as a JSON line; stop after --count requests or
           --timeout

Flags:
  --service URL     the service's base URL (enrol)
  --issuer ISS      the service's token issuer (enrol; default the URL)
  --id ID           the device id (enrol)
  --alg ALG         ES256 (default) or EdDSA (enrol)
  --platform NAME   platform recorded at enrolment (default "nonrep-cli")
  --push-url URL    webhook the service pushes requests to (enrol)
  --state FILE      the device's state: service, id, private key, JWKS
  --token TOKEN     the user's bearer token (default $NONREP_USER_TOKEN)
  --request ID      the auth_req_id to act on, fetched from the inbox
  --item FILE       a signed request saved by "show --save" (works offline)
  --pin PIN         the transaction PIN, when the request demands one
  --uv HOW          the user verification used (default "device_passcode")
  --offline         sign without submitting; write the decision to --out
  --out FILE        where --offline writes the decision ("-" for stdout)
  --decision FILE   a decision written by --offline (submit)

Exit status: 0 success; 1 the service refused (the code says why:
tx_hash_mismatch, signature_invalid, already_decided, pin_invalid,
device_revoked, expired_token, …) or the device refused to sign what it
could not verify; 2 usage or I/O error.

Example:
  nonrep device enrol --service https://txsign.example --id my-phone --state phone.json
  nonrep device inbox --state phone.json --wait 60s
  nonrep device show --state phone.json --request AUTH_REQ_ID
  nonrep device approve --state phone.json --request AUTH_REQ_ID --uv face
`,
	run: runDevice,
}

// deviceState is the state file's content.
type deviceState struct {
	Service  string          `json:"service"`
	Issuer   string          `json:"issuer"`
	DeviceID string          `json:"device_id"`
	Key      json.RawMessage `json:"key"`
	// JWKS is the service's key set, refreshed by every online command
	// and used offline.
	JWKS json.RawMessage `json:"jwks,omitempty"`
}

type deviceFlags struct {
	fs                                   *flag.FlagSet
	sub                                  string
	service, issuer, id, alg, platform   string
	pushURL, state, token, request, item string
	pin, uv, out, decision, save, addr   string
	offline                              bool
	wait, timeout                        time.Duration
	count                                int
}

func runDevice(e *env, args []string) error {
	const hint = `run "nonrep device --help"`
	if len(args) == 0 {
		return usageErr(hint, "device needs a subcommand: enrol, inbox, show, approve, deny, submit, rotate or listen")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "-h", "-help", "--help", "help":
		return flag.ErrHelp
	case "enrol", "enroll", "inbox", "show", "approve", "deny", "submit", "rotate", "listen":
	default:
		return usageErr(hint, "unknown device subcommand %q", sub)
	}
	f := &deviceFlags{fs: newFlagSet("device " + sub), sub: sub}
	fs := f.fs
	fs.StringVar(&f.service, "service", "", "")
	fs.StringVar(&f.issuer, "issuer", "", "")
	fs.StringVar(&f.id, "id", "", "")
	fs.StringVar(&f.alg, "alg", "ES256", "")
	fs.StringVar(&f.platform, "platform", "nonrep-cli", "")
	fs.StringVar(&f.pushURL, "push-url", "", "")
	fs.StringVar(&f.state, "state", "", "")
	fs.StringVar(&f.token, "token", os.Getenv("NONREP_USER_TOKEN"), "")
	fs.StringVar(&f.request, "request", "", "")
	fs.StringVar(&f.item, "item", "", "")
	fs.StringVar(&f.pin, "pin", "", "")
	fs.StringVar(&f.uv, "uv", "device_passcode", "")
	fs.BoolVar(&f.offline, "offline", false, "")
	fs.StringVar(&f.out, "out", "", "")
	fs.StringVar(&f.decision, "decision", "", "")
	fs.StringVar(&f.save, "save", "", "")
	fs.StringVar(&f.addr, "addr", "", "")
	fs.DurationVar(&f.wait, "wait", 0, "")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "")
	fs.IntVar(&f.count, "count", 1, "")
	if err := parseFlags(fs, "device", rest, false); err != nil {
		return err
	}
	if f.state == "" {
		return usageErr(hint, "--state is required: the file that holds the device's key")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	switch sub {
	case "enrol", "enroll":
		return f.enrol(ctx, e)
	case "inbox":
		return f.inbox(ctx, e)
	case "show":
		return f.show(ctx, e)
	case "approve", "deny":
		return f.decide(ctx, e, sub == "approve")
	case "submit":
		return f.submit(ctx, e)
	case "rotate":
		return f.rotate(ctx, e)
	default:
		return f.listen(ctx, e)
	}
}

// serviceErr turns a failure of the service or the network into the
// CLI's error: a code from the service or from jose exits 1; a network
// failure is an io error.
func serviceErr(err error, what string) error {
	if jose.CodeOf(err) != "" {
		return joseErr(err, what, "")
	}
	return ioErr(fmt.Errorf("%s: %w", what, err))
}

func (f *deviceFlags) client(st *deviceState) *device.Client {
	return &device.Client{BaseURL: st.Service, UserToken: f.token, HTTP: &http.Client{Timeout: 30 * time.Second}}
}

func (f *deviceFlags) needToken() error {
	if f.token == "" {
		return usageErr("give --token or set NONREP_USER_TOKEN", "the user's token is required for %s", f.sub)
	}
	return nil
}

func (f *deviceFlags) enrol(ctx context.Context, e *env) error {
	const hint = `run "nonrep device --help"`
	switch {
	case f.service == "":
		return usageErr(hint, "--service is required")
	case f.id == "":
		return usageErr(hint, "--id is required")
	}
	if err := f.needToken(); err != nil {
		return err
	}
	if _, err := os.Stat(f.state); err == nil {
		return &cliError{code: codeIO, msg: fmt.Sprintf("%s already exists; enrol never overwrites a device", f.state), hint: "choose another --state"}
	}
	alg := jose.Alg(f.alg)
	if alg != jose.ES256 && alg != jose.EdDSA {
		return usageErr("a device key is ES256 or EdDSA", "unsupported --alg %q", f.alg)
	}
	d, err := device.Generate(f.id, alg)
	if err != nil {
		return joseErr(err, "", "")
	}
	st := &deviceState{Service: strings.TrimSuffix(f.service, "/"), Issuer: f.issuer, DeviceID: f.id}
	if st.Issuer == "" {
		st.Issuer = st.Service
	}
	c := f.client(st)
	if err := f.refreshKeys(ctx, c, st); err != nil {
		return err
	}
	dj, err := c.Enrol(ctx, d, device.EnrolOptions{Platform: f.platform, PushURL: f.pushURL})
	if err != nil {
		return serviceErr(err, "enrolment")
	}
	if st.Key, err = d.Key.MarshalJSON(); err != nil {
		return joseErr(err, "", "")
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := writeNewFile(f.state, append(b, '\n')); err != nil {
		return err
	}
	return writeReport(e.stdout, dj)
}

// load reads the state file.
func (f *deviceFlags) load() (*deviceState, *device.Device, error) {
	data, err := readFile(f.state, maxKeyFile)
	if err != nil {
		return nil, nil, err
	}
	var st deviceState
	if err := json.Unmarshal(data, &st); err != nil || st.Service == "" || st.DeviceID == "" {
		return nil, nil, &cliError{code: string(jose.Malformed), msg: fmt.Sprintf("%s is not a device state file", f.state)}
	}
	k, err := jose.ParseJWK(st.Key)
	if err != nil {
		return nil, nil, joseErr(err, f.state, "")
	}
	d, err := device.FromKey(st.DeviceID, k.Key, k.Alg)
	if err != nil {
		return nil, nil, joseErr(err, f.state, "")
	}
	return &st, d, nil
}

// save rewrites the state file (after a rotation or a JWKS refresh):
// written to a temporary file in the same directory, then renamed.
func (f *deviceFlags) saveState(st *deviceState) error {
	b, _ := json.MarshalIndent(st, "", "  ")
	tmp, err := os.CreateTemp(filepath.Dir(f.state), ".device-*")
	if err != nil {
		return ioErr(err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return ioErr(err)
	}
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), f.state)
	}
	if err != nil {
		return ioErr(err)
	}
	return nil
}

// refreshKeys fetches the service's JWKS into st.
func (f *deviceFlags) refreshKeys(ctx context.Context, c *device.Client, st *deviceState) error {
	_, raw, err := c.Keys(ctx)
	if err != nil {
		return serviceErr(err, "fetching the service's keys")
	}
	st.JWKS = raw
	return nil
}

// keys returns the cached JWKS.
func (st *deviceState) keys() (*jose.KeySet, error) {
	if len(st.JWKS) == 0 {
		return nil, &cliError{code: string(jose.KeyUnknown), msg: "the state file has no service keys", hint: "run an online command (inbox) first"}
	}
	set, err := jose.ParseJWKS(st.JWKS)
	if err != nil {
		return nil, joseErr(err, "cached service keys", "")
	}
	return set, nil
}

// items fetches, verifies and returns the device's pending requests,
// refreshing the cached JWKS first.
func (f *deviceFlags) items(ctx context.Context, st *deviceState, d *device.Device) ([]*device.Item, error) {
	c := f.client(st)
	if err := f.refreshKeys(ctx, c, st); err != nil {
		return nil, err
	}
	if err := f.saveState(st); err != nil {
		return nil, err
	}
	raws, err := c.Inbox(ctx, d.ID)
	if err != nil {
		return nil, serviceErr(err, "inbox")
	}
	set, err := st.keys()
	if err != nil {
		return nil, err
	}
	out := make([]*device.Item, 0, len(raws))
	for _, raw := range raws {
		it, err := d.Verify(ctx, raw, set, st.Issuer, time.Time{})
		if err != nil {
			return nil, joseErr(err, "a delivered request", "the device refuses to show or sign a request it cannot verify")
		}
		out = append(out, it)
	}
	return out, nil
}

// itemLine is what inbox and listen print per request.
type itemLine struct {
	AuthReqID   string `json:"auth_req_id"`
	ClientID    string `json:"client_id"`
	TxHash      string `json:"tx_hash"`
	DisplayHash string `json:"display_hash"`
	DisplayText string `json:"display_text"`
	RequirePIN  bool   `json:"require_pin"`
	ExpiresAt   string `json:"expires_at"`
}

func printItem(w io.Writer, it *device.Item) error {
	c := &it.Claims
	b, _ := json.Marshal(&itemLine{
		AuthReqID: c.AuthReqID, ClientID: c.ClientID, TxHash: c.TxHash, DisplayHash: c.DisplayHash,
		DisplayText: c.DisplayText, RequirePIN: c.RequirePIN, ExpiresAt: time.Unix(c.Expiry, 0).UTC().Format(time.RFC3339),
	})
	return writeLine(w, b)
}

func (f *deviceFlags) inbox(ctx context.Context, e *env) error {
	if err := f.needToken(); err != nil {
		return err
	}
	st, d, err := f.load()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(f.wait)
	for {
		items, err := f.items(ctx, st, d)
		if err != nil {
			return err
		}
		if len(items) > 0 || f.wait == 0 {
			for _, it := range items {
				if err := printItem(e.stdout, it); err != nil {
					return err
				}
			}
			return nil
		}
		if time.Now().After(deadline) {
			return &cliError{code: "inbox_empty", msg: fmt.Sprintf("no request came within %s", f.wait)}
		}
		time.Sleep(time.Second)
	}
}

// one returns the request to act on: from --item (offline) or the inbox.
func (f *deviceFlags) one(ctx context.Context, st *deviceState, d *device.Device) (*device.Item, error) {
	const hint = `run "nonrep device --help"`
	switch {
	case f.item != "" && f.request != "":
		return nil, usageErr(hint, "give --request or --item, not both")
	case f.item != "":
		raw, err := readFile(f.item, 64<<10)
		if err != nil {
			return nil, err
		}
		set, err := st.keys()
		if err != nil {
			return nil, err
		}
		it, err := d.Verify(ctx, trimOneNewline(raw), set, st.Issuer, time.Time{})
		if err != nil {
			return nil, joseErr(err, f.item, "the device refuses to show or sign a request it cannot verify")
		}
		return it, nil
	case f.request == "":
		return nil, usageErr(hint, "--request ID (or --item FILE) is required")
	}
	if err := f.needToken(); err != nil {
		return nil, err
	}
	items, err := f.items(ctx, st, d)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		if it.Claims.AuthReqID == f.request {
			return it, nil
		}
	}
	return nil, &cliError{code: string(txsign.RequestUnknown), msg: fmt.Sprintf("request %q is not pending for this device", f.request),
		hint: "it may have expired, been decided, or be another device's; run \"nonrep device inbox\""}
}

func (f *deviceFlags) show(ctx context.Context, e *env) error {
	st, d, err := f.load()
	if err != nil {
		return err
	}
	it, err := f.one(ctx, st, d)
	if err != nil {
		return err
	}
	if f.save != "" {
		if err := writeNewFile(f.save, append(append([]byte{}, it.Raw...), '\n')); err != nil {
			return err
		}
	}
	if _, err := io.WriteString(e.stdout, it.Claims.DisplayText); err != nil {
		return ioErr(err)
	}
	return nil
}

func (f *deviceFlags) decide(ctx context.Context, e *env, approve bool) error {
	if f.offline && f.out == "" {
		return usageErr(`run "nonrep device --help"`, "--offline needs --out FILE (or - for standard output)")
	}
	st, d, err := f.load()
	if err != nil {
		return err
	}
	it, err := f.one(ctx, st, d)
	if err != nil {
		return err
	}
	jws, err := d.Decide(it, device.Decision{Approve: approve, UV: f.uv, Offline: f.offline})
	if err != nil {
		return joseErr(err, "", "")
	}
	if f.offline {
		if f.out == "-" {
			return writeLine(e.stdout, []byte(jws))
		}
		return writeNewFile(f.out, []byte(jws+"\n"))
	}
	if it.Claims.RequirePIN && approve && f.pin == "" {
		return usageErr("give --pin", "this request demands the transaction PIN")
	}
	resp, err := f.client(st).Submit(ctx, jws, f.pin)
	if err != nil {
		return serviceErr(err, "decision")
	}
	return writeReport(e.stdout, resp)
}

func (f *deviceFlags) submit(ctx context.Context, e *env) error {
	if f.decision == "" {
		return usageErr(`run "nonrep device --help"`, "--decision FILE is required")
	}
	st, _, err := f.load()
	if err != nil {
		return err
	}
	raw, err := readInput(e, f.decision, 16<<10)
	if err != nil {
		return err
	}
	resp, err := f.client(st).Submit(ctx, string(trimOneNewline(raw)), f.pin)
	if err != nil {
		return serviceErr(err, "decision")
	}
	return writeReport(e.stdout, resp)
}

func (f *deviceFlags) rotate(ctx context.Context, e *env) error {
	st, d, err := f.load()
	if err != nil {
		return err
	}
	next, err := device.Generate(d.ID, d.Key.Alg)
	if err != nil {
		return joseErr(err, "", "")
	}
	dj, err := f.client(st).Rotate(ctx, d, next)
	if err != nil {
		return serviceErr(err, "rotation")
	}
	if st.Key, err = next.Key.MarshalJSON(); err != nil {
		return joseErr(err, "", "")
	}
	if err := f.saveState(st); err != nil {
		return &cliError{code: codeIO, msg: "the key was rotated but the state file could not be rewritten: " + err.Error(),
			hint: "the old key no longer works; re-enrol the device"}
	}
	return writeReport(e.stdout, dj)
}

// listen serves the push webhook until --count verified requests came or
// --timeout passed.
func (f *deviceFlags) listen(ctx context.Context, e *env) error {
	if f.addr == "" {
		return usageErr(`run "nonrep device --help"`, "--addr HOST:PORT is required (the push_url given at enrolment)")
	}
	st, d, err := f.load()
	if err != nil {
		return err
	}
	if err := f.refreshKeys(ctx, f.client(st), st); err != nil {
		return err
	}
	set, err := st.keys()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return ioErr(err)
	}
	got := make(chan *device.Item)
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil || r.Method != http.MethodPost {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		it, err := d.Verify(r.Context(), raw, set, st.Issuer, time.Time{})
		if err != nil {
			fmt.Fprintf(e.stderr, "nonrep: warning: refused a pushed request: %v\n", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		select {
		case got <- it:
		case <-r.Context().Done():
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	timer := time.NewTimer(f.timeout)
	defer timer.Stop()
	for n := 0; n < f.count; n++ {
		select {
		case it := <-got:
			if err := printItem(e.stdout, it); err != nil {
				return err
			}
		case <-timer.C:
			return &cliError{code: "inbox_empty", msg: fmt.Sprintf("%d of %d pushes came within %s", n, f.count, f.timeout)}
		}
	}
	return nil
}
