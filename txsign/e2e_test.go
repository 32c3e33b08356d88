package txsign_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/problem"
	"github.com/nonrep/nonrep/txsign"
	"github.com/nonrep/nonrep/txsign/device"
)

// TestEndToEnd is the story: a customer approves a €1,240.00 transfer to
// ACME Ltd on the enrolled phone; the payment API executes exactly that,
// once; the evidence shows request → device signature → token → execution.
func TestEndToEnd(t *testing.T) {
	for _, st := range []struct {
		name  string
		store func(testing.TB) txsign.Store
	}{{"sqlite", sqliteStore}, {"postgres", pgStore}} {
		t.Run(st.name, func(t *testing.T) {
			e := newEnv(t, envOptions{store: st.store})
			id := e.mustCreate(t, map[string]any{"binding_message": "X7Y2"})

			stat, out := e.poll(t, id)
			wantAnswer(t, stat, out, http.StatusBadRequest, "authorization_pending")

			it := e.item(t, e.dev, e.alice, id)
			want := "Pay 1240.00 EUR\nTo: ACME Ltd\nAccount: iban DE02100100109307118603\nReference: Invoice 2024-117\nCode: X7Y2\n"
			if it.Claims.DisplayText != want {
				t.Fatalf("display text:\n%s\nwant:\n%s", it.Claims.DisplayText, want)
			}
			resp := e.approve(t, id, "")
			if resp.Status != txsign.Approved || resp.Offline {
				t.Fatalf("decision answer %+v", resp)
			}
			tok := e.token(t, id)
			if tok.TokenType != "Bearer" || tok.ExpiresIn != 120 || string(tok.AuthorizationDetails) != canon(t, storyJSON) {
				t.Fatalf("token response %+v", tok)
			}

			stat, out = e.pay(t, tok.AccessToken, "")
			if stat != http.StatusCreated {
				t.Fatalf("payment: %d %s", stat, out["_raw"])
			}
			if got := string(<-e.executed); got != canon(t, storyJSON) {
				t.Fatalf("executed %s", got)
			}
			stat, out = e.pay(t, tok.AccessToken, "")
			wantAnswer(t, stat, out, http.StatusConflict, "token_used")
			if len(e.executed) != 0 {
				t.Fatal("executed twice")
			}
			// The approval yields one token only.
			e.clock.Advance(61 * time.Second)
			stat, out = e.poll(t, id)
			wantAnswer(t, stat, out, http.StatusBadRequest, "invalid_grant")

			checkChain(t, e, id, tok.AccessToken)
		})
	}
}

// checkChain follows the evidence of one payment from its execution back
// to the request.
func checkChain(t *testing.T, e *testEnv, id, token string) {
	t.Helper()
	var use, issue *txsign.Event
	kinds := map[txsign.EventKind]int{}
	events := e.rec.Events()
	for i := range events {
		ev := &events[i]
		kinds[ev.Kind]++
		switch {
		case ev.Kind == txsign.EventTokenUse && string(ev.Signed) == token:
			use = ev
		case ev.Kind == txsign.EventTokenIssue && ev.AuthReqID == id:
			issue = ev
		}
	}
	if use == nil || issue == nil || string(issue.Signed) != token {
		t.Fatalf("no token_use or token_issue event: %v", kinds)
	}
	dec, ok := e.rec.Event(use.Prev)
	if !ok || dec.Kind != txsign.EventDecision || dec.AuthReqID != id || issue.Prev != use.Prev {
		t.Fatalf("token_use → %q is not the decision", use.Prev)
	}
	// The decision record alone proves what the phone signed.
	claims := verifyDecision(t, dec)
	if claims.TxHash != txsign.TxHash([]byte(canon(t, storyJSON))) || claims.Decision != "approve" {
		t.Fatalf("the recorded decision signs %+v", claims)
	}
	req, ok := e.rec.Event(dec.Prev)
	if !ok || req.Kind != txsign.EventRequest || req.TxHash != claims.TxHash {
		t.Fatalf("decision → %q is not the request", dec.Prev)
	}
	var data struct {
		Details json.RawMessage `json:"authorization_details"`
	}
	json.Unmarshal(req.Data, &data)
	if txsign.TxHash(data.Details) != claims.TxHash {
		t.Fatal("the request record's details do not hash to the signed tx_hash")
	}
	if kinds[txsign.EventDelivery] == 0 || kinds[txsign.EventEnrolment] == 0 {
		t.Fatalf("missing steps: %v", kinds)
	}
}

