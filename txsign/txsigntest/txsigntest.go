// Package txsigntest is the conformance suite every txsign.Store backend
// must pass: the same tests, run against SQLite and PostgreSQL, including
// the atomicity of decisions, polls, PIN attempts and token issue under
// concurrent callers.
package txsigntest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/txsign"
)

// Run runs the suite. open returns a fresh, empty store for each subtest;
// the suite does not close it (register a cleanup in open).
func Run(t *testing.T, open func(t *testing.T) txsign.Store) {
	tests := []struct {
		name string
		f    func(t *testing.T, s txsign.Store)
	}{
		{"Challenge", testChallenge},
		{"Devices", testDevices},
		{"ReEnrol", testReEnrol},
		{"Rotate", testRotate},
		{"PIN", testPIN},
		{"PINConcurrent", testPINConcurrent},
		{"CreateRequest", testCreateRequest},
		{"IdempotencyConcurrent", testIdempotencyConcurrent},
		{"Pending", testPending},
		{"Deliveries", testDeliveries},
		{"Poll", testPoll},
		{"PollConcurrent", testPollConcurrent},
		{"Decide", testDecide},
		{"DecideConcurrent", testDecideConcurrent},
		{"IssueToken", testIssueToken},
		{"IssueTokenConcurrent", testIssueTokenConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.f(t, open(t))
		})
	}
}

var ctx = context.Background()

