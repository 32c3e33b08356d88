package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/nonrep/nonrep/jose"
)

// Exit codes. They are API: scripts branch on them.
const (
	exitOK       = 0 // success
	exitRejected = 1 // verification rejected, or a rule refused to sign
	exitUsage    = 2 // usage or I/O error
)

// The codes the CLI adds to jose's. Both exit with exitUsage.
const (
	codeUsage = "usage"
	codeIO    = "io"
)

// cliError is every failure a subcommand reports: one
// "nonrep: error: CODE: message" line and, optionally, one
// "nonrep: hint: …" line.
type cliError struct {
	code string // "usage", "io" or a jose.Code
	msg  string
	hint string
}

func (e *cliError) Error() string { return e.code + ": " + e.msg }

func (e *cliError) exitCode() int {
	if e.code == codeUsage || e.code == codeIO {
		return exitUsage
	}
	return exitRejected
}

func usageErr(hint, format string, args ...any) *cliError {
	return &cliError{code: codeUsage, msg: fmt.Sprintf(format, args...), hint: hint}
}

func ioErr(err error) *cliError {
	return &cliError{code: codeIO, msg: err.Error()}
}

// joseErr turns an error from package jose into a cliError carrying its
// stable code. prefix, when set, says what the error is about (a file name).
func joseErr(err error, prefix, hint string) *cliError {
	code := jose.CodeOf(err)
	if code == "" {
		// Not from jose: nothing but I/O can get here.
		return ioErr(err)
	}
	msg := err.Error()
	// "key 0: jose: key_rejected: detail" → "key 0: detail".
	msg = strings.Replace(msg, "jose: "+string(code)+": ", "", 1)
	msg = strings.Replace(msg, "jose: "+string(code), string(code), 1)
	if prefix != "" {
		msg = prefix + ": " + msg
	}
	return &cliError{code: string(code), msg: msg, hint: hint}
}

// env is what a subcommand may touch.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	usage   string // full help text, printed by "nonrep CMD --help"
	run     func(e *env, args []string) error
}

var commands []*command

// registerCommand adds a command from its own file's init (keys,
// evidence, serve, …); they are listed after the core commands.
func registerCommand(c *command) { commands = append(commands, c) }

func init() {
	// Other files' init functions may have run first: keep theirs after.
	commands = append([]*command{
		keygenCmd, jwksCmd, signCmd, verifyCmd, inspectCmd,
		requestCmd, diagnoseCmd, versionCmd,
	}, commands...)
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		return report(stderr, usageErr(`run "nonrep help" for the list of commands`, "no command given"))
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 {
			if c := lookup(rest[0]); c != nil {
				fmt.Fprint(stdout, c.usage)
				return exitOK
			}
			return report(stderr, usageErr(`run "nonrep help" for the list of commands`, "unknown command %q", rest[0]))
		}
		fmt.Fprint(stdout, mainUsage())
		return exitOK
	}
	c := lookup(name)
	if c == nil {
		return report(stderr, usageErr(`run "nonrep help" for the list of commands`, "unknown command %q", name))
	}
	err := c.run(e, rest)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, c.usage)
		return exitOK
	}
	if errors.As(err, new(errRejectedReported)) {
		return exitRejected // the command printed why on standard output
	}
	if err != nil {
		return report(stderr, err)
	}
	return exitOK
}

// report prints err as the CLI's one error line (and hint) and returns the
// exit code.
func report(stderr io.Writer, err error) int {
	var ce *cliError
	if !errors.As(err, &ce) {
		ce = joseErr(err, "", "")
	}
	fmt.Fprintf(stderr, "nonrep: error: %s: %s\n", ce.code, oneLine(ce.msg))
	if ce.hint != "" {
		fmt.Fprintf(stderr, "nonrep: hint: %s\n", oneLine(ce.hint))
	}
	return ce.exitCode()
}

// oneLine keeps a message on one line whatever it quotes.
func oneLine(s string) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s)
}

// newFlagSet returns a flag set that reports errors to us rather than
// printing and exiting.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("nonrep "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args and refuses positional arguments unless
// allowArgs. It returns flag.ErrHelp for -h/--help.
func parseFlags(fs *flag.FlagSet, cmd string, args []string, allowArgs bool) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageErr(fmt.Sprintf(`run "nonrep %s --help"`, cmd), "%s", flagMsg(err))
	}
	if !allowArgs && fs.NArg() > 0 {
		return usageErr(fmt.Sprintf(`run "nonrep %s --help"`, cmd), "unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// flagMsg rewrites the flag package's messages to name flags the way our
// help does ("--alg", not "-alg").
func flagMsg(err error) string {
	return flagName.ReplaceAllString(err.Error(), "$1--$2")
}

var flagName = regexp.MustCompile(`(: |flag )-([A-Za-z][\w-]*)`)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// isSet reports whether the named flag was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}
