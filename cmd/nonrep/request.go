package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/profile"
)

var requestCmd = &command{
	name:    "request",
	summary: "sign, verify or send an HTTP request under a scheme",
	usage: `Usage: nonrep request sign   --profile NAME --key PRIVATE.jwk --method M --url URL [flags]
       nonrep request verify --profile NAME (--jwks FILE | --roots CA.pem) --method M --url URL [flags]
       nonrep request send   --profile NAME --key PRIVATE.jwk --url URL [flags]

Signs, verifies or sends an HTTP request under one of the signature schemes
(profiles) nonrep speaks:

  incomm             InComm JWS Signed Request Authentication (PS512)
  ebanx              EBANX JWS Authentication (RS256, b64:false)
  swift              Swift API non-repudiation (RS256, x5c certificate chain)
  openbanking        UK Open Banking x-jws-signature, 3.1.4 and later (PS256)
  openbanking-3.1.3  the same, 3.1.3 and earlier (b64:false)
  generic            the body is a flattened JWS of the instruction JSON (ES256)

Run "nonrep request sign --help" (verify, send) for each subcommand's flags,
and "nonrep diagnose --help" to find out why a request is rejected.
`,
	run: runRequest,
}

func runRequest(e *env, args []string) error {
	const hint = `run "nonrep request --help"`
	if len(args) == 0 {
		return usageErr(hint, "request needs a subcommand: sign, verify or send")
	}
	sub, rest := args[0], args[1:]
	var usage string
	var run func(*env, []string) error
	switch sub {
	case "-h", "-help", "--help", "help":
		return flag.ErrHelp
	case "sign":
		usage, run = requestSignUsage, runRequestSign
	case "verify":
		usage, run = requestVerifyUsage, runRequestVerify
	case "send":
		usage, run = requestSendUsage, runRequestSend
	default:
		return usageErr(hint, "unknown request subcommand %q (sign, verify or send)", sub)
	}
	err := run(e, rest)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(e.stdout, usage)
		return nil
	}
	return err
}

// msgFlags are the flags that describe the request: every request
// subcommand and diagnose take them.
type msgFlags struct {
	profile, method, url, body, obVersion *string
}

func addMsgFlags(fs *flag.FlagSet) *msgFlags {
	return &msgFlags{
		profile:   fs.String("profile", "", ""),
		method:    fs.String("method", "", ""),
		url:       fs.String("url", "", ""),
		body:      fs.String("body", "", ""),
		obVersion: fs.String("ob-version", "", ""),
	}
}

var obVersionRE = regexp.MustCompile(`^v?[0-9]+\.[0-9]+(\.[0-9]+)?$`)

// selectProfile returns the named profile with the Open Banking settings
// applied.
func selectProfile(name, obVersion, obIss, hint string) (profile.Profile, error) {
	names := strings.Join(profile.Names(), ", ")
	if name == "" {
		return nil, usageErr("profiles: "+names, "--profile is required")
	}
	p, ok := profile.ByName(name)
	if !ok {
		return nil, usageErr("profiles: "+names, "unknown --profile %q", name)
	}
	ob, isOB := p.(profile.OpenBanking)
	if !isOB {
		if obVersion != "" {
			return nil, usageErr(hint, "--ob-version applies only to the openbanking profiles")
		}
		if obIss != "" {
			return nil, usageErr(hint, "--ob-iss applies only to the openbanking profiles")
		}
		return p, nil
	}
	if obVersion != "" {
		if !obVersionRE.MatchString(obVersion) {
			return nil, usageErr(hint, "--ob-version must look like 3.1.4, not %q", obVersion)
		}
		ob.Version = obVersion
	}
	ob.Issuer = obIss
	return ob, nil
}

// profileAlg is the algorithm a profile signs with ("" when the key
// decides: generic).
func profileAlg(p profile.Profile) jose.Alg {
	switch p.(type) {
	case profile.InComm:
		return jose.PS512
	case profile.EBANX, profile.Swift:
		return jose.RS256
	case profile.OpenBanking:
		return jose.PS256
	}
	return ""
}