// t0 is the suite's fixed "now", at microsecond precision.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func wantCode(t *testing.T, err error, want jose.Code) {
	t.Helper()
	if got := jose.CodeOf(err); got != want {
		t.Fatalf("error %v has code %q; want %q", err, got, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newKey(t *testing.T) *jose.JWK {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	j, err := jose.NewJWK(&k.PublicKey, "", jose.ES256)
	must(t, err)
	return j.WithKid(j.Thumbprint())
}

func device(t *testing.T, id, user string) *txsign.Device {
	return &txsign.Device{
		ID: id, User: user, Platform: "ios", Metadata: map[string]string{"model": "phone 15"},
		PushURL: "https://push.example/" + id, Key: newKey(t), Attestation: []byte{1, 2, 3},
		Status: txsign.StatusActive, EnrolledAt: t0, EvidenceRef: "ev:" + id,
	}
}

var nextID atomic.Int64

func request(user, device string) *txsign.Request {
	n := nextID.Add(1)
	details := json.RawMessage(`[{"creditorName":"ACME Ltd","instructedAmount":{"amount":"1240.00","currency":"EUR"},"type":"payment_initiation"}]`)
	return &txsign.Request{
		ID: fmt.Sprintf("req-%d-%d", time.Now().UnixNano(), n), ClientID: "shop", Fingerprint: "fp",
		User: user, DeviceID: device, Audience: "payments", Details: details, TxHash: txsign.TxHash(details),
		BindingMessage: "X7Y2", DisplayTemplate: txsign.DisplayV1, DisplayText: "Pay 1240.00 EUR\n",
		DisplayHash: txsign.DisplayHash("Pay 1240.00 EUR\n"), Nonce: "nonce", RequirePIN: true,
		Created: t0, Expires: t0.Add(5 * time.Minute), Interval: 5 * time.Second, Status: txsign.Pending,
		EvidenceRef: "ev:req",
	}
}

func testChallenge(t *testing.T, s txsign.Store) {
	c := &txsign.Challenge{ID: "c1", User: "alice", Expires: t0.Add(time.Minute)}
	must(t, s.PutChallenge(ctx, c, t0))
	got, err := s.TakeChallenge(ctx, "c1")
	must(t, err)
	if got.User != "alice" || !got.Expires.Equal(c.Expires) {
		t.Fatalf("got %+v", got)
	}
	_, err = s.TakeChallenge(ctx, "c1")
	wantCode(t, err, txsign.ChallengeInvalid)
	// An expired challenge is dropped by a later PutChallenge.
	must(t, s.PutChallenge(ctx, &txsign.Challenge{ID: "old", User: "a", Expires: t0}, t0))
	must(t, s.PutChallenge(ctx, &txsign.Challenge{ID: "new", User: "a", Expires: t0.Add(time.Hour)}, t0.Add(time.Minute)))
	_, err = s.TakeChallenge(ctx, "old")
	wantCode(t, err, txsign.ChallengeInvalid)
}

func testDevices(t *testing.T, s txsign.Store) {
	d1 := device(t, "d1", "alice")
	must(t, s.EnrolDevice(ctx, d1))
	d2 := device(t, "d2", "alice")
	d2.EnrolledAt = t0.Add(time.Second)
	d2.Attestation = nil
	d2.Metadata = nil
	must(t, s.EnrolDevice(ctx, d2))
	got, err := s.Device(ctx, "d1")
	must(t, err)
	if got.User != "alice" || got.Platform != "ios" || got.Metadata["model"] != "phone 15" || got.PushURL != d1.PushURL ||
		got.Key.Thumbprint() != d1.Key.Thumbprint() || got.Key.Kid != d1.Key.Kid || string(got.Attestation) != "\x01\x02\x03" ||
		got.Status != txsign.StatusActive || !got.EnrolledAt.Equal(t0) || got.EvidenceRef != "ev:d1" {
		t.Fatalf("stored device differs: %+v", got)
	}
	byKey, err := s.DeviceByKey(ctx, d2.Key.Thumbprint())
	must(t, err)
	if byKey.ID != "d2" {
		t.Fatalf("DeviceByKey = %s", byKey.ID)
	}
	_, err = s.DeviceByKey(ctx, newKey(t).Thumbprint())
	wantCode(t, err, txsign.DeviceUnknown)
	_, err = s.Device(ctx, "nope")
	wantCode(t, err, txsign.DeviceUnknown)
	list, err := s.Devices(ctx, "alice")
	must(t, err)
	if len(list) != 2 || list[0].ID != "d1" || list[1].ID != "d2" {
		t.Fatalf("Devices = %v", list)
	}
	if list, _ := s.Devices(ctx, "bob"); len(list) != 0 {
		t.Fatalf("bob has %d devices", len(list))
	}
	// Another user cannot take the id; nobody can reuse a key.
	wantCode(t, s.EnrolDevice(ctx, device(t, "d1", "bob")), txsign.DeviceExists)
	reuse := device(t, "d3", "alice")
	reuse.Key = d1.Key
	wantCode(t, s.EnrolDevice(ctx, reuse), txsign.DeviceExists)
	if _, err := s.Device(ctx, "d3"); jose.CodeOf(err) != txsign.DeviceUnknown {
		t.Fatalf("a refused enrolment left a device: %v", err)
	}
	// Revocation, idempotent.
	r, err := s.RevokeDevice(ctx, "d1", t0.Add(time.Hour), "lost")
	must(t, err)
	if r.Status != txsign.StatusRevoked || r.RevokeReason != "lost" || !r.RevokedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("revoked = %+v", r)
	}
	r, err = s.RevokeDevice(ctx, "d1", t0.Add(2*time.Hour), "again")
	must(t, err)
	if r.RevokeReason != "lost" || !r.RevokedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("second revocation changed the record: %+v", r)
	}
	_, err = s.RevokeDevice(ctx, "nope", t0, "")
	wantCode(t, err, txsign.DeviceUnknown)
}

func testReEnrol(t *testing.T, s txsign.Store) {
	d := device(t, "d1", "alice")
	must(t, s.EnrolDevice(ctx, d))
	_, err := s.RevokeDevice(ctx, "d1", t0, "lost")
	must(t, err)
	again := device(t, "d1", "alice")
	again.EnrolledAt = t0.Add(time.Hour)
	must(t, s.EnrolDevice(ctx, again))
	got, err := s.Device(ctx, "d1")
	must(t, err)
	if got.Status != txsign.StatusActive || got.Key.Thumbprint() != again.Key.Thumbprint() || !got.RevokedAt.IsZero() {
		t.Fatalf("re-enrolled = %+v", got)
	}
	_, err = s.DeviceByKey(ctx, d.Key.Thumbprint())
	wantCode(t, err, txsign.DeviceUnknown)
	// The old key stays burnt.
	old := device(t, "d9", "alice")
	old.Key = d.Key
	wantCode(t, s.EnrolDevice(ctx, old), txsign.DeviceExists)
}