func verifyDecision(t *testing.T, ev txsign.Event) *txsign.DecisionClaims {
	t.Helper()
	set, err := jose.NewKeySet(ev.Key)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jose.NewVerifier(jose.Policy{Algs: []jose.Alg{jose.ES256, jose.EdDSA}, Keys: set, Typ: txsign.DecisionTyp})
	if err != nil {
		t.Fatal(err)
	}
	res, err := v.Verify(context.Background(), ev.Signed)
	if err != nil {
		t.Fatalf("the recorded decision does not verify: %v", err)
	}
	var c txsign.DecisionClaims
	json.Unmarshal(res.Payload, &c)
	return &c
}

func canon(t testing.TB, s string) string {
	c, err := txsign.Canonicalize([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return string(c)
}

// tamper re-encodes a compact JWS's payload through f, keeping the
// header and signature.
func tamper(t testing.TB, jws string, f func(string) string) string {
	t.Helper()
	parts := strings.Split(jws, ".")
	p, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	np := f(string(p))
	if np == string(p) {
		t.Fatal("tamper changed nothing")
	}
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(np))
	return strings.Join(parts, ".")
}

func moreMoney(s string) string { return strings.Replace(s, `"1240.00"`, `"9240.00"`, 1) }

// TestTamperedAmount changes the amount at each hop; nothing executes.
func TestTamperedAmount(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()

	t.Run("delivery/device refuses", func(t *testing.T) {
		id := e.mustCreate(t, map[string]any{})
		raws, err := e.alice.Inbox(ctx, e.dev.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, raw := range raws {
			_, err := e.dev.Verify(ctx, []byte(tamper(t, string(raw), moreMoney)), e.signer, issuer, e.clock.Now())
			wantCode(t, err, jose.SignatureInvalid)
		}
		_ = id
	})
	t.Run("delivery/service refuses a naive device", func(t *testing.T) {
		id := e.mustCreate(t, map[string]any{})
		it := e.item(t, e.dev, e.alice, id)
		// A device that does not check the delivery signs the hash of
		// what it was shown: 9240.00.
		it.Claims.TxHash = txsign.TxHash([]byte(moreMoney(string(it.Claims.AuthorizationDetails))))
		jws, _ := e.dev.Decide(it, device.Decision{Approve: true, UV: "face", Now: e.clock.Now()})
		_, err := e.alice.Submit(ctx, jws, "")
		wantCode(t, err, txsign.TxHashMismatch)
	})
	t.Run("decision in transit", func(t *testing.T) {
		id := e.mustCreate(t, map[string]any{})
		it := e.item(t, e.dev, e.alice, id)
		jws, _ := e.dev.Decide(it, device.Decision{Approve: true, UV: "face", Now: e.clock.Now()})
		bad := tamper(t, jws, func(p string) string {
			return strings.Replace(p, it.Claims.TxHash, txsign.TxHash([]byte(moreMoney(string(it.Claims.AuthorizationDetails)))), 1)
		})
		_, err := e.alice.Submit(ctx, bad, "")
		wantCode(t, err, jose.SignatureInvalid)
	})
	t.Run("token and body", func(t *testing.T) {
		id := e.mustCreate(t, map[string]any{})
		e.approve(t, id, "")
		tok := e.token(t, id)
		// The token's own amount changed: its signature fails.
		st, out := e.pay(t, tamper(t, tok.AccessToken, moreMoney), moreMoney(storyJSON))
		wantAnswer(t, st, out, http.StatusUnauthorized, "signature_invalid")
		// A good token with another amount in the body.
		st, out = e.pay(t, tok.AccessToken, moreMoney(storyJSON))
		wantAnswer(t, st, out, http.StatusForbidden, "tx_hash_mismatch")
		if len(e.executed) != 0 {
			t.Fatal("a tampered payment executed")
		}
		// The token was not consumed by the refusals: the approved payment
		// goes through once, and a replay (with any amount) does not.
		st, out = e.pay(t, tok.AccessToken, "")
		if st != http.StatusCreated {
			t.Fatalf("%d %s", st, out["_raw"])
		}
		<-e.executed
		st, out = e.pay(t, tok.AccessToken, moreMoney(storyJSON))
		if st != http.StatusForbidden {
			t.Fatalf("%d", st)
		}
		st, out = e.pay(t, tok.AccessToken, "")
		wantAnswer(t, st, out, http.StatusConflict, "token_used")
	})
	t.Run("display", func(t *testing.T) {
		id := e.mustCreate(t, map[string]any{})
		it := e.item(t, e.dev, e.alice, id)
		it.Claims.DisplayText = strings.Replace(it.Claims.DisplayText, "1240.00", "12.40", 1)
		jws, _ := e.dev.Decide(it, device.Decision{Approve: true, UV: "face", Now: e.clock.Now()})
		_, err := e.alice.Submit(ctx, jws, "")
		wantCode(t, err, txsign.DisplayHashMismatch)
	})
}

func TestExpiredRequest(t *testing.T) {
	e := newEnv(t, envOptions{})
	id := e.mustCreate(t, map[string]any{"requested_expiry": 30})
	it := e.item(t, e.dev, e.alice, id)
	e.clock.Advance(31 * time.Second)
	jws, _ := e.dev.Decide(it, device.Decision{Approve: true, UV: "face", Now: e.clock.Now()})
	_, err := e.alice.Submit(context.Background(), jws, "")
	wantCode(t, err, txsign.ExpiredToken)
	st, out := e.poll(t, id)
	wantAnswer(t, st, out, http.StatusBadRequest, "expired_token")
	raws, _ := e.alice.Inbox(context.Background(), e.dev.ID)
	if len(raws) != 0 {
		t.Fatal("an expired request is still in the inbox")
	}
}

func TestRevokedDevice(t *testing.T) {
	e := newEnv(t, envOptions{})
	id := e.mustCreate(t, map[string]any{})
	it := e.item(t, e.dev, e.alice, id)
	jws, _ := e.dev.Decide(it, device.Decision{Approve: true, UV: "face", Now: e.clock.Now()})
	// Revoked from another channel (the user's web session).
	web := &device.Client{BaseURL: e.srv.URL, UserToken: aliceTok}
	d, err := web.Revoke(context.Background(), e.dev.ID, "phone lost")
	if err != nil || d.Status != txsign.StatusRevoked {
		t.Fatalf("revoke: %v %+v", err, d)
	}
	_, err = e.alice.Submit(context.Background(), jws, "")
	wantCode(t, err, txsign.DeviceRevoked)
	_, err = e.alice.Inbox(context.Background(), e.dev.ID)
	wantCode(t, err, txsign.DeviceRevoked)
	st, out := e.create(t, map[string]any{})
	wantAnswer(t, st, out, http.StatusNotFound, "device_unknown")
	// Bob cannot revoke or see alice's device.
	st, out = call(t, "POST", e.srv.URL+"/v1/devices/"+e.dev.ID+"/revoke", bobTok, nil)
	wantAnswer(t, st, out, http.StatusNotFound, "device_unknown")
	// Re-enrolment with a new key brings the device back.
	d2, _ := device.Generate(e.dev.ID, jose.EdDSA)
	if _, err := e.alice.Enrol(context.Background(), d2, device.EnrolOptions{Platform: "android"}); err != nil {
		t.Fatal(err)
	}
	e.dev = d2
	id2 := e.mustCreate(t, map[string]any{})
	if r := e.approve(t, id2, ""); r.Status != txsign.Approved {
		t.Fatalf("%+v", r)
	}
}

func TestWrongDeviceKey(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	id := e.mustCreate(t, map[string]any{})
	it := e.item(t, e.dev, e.alice, id)

	// An unenrolled key.
	stranger, _ := device.Generate(e.dev.ID, jose.ES256)
	jws, _ := stranger.Decide(it, device.Decision{Approve: true, UV: "face", Now: e.clock.Now()})
	_, err := e.alice.Submit(ctx, jws, "")
	wantCode(t, err, txsign.DeviceUnknown)

	// Another key claiming the enrolled key's kid.
	impostor, _ := device.Generate(e.dev.ID, jose.ES256)
	impostor.Key = impostor.Key.WithKid(e.dev.Key.Kid)
	jws, _ = impostor.Decide(it, device.Decision{Approve: true, UV: "face", Now: e.clock.Now()})
	_, err = e.alice.Submit(ctx, jws, "")
	wantCode(t, err, jose.SignatureInvalid)

	// Bob's enrolled device deciding alice's request.
	bob := &device.Client{BaseURL: e.srv.URL, UserToken: bobTok}
	bobDev := e.enrol(t, bob, "bob-phone", jose.EdDSA)
	jws, _ = bobDev.Decide(it, device.Decision{Approve: true, UV: "face", Now: e.clock.Now()})
	_, err = bob.Submit(ctx, jws, "")
	wantCode(t, err, txsign.DeviceUnknown)
	_, err = bob.Inbox(ctx, e.dev.ID)
	wantCode(t, err, txsign.DeviceUnknown)

	// A request targeted at another of alice's devices.
	tablet := e.enrol(t, e.alice, "alice-tablet", jose.ES256)
	id2 := e.mustCreate(t, map[string]any{"device_id": "alice-tablet"})
	it2 := e.item(t, tablet, e.alice, id2)
	jws, _ = e.dev.Decide(it2, device.Decision{Approve: true, UV: "face", Now: e.clock.Now()})
	_, err = e.alice.Submit(ctx, jws, "")
	wantCode(t, err, txsign.DeviceUnknown)

	// Nothing was decided.
	st, out := e.poll(t, id)
	wantAnswer(t, st, out, http.StatusBadRequest, "authorization_pending")
}

func TestPIN(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	st, out := e.create(t, map[string]any{"require_pin": true})
	wantAnswer(t, st, out, http.StatusConflict, "pin_not_set")
	if err := e.alice.SetPIN(ctx, "12"); jose.CodeOf(err) != txsign.RequestInvalid {
		t.Fatalf("short PIN: %v", err)
	}
	if err := e.alice.SetPIN(ctx, "4321"); err != nil {
		t.Fatal(err)
	}
	id := e.mustCreate(t, map[string]any{"require_pin": true})
	it := e.item(t, e.dev, e.alice, id)
	if !it.Claims.RequirePIN {
		t.Fatal("the device is not told a PIN is needed")
	}
	jws, _ := e.dev.Decide(it, device.Decision{Approve: true, UV: "face", Now: e.clock.Now()})
	_, err := e.alice.Submit(ctx, jws, "")
	wantCode(t, err, txsign.PINRequired)
	for i := 0; i < 3; i++ {
		_, err = e.alice.Submit(ctx, jws, "0000")
		wantCode(t, err, txsign.PINInvalid)
	}
	_, err = e.alice.Submit(ctx, jws, "4321")
	wantCode(t, err, txsign.PINLocked)
	// A denial needs no PIN.
	id2 := e.mustCreate(t, map[string]any{"require_pin": true})
	it2 := e.item(t, e.dev, e.alice, id2)
	deny, _ := e.dev.Decide(it2, device.Decision{Approve: false, UV: "face", Now: e.clock.Now()})
	if r, err := e.alice.Submit(ctx, deny, ""); err != nil || r.Status != txsign.Denied {
		t.Fatalf("deny: %v %+v", err, r)
	}
	st, out = e.poll(t, id2)
	wantAnswer(t, st, out, http.StatusBadRequest, "access_denied")
	// A new PIN unlocks; a correct PIN resets the count.
	if err := e.alice.SetPIN(ctx, "98765"); err != nil {
		t.Fatal(err)
	}
	_, err = e.alice.Submit(ctx, jws, "0000")
	wantCode(t, err, txsign.PINInvalid)
	r, err := e.alice.Submit(ctx, jws, "98765")
	if err != nil || r.Status != txsign.Approved {
		t.Fatalf("right PIN: %v", err)
	}
	for _, ev := range e.rec.Events() {
		if strings.Contains(string(ev.Data), "98765") || strings.Contains(string(ev.Signed), "98765") {
			t.Fatalf("the PIN is in the evidence: %s", ev.Kind)
		}
	}
}

func TestSlowDownConcurrent(t *testing.T) {
	e := newEnv(t, envOptions{})
	id := e.mustCreate(t, map[string]any{})
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]int{}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, out := e.poll(t, id)
			mu.Lock()
			defer mu.Unlock()
			if st != http.StatusBadRequest {
				t.Errorf("status %d", st)
			}
			codes[codeOf(out)]++
		}()
	}
	wg.Wait()
	if codes["authorization_pending"] != 1 || codes["slow_down"] != n-1 {
		t.Fatalf("answers %v; want one authorization_pending and %d slow_down", codes, n-1)
	}
	// The interval grew: a poll after the original 5 s is still too early.
	e.clock.Advance(6 * time.Second)
	st, out := e.poll(t, id)
	wantAnswer(t, st, out, http.StatusBadRequest, "slow_down")
	e.clock.Advance(61 * time.Second)
	st, out = e.poll(t, id)
	wantAnswer(t, st, out, http.StatusBadRequest, "authorization_pending")
}

