package evidence

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/nonrep/nonrep/jose"
)

// BundleFormat is the "format" member of a bundle.
const BundleFormat = "nonrep-evidence-bundle/v1"

// MaxBundle caps a bundle's size when reading one.
const MaxBundle = 64 << 20

// Bundle is the self-contained evidence file for one record: a JSON
// document whose bytes depend only on the record and the checkpoint it is
// proved against. Members, in order:
//
//   - format: BundleFormat.
//   - VERIFY: plain-language instructions for checking it by hand.
//   - log_origin, log_key, log_public_key_pem: the log's name, its note
//     verifier key, and the same Ed25519 key as PEM for OpenSSL.
//   - index: the record's position in the log.
//   - record: the entry, for reading (the same JSON as entry, indented).
//   - entry: the entry bytes exactly as logged, standard base64: the leaf
//     data. leaf_hash is SHA-256(0x00 || entry), standard base64.
//   - body: the body bytes exactly as received, standard base64;
//     body_text: the same bytes as text when they are UTF-8.
//   - tree_size, inclusion_proof: the RFC 9162 inclusion proof of the
//     leaf in the tree of tree_size records (hashes, standard base64).
//   - checkpoint: the signed checkpoint of that tree (C2SP signed note).
//   - signature_check: the request signature's signing input, signature
//     and public key, prepared for OpenSSL (derived, see SignatureCheck).
type Bundle struct {
	Format          string          `json:"format"`
	Verify          []string        `json:"VERIFY"`
	LogOrigin       string          `json:"log_origin"`
	LogKey          string          `json:"log_key"`
	LogPublicKeyPEM string          `json:"log_public_key_pem"`
	Index           int64           `json:"index"`
	Record          json.RawMessage `json:"record"`
	Entry           string          `json:"entry"`
	LeafHash        string          `json:"leaf_hash"`
	Body            string          `json:"body"`
	BodyText        *string         `json:"body_text,omitempty"`
	TreeSize        int64           `json:"tree_size"`
	InclusionProof  []string        `json:"inclusion_proof"`
	Checkpoint      string          `json:"checkpoint"`
	SignatureCheck  *SignatureCheck `json:"signature_check,omitempty"`
}

// BundleOptions chooses the checkpoint a bundle is proved against.
type BundleOptions struct {
	// TreeSize selects the stored checkpoint of that size; zero means the
	// latest. Exporting twice with the same TreeSize gives the same bytes.
	TreeSize int64
}

// Bundle returns the evidence bundle of the record at index. It checks
// the record's body, the checkpoint signature and the inclusion proof
// before returning, so that a damaged store never produces a bundle that
// looks complete.
func (l *Log) Bundle(ctx context.Context, index int64, opts BundleOptions) ([]byte, error) {
	lf, err := l.store.Leaf(ctx, index)
	if err != nil {
		return nil, err
	}
	rec, err := recordOf(lf)
	if err != nil {
		return nil, err
	}
	var cp *Checkpoint
	if opts.TreeSize > 0 {
		cp, err = l.CheckpointAt(ctx, opts.TreeSize)
	} else {
		cp, err = l.LatestCheckpoint(ctx)
		if (err == nil && cp.Size <= index || jose.CodeOf(err) == RecordNotFound) && l.signer != nil {
			cp, err = l.Checkpoint(ctx)
		}
	}
	if err != nil {
		return nil, err
	}
	if cp.Size <= index {
		return nil, errorf(RecordNotFound, "no signed checkpoint covers record %d yet (the latest covers %d records)", index, cp.Size)
	}
	proof, err := l.InclusionProof(ctx, index, cp.Size)
	if err != nil {
		return nil, err
	}
	leaf := LeafHash(lf.Entry)
	if err := tlog.CheckRecord(proof, cp.Size, cp.Root, index, leaf); err != nil {
		return nil, wrapf(InclusionInvalid, err, "record %d does not prove into the checkpoint of %d records: the store is damaged (run evidence check)", index, cp.Size)
	}
	pub, err := VerifierPublicKey(cp.Key)
	if err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, wrapf(CheckpointInvalid, err, "encoding the log key")
	}
	b := &Bundle{
		Format:          BundleFormat,
		LogOrigin:       cp.Origin,
		LogKey:          cp.Key,
		LogPublicKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})),
		Index:           index,
		Record:          json.RawMessage(lf.Entry),
		Entry:           base64.StdEncoding.EncodeToString(lf.Entry),
		LeafHash:        base64.StdEncoding.EncodeToString(leaf[:]),
		Body:            base64.StdEncoding.EncodeToString(lf.Body),
		TreeSize:        cp.Size,
		InclusionProof:  make([]string, len(proof)),
		Checkpoint:      string(cp.Note),
	}
	if utf8.Valid(lf.Body) {
		s := string(lf.Body)
		b.BodyText = &s
	}
	for i, h := range proof {
		b.InclusionProof[i] = base64.StdEncoding.EncodeToString(h[:])
	}
	if rec.kind() == KindRequest && len(rec.Signature)+len(rec.Body) > 0 {
		if rv, _ := Reverify(ctx, rec); rv != nil {
			b.SignatureCheck = rv.Check
		}
	}
	b.Verify = verifyText(b, rec)
	return marshalBundle(b)
}

