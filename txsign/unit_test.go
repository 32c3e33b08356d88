package txsign_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/problem"
	"github.com/nonrep/nonrep/txsign"
)

func TestCanonicalize(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       string
		want     string
		wantCode jose.Code
	}{
		{name: "story", in: storyJSON,
			want: `[{"creditorAccount":{"iban":"DE02100100109307118603"},"creditorName":"ACME Ltd","instructedAmount":{"amount":"1240.00","currency":"EUR"},"remittanceInformationUnstructured":"Invoice 2024-117","type":"payment_initiation"}]`},
		{name: "whitespace and order do not matter", in: ` [ { "type" : "x" , "b":1.50, "a":"é" } ] `, want: `[{"a":"é","b":1.5,"type":"x"}]`},
		{name: "empty", in: ``, wantCode: txsign.DetailsInvalid},
		{name: "empty array", in: `[]`, wantCode: txsign.DetailsInvalid},
		{name: "object", in: `{"type":"x"}`, wantCode: txsign.DetailsInvalid},
		{name: "array of strings", in: `["x"]`, wantCode: txsign.DetailsInvalid},
		{name: "bad type", in: `[{"type":"a b"}]`, wantCode: txsign.DetailsInvalid},
		{name: "duplicate", in: `[{"type":"x","type":"y"}]`, wantCode: txsign.DetailsInvalid},
		{name: "amount number", in: `[{"type":"payment_initiation","instructedAmount":{"amount":5,"currency":"EUR"},"creditorName":"A"}]`, wantCode: txsign.DetailsInvalid},
		{name: "amount exponent", in: `[{"type":"payment_initiation","instructedAmount":{"amount":"1e3","currency":"EUR"},"creditorName":"A"}]`, wantCode: txsign.DetailsInvalid},
		{name: "amount leading zero", in: `[{"type":"payment_initiation","instructedAmount":{"amount":"01.00","currency":"EUR"},"creditorName":"A"}]`, wantCode: txsign.DetailsInvalid},
		{name: "amount zero", in: `[{"type":"payment_initiation","instructedAmount":{"amount":"0.00","currency":"EUR"},"creditorName":"A"}]`, wantCode: txsign.DetailsInvalid},
		{name: "amount six decimals", in: `[{"type":"payment_initiation","instructedAmount":{"amount":"1.000001","currency":"EUR"},"creditorName":"A"}]`, wantCode: txsign.DetailsInvalid},
		{name: "amount 19 digits", in: `[{"type":"payment_initiation","instructedAmount":{"amount":"1234567890123456.789","currency":"EUR"},"creditorName":"A"}]`, wantCode: txsign.DetailsInvalid},
		{name: "currency", in: `[{"type":"payment_initiation","instructedAmount":{"amount":"1","currency":"eur"},"creditorName":"A"}]`, wantCode: txsign.DetailsInvalid},
		{name: "no creditor", in: `[{"type":"payment_initiation","instructedAmount":{"amount":"1","currency":"EUR"}}]`, wantCode: txsign.DetailsInvalid},
		{name: "tab", in: `[{"type":"x","note":"a\tb"}]`, wantCode: txsign.DetailsInvalid},
		{name: "line separator", in: `[{"type":"x","note":"a\u2028b"}]`, wantCode: txsign.DetailsInvalid},
		{name: "RLO in a key", in: `[{"type":"x","\u202e":"b"}]`, wantCode: txsign.DetailsInvalid},
		{name: "lone surrogate", in: `[{"type":"x","note":"\ud800"}]`, wantCode: txsign.DetailsInvalid},
		{name: "too many", in: `[` + strings.Repeat(`{"type":"x"},`, 8) + `{"type":"x"}]`, wantCode: txsign.DetailsInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := txsign.Canonicalize([]byte(tc.in))
			if tc.wantCode != "" {
				wantCode(t, err, tc.wantCode)
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("got %s, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func TestTxHash(t *testing.T) {
	// printf '%s' '[{"type":"x"}]' | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d =
	if got := txsign.TxHash([]byte(`[{"type":"x"}]`)); got != "07idNoUo-Kg7Tr0SW7JSo2rQqLISd4rtV2jjNB6_vD0" {
		t.Fatalf("TxHash = %s", got)
	}
	h, err := txsign.HashDetails([]byte(` [ {"type" : "x"} ]`))
	if err != nil || h != txsign.TxHash([]byte(`[{"type":"x"}]`)) {
		t.Fatalf("HashDetails = %s %v", h, err)
	}
}

func TestRenderDisplay(t *testing.T) {
	for _, tc := range []struct {
		name, details, binding, want string
	}{
		{"story", storyJSON, "X7Y2",
			"Pay 1240.00 EUR\nTo: ACME Ltd\nAccount: iban DE02100100109307118603\nReference: Invoice 2024-117\nCode: X7Y2\n"},
		{"extra members are shown", `[{"type":"payment_initiation","actions":["initiate","status"],"instructedAmount":{"amount":"5","currency":"GBP","note":"n"},"creditorName":"B","creditorAccount":{"sortCode":"1","number":"2"},"debtorAccount":{"iban":"X"}}]`, "",
			"Pay 5 GBP\ninstructedAmount.note: n\nTo: B\nAccount: number 2, sortCode 1\nactions[0]: initiate\nactions[1]: status\ndebtorAccount.iban: X\n"},
		{"other types", `[{"type":"account_information","accounts":[],"flag":true,"n":1.5,"z":null},{"type":"payment_initiation","instructedAmount":{"amount":"1","currency":"EUR"},"creditorName":"C"}]`, "",
			"Authorize account_information\naccounts: []\nflag: true\nn: 1.5\nz: null\n\nPay 1 EUR\nTo: C\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := txsign.Canonicalize([]byte(tc.details))
			if err != nil {
				t.Fatal(err)
			}
			got, err := txsign.RenderDisplay(txsign.DisplayV1, c, tc.binding)
			if err != nil || got != tc.want {
				t.Fatalf("got\n%s\nwant\n%s(%v)", got, tc.want, err)
			}
		})
	}
	_, err := txsign.RenderDisplay("nonrep-display/v0", []byte(`[{"type":"x"}]`), "")
	wantCode(t, err, txsign.RequestInvalid)
}

func TestPINHash(t *testing.T) {
	p := txsign.PINParams{Time: 1, Memory: 64, Threads: 1}
	h, err := txsign.HashPIN("123456", p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("PHC string %s", h)
	}
	h2, _ := txsign.HashPIN("123456", p)
	if h == h2 {
		t.Fatal("no salt")
	}
	if !txsign.CheckPIN("123456", h) || txsign.CheckPIN("123457", h) || txsign.CheckPIN("123456", h[:len(h)-2]) {
		t.Fatal("CheckPIN")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"} {
		if txsign.CheckPIN("123456", bad) {
			t.Fatalf("%q matched", bad)
		}
	}
	if txsign.ValidPIN("123") || txsign.ValidPIN("12a4") || !txsign.ValidPIN("0000") {
		t.Fatal("ValidPIN")
	}
}

// TestCodes: codes are unique, and each has a status of its own; the
// OAuth ones are 4xx.
func TestCodes(t *testing.T) {
	seen := map[jose.Code]bool{}
	for _, c := range txsign.Codes() {
		if seen[c] {
			t.Fatalf("duplicate code %s", c)
		}
		seen[c] = true
		st := txsign.Status(c)
		if st == http.StatusInternalServerError {
			t.Errorf("code %s has no status", c)
		}
		if problem.Status(c) != st {
			t.Errorf("code %s is registered with package problem as %d, not %d", c, problem.Status(c), st)
		}
	}
	for code, want := range map[jose.Code]int{
		txsign.TokenUsed: 409, txsign.AlreadyDecided: 409, txsign.TxHashMismatch: 403, txsign.PINLocked: 423,
		txsign.StoreUnavailable: 503, jose.SignatureInvalid: 401, problem.EvidenceUnavailable: 503,
	} {
		if got := txsign.Status(code); got != want {
			t.Errorf("Status(%s) = %d; want %d", code, got, want)
		}
	}
}

func TestConfigRequired(t *testing.T) {
	if _, err := txsign.New(txsign.Config{}); jose.CodeOf(err) != jose.PolicyInvalid {
		t.Fatalf("empty config: %v", err)
	}
	e := newEnv(t, envOptions{})
	cfg := txsign.Config{Store: sqliteStore(t), Signer: e.signer, Recorder: e.rec, Issuer: issuer, Audiences: []string{"x"}, TokenTTL: 3 * time.Minute}
	if _, err := txsign.New(cfg); jose.CodeOf(err) != jose.PolicyInvalid {
		t.Fatalf("3-minute tokens: %v", err)
	}
	cfg.TokenTTL = 0
	svc, err := txsign.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Handler(); jose.CodeOf(err) != jose.PolicyInvalid {
		t.Fatalf("handler without authenticators: %v", err)
	}
}