func TestOffline(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()

	t.Run("inside validity", func(t *testing.T) {
		id := e.mustCreate(t, map[string]any{})
		it := e.item(t, e.dev, e.alice, id)
		// Signed 10 s later in a tunnel, submitted 200 s later.
		jws, _ := e.dev.Decide(it, device.Decision{Approve: true, UV: "fingerprint", Offline: true, Now: e.clock.Now().Add(10 * time.Second)})
		e.clock.Advance(200 * time.Second)
		r, err := e.alice.Submit(ctx, jws, "")
		if err != nil || !r.Offline || r.Status != txsign.Approved {
			t.Fatalf("offline decision: %v %+v", err, r)
		}
		ev, _ := e.rec.Event(r.EvidenceRef)
		if !ev.Offline || ev.Kind != txsign.EventDecision {
			t.Fatalf("evidence not flagged offline: %+v", ev)
		}
	})
	t.Run("late without the flag is flagged", func(t *testing.T) {
		id := e.mustCreate(t, map[string]any{})
		it := e.item(t, e.dev, e.alice, id)
		jws, _ := e.dev.Decide(it, device.Decision{Approve: true, UV: "face", Now: e.clock.Now()})
		e.clock.Advance(120 * time.Second)
		r, err := e.alice.Submit(ctx, jws, "")
		if err != nil || !r.Offline {
			t.Fatalf("%v %+v", err, r)
		}
	})
	t.Run("outside validity", func(t *testing.T) {
		id := e.mustCreate(t, map[string]any{})
		it := e.item(t, e.dev, e.alice, id)
		jws, _ := e.dev.Decide(it, device.Decision{Approve: true, UV: "face", Offline: true, Now: e.clock.Now().Add(10 * time.Second)})
		e.clock.Advance(301 * time.Second)
		_, err := e.alice.Submit(ctx, jws, "")
		wantCode(t, err, txsign.ExpiredToken)
	})
	t.Run("signed before the request", func(t *testing.T) {
		id := e.mustCreate(t, map[string]any{})
		it := e.item(t, e.dev, e.alice, id)
		jws, _ := e.dev.Decide(it, device.Decision{Approve: true, UV: "face", Offline: true, Now: e.clock.Now().Add(-2 * time.Minute)})
		_, err := e.alice.Submit(ctx, jws, "")
		wantCode(t, err, txsign.ExpiredToken)
	})
}