func marshalBundle(b *Bundle) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(b); err != nil {
		return nil, wrapf(jose.Malformed, err, "encoding the bundle")
	}
	return buf.Bytes(), nil
}

// verifyText is the bundle's VERIFY section.
func verifyText(b *Bundle, r *Record) []string {
	what := "a signed exchange"
	if r.kind() == KindRequest {
		what = fmt.Sprintf("the %s request %s %s from partner %q (scheme %q)", r.Direction, r.Method, r.Path, r.Partner, r.Profile)
	} else {
		what = fmt.Sprintf("the response (status %d) to record %d", r.ResponseStatus, r.ResponseTo)
	}
	out := []string{
		fmt.Sprintf("This file is evidence of %s, received at %s (UTC) and recorded as entry %d of the log %q, verdict %q.", what, FormatTime(r.Received), b.Index, b.LogOrigin, r.Verdict),
		"Everything needed to check it is in this file; no nonrep server or database is needed.",
		"",
		"With nonrep: nonrep evidence verify THIS-FILE --log-key '" + b.LogKey + "'",
		"(--log-key pins the log's key; obtain it from the log operator independently of this file.)",
		"",
		"By hand, with a shell, jq, base64 and OpenSSL 3 (F is this file):",
		"",
		"1. The record. 'record' is the log entry, for reading; 'entry' is the same bytes in base64, exactly as logged.",
		"   jq -j .entry F | base64 -d > entry.json",
		"   Its leaf hash is SHA-256 of one zero byte followed by the entry (RFC 6962 section 2.1); it must equal leaf_hash:",
		`   (printf '\000'; cat entry.json) | openssl dgst -sha256 -binary | base64`,
		"",
		"2. The body. 'body' is the request body in base64, exactly as received; its SHA-256 must equal body_sha256 in the record:",
		"   jq -j .body F | base64 -d > body.bin; openssl dgst -sha256 body.bin",
		"",
	}
	if c := b.SignatureCheck; c != nil {
		out = append(out,
			fmt.Sprintf("3. The signature (%s). The record's 'signature' is the %s header exactly as received; the key that checked it is the record's 'key' (RFC 7638 thumbprint %s): compare it with the key the partner published.", c.Alg, headerName(r), r.Thumbprint()),
			"   signature_check holds the signing input (the signature's first segment, '.', then the body: base64url-encoded unless the protected header says \"b64\": false), the signature's last segment decoded (for ECDSA, converted to DER), and the public key as PEM.",
			"   jq -j .signature_check.public_key_pem F > key.pem",
			"   jq -j .signature_check.signing_input F | base64 -d > signing-input.bin",
			"   jq -j .signature_check.signature F | base64 -d > signature.bin",
			"   "+c.OpenSSL,
			"   OpenSSL prints \"Verified OK\" (or \"Signature Verified Successfully\"). The claims in the signature (iat, exp, method, path) are checked against the received time above, not today's date.",
			"",
		)
	} else {
		out = append(out, "3. The signature. This record carries no request signature that OpenSSL can check on its own (a response record, or a request rejected before a key was found).", "")
	}
	out = append(out,
		fmt.Sprintf("4. The checkpoint. 'checkpoint' is a signed note (C2SP tlog-checkpoint): the log's name, the tree size (%d), the tree's root hash, a blank line, then the line '— <key name> <base64 of a 4-byte key id and a 64-byte Ed25519 signature>' over the lines before the blank line.", b.TreeSize),
		"   jq -j .checkpoint F | awk '/^$/{exit} {print}' > checkpoint.txt",
		"   jq -j .checkpoint F | awk 'f{print $3} /^$/{f=1}' | head -n 1 | base64 -d | tail -c 64 > checkpoint.sig",
		"   jq -j .log_public_key_pem F > log.pem",
		"   openssl pkeyutl -verify -pubin -inkey log.pem -rawin -in checkpoint.txt -sigfile checkpoint.sig",
		"",
		fmt.Sprintf("5. The inclusion proof. inclusion_proof lists the sibling hashes on the path from leaf %d to the root of the tree of %d records; folding them into leaf_hash as RFC 9162 section 2.1.3.2 describes (each step SHA-256 of 0x01, left child, right child) must give the root in the checkpoint. nonrep evidence verify does this; so does any RFC 6962/9162 implementation.", b.Index, b.TreeSize),
		"",
		"Together: the partner's key signed exactly these bytes; the log recorded them at the stated time as entry "+fmt.Sprint(b.Index)+"; and the log's key signed a tree that contains that entry. To show that the log was not edited or trimmed since, ask the operator for a consistency proof from this checkpoint to any later one (nonrep evidence consistency).",
	)
	return out
}