func testRotate(t *testing.T, s txsign.Store) {
	d := device(t, "d1", "alice")
	must(t, s.EnrolDevice(ctx, d))
	k2 := newKey(t)
	must(t, s.RotateDeviceKey(ctx, "d1", d.Key.Thumbprint(), k2, t0, "ev:rot"))
	got, err := s.DeviceByKey(ctx, k2.Thumbprint())
	must(t, err)
	if got.ID != "d1" || got.EvidenceRef != "ev:rot" {
		t.Fatalf("rotated = %+v", got)
	}
	_, err = s.DeviceByKey(ctx, d.Key.Thumbprint())
	wantCode(t, err, txsign.DeviceUnknown)
	// A second rotation from the old key loses.
	wantCode(t, s.RotateDeviceKey(ctx, "d1", d.Key.Thumbprint(), newKey(t), t0, "x"), txsign.DeviceUnknown)
	// A key ever enrolled cannot come back.
	wantCode(t, s.RotateDeviceKey(ctx, "d1", k2.Thumbprint(), d.Key, t0, "x"), txsign.DeviceExists)
	if got, _ := s.Device(ctx, "d1"); got.Key.Thumbprint() != k2.Thumbprint() {
		t.Fatal("a refused rotation changed the key")
	}
	wantCode(t, s.RotateDeviceKey(ctx, "nope", k2.Thumbprint(), newKey(t), t0, "x"), txsign.DeviceUnknown)
	_, err = s.RevokeDevice(ctx, "d1", t0, "")
	must(t, err)
	wantCode(t, s.RotateDeviceKey(ctx, "d1", k2.Thumbprint(), newKey(t), t0, "x"), txsign.DeviceRevoked)
}

func testPIN(t *testing.T, s txsign.Store) {
	has, err := s.HasPIN(ctx, "alice")
	must(t, err)
	if has {
		t.Fatal("fresh store has a PIN")
	}
	_, err = s.ReservePINAttempt(ctx, "alice", 3)
	wantCode(t, err, txsign.PINNotSet)
	must(t, s.SetPIN(ctx, "alice", "h1", t0))
	if has, _ := s.HasPIN(ctx, "alice"); !has {
		t.Fatal("HasPIN false after SetPIN")
	}
	for i := 0; i < 3; i++ {
		h, err := s.ReservePINAttempt(ctx, "alice", 3)
		must(t, err)
		if h != "h1" {
			t.Fatalf("hash %q", h)
		}
	}
	_, err = s.ReservePINAttempt(ctx, "alice", 3)
	wantCode(t, err, txsign.PINLocked)
	// A reset for a hash that is no longer the PIN does nothing.
	must(t, s.ResetPINFailures(ctx, "alice", "other"))
	_, err = s.ReservePINAttempt(ctx, "alice", 3)
	wantCode(t, err, txsign.PINLocked)
	// Setting a new PIN unlocks.
	must(t, s.SetPIN(ctx, "alice", "h2", t0))
	h, err := s.ReservePINAttempt(ctx, "alice", 3)
	must(t, err)
	if h != "h2" {
		t.Fatalf("hash %q", h)
	}
	must(t, s.ResetPINFailures(ctx, "alice", "h2"))
	for i := 0; i < 3; i++ {
		_, err := s.ReservePINAttempt(ctx, "alice", 3)
		must(t, err)
	}
}