func TestAlreadyDecided(t *testing.T) {
	e := newEnv(t, envOptions{})
	id := e.mustCreate(t, map[string]any{})
	it := e.item(t, e.dev, e.alice, id)
	deny, _ := e.dev.Decide(it, device.Decision{Approve: false, UV: "face", Now: e.clock.Now()})
	approve, _ := e.dev.Decide(it, device.Decision{Approve: true, UV: "face", Now: e.clock.Now()})
	if _, err := e.alice.Submit(context.Background(), deny, ""); err != nil {
		t.Fatal(err)
	}
	_, err := e.alice.Submit(context.Background(), approve, "")
	wantCode(t, err, txsign.AlreadyDecided)
	_, err = e.alice.Submit(context.Background(), deny, "")
	wantCode(t, err, txsign.AlreadyDecided)
	st, out := e.poll(t, id)
	wantAnswer(t, st, out, http.StatusBadRequest, "access_denied")
}

func TestRotateKey(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	id := e.mustCreate(t, map[string]any{})
	it := e.item(t, e.dev, e.alice, id)
	old := e.dev
	next, _ := device.Generate(old.ID, jose.EdDSA)
	// Statements are one-time: capture one to replay.
	oldP, newP, _ := old.RotationProofs(next, time.Now())
	pub, _ := next.Public().MarshalJSON()
	body := map[string]any{"jwk": json.RawMessage(pub), "old_key_proof": oldP, "new_key_proof": newP}
	st, out := call(t, "POST", e.srv.URL+"/v1/devices/"+old.ID+"/rotate", "", body)
	if st != http.StatusOK || out["key_thumbprint"] != next.Key.Thumbprint() {
		t.Fatalf("rotate: %d %s", st, out["_raw"])
	}
	st, out = call(t, "POST", e.srv.URL+"/v1/devices/"+old.ID+"/rotate", "", body)
	if st/100 == 2 {
		t.Fatalf("a replayed rotation passed: %s", out["_raw"])
	}
	// The old key no longer decides; the new one does.
	jws, _ := old.Decide(it, device.Decision{Approve: true, UV: "face", Now: e.clock.Now()})
	_, err := e.alice.Submit(ctx, jws, "")
	wantCode(t, err, txsign.DeviceUnknown)
	e.dev = next
	if r := e.approve(t, id, ""); r.Status != txsign.Approved {
		t.Fatalf("%+v", r)
	}
	// A rotation signed by the new key only (not the current one's
	// owner) is refused.
	third, _ := device.Generate(old.ID, jose.ES256)
	if _, err := e.alice.Rotate(ctx, old, third); jose.CodeOf(err) == "" {
		t.Fatal("rotation signed by a retired key passed")
	}
	// Replayed statement through the client API.
	st, out = call(t, "POST", e.srv.URL+"/v1/devices/"+old.ID+"/rotate", "", body)
	if st/100 == 2 {
		t.Fatal("replay passed")
	}
}

