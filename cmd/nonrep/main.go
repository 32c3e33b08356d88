// Command nonrep signs and verifies JOSE messages for financial APIs.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
