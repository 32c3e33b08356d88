package evidencetest

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/nonrep/nonrep/evidence"
	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/profile"
)

// LogKey is the suite's fixed checkpoint key (a test key: never use it
// for anything else).
var LogKey = func() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("nonrep evidencetest log key"))
	return ed25519.NewKeyFromSeed(seed[:])
}()

// Origin is the suite's log name.
const Origin = "nonrep.test/evidence"

// T0 is the suite's reference time.
var T0 = time.Date(2026, 3, 4, 5, 6, 7, 890123456, time.UTC)

// PlainRecord returns a valid record without a real signature, numbered i
// so that records are distinct (Body holds i).
func PlainRecord(i int) *evidence.Record {
	return &evidence.Record{
		Received:        T0.Add(time.Duration(i) * time.Millisecond),
		Direction:       evidence.Inbound,
		Partner:         fmt.Sprintf("partner-%d", i%3),
		Profile:         "generic",
		PolicyVersion:   "v1",
		Method:          "POST",
		Host:            "api.example",
		Path:            fmt.Sprintf("/v1/payments/%d", i%5),
		Query:           "a=1&b=2",
		ContentType:     "application/json",
		SignatureHeader: "X-Signature",
		Signature:       []byte("eyJhbGciOiJFUzI1NiJ9.." + strconv.Itoa(i)),
		Body:            []byte(fmt.Sprintf(`{"amount":"50000.00","currency":"EUR","n":%d}`, i)),
		Kid:             fmt.Sprintf("kid-%d", i%4),
		Verdict:         evidence.Accepted,
		ReplayID:        fmt.Sprintf("jti:%d", i),
	}
}

// OddRecord returns a record that exercises every field and the awkward
// bytes: a query and a signature that are not UTF-8, a binary body, a key
// and a certificate chain, a rejection code.
func OddRecord() *evidence.Record {
	k, err := jose.NewJWK(testkeys.Key("p256").Public(), "odd-kid", jose.ES256)
	if err != nil {
		panic(err)
	}
	return &evidence.Record{
		Received:                T0,
		Direction:               evidence.Outbound,
		Partner:                 "odd \"partner\"\n",
		Profile:                 "swift",
		PolicyVersion:           "2026-03",
		Lenient:                 true,
		Method:                  "PUT",
		Host:                    "[::1]:8443",
		Path:                    "/a%20b/ü",
		Query:                   "x=\xff\xfe&y=<>&",
		ContentType:             "application/octet-stream",
		SignatureHeader:         "X-SWIFT-Signature",
		Signature:               []byte("sig\x00\xc3\x28"),
		Body:                    []byte{0, 1, 2, 0xff, '\n', 0x80},
		Kid:                     "odd-kid",
		Key:                     k,
		Chain:                   testkeys.Chain("leaf"),
		Verdict:                 evidence.Rejected,
		Code:                    jose.SignatureInvalid,
		ReplayID:                "sig:abc",
		ResponseStatus:          401,
		ResponseSignatureHeader: "X-SWIFT-Integrity",
		ResponseSignature:       []byte("resp.sig.value"),
	}
}

// SignedRecord returns an accepted inbound record whose signature really
// verifies: a Generic-profile request (detached ES256 JWS in X-Signature)
// signed at received with the testkeys p256 key, verified by the profile
// the way the middleware does, and mapped to a record.
func SignedRecord(tb testing.TB, received time.Time, body string) *evidence.Record {
	tb.Helper()
	priv, err := jose.NewJWK(testkeys.Key("p256"), "partner-key-1", jose.ES256)
	if err != nil {
		tb.Fatal(err)
	}
	sk, err := jose.NewSigningKey(priv, jose.ES256)
	if err != nil {
		tb.Fatal(err)
	}
	p := profile.Generic{Header: "X-Signature"}
	m := &profile.Message{Method: "POST", Host: "api.example", Path: "/v1/transfers", RawQuery: "dry=0", Header: http.Header{}, Body: []byte(body)}
	sig, err := p.Sign(m, &profile.Signer{Key: sk, Clock: func() time.Time { return received.Add(-2 * time.Second) }})
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range sig.Header {
		m.Header[k] = v
	}
	if sig.Body != nil {
		m.Body = sig.Body
	}
	ks, err := jose.NewKeySet(priv.Public())
	if err != nil {
		tb.Fatal(err)
	}
	v, err := p.NewVerifier(profile.Trust{Keys: ks, Clock: func() time.Time { return received }})
	if err != nil {
		tb.Fatal(err)
	}
	parsed, err := v.Parse(m)
	if err != nil {
		tb.Fatal(err)
	}
	res, err := v.Verify(context.Background(), parsed)
	if err != nil {
		tb.Fatal(err)
	}
	return &evidence.Record{
		Received: received, Direction: evidence.Inbound, Partner: "acme-bank", Profile: res.Profile,
		PolicyVersion: "test-1", Method: m.Method, Host: m.Host, Path: m.Path, Query: m.RawQuery,
		ContentType: m.Header.Get("Content-Type"), SignatureHeader: res.SignatureHeader,
		Signature: []byte(res.SignatureValue), Body: m.Body, Kid: res.Kid, Key: res.Key,
		Verdict: evidence.Accepted, ReplayID: res.ReplayID,
	}
}