func testPINConcurrent(t *testing.T, s txsign.Store) {
	must(t, s.SetPIN(ctx, "alice", "h", t0))
	const n, max = 16, 5
	var ok, locked int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.ReservePINAttempt(ctx, "alice", max)
			mu.Lock()
			defer mu.Unlock()
			switch jose.CodeOf(err) {
			case "":
				ok++
			case txsign.PINLocked:
				locked++
			default:
				t.Errorf("unexpected %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != max || locked != n-max {
		t.Fatalf("%d attempts let through, %d locked; want %d and %d", ok, locked, max, n-max)
	}
}

func testCreateRequest(t *testing.T, s txsign.Store) {
	r := request("alice", "")
	r.IdempotencyKey = "k1"
	got, created, err := s.CreateRequest(ctx, r)
	must(t, err)
	if !created || got.ID != r.ID || string(got.Details) != string(r.Details) || got.TxHash != r.TxHash ||
		got.DisplayText != r.DisplayText || !got.RequirePIN || got.Interval != 5*time.Second ||
		!got.Created.Equal(t0) || !got.Expires.Equal(r.Expires) || got.Status != txsign.Pending || got.Decision != nil ||
		got.IdempotencyKey != "k1" || got.Audience != "payments" || got.BindingMessage != "X7Y2" {
		t.Fatalf("stored request differs: %+v", got)
	}
	// Same key, same fingerprint: the first request.
	dup := request("alice", "")
	dup.IdempotencyKey = "k1"
	got, created, err = s.CreateRequest(ctx, dup)
	must(t, err)
	if created || got.ID != r.ID {
		t.Fatalf("idempotent retry made %s (created %v)", got.ID, created)
	}
	prev, err := s.IdempotentRequest(ctx, "shop", "k1")
	must(t, err)
	if prev.ID != r.ID {
		t.Fatal("IdempotentRequest")
	}
	_, err = s.IdempotentRequest(ctx, "other-client", "k1")
	wantCode(t, err, txsign.RequestUnknown)
	// Same key, another request.
	other := request("alice", "")
	other.IdempotencyKey, other.Fingerprint = "k1", "fp2"
	_, _, err = s.CreateRequest(ctx, other)
	wantCode(t, err, txsign.IdempotencyKeyReused)
	// No key: always new.
	for i := 0; i < 2; i++ {
		_, created, err := s.CreateRequest(ctx, request("alice", ""))
		must(t, err)
		if !created {
			t.Fatal("a request without Idempotency-Key was not created")
		}
	}
	_, err = s.Request(ctx, "nope")
	wantCode(t, err, txsign.RequestUnknown)
}

func testIdempotencyConcurrent(t *testing.T, s txsign.Store) {
	const n = 8
	var wg sync.WaitGroup
	ids := make([]string, n)
	createdCount := 0
	var mu sync.Mutex
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := request("alice", "")
			r.IdempotencyKey = "same"
			got, created, err := s.CreateRequest(ctx, r)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			ids[i] = got.ID
			if created {
				createdCount++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if createdCount != 1 {
		t.Fatalf("%d requests created for one Idempotency-Key", createdCount)
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("callers got different requests: %v", ids)
		}
	}
}

func testPending(t *testing.T, s txsign.Store) {
	any1 := request("alice", "")
	forD1 := request("alice", "d1")
	forD1.Created = t0.Add(time.Second)
	forD2 := request("alice", "d2")
	bobs := request("bob", "")
	expired := request("alice", "")
	expired.Expires = t0.Add(time.Minute)
	decided := request("alice", "")
	for _, r := range []*txsign.Request{any1, forD1, forD2, bobs, expired, decided} {
		_, _, err := s.CreateRequest(ctx, r)
		must(t, err)
	}
	must(t, s.Decide(ctx, decided.ID, &txsign.Decision{Approved: true, DeviceID: "d1", Received: t0}, t0))
	got, err := s.PendingRequests(ctx, "alice", "d1", t0.Add(2*time.Minute), 10)
	must(t, err)
	if len(got) != 2 || got[0].ID != any1.ID || got[1].ID != forD1.ID {
		t.Fatalf("pending for d1: %v", ids(got))
	}
	got, err = s.PendingRequests(ctx, "alice", "d1", t0.Add(2*time.Minute), 1)
	must(t, err)
	if len(got) != 1 {
		t.Fatalf("limit ignored: %d", len(got))
	}
	got, err = s.PendingRequests(ctx, "alice", "d1", t0.Add(10*time.Minute), 10)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("expired requests listed: %v", ids(got))
	}
}