func TestEnrolment(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	challenge := func(tok string) string {
		st, out := call(t, "POST", e.srv.URL+"/v1/devices/challenge", tok, nil)
		if st != http.StatusCreated {
			t.Fatalf("challenge %d", st)
		}
		return out["challenge"].(string)
	}
	enrol := func(tok string, d *device.Device, ch string, mutate func(map[string]any)) (int, map[string]any) {
		proof, _ := d.EnrolProof(ch, time.Now())
		pub, _ := d.Public().MarshalJSON()
		body := map[string]any{"device_id": d.ID, "platform": "ios", "jwk": json.RawMessage(pub), "challenge": ch, "proof": proof}
		if mutate != nil {
			mutate(body)
		}
		return call(t, "POST", e.srv.URL+"/v1/devices", tok, body)
	}
	d, _ := device.Generate("new-phone", jose.ES256)
	ch := challenge(aliceTok)
	// Bob cannot use alice's challenge, and the attempt burns it.
	st, out := enrol(bobTok, d, ch, nil)
	wantAnswer(t, st, out, http.StatusBadRequest, "challenge_invalid")
	st, out = enrol(aliceTok, d, ch, nil)
	wantAnswer(t, st, out, http.StatusBadRequest, "challenge_invalid")
	// Proof by another key.
	other, _ := device.Generate("new-phone", jose.ES256)
	ch = challenge(aliceTok)
	proof, _ := other.EnrolProof(ch, time.Now())
	st, out = enrol(aliceTok, d, ch, func(m map[string]any) { m["proof"] = proof })
	wantAnswer(t, st, out, http.StatusUnauthorized, "signature_invalid")
	// A private key is refused.
	priv, _ := d.Key.MarshalJSON()
	st, out = enrol(aliceTok, d, challenge(aliceTok), func(m map[string]any) { m["jwk"] = json.RawMessage(priv) })
	wantAnswer(t, st, out, http.StatusUnauthorized, "key_rejected")
	// An RSA or P-521 key is refused.
	st, out = enrol(aliceTok, d, challenge(aliceTok), func(m map[string]any) {
		m["jwk"] = json.RawMessage(`{"kty":"EC","crv":"P-521","x":"AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk","y":"ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2"}`)
	})
	wantAnswer(t, st, out, http.StatusUnauthorized, "key_rejected")
	// http push URL refused when not allowed is covered by config; a URL
	// with credentials is refused always.
	st, out = enrol(aliceTok, d, challenge(aliceTok), func(m map[string]any) { m["push_url"] = "https://u:p@push.example/x" })
	wantAnswer(t, st, out, http.StatusBadRequest, "request_invalid")
	// Unknown members and case variants are refused.
	st, out = enrol(aliceTok, d, challenge(aliceTok), func(m map[string]any) { m["Device_id"] = "x" })
	wantAnswer(t, st, out, http.StatusBadRequest, "request_invalid")
	// Success, then another user cannot take the id, and the key cannot
	// be enrolled twice.
	st, out = enrol(aliceTok, d, challenge(aliceTok), nil)
	if st != http.StatusCreated || out["key_thumbprint"] != d.Key.Thumbprint() || out["status"] != "active" {
		t.Fatalf("enrol: %d %s", st, out["_raw"])
	}
	bobD, _ := device.Generate("new-phone", jose.ES256)
	st, out = enrol(bobTok, bobD, challenge(bobTok), nil)
	wantAnswer(t, st, out, http.StatusConflict, "device_exists")
	dup := &device.Device{ID: "third", Key: d.Key}
	st, out = enrol(aliceTok, dup, challenge(aliceTok), nil)
	wantAnswer(t, st, out, http.StatusConflict, "device_exists")
	// Listing.
	st, out = call(t, "GET", e.srv.URL+"/v1/devices", aliceTok, nil)
	if st != http.StatusOK || len(out["devices"].([]any)) != 2 {
		t.Fatalf("list: %s", out["_raw"])
	}
	st, out = call(t, "GET", e.srv.URL+"/v1/devices", "", nil)
	wantAnswer(t, st, out, http.StatusUnauthorized, "unauthenticated")
	_ = ctx
}

