package jose

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Project Wycheproof vectors (testdata/vectors/wycheproof, a byte-exact copy
// of C2SP/wycheproof at the commit named in its manifest.json). Every file
// under testvectors_v1 is driven by its "schema":
//
//   - JWS and JWK files go through the public API (ParseJWK, ParseJWKS,
//     NewVerifier, Verify) with a policy that allows the header's alg and
//     holds only the group's key or key set.
//   - ECDSA P1363, RSASSA-PKCS1-v1_5, RSASSA-PSS and Ed25519 files go
//     through verifySig, the function the Verifier calls for step 6, with
//     the key parsed from the vector's JWK and checked by usableFor.
//
// Wycheproof's verdict is the expectation. Where this package deliberately
// differs, the test id is in an allow-list below with a one-line reason and
// the code we return; an allow-list entry that no longer differs, or that
// is never reached, fails the test. Nothing is skipped silently.

const wpDir = vectorDir + "/wycheproof"

// wpExpect overrides Wycheproof's verdict for one test id.
type wpExpect struct {
	accept bool // true: we accept a case Wycheproof calls invalid
	code   Code // when !accept: the code we reject with
	reason string
}

// wpAllow lists, per file, the test ids where our verdict differs from
// Wycheproof's.
var wpAllow = map[string]map[int]wpExpect{
	"json_web_signature_test.json": {
		// Upstream data bug (C2SP/wycheproof#236): the jws of 367 and 370 is
		// byte-identical to valid tc 357 (canonical, correct HMAC); the
		// padding the comments describe is not in the file. wpSameAs checks
		// that the bytes are still identical.
		367: {accept: true, reason: "byte-identical to valid tc 357 (C2SP/wycheproof#236)"},
		370: {accept: true, reason: "byte-identical to valid tc 357 (C2SP/wycheproof#236)"},
		// RFC 7520 Figure 20 signs with PS384; Wycheproof's copy of the key
		// says "alg":"PS256". A key's alg binds it (RFC 7517 §4.4).
		346: {code: KeyRejected, reason: `key is bound to "alg":"PS256" but the JWS uses PS384`},
		350: {code: KeyRejected, reason: `key is bound to "alg":"PS256" but the JWS uses PS384`},
		// "ES521" is not a registered JWS algorithm (ES512 is): a JWK with an
		// unknown alg is refused at parse time.
		347: {code: AlgNotAllowed, reason: `key carries "alg":"ES521", which is not a JWS algorithm`},
		351: {code: AlgNotAllowed, reason: `key carries "alg":"ES521", which is not a JWS algorithm`},
		// The MAC is over the header/payload without the '?'; only a
		// decoder that skips non-alphabet characters accepts these. We
		// require canonical base64url (RFC 7515 §2).
		372: {code: Malformed, reason: "'?' inside the header segment: not base64url"},
		373: {code: Malformed, reason: "'?' inside the payload segment: not base64url"},
	},
	"json_web_key_test.json": {
		// A verification set may hold oct secrets next to public keys: the
		// allow-list and the key-type check (HS* only with oct) already stop
		// algorithm confusion. Wycheproof flags this "Ambiguous".
		1: {accept: true, reason: "mixed oct + public EC key set is allowed; HS256 verifies with the oct key"},
		// ROCA (CVE-2017-15361) fingerprinting is not implemented; the key
		// is otherwise acceptable (2049 bits, e = 65537).
		7: {accept: true, reason: "no ROCA fingerprint check (CVE-2017-15361)"},
	},
}

// wpHex is a hex string in a vector file.
type wpHex []byte

func (h *wpHex) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	*h = v
	return err
}

type wpFile struct {
	Schema        string    `json:"schema"`
	NumberOfTests int       `json:"numberOfTests"`
	TestGroups    []wpGroup `json:"testGroups"`
}

