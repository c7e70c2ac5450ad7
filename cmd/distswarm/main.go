// Command distswarm fetches and seeds Gentoo distfiles and binary packages
// over BitTorrent, verified against Gentoo Manifests and placed in a GLEP 75
// store.
//
// One command per file (cmd_*.go); this file only assembles the app and maps
// errors to exit codes: 0 success, 1 verification/fetch failure, 2 usage or
// parse error.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/urfave/cli/v2"
)

// Exit codes shared by every command.
const (
	exitOK      = 0
	exitFailed  = 1 // something was checked and failed (or could not be fetched)
	exitUsage   = 2 // bad invocation, unreadable or unparsable input
	exitUnknown = exitUsage
)

// exitError carries an exit code and a message for the user.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErr wraps err as a usage/parse error (exit 2).
func usageErr(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

// failedErr wraps err as a check failure (exit 1).
func failedErr(format string, a ...any) error {
	return &exitError{code: exitFailed, err: fmt.Errorf(format, a...)}
}

// silentFailure is returned when the command already reported every problem
// and only the exit code is left to set.
func silentFailure(code int) error {
	return &exitError{code: code, err: nil}
}

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:  "distswarm",
		Usage: "fetch and seed Gentoo distfiles and binpkgs over BitTorrent, verified against Manifests",
		Description: `distswarm moves Gentoo distfiles between machines over BitTorrent. Files are
verified against the authority you choose (your repository's Manifests, Portage's
${DIGESTS}, or a Manifest file) and placed in a GLEP 75 store that doubles as a
Portage filesystem mirror.

Exit codes: 0 success, 1 a check or fetch failed, 2 usage or parse error.`,
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		Commands: []*cli.Command{
			manifestCommand(),
			layoutCommand(),
			hashCommand(),
			collectionCommand(),
			seedCommand(),
			fetchCommand(),
			daemonCommand(),
		},
		ExitErrHandler: func(*cli.Context, error) {}, // exit codes are mapped in run
		OnUsageError: func(c *cli.Context, err error, isSub bool) error {
			return &exitError{code: exitUsage, err: err}
		},
	}
	return app
}

// run executes the CLI and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.Run(args)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "distswarm: %v\n", ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "distswarm: %v\n", err)
	return exitUnknown
}

func main() {
	// DISTSWARM_CPUPROFILE=FILE writes a pprof CPU profile of the whole run
	// (used by make bench to find where time goes).
	if p := os.Getenv("DISTSWARM_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			code := run(os.Args, os.Stdout, os.Stderr)
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(code)
		}
		fmt.Fprintf(os.Stderr, "distswarm: DISTSWARM_CPUPROFILE: cannot profile to %s\n", p)
	}
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}
