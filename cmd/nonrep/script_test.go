package main

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the scripts run this test binary as the "nonrep" command.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"nonrep": main})
}

// TestScript runs testdata/script/*.txtar. Besides the testscript
// builtins, scripts may use:
//
//	exitcode N PROG ARGS...  run PROG like exec; its exit status must be N
//	checkperm MODE FILE      FILE's permission bits are exactly MODE (octal)
//	writebytes FILE TEXT     write TEXT to FILE; Go escapes (\n, \r, \x00) are decoded
//	appendbytes FILE TEXT    append TEXT to FILE, escapes decoded
//	replace FILE OLD NEW     replace the one occurrence of OLD in FILE with NEW,
//	                         escapes decoded
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode":    cmdExitCode,
			"checkperm":   cmdCheckPerm,
			"writebytes":  cmdWriteBytes,
			"appendbytes": cmdAppendBytes,
			"replace":     cmdReplace,
		},
	})
}

func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d; want %d", args[1], got, want)
	}
}

func cmdCheckPerm(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: checkperm MODE FILE")
	}
	want, err := strconv.ParseUint(args[0], 8, 32)
	ts.Check(err)
	fi, err := os.Stat(ts.MkAbs(args[1]))
	ts.Check(err)
	got := fi.Mode().Perm()
	if (got == os.FileMode(want)) == neg {
		ts.Fatalf("%s has mode %#o; want %s%#o", args[1], got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

// unescape decodes Go string escapes in s (\n, \r, \t, \xff, \u00e9, \\).
func unescape(ts *testscript.TestScript, s string) string {
	var b strings.Builder
	for len(s) > 0 {
		r, multibyte, tail, err := strconv.UnquoteChar(s, 0)
		if err != nil {
			ts.Fatalf("bad escape in %q: %v", s, err)
		}
		if multibyte {
			b.WriteRune(r)
		} else {
			b.WriteByte(byte(r))
		}
		s = tail
	}
	return b.String()
}

func cmdWriteBytes(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: writebytes FILE TEXT")
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(unescape(ts, args[1])), 0o644))
}

func cmdAppendBytes(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: appendbytes FILE TEXT")
	}
	f, err := os.OpenFile(ts.MkAbs(args[0]), os.O_WRONLY|os.O_APPEND, 0)
	ts.Check(err)
	_, err = f.WriteString(unescape(ts, args[1]))
	ts.Check(err)
	ts.Check(f.Close())
}

func cmdReplace(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: replace FILE OLD NEW")
	}
	name := ts.MkAbs(args[0])
	data, err := os.ReadFile(name)
	ts.Check(err)
	old, new := unescape(ts, args[1]), unescape(ts, args[2])
	if n := strings.Count(string(data), old); n != 1 {
		ts.Fatalf("%s contains %q %d times; want once", args[0], old, n)
	}
	out := strings.Replace(string(data), old, new, 1)
	ts.Check(os.WriteFile(name, []byte(out), 0o644))
}