func headerName(r *Record) string {
	if r.SignatureHeader == "" {
		return "body (a JWS)"
	}
	return r.SignatureHeader
}

// VerifyOptions configures VerifyBundle.
type VerifyOptions struct {
	// LogKeys pins the log's note verifier keys: the checkpoint must be
	// signed by one of them. When empty, the bundle's own log_key is used
	// and the report says so.
	LogKeys []string
}

// Step is one check of a bundle and its outcome.
type Step struct {
	Name   string
	OK     bool
	Detail string
}

// BundleReport says what VerifyBundle checked.
type BundleReport struct {
	Index      int64
	Record     *Record
	Checkpoint *Checkpoint
	// KeyPinned is false when the log key came from the bundle itself.
	KeyPinned  bool
	Reverified *Reverified
	Steps      []Step
}

func (rep *BundleReport) step(name string, err error, okDetail string) error {
	if err != nil {
		d := err.Error()
		var je *jose.Error
		if ok := asJose(err, &je); ok {
			d = je.Detail
		}
		rep.Steps = append(rep.Steps, Step{Name: name, Detail: d})
		return err
	}
	rep.Steps = append(rep.Steps, Step{Name: name, OK: true, Detail: okDetail})
	return nil
}

// VerifyBundle checks a bundle with nothing but its bytes (and, ideally,
// the log's pinned key): the entry against its leaf hash and the readable
// copy, the body against the entry's body_sha256, the checkpoint's
// signature, the inclusion proof into the checkpoint's root, and the
// request's signature re-verified with the stored key at the stored time.
// The first failure is returned with its code; the report lists every step
// that ran.
func VerifyBundle(ctx context.Context, data []byte, opts VerifyOptions) (*BundleReport, error) {
	rep := &BundleReport{Index: -1}
	if len(data) > MaxBundle {
		return rep, errorf(jose.TooLarge, "the bundle is %d bytes, more than %d", len(data), MaxBundle)
	}
	var b Bundle
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return rep, wrapf(jose.Malformed, err, "the file is not an evidence bundle: %v", err)
	}
	if dec.More() {
		return rep, errorf(jose.Malformed, "the bundle has data after its JSON document")
	}
	if b.Format != BundleFormat {
		return rep, errorf(jose.Malformed, "the bundle's format is %s, not %s", quote(b.Format), BundleFormat)
	}
	rep.Index = b.Index

	// 1. Record: entry bytes, their leaf hash, the readable copy, the body.
	entry, err := base64.StdEncoding.Strict().DecodeString(b.Entry)
	if err != nil {
		return rep, rep.step("record", wrapf(jose.Malformed, err, "entry is not standard base64"), "")
	}
	leaf := LeafHash(entry)
	if got := base64.StdEncoding.EncodeToString(leaf[:]); got != b.LeafHash {
		return rep, rep.step("record", errorf(RecordHashMismatch, "the entry's leaf hash is %s, not the bundle's leaf_hash %s: the record was changed", got, quote(b.LeafHash)), "")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, b.Record); err != nil || !bytes.Equal(compact.Bytes(), entry) {
		return rep, rep.step("record", errorf(RecordHashMismatch, "the readable 'record' differs from the logged 'entry': the record was changed"), "")
	}
	d, err := ParseEntry(entry)
	if err != nil {
		return rep, rep.step("record", err, "")
	}
	rep.Record = d.Record
	body, err := base64.StdEncoding.Strict().DecodeString(b.Body)
	if err != nil {
		return rep, rep.step("record", wrapf(jose.Malformed, err, "body is not standard base64"), "")
	}
	if err := d.checkBody(body); err != nil {
		return rep, rep.step("record", errorf(RecordHashMismatch, "the body's SHA-256 is not the record's body_sha256: the body was changed"), "")
	}
	if b.BodyText != nil && *b.BodyText != string(body) {
		return rep, rep.step("record", errorf(RecordHashMismatch, "body_text differs from body: the body was changed"), "")
	}
	d.Record.Body = body
	sum := sha256.Sum256(body)
	if err := rep.step("record", nil, fmt.Sprintf("entry hashes to leaf_hash; body (%d bytes, SHA-256 %x) matches the entry", len(body), sum)); err != nil {
		return rep, err
	}

	// 2. Checkpoint: signed by the pinned key, or by the bundle's.
	keys := opts.LogKeys
	rep.KeyPinned = len(keys) > 0
	if !rep.KeyPinned {
		keys = []string{b.LogKey}
	}
	cp, err := OpenCheckpoint([]byte(b.Checkpoint), keys...)
	if err == nil && cp.Origin != b.LogOrigin {
		err = errorf(CheckpointInvalid, "the checkpoint is of log %s, the bundle says %s", quote(cp.Origin), quote(b.LogOrigin))
	}
	if err == nil && cp.Size != b.TreeSize {
		err = errorf(CheckpointInvalid, "the checkpoint covers %d records, the bundle says %d", cp.Size, b.TreeSize)
	}
	if err != nil {
		return rep, rep.step("checkpoint", err, "")
	}
	rep.Checkpoint = cp
	how := "the pinned log key"
	if !rep.KeyPinned {
		how = "the log key given in the bundle (not pinned: pass --log-key)"
	}
	rep.step("checkpoint", nil, fmt.Sprintf("tree of %d records of log %s, signed by %s", cp.Size, cp.Origin, how))

	// 3. Inclusion.
	proof := make(tlog.RecordProof, len(b.InclusionProof))
	for i, s := range b.InclusionProof {
		h, err := base64.StdEncoding.Strict().DecodeString(s)
		if err != nil || len(h) != tlog.HashSize {
			return rep, rep.step("inclusion", errorf(jose.Malformed, "inclusion_proof[%d] is not a base64 SHA-256 hash", i), "")
		}
		copy(proof[i][:], h)
	}
	if b.Index < 0 || b.Index >= cp.Size {
		return rep, rep.step("inclusion", errorf(InclusionInvalid, "record %d is outside a tree of %d records", b.Index, cp.Size), "")
	}
	if err := tlog.CheckRecord(proof, cp.Size, cp.Root, b.Index, leaf); err != nil {
		return rep, rep.step("inclusion", wrapf(InclusionInvalid, err, "the inclusion proof does not lead from record %d's leaf hash to the checkpoint's root", b.Index), "")
	}
	rep.step("inclusion", nil, fmt.Sprintf("record %d is in the tree of %d records", b.Index, cp.Size))

	// 4. Signature at the stored time.
	return rep, verifySignatureStep(ctx, rep, d.Record)
}