type wpGroup struct {
	// JWS: one JWK each; JWK: one JWK Set each (public may be null).
	Private json.RawMessage `json:"private"`
	Public  json.RawMessage `json:"public"`
	// Signature files.
	PublicKey struct {
		Curve          string `json:"curve"`
		Uncompressed   wpHex  `json:"uncompressed"`
		Pk             wpHex  `json:"pk"`
		Modulus        wpHex  `json:"modulus"`
		PublicExponent wpHex  `json:"publicExponent"`
	} `json:"publicKey"`
	PublicKeyJwk json.RawMessage `json:"publicKeyJwk"`
	KeyJwk       json.RawMessage `json:"keyJwk"` // RSASSA-PKCS1 files
	KeySize      int             `json:"keySize"`
	Sha          string          `json:"sha"`
	Mgf          string          `json:"mgf"`
	MgfSha       string          `json:"mgfSha"`
	SLen         int             `json:"sLen"`
	Tests        []wpTest        `json:"tests"`
}

type wpTest struct {
	TcID    int      `json:"tcId"`
	Comment string   `json:"comment"`
	Flags   []string `json:"flags"`
	Result  string   `json:"result"`
	JWS     string   `json:"jws"`
	Msg     wpHex    `json:"msg"`
	Sig     wpHex    `json:"sig"`
}

var (
	wpOnce  sync.Once
	wpFiles map[string]*wpFile
	wpErr   error
)

// wpLoad reads and decodes every vector file once per test binary.
func wpLoad(t *testing.T) map[string]*wpFile {
	t.Helper()
	wpOnce.Do(func() {
		paths, err := filepath.Glob(filepath.Join(wpDir, "testvectors_v1", "*.json"))
		if err != nil {
			wpErr = err
			return
		}
		// Decoded concurrently: about 4.5 MB of JSON, slow under -race.
		decoded := make([]*wpFile, len(paths))
		errs := wpParallel(len(paths), func(i int) error {
			data, err := os.ReadFile(paths[i])
			if err != nil {
				return err
			}
			decoded[i] = &wpFile{}
			return json.Unmarshal(data, decoded[i])
		})
		wpFiles = map[string]*wpFile{}
		for i, p := range paths {
			if errs[i] != nil {
				wpErr = fmt.Errorf("%s: %w", p, errs[i])
				return
			}
			wpFiles[filepath.Base(p)] = decoded[i]
		}
	})
	if wpErr != nil {
		t.Fatal(wpErr)
	}
	if len(wpFiles) == 0 {
		t.Fatalf("no Wycheproof vectors under %s", wpDir)
	}
	return wpFiles
}