// parseTarget checks --method and --url.
func parseTarget(method, rawURL, hint string) (*url.URL, error) {
	if method == "" {
		return nil, usageErr(hint, "--method is required")
	}
	if !isToken(method) {
		return nil, usageErr(hint, "--method %q is not an HTTP method token", method)
	}
	if rawURL == "" {
		return nil, usageErr(hint, "--url is required")
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageErr("give the full URL, for example --url 'https://api.bank.example/v1/payments?id=42'", "--url %q is not an absolute http or https URL", rawURL)
	}
	if u.Fragment != "" || strings.HasSuffix(rawURL, "#") {
		return nil, usageErr(hint, "--url has a fragment (#…), which is never sent; remove it")
	}
	return u, nil
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// newMessage is the profile's view of the request: the method as given,
// Host and the raw path and query of the URL, and the exact body bytes.
func newMessage(method string, u *url.URL, h http.Header, body []byte) *profile.Message {
	p := u.EscapedPath()
	if p == "" {
		p = "/" // what an HTTP client sends
	}
	if h == nil {
		h = http.Header{}
	}
	if body == nil {
		body = []byte{}
	}
	return &profile.Message{Method: method, Host: u.Host, Path: p, RawQuery: u.RawQuery, Header: h, Body: body}
}

// readBody reads --body: the exact bytes of the file ("-": standard input),
// or nothing.
func readBody(e *env, path string) ([]byte, error) {
	if path == "" {
		return []byte{}, nil
	}
	return readInput(e, path, maxMessage)
}

// parseHeader parses one "Name: value" (value trimmed of spaces and tabs).
func parseHeader(s string) (string, string, bool) {
	name, value, ok := strings.Cut(s, ":")
	if !ok || !isToken(name) {
		return "", "", false
	}
	value = strings.Trim(value, " \t")
	if strings.ContainsAny(value, "\r\n\x00") {
		return "", "", false
	}
	return name, value, true
}

// addHeaders adds --header values to h.
func addHeaders(h http.Header, list []string) error {
	for _, s := range list {
		name, value, ok := parseHeader(s)
		if !ok {
			return usageErr(`write --header 'Name: value'`, "--header %q is not 'Name: value'", s)
		}
		h.Add(name, value)
	}
	return nil
}

// readHeaderFile reads "Name: value" lines as "request sign" prints them.
// An empty line ends the headers; the bytes after it, if any, are the body.
func readHeaderFile(e *env, path string, h http.Header) (body []byte, err error) {
	data, err := readInput(e, path, maxMessage+64<<10)
	if err != nil {
		return nil, err
	}
	for n := 1; len(data) > 0; n++ {
		line, rest, _ := bytes.Cut(data, []byte("\n"))
		data = rest
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			if len(data) > 0 {
				return data, nil
			}
			return nil, nil
		}
		name, value, ok := parseHeader(string(line))
		if !ok {
			return nil, usageErr(`the file holds "Name: value" lines, as "nonrep request sign" prints them`, "%s line %d is not 'Name: value'", path, n)
		}
		h.Add(name, value)
	}
	return nil, nil
}

// headerSpelling is how the schemes write their headers (HTTP header names
// are case-insensitive; Go canonicalizes them).
func headerSpelling(profileName, canonical string) string {
	switch canonical {
	case "X-Jws-Signature":
		if strings.HasPrefix(profileName, "openbanking") {
			return "x-jws-signature"
		}
		return "X-JWS-Signature"
	case "X-Swift-Signature":
		return "X-SWIFT-Signature"
	case "X-Swift-Integrity":
		return "X-SWIFT-Integrity"
	}
	return canonical
}

// writeHeaders prints h as "Name: value" lines sorted by name.
func writeHeaders(w io.Writer, h http.Header, spell func(string) string) error {
	names := make([]string, 0, len(h))
	for n := range h {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return strings.ToLower(names[i]) < strings.ToLower(names[j]) })
	var b bytes.Buffer
	for _, n := range names {
		for _, v := range h[n] {
			fmt.Fprintf(&b, "%s: %s\n", spell(n), v)
		}
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return ioErr(fmt.Errorf("writing output: %w", err))
	}
	return nil
}

// readCerts reads a PEM file of CERTIFICATE blocks.
func readCerts(path string) ([]*x509.Certificate, error) {
	data, err := readFile(path, maxKeyFile)
	if err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) error {
		return &cliError{code: string(jose.Malformed), msg: path + ": " + fmt.Sprintf(format, args...)}
	}
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, bad("unexpected PEM block %q; the file must hold certificates only", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, bad("certificate %d does not parse: %v", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, bad("no PEM CERTIFICATE block")
	}
	return certs, nil
}

