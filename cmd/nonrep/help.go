package main

import (
	"fmt"
	"runtime/debug"
	"strings"
)

func mainUsage() string {
	var b strings.Builder
	b.WriteString(`Usage: nonrep COMMAND [flags]

nonrep gives financial APIs cryptographic non-repudiation: it signs and
verifies JOSE messages and partners' signed HTTP requests (InComm, EBANX,
Swift, Open Banking, Generic), keeps tamper-evident evidence, manages keys,
and runs a verifying gateway ("nonrep serve").

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-8s  %s\n", c.name, c.summary)
	}
	b.WriteString(`  help      show this help, or "nonrep help COMMAND"

Run "nonrep COMMAND --help" for a command's flags.

Exit status: 0 success; 1 verification rejected or signing refused by a
rule; 2 usage or I/O error. Failures print one line
"nonrep: error: CODE: message", sometimes followed by "nonrep: hint: ...".

Examples:
  nonrep serve        # the gateway on embedded defaults; prints how to use it
  nonrep keygen --alg ES256 --out demo.jwk > demo.pub.jwk
  echo '{"amount":"1240.00","currency":"EUR"}' | nonrep sign --key demo.jwk | nonrep verify --key demo.pub.jwk
`)
	return b.String()
}

var versionCmd = &command{
	name:    "version",
	summary: "print the version",
	usage: `Usage: nonrep version

Prints the module version nonrep was built from ("(devel)" for a local
build) and the Go version.
`,
	run: runVersion,
}

func runVersion(e *env, args []string) error {
	fs := newFlagSet("version")
	if err := parseFlags(fs, "version", args, false); err != nil {
		return err
	}
	v, goVersion := "(unknown)", "(unknown)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		v, goVersion = bi.Main.Version, bi.GoVersion
		if v == "" {
			v = "(devel)"
		}
	}
	_, err := fmt.Fprintf(e.stdout, "nonrep %s %s\n", v, goVersion)
	if err != nil {
		return ioErr(err)
	}
	return nil
}