func ids(rs []*txsign.Request) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func testDeliveries(t *testing.T, s txsign.Store) {
	seen, err := s.Delivered(ctx, "r1", "d1", txsign.ChannelInbox)
	must(t, err)
	if seen {
		t.Fatal("delivered before MarkDelivered")
	}
	must(t, s.MarkDelivered(ctx, "r1", "d1", txsign.ChannelInbox, t0))
	must(t, s.MarkDelivered(ctx, "r1", "d1", txsign.ChannelInbox, t0))
	if seen, _ := s.Delivered(ctx, "r1", "d1", txsign.ChannelInbox); !seen {
		t.Fatal("not delivered after MarkDelivered")
	}
	if seen, _ := s.Delivered(ctx, "r1", "d1", txsign.ChannelPush); seen {
		t.Fatal("channels are not separate")
	}
}

func testPoll(t *testing.T, s txsign.Store) {
	r := request("alice", "")
	_, _, err := s.CreateRequest(ctx, r)
	must(t, err)
	got, err := s.Poll(ctx, r.ID, "shop", t0, time.Minute)
	must(t, err)
	if got.ID != r.ID || !got.LastPoll.Equal(t0) {
		t.Fatalf("poll = %+v", got)
	}
	_, err = s.Poll(ctx, r.ID, "shop", t0.Add(4*time.Second), time.Minute)
	wantCode(t, err, txsign.SlowDown)
	cur, _ := s.Request(ctx, r.ID)
	if cur.Interval != 10*time.Second {
		t.Fatalf("interval after slow_down = %s; want 10s", cur.Interval)
	}
	_, err = s.Poll(ctx, r.ID, "shop", t0.Add(9*time.Second), time.Minute)
	wantCode(t, err, txsign.SlowDown)
	_, err = s.Poll(ctx, r.ID, "shop", t0.Add(20*time.Second), time.Minute)
	must(t, err)
	// The interval is capped.
	for i := 0; i < 20; i++ {
		_, err = s.Poll(ctx, r.ID, "shop", t0.Add(20*time.Second), time.Minute)
		wantCode(t, err, txsign.SlowDown)
	}
	if cur, _ := s.Request(ctx, r.ID); cur.Interval != time.Minute {
		t.Fatalf("interval = %s; want the 1m cap", cur.Interval)
	}
	_, err = s.Poll(ctx, r.ID, "other-client", t0.Add(time.Hour), time.Minute)
	wantCode(t, err, txsign.RequestUnknown)
	_, err = s.Poll(ctx, "nope", "shop", t0, time.Minute)
	wantCode(t, err, txsign.RequestUnknown)
}

func testPollConcurrent(t *testing.T, s txsign.Store) {
	r := request("alice", "")
	_, _, err := s.CreateRequest(ctx, r)
	must(t, err)
	const n = 12
	var wg sync.WaitGroup
	var mu sync.Mutex
	passed, slowed := 0, 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Poll(ctx, r.ID, "shop", t0, 10*time.Minute)
			mu.Lock()
			defer mu.Unlock()
			switch jose.CodeOf(err) {
			case "":
				passed++
			case txsign.SlowDown:
				slowed++
			default:
				t.Errorf("unexpected %v", err)
			}
		}()
	}
	wg.Wait()
	if passed != 1 || slowed != n-1 {
		t.Fatalf("%d polls passed, %d slowed; want 1 and %d", passed, slowed, n-1)
	}
}