// loadSigner reads the signing key (and, for Swift, the chain) for p.
func loadSigner(p profile.Profile, keyPath, kid, certPath string, kidSet bool, hint string) (*profile.Signer, error) {
	if keyPath == "" {
		return nil, usageErr(hint, "--key is required")
	}
	_, isSwift := p.(profile.Swift)
	if isSwift && certPath == "" {
		return nil, usageErr("give the signing certificate chain, leaf first: --cert chain.pem", "the swift profile needs --cert")
	}
	if !isSwift && certPath != "" {
		return nil, usageErr(hint, "--cert applies only to the swift profile")
	}
	if kidSet && kid == "" {
		return nil, usageErr(hint, "--kid must not be empty")
	}
	if isSwift && kidSet {
		return nil, usageErr("Swift names the key by its certificate (x5c), never by kid", "--kid does not apply to the swift profile")
	}
	k, err := loadKey(keyPath)
	if err != nil {
		return nil, err
	}
	if !k.IsPrivate() || k.Kty == "oct" {
		return nil, &cliError{
			code: string(jose.KeyRejected),
			msg:  keyPath + " is not a private key pair; signing needs the private key",
			hint: `give the file that "nonrep keygen --out" wrote`,
		}
	}
	want := profileAlg(p)
	alg := k.Alg
	if alg == "" {
		alg = want
		if alg == "" {
			alg = defaultAlg(k)
		}
	}
	if want != "" && alg != want {
		return nil, &cliError{
			code: string(jose.KeyRejected),
			msg:  fmt.Sprintf("%s is a %s key; the %s profile signs with %s", keyPath, alg, p.Name(), want),
			hint: fmt.Sprintf("use a %s key, for example: nonrep keygen --alg %s --out partner.jwk", want, want),
		}
	}
	if min := minRSABitsFor(p); min > 0 {
		// The profiles' signers leave this to the verifier; refuse here
		// rather than print a signature every verifier of the scheme
		// rejects.
		if rk, ok := k.Key.(*rsa.PrivateKey); ok && rk.N.BitLen() < min {
			return nil, &cliError{
				code: string(jose.KeyRejected),
				msg:  fmt.Sprintf("%s is a %d-bit RSA key; the %s profile needs at least %d bits", keyPath, rk.N.BitLen(), p.Name(), min),
				hint: fmt.Sprintf("nonrep keygen --alg %s --bits %d --out partner.jwk", alg, min),
			}
		}
	}
	sk, err := jose.NewSigningKey(k, alg)
	if err != nil {
		return nil, joseErr(err, keyPath, "")
	}
	if kidSet {
		sk.Kid = kid
	}
	if !isSwift && sk.Kid == "" {
		return nil, usageErr("name the key with --kid ID (a PEM key has no kid)", "the %s profile needs a kid and %s has none", p.Name(), keyPath)
	}
	s := &profile.Signer{Key: sk}
	if isSwift {
		certs, err := readCerts(certPath)
		if err != nil {
			return nil, err
		}
		leaf, err := jose.NewJWK(certs[0].PublicKey, "", "")
		if err != nil || leaf.Thumbprint() != k.Thumbprint() {
			return nil, &cliError{
				code: string(jose.KeyRejected),
				msg:  fmt.Sprintf("the first certificate in %s is not for the key in %s", certPath, keyPath),
				hint: "--cert must list the signing key's certificate first, then its intermediates",
			}
		}
		for _, c := range certs {
			s.Chain = append(s.Chain, c.Raw)
		}
	}
	return s, nil
}

// defaultAlg picks the algorithm for a key without one (generic profile).
func defaultAlg(k *jose.JWK) jose.Alg {
	switch key := k.Key.(type) {
	case *rsa.PrivateKey:
		return jose.PS256
	case ed25519.PrivateKey:
		return jose.EdDSA
	case *ecdsa.PrivateKey:
		switch key.Curve {
		case elliptic.P384():
			return jose.ES384
		case elliptic.P521():
			return jose.ES512
		}
	}
	return jose.ES256
}

// trustFlags are the verification settings of request verify and diagnose.
type trustFlags struct {
	jwks, roots, at *string
	skew            *time.Duration
	lenient         *bool
}

func addTrustFlags(fs *flag.FlagSet) *trustFlags {
	return &trustFlags{
		jwks:    fs.String("jwks", "", ""),
		roots:   fs.String("roots", "", ""),
		at:      fs.String("at", "", ""),
		skew:    fs.Duration("skew", 0, ""),
		lenient: fs.Bool("lenient", false, ""),
	}
}