func TestPush(t *testing.T) {
	got := make(chan []byte, 4)
	hook := newHook(t, got)
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	d, _ := device.Generate("pushed-phone", jose.EdDSA)
	if _, err := e.alice.Enrol(ctx, d, device.EnrolOptions{Platform: "android", PushURL: hook.URL}); err != nil {
		t.Fatal(err)
	}
	id := e.mustCreate(t, map[string]any{"device_id": "pushed-phone"})
	var raw []byte
	select {
	case raw = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no push")
	}
	keys, _, err := e.alice.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	it, err := d.Verify(ctx, raw, keys, issuer, e.clock.Now())
	if err != nil || it.Claims.AuthReqID != id {
		t.Fatalf("push: %v", err)
	}
	jws, _ := d.Decide(it, device.Decision{Approve: true, UV: "face", Now: e.clock.Now()})
	if _, err := e.alice.Submit(ctx, jws, ""); err != nil {
		t.Fatal(err)
	}
	e.svc.Close()
	pushed := false
	for _, ev := range e.rec.Events() {
		if ev.Kind == txsign.EventDelivery && ev.Outcome == txsign.ChannelPush && ev.AuthReqID == id && string(ev.Signed) == string(raw) {
			pushed = true
		}
	}
	if !pushed {
		t.Fatal("no push delivery evidence")
	}
}

