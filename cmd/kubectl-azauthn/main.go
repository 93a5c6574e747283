/*
Copyright 2026 The azure-authenticator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Command kubectl-azauthn is the platform team's kubectl plugin for
// azure-authenticator (`kubectl azauthn ...` once it is on the PATH): it
// registers Azure identities as AzureHosts from what `az` prints, tells a
// workload's Conjur client what it needs, and explains denials. It talks
// to the cluster of the current kubeconfig with the caller's own RBAC and
// reuses the server's own compile and match code, never a second
// implementation.
//
// Exit codes, for scripts:
//
//	0  done
//	1  failed: the cluster refused or could not be reached, or a file could not be read
//	2  usage: a bad flag, argument or input document; nothing was changed
//	3  not satisfied: the host did not become Ready in time (register --wait), or the token would be refused (explain)
//	4  incomplete: a conversion left statements it could not map (convert)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// Exit codes; see the package comment.
const (
	exitOK           = 0
	exitFailed       = 1
	exitUsage        = 2
	exitNotSatisfied = 3
	exitIncomplete   = 4
)

// streams are a command's standard input, output and error.
type streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// command is one subcommand. run parses its own flags from args.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, s streams) error
}

var commands []command

// addCommand is called by each subcommand's file, from init.
func addCommand(c command) { commands = append(commands, c) }

// exitError carries an exit code other than exitFailed.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErrorf is a mistake in the command line or the input: exit 2.
func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// withCode gives err the exit code code.
func withCode(code int, err error) error { return &exitError{code: code, err: err} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}

// run is the plugin without the process: what tests call.
func run(ctx context.Context, args []string, s streams) int {
	slices.SortFunc(commands, func(a, b command) int { return strings.Compare(a.name, b.name) })
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(s.Out)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	i := slices.IndexFunc(commands, func(c command) bool { return c.name == args[0] })
	if i < 0 {
		_, _ = fmt.Fprintf(s.Err, "kubectl azauthn: unknown command %q\n", args[0])
		usage(s.Err)
		return exitUsage
	}
	err := commands[i].run(ctx, args[1:], s)
	if err == nil || errors.Is(err, errHelpShown) {
		return exitOK
	}
	code := exitFailed
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	_, _ = fmt.Fprintf(s.Err, "kubectl azauthn %s: %v\n", args[0], err)
	return code
}

// errHelpShown: the command printed its help on request; exit 0, quietly.
var errHelpShown = errors.New("help shown")

func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("Usage: kubectl azauthn COMMAND [flags]   (COMMAND --help for its flags)\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-12s %s\n", c.name, c.summary)
	}
	b.WriteString("\nExit codes: 0 done, 1 failed, 2 usage or bad input, 3 not satisfied (not Ready in time; a token that would be refused), 4 conversion incomplete.\n")
	_, _ = io.WriteString(w, b.String())
}
