package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/nonrep/nonrep/jose"
)

// maxKeyFile caps a key or key set file.
const maxKeyFile = 1 << 20

// readLimited reads all of r, refusing more than limit bytes with
// jose's too_large code. what names the input in messages.
func readLimited(r io.Reader, limit int, what string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, ioErr(fmt.Errorf("reading %s: %w", what, err))
	}
	if len(data) > limit {
		return nil, &cliError{code: string(jose.TooLarge), msg: fmt.Sprintf("%s is larger than %d bytes", what, limit)}
	}
	return data, nil
}

// readInput reads path ("" or "-" for standard input).
func readInput(e *env, path string, limit int) ([]byte, error) {
	if path == "" || path == "-" {
		return readLimited(e.stdin, limit, "standard input")
	}
	return readFile(path, limit)
}

// readFile reads the named file; "-" is a file name like any other.
func readFile(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, ioErr(err)
	}
	defer f.Close()
	return readLimited(f, limit, path)
}

// trimOneNewline removes exactly one trailing "\n" or "\r\n": what echo,
// a heredoc or an editor adds after a token. Anything else stays, so that
// a second newline is still refused by the parser.
func trimOneNewline(b []byte) []byte {
	if bytes.HasSuffix(b, []byte("\r\n")) {
		return b[:len(b)-2]
	}
	if bytes.HasSuffix(b, []byte("\n")) {
		return b[:len(b)-1]
	}
	return b
}

// writeNewFile creates path with mode 0600, refusing to replace an existing
// file, and writes data to it. On any failure the new file is removed.
func writeNewFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return &cliError{
			code: codeIO,
			msg:  fmt.Sprintf("%s already exists; keygen never overwrites a key", path),
			hint: "choose another --out, or move the old key away first",
		}
	}
	if err != nil {
		return ioErr(err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return ioErr(err)
	}
	return nil
}

// writeOut writes b and a newline to w.
func writeLine(w io.Writer, b []byte) error {
	if _, err := w.Write(append(b[:len(b):len(b)], '\n')); err != nil {
		return ioErr(fmt.Errorf("writing output: %w", err))
	}
	return nil
}

// loadKeys reads a JWK or PEM file. PEM files may hold several keys; a JWK
// file holds one. Errors name the file.
func loadKeys(path string) ([]*jose.JWK, error) {
	data, err := readFile(path, maxKeyFile)
	if err != nil {
		return nil, err
	}
	if bytes.Contains(data, []byte("-----BEGIN ")) {
		keys, err := jose.ParsePEM(data)
		if err != nil {
			return nil, joseErr(err, path, "")
		}
		return keys, nil
	}
	k, err := jose.ParseJWK(data)
	if err != nil {
		hint := ""
		if bytes.Contains(data, []byte(`"keys"`)) {
			hint = "this looks like a JWK Set; give a single JWK, or use --jwks where the command takes one"
		}
		return nil, joseErr(err, path, hint)
	}
	return []*jose.JWK{k}, nil
}

// loadKey reads a file that must hold exactly one key.
func loadKey(path string) (*jose.JWK, error) {
	keys, err := loadKeys(path)
	if err != nil {
		return nil, err
	}
	if len(keys) != 1 {
		return nil, usageErr("", "%s holds %d keys; give a file with one", path, len(keys))
	}
	return keys[0], nil
}