// newHook is a device's push webhook: it passes each body to got.
func newHook(t *testing.T, got chan []byte) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != txsign.PushContentType {
			t.Errorf("push content type %q", r.Header.Get("Content-Type"))
		}
		b, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		got <- b
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestIdempotency(t *testing.T) {
	e := newEnv(t, envOptions{})
	st, a := e.create(t, map[string]any{}, "Idempotency-Key", "order-42")
	if st != http.StatusCreated {
		t.Fatal(st)
	}
	st, b := e.create(t, map[string]any{}, "Idempotency-Key", "order-42")
	if st != http.StatusOK || a["auth_req_id"] != b["auth_req_id"] {
		t.Fatalf("retry: %d %v %v", st, a["auth_req_id"], b["auth_req_id"])
	}
	st, c := e.create(t, map[string]any{"authorization_details": json.RawMessage(moreMoney(storyJSON))}, "Idempotency-Key", "order-42")
	wantAnswer(t, st, c, http.StatusUnprocessableEntity, "idempotency_key_reused")
}

func TestRequestValidation(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, tc := range []struct {
		name     string
		body     string
		wantCode string
	}{
		{"amount as number", `{"login_hint":"alice","authorization_details":[{"type":"payment_initiation","instructedAmount":{"amount":1240.00,"currency":"EUR"},"creditorName":"ACME"}]}`, "authorization_details_invalid"},
		{"negative amount", `{"login_hint":"alice","authorization_details":[{"type":"payment_initiation","instructedAmount":{"amount":"-1","currency":"EUR"},"creditorName":"ACME"}]}`, "authorization_details_invalid"},
		{"newline in payee", `{"login_hint":"alice","authorization_details":[{"type":"payment_initiation","instructedAmount":{"amount":"1","currency":"EUR"},"creditorName":"ACME\nPay 1.00 EUR"}]}`, "authorization_details_invalid"},
		{"bidi override", `{"login_hint":"alice","authorization_details":[{"type":"payment_initiation","instructedAmount":{"amount":"1","currency":"EUR"},"creditorName":"ACME \u202e00.1"}]}`, "authorization_details_invalid"},
		{"duplicate amount", `{"login_hint":"alice","authorization_details":[{"type":"payment_initiation","instructedAmount":{"amount":"1","amount":"1000","currency":"EUR"},"creditorName":"ACME"}]}`, "request_invalid"},
		{"not an array", `{"login_hint":"alice","authorization_details":{"type":"x"}}`, "authorization_details_invalid"},
		{"no type", `{"login_hint":"alice","authorization_details":[{"amount":"1"}]}`, "authorization_details_invalid"},
		{"case variant member", `{"login_hint":"alice","Login_hint":"bob","authorization_details":[{"type":"x"}]}`, "request_invalid"},
		{"unknown audience", `{"login_hint":"alice","audience":"elsewhere","authorization_details":[{"type":"x"}]}`, "request_invalid"},
		{"long binding message", `{"login_hint":"alice","binding_message":"` + strings.Repeat("x", 65) + `","authorization_details":[{"type":"x"}]}`, "request_invalid"},
		{"expiry too long", `{"login_hint":"alice","requested_expiry":3600,"authorization_details":[{"type":"x"}]}`, "request_invalid"},
		{"unknown user", `{"login_hint":"carol","authorization_details":[{"type":"x"}]}`, "device_unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, out := call(t, "POST", e.srv.URL+"/v1/signing-requests", shopTok, tc.body)
			if codeOf(out) != tc.wantCode {
				t.Fatalf("code %q; want %q: %s", codeOf(out), tc.wantCode, out["_raw"])
			}
		})
	}
	st, out := call(t, "POST", e.srv.URL+"/v1/signing-requests", "", `{}`)
	wantAnswer(t, st, out, http.StatusUnauthorized, "unauthenticated")
	// The token endpoint speaks OAuth.
	st, out = call(t, "POST", e.srv.URL+"/v1/token", "wrong", map[string]string{})
	wantAnswer(t, st, out, http.StatusUnauthorized, "invalid_client")
	st, out = call(t, "POST", e.srv.URL+"/v1/token", shopTok, `{"auth_req_id":"x"}`)
	wantAnswer(t, st, out, http.StatusBadRequest, "invalid_request")
	st, out = e.poll(t, "no-such-request")
	wantAnswer(t, st, out, http.StatusBadRequest, "invalid_grant")
}

