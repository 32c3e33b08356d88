package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/replay"
	"github.com/nonrep/nonrep/txsign"
	"github.com/nonrep/nonrep/txsign/sqlitestore"
)

// TestDeviceScript runs testdata/device/*.txtar against a transaction-
// signing service started in this process for each script ($SERVICE; the
// user alice's token is $NONREP_USER_TOKEN). Besides the commands of
// TestScript, scripts may use, playing the relying app and the bank:
//
//	txcreate VAR [AMOUNT [pin]]  start a signing request for alice (the
//	                             story's payment, or AMOUNT EUR; "pin"
//	                             demands the PIN); set $VAR to auth_req_id
//	txpoll ID WANT               poll the token endpoint once; the answer
//	                             must be WANT ("token" or an OAuth error);
//	                             a token goes to $TOKEN
//	txpay WANT                   pay with $TOKEN through the gateway; the
//	                             answer must be WANT ("executed" or a code)
//	txpin PIN                    set alice's transaction PIN
//	txrevoke DEVICE              revoke alice's device from the web channel
//	txadvance DURATION           move the service's clock forward
//	jwstamper FILE OLD NEW       change a compact JWS's payload, keeping its
//	                             signature
//	waitport PORT                wait until 127.0.0.1:PORT accepts connections
//
// $PUSHPORT is a free loopback port for a push webhook ("device listen").
func TestDeviceScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/device",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup:               setupService,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode":  cmdExitCode,
			"checkperm": cmdCheckPerm,
			"replace":   cmdReplace,
			"txcreate":  cmdTxCreate,
			"txpoll":    cmdTxPoll,
			"txpay":     cmdTxPay,
			"txpin":     cmdTxPIN,
			"txrevoke":  cmdTxRevoke,
			"txadvance": cmdTxAdvance,
			"jwstamper": cmdJWSTamper,
			"waitport":  cmdWaitPort,
		},
	})
}

const storyDetails = `[{"type":"payment_initiation","instructedAmount":{"amount":"%s","currency":"EUR"},"creditorName":"ACME Ltd","creditorAccount":{"iban":"DE02100100109307118603"}}]`

type scriptService struct {
	mu    sync.Mutex
	now   time.Time
	srv   *httptest.Server
	api   *httptest.Server
	token string
}

func (s *scriptService) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