// load builds the partner's Trust for p and returns the key list too.
func (f *trustFlags) load(p profile.Profile, hint string) (profile.Trust, []*jose.JWK, error) {
	var t profile.Trust
	_, isSwift := p.(profile.Swift)
	switch {
	case isSwift && *f.roots == "":
		return t, nil, usageErr("Swift verifies the x5c chain: give the trust roots with --roots CA.pem", "the swift profile needs --roots")
	case isSwift && *f.jwks != "":
		return t, nil, usageErr("Swift names the key by its certificate chain; drop --jwks", "--jwks does not apply to the swift profile")
	case !isSwift && *f.jwks == "":
		return t, nil, usageErr("give the partner's public keys: --jwks partner.jwks", "the %s profile needs --jwks", p.Name())
	case !isSwift && *f.roots != "":
		return t, nil, usageErr(hint, "--roots applies only to the swift profile")
	}
	if *f.skew < 0 {
		return t, nil, usageErr(hint, "--skew must not be negative")
	}
	t.Skew = *f.skew
	t.Lenient = *f.lenient
	if *f.at != "" {
		when, err := time.Parse(time.RFC3339, *f.at)
		if err != nil {
			return t, nil, usageErr("write the time as RFC 3339, for example --at 2026-11-30T04:00:00Z", "--at %q is not an RFC 3339 time", *f.at)
		}
		t.Clock = func() time.Time { return when }
	}
	var keys []*jose.JWK
	if isSwift {
		certs, err := readCerts(*f.roots)
		if err != nil {
			return t, nil, err
		}
		t.Roots = certPool(certs)
		return t, nil, nil
	}
	data, err := readFile(*f.jwks, maxKeyFile)
	if err != nil {
		return t, nil, err
	}
	set, err := jose.ParseJWKS(data)
	if err != nil {
		return t, nil, joseErr(err, *f.jwks, "")
	}
	keys = set.Keys()
	if len(keys) == 0 {
		return t, nil, &cliError{code: string(jose.KeyUnknown), msg: *f.jwks + ": the key set is empty"}
	}
	t.Keys = set
	if _, ok := p.(profile.Generic); ok {
		// The generic profile allows what the partner's keys are for
		// (ES256 when no key names its algorithm).
		for _, k := range keys {
			if k.Alg != "" && !slices.Contains(t.Algs, k.Alg) {
				t.Algs = append(t.Algs, k.Alg)
			}
		}
	}
	return t, keys, nil
}

// verifyInput gathers what request verify and diagnose read.
type verifyInput struct {
	prof  profile.Profile
	trust profile.Trust
	keys  []*jose.JWK
	msg   *profile.Message
}

func parseVerifyInput(e *env, fs *flag.FlagSet, cmd string, args []string) (*verifyInput, *bool, error) {
	mf := addMsgFlags(fs)
	tf := addTrustFlags(fs)
	headerFile := fs.String("headers", "", "")
	asJSON := fs.Bool("json", false, "")
	var headers listFlag
	fs.Var(&headers, "header", "")
	if err := parseFlags(fs, cmd, args, false); err != nil {
		return nil, nil, err
	}
	hint := fmt.Sprintf(`run "nonrep %s --help"`, cmd)
	p, err := selectProfile(*mf.profile, *mf.obVersion, "", hint)
	if err != nil {
		return nil, nil, err
	}
	u, err := parseTarget(*mf.method, *mf.url, hint)
	if err != nil {
		return nil, nil, err
	}
	h := http.Header{}
	var fileBody []byte
	if *headerFile != "" {
		if *headerFile == "-" && *mf.body == "-" {
			return nil, nil, usageErr(hint, "--headers and --body cannot both be standard input")
		}
		if fileBody, err = readHeaderFile(e, *headerFile, h); err != nil {
			return nil, nil, err
		}
	}
	if err := addHeaders(h, headers); err != nil {
		return nil, nil, err
	}
	if len(h) == 0 {
		return nil, nil, usageErr(`give the signature headers with --header 'Name: value' or --headers FILE (what "nonrep request sign" printed)`, "no request headers given")
	}
	var body []byte
	switch {
	case fileBody != nil && *mf.body != "":
		return nil, nil, usageErr("give the body once", "%s carries a body after its empty line, and --body is given too", *headerFile)
	case fileBody != nil:
		body = fileBody
	default:
		if body, err = readBody(e, *mf.body); err != nil {
			return nil, nil, err
		}
	}
	t, keys, err := tf.load(p, hint)
	if err != nil {
		return nil, nil, err
	}
	return &verifyInput{prof: p, trust: t, keys: keys, msg: newMessage(*mf.method, u, h, body)}, asJSON, nil
}

// minRSABitsFor is the smallest RSA key the profile's verifiers accept.
func minRSABitsFor(p profile.Profile) int {
	switch p := p.(type) {
	case profile.InComm:
		return max(p.MinRSABits, 3072)
	case profile.EBANX:
		return max(p.MinRSABits, 4096)
	}
	return 0
}