// reverifiedCodes are the rejection codes that re-verification itself
// checks: a record rejected for one of them must not verify now.
func reverifiedCode(c jose.Code) bool {
	switch c {
	case jose.KeyUnavailable, jose.PolicyInvalid, jose.SignerFailed, "":
		return false
	}
	if strings.HasPrefix(string(c), "replay_") {
		return false
	}
	for _, k := range jose.Codes() {
		if k == c {
			return true
		}
	}
	switch c {
	case "header_missing", "request_mismatch", "digest_mismatch":
		return true
	}
	return false
}

func verifySignatureStep(ctx context.Context, rep *BundleReport, r *Record) error {
	if r.kind() != KindRequest {
		rep.step("signature", nil, "a response record: nothing to re-verify")
		return nil
	}
	rv, err := Reverify(ctx, r)
	rep.Reverified = rv
	at := FormatTime(r.Received)
	switch r.Verdict {
	case Accepted, Signed:
		if err != nil {
			return rep.step("signature", err, "")
		}
		who := rv.Result.Kid
		if who == "" {
			who = rv.Result.Subject
		}
		return rep.step("signature", nil, fmt.Sprintf("%s signature by key %q (thumbprint %s) verifies over the stored bytes at %s, the time received", rv.Result.Header.Alg, who, rv.Result.Thumbprint, at))
	default: // Rejected, Detected
		if err == nil && reverifiedCode(r.Code) {
			return rep.step("signature", errorf(VerdictMismatch, "the record says %s (%s), but its signature verifies at %s", r.Verdict, string(r.Code), at), "")
		}
		if err == nil {
			return rep.step("signature", nil, fmt.Sprintf("the signature verifies at %s; the request was %s for %s, which is not a signature check", at, r.Verdict, string(r.Code)))
		}
		return rep.step("signature", nil, fmt.Sprintf("the request was %s for %s, and re-verification at %s fails too (%s)", r.Verdict, string(r.Code), at, string(jose.CodeOf(err))))
	}
}

func asJose(err error, je **jose.Error) bool {
	e, ok := err.(*jose.Error)
	if ok {
		*je = e
	}
	return ok
}