// TestFailClosed: a recorder that fails aborts every step with 503, and
// nothing is decided or issued.
func TestFailClosed(t *testing.T) {
	var fail bool
	var mu sync.Mutex
	inner := &txsign.MemoryRecorder{}
	rec := txsign.RecorderFunc(func(ctx context.Context, ev *txsign.Event) (string, error) {
		mu.Lock()
		f := fail
		mu.Unlock()
		if f {
			return "", context.DeadlineExceeded
		}
		return inner.Record(ctx, ev)
	})
	setFail := func(v bool) { mu.Lock(); fail = v; mu.Unlock() }
	e := newEnv(t, envOptions{recorder: rec})
	setFail(true)
	st, out := e.create(t, map[string]any{})
	wantAnswer(t, st, out, http.StatusServiceUnavailable, string(problem.EvidenceUnavailable))
	setFail(false)
	id := e.mustCreate(t, map[string]any{})
	it := e.item(t, e.dev, e.alice, id)
	jws, _ := e.dev.Decide(it, device.Decision{Approve: true, UV: "face", Now: e.clock.Now()})
	setFail(true)
	_, err := e.alice.Submit(context.Background(), jws, "")
	wantCode(t, err, problem.EvidenceUnavailable)
	setFail(false)
	st, out = e.poll(t, id)
	wantAnswer(t, st, out, http.StatusBadRequest, "authorization_pending")
	if _, err := e.alice.Submit(context.Background(), jws, ""); err != nil {
		t.Fatal(err)
	}
	setFail(true)
	e.clock.Advance(61 * time.Second)
	st, out = e.poll(t, id)
	wantAnswer(t, st, out, http.StatusServiceUnavailable, string(problem.EvidenceUnavailable))
	setFail(false)
	e.clock.Advance(6 * time.Second)
	st, out = e.poll(t, id)
	if st != http.StatusOK || out["access_token"] == nil {
		t.Fatalf("no token after the recorder came back: %d %s", st, out["_raw"])
	}
}