func testDecide(t *testing.T, s txsign.Store) {
	r := request("alice", "")
	_, _, err := s.CreateRequest(ctx, r)
	must(t, err)
	d := &txsign.Decision{Approved: true, DeviceID: "d1", KeyThumbprint: "jkt", JWS: "a.b.c", UV: "face",
		Offline: true, SignedAt: t0.Add(time.Second), Received: t0.Add(2 * time.Second), EvidenceRef: "ev:dec"}
	must(t, s.Decide(ctx, r.ID, d, t0.Add(2*time.Second)))
	got, err := s.Request(ctx, r.ID)
	must(t, err)
	if got.Status != txsign.Approved || got.Decision == nil || *got.Decision != *d {
		t.Fatalf("decision stored as %+v", got.Decision)
	}
	wantCode(t, s.Decide(ctx, r.ID, &txsign.Decision{DeviceID: "d1"}, t0.Add(3*time.Second)), txsign.AlreadyDecided)
	if got, _ := s.Request(ctx, r.ID); got.Status != txsign.Approved {
		t.Fatal("a second decision changed the first")
	}
	exp := request("alice", "")
	_, _, err = s.CreateRequest(ctx, exp)
	must(t, err)
	wantCode(t, s.Decide(ctx, exp.ID, d, exp.Expires), txsign.ExpiredToken)
	wantCode(t, s.Decide(ctx, "nope", d, t0), txsign.RequestUnknown)
	deny := request("alice", "")
	_, _, err = s.CreateRequest(ctx, deny)
	must(t, err)
	must(t, s.Decide(ctx, deny.ID, &txsign.Decision{Approved: false, DeviceID: "d1", Received: t0}, t0))
	if got, _ := s.Request(ctx, deny.ID); got.Status != txsign.Denied {
		t.Fatalf("status %s", got.Status)
	}
}

func testDecideConcurrent(t *testing.T, s txsign.Store) {
	r := request("alice", "")
	_, _, err := s.CreateRequest(ctx, r)
	must(t, err)
	const n = 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, lost := 0, 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Decide(ctx, r.ID, &txsign.Decision{Approved: i%2 == 0, DeviceID: fmt.Sprint("d", i), Received: t0}, t0)
			mu.Lock()
			defer mu.Unlock()
			switch jose.CodeOf(err) {
			case "":
				won++
			case txsign.AlreadyDecided:
				lost++
			default:
				t.Errorf("unexpected %v", err)
			}
		}()
	}
	wg.Wait()
	if won != 1 || lost != n-1 {
		t.Fatalf("%d decisions won, %d lost; want 1 and %d", won, lost, n-1)
	}
}

func testIssueToken(t *testing.T, s txsign.Store) {
	r := request("alice", "")
	_, _, err := s.CreateRequest(ctx, r)
	must(t, err)
	wantCode(t, s.IssueToken(ctx, r.ID, "jti0", t0), txsign.InvalidGrant)
	must(t, s.Decide(ctx, r.ID, &txsign.Decision{Approved: true, DeviceID: "d1", Received: t0}, t0))
	must(t, s.IssueToken(ctx, r.ID, "jti1", t0.Add(time.Second)))
	got, _ := s.Request(ctx, r.ID)
	if got.Status != txsign.TokenIssued || got.TokenJTI != "jti1" || !got.TokenIssued.Equal(t0.Add(time.Second)) {
		t.Fatalf("after issue: %+v", got)
	}
	wantCode(t, s.IssueToken(ctx, r.ID, "jti2", t0), txsign.InvalidGrant)
	denied := request("alice", "")
	_, _, err = s.CreateRequest(ctx, denied)
	must(t, err)
	must(t, s.Decide(ctx, denied.ID, &txsign.Decision{Approved: false, DeviceID: "d1", Received: t0}, t0))
	wantCode(t, s.IssueToken(ctx, denied.ID, "jti3", t0), txsign.InvalidGrant)
}

func testIssueTokenConcurrent(t *testing.T, s txsign.Store) {
	r := request("alice", "")
	_, _, err := s.CreateRequest(ctx, r)
	must(t, err)
	must(t, s.Decide(ctx, r.ID, &txsign.Decision{Approved: true, DeviceID: "d1", Received: t0}, t0))
	const n = 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.IssueToken(ctx, r.ID, fmt.Sprint("jti", i), t0)
			mu.Lock()
			defer mu.Unlock()
			switch jose.CodeOf(err) {
			case "":
				won++
			case txsign.InvalidGrant:
			default:
				t.Errorf("unexpected %v", err)
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d tokens issued for one approval", won)
	}
}