// wpParallel calls f(0..n-1) on GOMAXPROCS goroutines and returns the
// results in order. The P-384 and P-521 verifications (pure Go field
// arithmetic) are slow under -race; spreading them keeps the test fast, and
// runs verifySig concurrently under the race detector as a bonus.
func wpParallel(n int, f func(i int) error) []error {
	out := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = f(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// wpSigJob is one signature-primitive test: verifySig(alg, key, msg, sig).
type wpSigJob struct {
	tc  *wpTest
	alg Alg
	key any
	// otherParams: a PSS group whose parameters are not the PS* ones.
	otherParams bool
}

// wpVerifySigs runs verifySig for every job concurrently and returns the
// results in job order, for the caller to judge sequentially.
func wpVerifySigs(jobs []wpSigJob) []error {
	return wpParallel(len(jobs), func(i int) error {
		j := &jobs[i]
		return verifySig(j.alg, j.key, j.tc.Msg, j.tc.Sig)
	})
}

// TestWycheproofManifest: the files are the ones the manifest names, byte
// for byte, and each declares as many tests as it holds.
func TestWycheproofManifest(t *testing.T) {
	files := wpLoad(t)
	data, err := os.ReadFile(filepath.Join(wpDir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Files []struct {
			Path          string `json:"path"`
			SHA256        string `json:"sha256"`
			NumberOfTests int    `json:"numberOfTests"`
		} `json:"files"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, e := range m.Files {
		raw, err := os.ReadFile(filepath.Join(wpDir, filepath.FromSlash(e.Path)))
		if err != nil {
			t.Errorf("%s: %v", e.Path, err)
			continue
		}
		if s := sha256.Sum256(raw); hex.EncodeToString(s[:]) != e.SHA256 {
			t.Errorf("%s: sha256 differs from the manifest", e.Path)
		}
		if !strings.HasPrefix(e.Path, "testvectors_v1/") {
			continue
		}
		name := strings.TrimPrefix(e.Path, "testvectors_v1/")
		listed[name] = true
		f := files[name]
		if f == nil {
			t.Errorf("%s: listed in the manifest but not loaded", name)
			continue
		}
		n := 0
		for _, g := range f.TestGroups {
			n += len(g.Tests)
		}
		if n != f.NumberOfTests || n != e.NumberOfTests {
			t.Errorf("%s: %d tests, file says %d, manifest says %d", name, n, f.NumberOfTests, e.NumberOfTests)
		}
	}
	for name := range files {
		if !listed[name] {
			t.Errorf("%s: present but not in the manifest", name)
		}
	}
}

// wpTally counts outcomes for one file and checks each against Wycheproof.
type wpTally struct {
	file string
	// want returns the code an invalid case must be rejected with ("" when
	// no rule names one, which fails the case).
	want  func(*wpTest) Code
	allow map[int]wpExpect
	used  map[int]bool
	codes map[Code]int
	n     struct {
		valid, invalid, acceptable, allowed, keyRejected, otherParams, skipped int
	}
}

func newTally(file string) *wpTally {
	w := &wpTally{file: file, allow: wpAllow[file], used: map[int]bool{}, codes: map[Code]int{}}
	if c, ok := wpCodes[file]; ok {
		w.want = c.want
	} else {
		// Signature-primitive files: verifySig has one way to say no.
		w.want = func(*wpTest) Code { return SignatureInvalid }
	}
	return w
}

// wpCodeRules pins the code each invalid JWS/JWK case is rejected with, so
// that a case cannot pass by failing for an unrelated reason unnoticed.
// Precedence: byID, then flags, then byComment.
type wpCodeRules struct {
	byID      map[int]Code
	byFlag    map[string]Code
	byComment map[string]Code
}

func (r wpCodeRules) want(tc *wpTest) Code {
	if c, ok := r.byID[tc.TcID]; ok {
		return c
	}
	for _, f := range tc.Flags {
		if c, ok := r.byFlag[f]; ok {
			return c
		}
	}
	return r.byComment[tc.Comment]
}

var wpCodes = map[string]wpCodeRules{
	"json_web_signature_test.json": {
		byID: map[int]Code{
			// WrongPrimitive with the header alg changed to the primitive
			// used: the key is bound to PS512, so it is refused before any
			// signature check.
			332: KeyRejected, 334: KeyRejected, 336: KeyRejected, 338: KeyRejected, 340: KeyRejected,
		},
		byFlag: map[string]Code{
			"ModifiedPadding":   SignatureInvalid,
			"ModifiedSignature": SignatureInvalid,
			"WrongPrimitive":    SignatureInvalid,
			"AlgIsNone":         AlgNotAllowed,
			// The one such case is also truncated JSON ("]}" missing).
			"JsonSerialization": Malformed,
		},
		byComment: func() map[string]Code {
			m := map[string]Code{
				"rejectsModifiedSignature":                   SignatureInvalid,
				"rejectsMissingSignature":                    SignatureInvalid,
				"rejectsModifiedPayload":                     SignatureInvalid,
				"rejectsMissingPayload":                      SignatureInvalid, // "h..s" = empty payload
				"rejectsModifiedHeader":                      KeyUnknown,       // the kid was modified
				"rejectsAttackerProvidedEmbeddedJwk":         SignatureInvalid, // "jwk" is never used
				"rejectsNoneAlgorithmAndMissingSignature":    AlgNotAllowed,
				"rejectsMissingSignatureAndSeparator":        Malformed,
				"rejectsMissingPayloadAndSeparator":          Malformed,
				"rejectsMissingHeader":                       Malformed,
				"rejectsMissingHeaderAndSeparator":           Malformed,
				"rejectsMissingHeaderAndSignature":           Malformed,
				"rejectsMissingHeaderSignatureAndSeparator":  Malformed,
				"rejectsMissingHeaderSignatureAndSeparators": Malformed,
				"rejectsEmptyString":                         Malformed,
				"rejectsExtraEmptyComponent":                 Malformed,
				"rejectsExtraComponent":                      Malformed,
				"rejectWrongUse":                             KeyRejected,
				"rejectWrongKeyOps":                          KeyRejected,
			}
			// HS256 header with the EC key's kid: that key is bound to ES256 (and an
			// EC key never verifies HS*).
			m["rejectsSymmetryConfusionAttacks_aesKeyFromEcVerificationKeyBytes"] = KeyRejected
			for _, c := range []string{"rejectsSpacesInMac", "rejectsInvalidCharacterInsertedInMac",
				"rejects0ReplacedbyInvalidCharacter", "rejectsInvalidCharacters", "spacesInHeader",
				"invalidCharactersInHeader", "spacesInPayload", "invalidCharactersInPayload",
				"InvalidCharacterInPayload", "ModifiedUnusedBitsInPayload", "MacOfIncorrectlyEncodedMessage"} {
				m[c] = Malformed // base64url that is not canonical
			}
			for _, c := range []string{"SignatureTooLong", "TrailingZeros", "RisTooBig", "SisTooBig",
				"IntegerOverflow", "BufferOverflow"} {
				m[c] = SignatureInvalid
			}
			for _, r := range []string{"Zero", "One", "Nminus1", "N"} {
				for _, s := range []string{"Zero", "One", "Nminus1", "N"} {
					m["rIs"+r+"_sIs"+s] = SignatureInvalid
				}
			}
			return m
		}(),
	},
	"json_web_key_test.json": {
		byID: map[int]Code{
			// The second key's "k" ends in non-zero unused bits, so the set
			// fails on that before the duplicate kid is seen;
			// TestWycheproofDuplicateKid checks the kid rule itself.
			4: Malformed,
			// The key's alg is "RSA1_5", not a JWS algorithm.
			6: AlgNotAllowed,
			// kty "RSA" with EC members: no "n"/"e".
			24: Malformed,
		},
		byComment: map[string]Code{
			"rejectsModifiedSignature": SignatureInvalid,
			"rejects1024bitRsaKey":     KeyRejected,
			"rejectsPublicExponent1":   KeyRejected,
			"key_too_short":            KeyRejected,
			"empty_key":                Malformed,
			"mismatchedAlgAndCurve":    AlgNotAllowed, // "ES521", "ES224"
			"rejectsModifiedKey":       KeyRejected,   // use enc, point off curve, wrong curve
			"rejectsAesKey":            AlgNotAllowed, // "A256GCM", "A256KW"
		},
	},
}

var wpKnownCodes = func() map[Code]bool {
	m := map[Code]bool{}
	for _, c := range Codes() {
		m[c] = true
	}
	return m
}()

// judge checks err, our verdict on tc, against Wycheproof's (or the
// allow-list's) expectation.
func (w *wpTally) judge(t *testing.T, tc *wpTest, err error) {
	t.Helper()
	code := CodeOf(err)
	if err != nil {
		if !wpKnownCodes[code] {
			t.Errorf("tc %d (%s): error without a stable code: %v", tc.TcID, tc.Comment, err)
		}
		w.codes[code]++
	}
	if ex, ok := w.allow[tc.TcID]; ok {
		w.used[tc.TcID] = true
		w.n.allowed++
		if tc.Result == "acceptable" || ex.accept == (tc.Result == "valid") {
			t.Errorf("tc %d: allow-listed (%s) but Wycheproof already says %s", tc.TcID, ex.reason, tc.Result)
		}
		switch {
		case ex.accept && err != nil:
			t.Errorf("tc %d (%s): allow-listed as accepted (%s) but rejected: %v", tc.TcID, tc.Comment, ex.reason, err)
		case !ex.accept && code != ex.code:
			t.Errorf("tc %d (%s): allow-listed as rejected with %s (%s), got %v", tc.TcID, tc.Comment, string(ex.code), ex.reason, err)
		}
		return
	}
	switch tc.Result {
	case "valid":
		w.n.valid++
		if err != nil {
			t.Errorf("tc %d (%s, flags %v): valid, rejected: %v", tc.TcID, tc.Comment, tc.Flags, err)
		}
	case "invalid":
		w.n.invalid++
		switch want := w.want(tc); {
		case err == nil:
			t.Errorf("tc %d (%s, flags %v): invalid, accepted", tc.TcID, tc.Comment, tc.Flags)
		case want == "":
			t.Errorf("tc %d (%s, flags %v): rejected with %s, but no expected code is known: add one to wpCodes", tc.TcID, tc.Comment, tc.Flags, string(code))
		case code != want:
			t.Errorf("tc %d (%s, flags %v): rejected with %v, want code %s", tc.TcID, tc.Comment, tc.Flags, err, string(want))
		}
	case "acceptable":
		w.n.acceptable++
		verdict := "accepted"
		if err != nil {
			verdict = "rejected (" + string(code) + ")"
			if want := w.want(tc); code != want {
				t.Errorf("tc %d (%s): acceptable, rejected with %v, want code %s if rejected", tc.TcID, tc.Comment, err, string(want))
			}
		}
		t.Logf("tc %d (%s, flags %v): acceptable, %s", tc.TcID, tc.Comment, tc.Flags, verdict)
	default:
		t.Errorf("tc %d: unknown result %q", tc.TcID, tc.Result)
	}
}

// done reports the counts and fails on allow-list entries never reached.
func (w *wpTally) done(t *testing.T) {
	t.Helper()
	for id, ex := range w.allow {
		if !w.used[id] {
			t.Errorf("allow-list entry tc %d (%s) was never reached", id, ex.reason)
		}
	}
	codes := make([]string, 0, len(w.codes))
	for c, n := range w.codes {
		codes = append(codes, string(c)+"="+strconv.Itoa(n))
	}
	sort.Strings(codes)
	t.Logf("%s: valid %d, invalid %d, acceptable %d, allow-listed %d, key_rejected %d, other PSS params %d, skipped %d; codes %s",
		w.file, w.n.valid, w.n.invalid, w.n.acceptable, w.n.allowed, w.n.keyRejected, w.n.otherParams, w.n.skipped, strings.Join(codes, " "))
}

// TestWycheproof drives every vector file by its schema. A file with a
// schema this test does not know fails.
func TestWycheproof(t *testing.T) {
	files := wpLoad(t)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		f := files[name]
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			t.Parallel()
			w := newTally(name)
			switch f.Schema {
			case "json_web_signature_schema_v1.json":
				wpJWS(t, f, w)
			case "json_web_key_schema_v1.json":
				wpJWK(t, f, w)
			case "ecdsa_p1363_verify_schema_v1.json":
				wpECDSA(t, f, w)
			case "rsassa_pkcs1_verify_schema_v1.json":
				wpRSA(t, f, w, false)
			case "rsassa_pss_verify_schema_v1.json":
				wpRSA(t, f, w, true)
			case "eddsa_verify_schema_v1.json":
				wpEd25519(t, f, w)
			default:
				t.Fatalf("schema %q is not handled; add it to TestWycheproof", f.Schema)
			}
			w.done(t)
		})
	}
}

func wpNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// wpJWS: each group has one key (public if given, else the private or
// secret key); each test is a compact JWS verified with that key alone.
func wpJWS(t *testing.T, f *wpFile, w *wpTally) {
	jws := map[int]string{}
	for _, g := range f.TestGroups {
		raw := g.Public
		if wpNull(raw) {
			raw = g.Private
		}
		var set *KeySet
		k, keyErr := ParseJWK(raw)
		if keyErr == nil {
			set, keyErr = NewKeySet(k)
		}
		for i := range g.Tests {
			tc := &g.Tests[i]
			err := keyErr
			if err == nil {
				_, err = wpVerify(t, set, tc.JWS)
			}
			w.judge(t, tc, err)
			jws[tc.TcID] = tc.JWS
		}
	}
	for id, same := range wpSameAs {
		if jws[id] == "" || jws[id] != jws[same] {
			t.Errorf("tc %d is no longer byte-identical to tc %d: review its allow-list entry", id, same)
		}
	}
}

// wpVerify verifies a JWS under a policy that allows its header's alg (or,
// when the header does not parse or names an unsupported alg, every
// supported alg, so that the verifier itself must refuse it).
func wpVerify(t *testing.T, set *KeySet, jws string) (*Verified, error) {
	t.Helper()
	algs := Algs()
	if j, err := Parse([]byte(jws), Limits{}); err == nil && j.Header(0).Alg.Supported() {
		algs = []Alg{j.Header(0).Alg}
	}
	ver, err := NewVerifier(Policy{Algs: algs, Keys: set})
	if err != nil {
		t.Fatal(err)
	}
	return ver.Verify(context.Background(), []byte(jws))
}

// wpSameAs: JWS test ids whose input is byte-identical to another test's,
// with the opposite verdict (see the allow-list).
var wpSameAs = map[int]int{367: 357, 370: 357}

// wpJWK: each group has a JWK Set (public if given, else private); a set
// that ParseJWKS refuses rejects every test of the group.
func wpJWK(t *testing.T, f *wpFile, w *wpTally) {
	for _, g := range f.TestGroups {
		raw := g.Public
		if wpNull(raw) {
			raw = g.Private
		}
		set, setErr := ParseJWKS(raw)
		for i := range g.Tests {
			tc := &g.Tests[i]
			err := setErr
			if err == nil {
				_, err = wpVerify(t, set, tc.JWS)
			}
			w.judge(t, tc, err)
		}
	}
}

// TestWycheproofDuplicateKid: Wycheproof's duplicate-kid set (JWK tc 4) is
// refused for a non-canonical "k" before the duplicate is seen; with that
// "k" made canonical, the duplicate kid alone must refuse the set.
func TestWycheproofDuplicateKid(t *testing.T) {
	f := wpLoad(t)["json_web_key_test.json"]
	if f == nil {
		t.Fatal("json_web_key_test.json missing")
	}
	for _, g := range f.TestGroups {
		for _, tc := range g.Tests {
			if tc.TcID != 4 {
				continue
			}
			const bad, good = `"-xxuDNsVZ2iJtos-akfXTSCt4UO2cruLCsbWlBingge"`, `"-xxuDNsVZ2iJtos-akfXTSCt4UO2cruLCsbWlBinggc"`
			if !bytes.Contains(g.Private, []byte(bad)) {
				t.Fatalf("tc 4: the non-canonical key is gone; revisit this test and wpCodes")
			}
			fixed := bytes.Replace(g.Private, []byte(bad), []byte(good), 1)
			if _, err := ParseJWKS(fixed); CodeOf(err) != KeyRejected {
				t.Fatalf("duplicate kid: %v, want %s", err, string(KeyRejected))
			}
			// The partial parser drops every key with the shared kid.
			set, rejected, err := ParseJWKSPartial(fixed)
			if err != nil || len(rejected) != 1 || CodeOf(rejected[0]) != KeyRejected {
				t.Fatalf("ParseJWKSPartial: %v, %v", rejected, err)
			}
			if _, err := wpVerify(t, set, tc.JWS); CodeOf(err) != KeyUnknown {
				t.Fatalf("verify with the kid dropped: %v, want %s", err, string(KeyUnknown))
			}
			return
		}
	}
	t.Fatal("JWK tc 4 not found")
}

// wpECDSA: P1363 (R||S) vectors; only the curve/hash pairs of ES256,
// ES384 and ES512 are JWS algorithms.
func wpECDSA(t *testing.T, f *wpFile, w *wpTally) {
	var jobs []wpSigJob
	for gi, g := range f.TestGroups {
		var alg Alg
		var curve elliptic.Curve
		switch g.PublicKey.Curve + "/" + g.Sha {
		case "secp256r1/SHA-256":
			alg, curve = ES256, elliptic.P256()
		case "secp384r1/SHA-384":
			alg, curve = ES384, elliptic.P384()
		case "secp521r1/SHA-512":
			alg, curve = ES512, elliptic.P521()
		default:
			t.Logf("group %d: %s with %s is not a JWS algorithm; %d tests skipped", gi, g.PublicKey.Curve, g.Sha, len(g.Tests))
			w.n.skipped += len(g.Tests)
			continue
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, g.PublicKey.Uncompressed)
		if err != nil {
			t.Fatalf("group %d: uncompressed key: %v", gi, err)
		}
		var k *JWK
		if !wpNull(g.PublicKeyJwk) {
			if k, err = ParseJWK(g.PublicKeyJwk); err != nil {
				t.Fatalf("group %d: publicKeyJwk: %v", gi, err)
			}
			if !pub.Equal(k.PublicKey()) {
				t.Fatalf("group %d: publicKeyJwk and uncompressed key differ", gi)
			}
		} else if k, err = NewJWK(pub, "", ""); err != nil {
			t.Fatalf("group %d: NewJWK: %v", gi, err)
		}
		if err := k.usableFor(alg, "verify", KeyPolicy{}); err != nil {
			t.Fatalf("group %d: key not usable for %s: %v", gi, alg, err)
		}
		for i := range g.Tests {
			jobs = append(jobs, wpSigJob{tc: &g.Tests[i], alg: alg, key: k.public()})
		}
	}
	for i, err := range wpVerifySigs(jobs) {
		w.judge(t, jobs[i].tc, err)
	}
}

// wpRSA: RSASSA-PKCS1-v1_5 (RS*) or RSASSA-PSS (PS*: MGF1 with the same
// hash, salt length = hash length). A key our policy refuses (under 2048
// bits, e < 65537 or even) must be refused with KeyRejected, by ParseJWK,
// by NewJWK and at use, instead of being verified.
func wpRSA(t *testing.T, f *wpFile, w *wpTally, pss bool) {
	var jobs []wpSigJob
	for gi, g := range f.TestGroups {
		var alg Alg
		switch g.Sha {
		case "SHA-256":
			alg = RS256
		case "SHA-384":
			alg = RS384
		case "SHA-512":
			alg = RS512
		default:
			t.Logf("group %d: %s is not a JWS RSA hash; %d tests skipped", gi, g.Sha, len(g.Tests))
			w.n.skipped += len(g.Tests)
			continue
		}
		// otherParams: a PSS group whose parameters are not the JWS ones.
		// Its signatures, valid or not under those parameters, must not
		// verify as PS*.
		otherParams := false
		if pss {
			alg = map[Alg]Alg{RS256: PS256, RS384: PS384, RS512: PS512}[alg]
			info, _ := alg.info()
			if g.Mgf != "MGF1" || g.MgfSha != g.Sha || g.SLen != info.hash.Size() {
				otherParams = true
				t.Logf("group %d: PSS %s/%s/sLen %d is not %s; every signature must be rejected", gi, g.Mgf, g.MgfSha, g.SLen, alg)
			}
		}
		raw := g.KeyJwk
		if wpNull(raw) {
			raw = g.PublicKeyJwk
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(g.PublicKey.Modulus), E: int(new(big.Int).SetBytes(g.PublicKey.PublicExponent).Int64())}
		if g.KeySize != 0 && pub.N.BitLen() != g.KeySize {
			t.Fatalf("group %d: modulus is %d bits, keySize says %d", gi, pub.N.BitLen(), g.KeySize)
		}
		k, err := ParseJWK(raw)
		if pub.N.BitLen() < minRSABits || pub.E < 65537 || pub.E%2 == 0 {
			// Our key policy refuses this key: every test of the group is
			// answered by KeyRejected, whatever its Wycheproof verdict.
			if !wpNull(raw) && CodeOf(err) != KeyRejected {
				t.Errorf("group %d: %d-bit key, e=%d: ParseJWK: %v, want %s", gi, pub.N.BitLen(), pub.E, err, string(KeyRejected))
			}
			if _, err := NewJWK(pub, "", ""); CodeOf(err) != KeyRejected {
				t.Errorf("group %d: NewJWK: %v, want %s", gi, err, string(KeyRejected))
			}
			// A JWK built around the validation still fails at use.
			raw := &JWK{Kty: "RSA", Key: pub}
			if err := raw.usableFor(alg, "verify", KeyPolicy{}); CodeOf(err) != KeyRejected {
				t.Errorf("group %d: usableFor: %v, want %s", gi, err, string(KeyRejected))
			}
			w.n.keyRejected += len(g.Tests)
			w.codes[KeyRejected] += len(g.Tests)
			continue
		}
		if err != nil {
			t.Fatalf("group %d: key JWK: %v", gi, err)
		}
		if !pub.Equal(k.PublicKey()) {
			t.Fatalf("group %d: JWK and publicKey differ", gi)
		}
		if k.Alg != "" && k.Alg != alg {
			// The vector's JWK is bound to the file's algorithm.
			t.Fatalf("group %d: key JWK alg %s, want %s", gi, k.Alg, alg)
		}
		if err := k.usableFor(alg, "verify", KeyPolicy{}); err != nil {
			t.Fatalf("group %d: key not usable for %s: %v", gi, alg, err)
		}
		for i := range g.Tests {
			jobs = append(jobs, wpSigJob{tc: &g.Tests[i], alg: alg, key: k.public(), otherParams: otherParams})
		}
	}
	otherSalt := 0
	for i, err := range wpVerifySigs(jobs) {
		tc, alg := jobs[i].tc, jobs[i].alg
		if jobs[i].otherParams {
			w.n.otherParams++
			if err == nil {
				t.Errorf("tc %d (%s): %s accepted a signature made with other PSS parameters", tc.TcID, tc.Comment, alg)
			} else if CodeOf(err) != SignatureInvalid {
				t.Errorf("tc %d: %v, want %s", tc.TcID, err, string(SignatureInvalid))
			}
			continue
		}
		if pss && strings.HasPrefix(tc.Comment, "s_len changed to") {
			// A signature made with another salt length: refused,
			// since PS* requires salt length = hash length exactly.
			otherSalt++
			if tc.Result != "invalid" || CodeOf(err) != SignatureInvalid {
				t.Errorf("tc %d (%s): %s, %v", tc.TcID, tc.Comment, tc.Result, err)
			}
		}
		w.judge(t, tc, err)
	}
	if pss {
		if otherSalt == 0 && w.n.otherParams == 0 {
			t.Errorf("no \"s_len changed to\" case: the other-salt-length check ran on nothing")
		}
		t.Logf("%d signatures with another salt length, all refused", otherSalt)
	}
}

// wpEd25519: EdDSA with Ed25519 keys (Ed448 files are not JWS EdDSA here).
func wpEd25519(t *testing.T, f *wpFile, w *wpTally) {
	var jobs []wpSigJob
	for gi, g := range f.TestGroups {
		if g.PublicKey.Curve != "edwards25519" {
			t.Logf("group %d: curve %s is not supported; %d tests skipped", gi, g.PublicKey.Curve, len(g.Tests))
			w.n.skipped += len(g.Tests)
			continue
		}
		var k *JWK
		var err error
		if wpNull(g.PublicKeyJwk) {
			k, err = NewJWK(ed25519.PublicKey(g.PublicKey.Pk), "", "")
		} else {
			k, err = ParseJWK(g.PublicKeyJwk)
		}
		if err != nil {
			t.Fatalf("group %d: key: %v", gi, err)
		}
		if !bytes.Equal(k.PublicKey().(ed25519.PublicKey), g.PublicKey.Pk) {
			t.Fatalf("group %d: publicKeyJwk and pk differ", gi)
		}
		if err := k.usableFor(EdDSA, "verify", KeyPolicy{}); err != nil {
			t.Fatalf("group %d: key not usable for EdDSA: %v", gi, err)
		}
		for i := range g.Tests {
			jobs = append(jobs, wpSigJob{tc: &g.Tests[i], alg: EdDSA, key: k.public()})
		}
	}
	for i, err := range wpVerifySigs(jobs) {
		w.judge(t, jobs[i].tc, err)
	}
}

// TestWycheproofAllowListFiles: every allow-listed file exists, so a
// renamed file cannot leave its entries silently unused.
func TestWycheproofAllowListFiles(t *testing.T) {
	files := wpLoad(t)
	for name := range wpAllow {
		if files[name] == nil {
			t.Errorf("allow-list names %s, which is not among the vectors", name)
		}
	}
}