func setupService(env *testscript.Env) error {
	ctx := context.Background()
	store, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: ":memory:"})
	if err != nil {
		return err
	}
	s := &scriptService{now: time.Now()}
	signer, err := txsign.NewStaticSigner(testkeys.Key("p256"), jose.ES256, "txsign-1")
	if err != nil {
		return err
	}
	rec := &txsign.MemoryRecorder{}
	svc, err := txsign.New(txsign.Config{
		Store: store, Signer: signer, Recorder: rec, Issuer: "https://txsign.test", Audiences: []string{"payments"},
		Users:    txsign.NewBearerTokens(map[string]string{"alice-token": "alice"}),
		Clients:  txsign.NewBearerTokens(map[string]string{"shop-token": "shop"}),
		Interval: time.Second, MaxInterval: time.Second, PINAttempts: 3,
		PINParams: txsign.PINParams{Time: 1, Memory: 256, Threads: 1},
		Clock:     s.clock,
		Push:      txsign.PushConfig{Client: http.DefaultClient, AllowHTTP: true},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return err
	}
	h, err := svc.Handler()
	if err != nil {
		return err
	}
	s.srv = httptest.NewServer(h)
	mem, _ := replay.NewMemory(replay.MemoryConfig{})
	gw, err := txsign.Gateway(txsign.GatewayConfig{Keys: signer, Issuer: "https://txsign.test", Audience: "payments", Replay: mem, Recorder: rec, Clock: s.clock})
	if err != nil {
		return err
	}
	s.api = httptest.NewServer(gw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := txsign.TokenFromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		w.Write(tok.AuthorizationDetails)
	})))
	env.Defer(func() { s.srv.Close(); s.api.Close(); svc.Close(); store.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	env.Setenv("PUSHPORT", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	ln.Close()
	env.Setenv("SERVICE", s.srv.URL)
	env.Setenv("NONREP_USER_TOKEN", "alice-token")
	env.Values["svc"] = s
	return nil
}

func svcOf(ts *testscript.TestScript) *scriptService {
	return ts.Value("svc").(*scriptService)
}

// post sends a request and returns the status and JSON answer.
func post(ts *testscript.TestScript, method, u, token, ctype, body string) (int, map[string]any) {
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	ts.Check(err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	json.Unmarshal(raw, &out)
	out["_raw"] = string(raw)
	return resp.StatusCode, out
}

func answerCode(out map[string]any) string {
	if c, ok := out["code"].(string); ok {
		return c
	}
	c, _ := out["error"].(string)
	return c
}

func cmdTxCreate(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 3 {
		ts.Fatalf("usage: txcreate VAR [AMOUNT [pin]]")
	}
	amount := "1240.00"
	if len(args) > 1 {
		amount = args[1]
	}
	body := map[string]any{"login_hint": "alice", "binding_message": "X7Y2",
		"authorization_details": json.RawMessage(strings.Replace(storyDetails, "%s", amount, 1))}
	if len(args) == 3 && args[2] == "pin" {
		body["require_pin"] = true
	}
	b, _ := json.Marshal(body)
	st, out := post(ts, "POST", svcOf(ts).srv.URL+"/v1/signing-requests", "shop-token", "application/json", string(b))
	if st != http.StatusCreated {
		ts.Fatalf("create: %d %s", st, out["_raw"])
	}
	ts.Setenv(args[0], out["auth_req_id"].(string))
}

func cmdTxPoll(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: txpoll ID WANT")
	}
	s := svcOf(ts)
	cmdTxAdvance(ts, false, []string{"2s"})
	form := url.Values{"grant_type": {txsign.CIBAGrantType}, "auth_req_id": {args[0]}}
	st, out := post(ts, "POST", s.srv.URL+"/v1/token", "shop-token", "application/x-www-form-urlencoded", form.Encode())
	got := answerCode(out)
	if st == http.StatusOK {
		got = "token"
		ts.Setenv("TOKEN", out["access_token"].(string))
	}
	if got != args[1] {
		ts.Fatalf("token endpoint answered %d %q; want %q: %s", st, got, args[1], out["_raw"])
	}
}

func cmdTxPay(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: txpay WANT")
	}
	st, out := post(ts, "POST", svcOf(ts).api.URL+"/v1/payments", ts.Getenv("TOKEN"), "application/json", "{}")
	got := answerCode(out)
	if st == http.StatusOK {
		got = "executed"
		ts.Logf("executed %s", out["_raw"])
	}
	if got != args[0] {
		ts.Fatalf("payment API answered %d %q; want %q: %s", st, got, args[0], out["_raw"])
	}
}

func cmdTxPIN(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: txpin PIN")
	}
	st, out := post(ts, "PUT", svcOf(ts).srv.URL+"/v1/pin", "alice-token", "application/json", `{"pin":"`+args[0]+`"}`)
	if st != http.StatusNoContent {
		ts.Fatalf("set PIN: %d %s", st, out["_raw"])
	}
}

func cmdTxRevoke(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: txrevoke DEVICE")
	}
	st, out := post(ts, "POST", svcOf(ts).srv.URL+"/v1/devices/"+args[0]+"/revoke", "alice-token", "application/json", `{"reason":"lost"}`)
	if st != http.StatusOK {
		ts.Fatalf("revoke: %d %s", st, out["_raw"])
	}
}

func cmdTxAdvance(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: txadvance DURATION")
	}
	d, err := time.ParseDuration(args[0])
	ts.Check(err)
	s := svcOf(ts)
	s.mu.Lock()
	s.now = s.now.Add(d)
	s.mu.Unlock()
}

func cmdJWSTamper(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: jwstamper FILE OLD NEW")
	}
	name := ts.MkAbs(args[0])
	data := strings.TrimSpace(ts.ReadFile(args[0]))
	parts := strings.Split(data, ".")
	if len(parts) != 3 {
		ts.Fatalf("%s is not a compact JWS", args[0])
	}
	p, err := base64.RawURLEncoding.DecodeString(parts[1])
	ts.Check(err)
	if strings.Count(string(p), args[1]) != 1 {
		ts.Fatalf("the payload does not hold %q once", args[1])
	}
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(p), args[1], args[2], 1)))
	ts.Check(os.WriteFile(name, []byte(strings.Join(parts, ".")+"\n"), 0o644))
}

func cmdWaitPort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitport PORT")
	}
	for i := 0; i < 200; i++ {
		c, err := net.Dial("tcp", "127.0.0.1:"+args[0])
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("nothing listens on port %s", args[0])
}
