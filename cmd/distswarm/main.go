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
	"runtime"
	"runtime/pprof"

	"github.com/urfave/cli/v2"
)

// Exit codes shared by every command.
const (
	exitOK      = 0
	exitFailed  = 1 // something was checked and failed (or could not be fetched)
	exitUsage   = 2 // bad invocation, unreadable or unparsable input
	exitUnknown = exitUsage
	// exitInterrupted is the shell's code for a command stopped by SIGINT
	// (128 + 2): a fetch stopped by Ctrl-C (or SIGTERM) exits with it.
	exitInterrupted = 130
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

// newApp assembles the CLI. Every command that runs something gets the
// logging flags (log.go) and reads the config file (config.go).
func newApp(stdout, stderr io.Writer) *cli.App {
	return buildApp(stdout, stderr, defaultConfigPath)
}

// buildApp is newApp with the config file read when no --config is given
// (tests point it at a file of their own).
func buildApp(stdout, stderr io.Writer, defaultConfig string) *cli.App {
	app := &cli.App{
		Name:    "distswarm",
		Usage:   "fetch and seed Gentoo distfiles and binpkgs over BitTorrent, verified against Manifests",
		Version: buildVersion(),
		Description: `distswarm moves Gentoo distfiles between machines over BitTorrent. Files are
verified against the authority you choose (your repository's Manifests, Portage's
${DIGESTS}, or a Manifest file) and placed in a GLEP 75 store that doubles as a
Portage filesystem mirror.

Every flag can also be set in the environment (DISTSWARM_SWARM_TIMEOUT=2m
for --swarm-timeout) or in the config file (--config, default
` + defaultConfigPath + ` when it exists): command line, then environment, then file,
then the default.

Exit codes: 0 success, 1 a check or fetch failed, 2 usage or parse error,
130 a fetch stopped by Ctrl-C or SIGTERM (one summary line).`,
		Writer:                 stdout,
		ErrWriter:              stderr,
		HideHelpCommand:        true,
		HideVersion:            true, // ours has no -v: that is --verbose in every command
		UseShortOptionHandling: true, // -vv
		Suggest:                true, // "did you mean" for mistyped commands and flags
		EnableBashCompletion:   true, // --generate-bash-completion, for a completion script
		Flags:                  []cli.Flag{configFlag(), versionFlag()},
		Commands: []*cli.Command{
			manifestCommand(),
			layoutCommand(),
			hashCommand(),
			collectionCommand(),
			seedCommand(),
			fetchCommand(),
			binpkgCommand(),
			daemonCommand(),
			lanCommand(),
			keyCommand(),
			attestCommand(),
			trustCommand(),
		},
		Action:         runRoot,
		ExitErrHandler: func(*cli.Context, error) {}, // exit codes are mapped in run
		OnUsageError: func(c *cli.Context, err error, isSub bool) error {
			return &exitError{code: exitUsage, err: err}
		},
	}
	installLogFlags(app.Commands)
	installConfig(app.Commands, defaultConfig)
	rejectFlagsAfterNames(app.Commands)
	app.Commands = append(app.Commands, manCommand(), sampleConfigCommand())
	return app
}

// runRoot runs when no command is named: --version, or the help.
func runRoot(c *cli.Context) error {
	if c.Bool(versionFlagName) {
		fmt.Fprintf(c.App.Writer, "%s %s\n", c.App.Name, c.App.Version)
		return nil
	}
	if c.NArg() > 0 {
		if s := closestCommand(c.App.Commands, c.Args().First()); s != "" {
			return usageErr("unknown command %q: did you mean %q? (distswarm --help lists them)", c.Args().First(), s)
		}
		return usageErr("unknown command %q (distswarm --help lists them)", c.Args().First())
	}
	return cli.ShowAppHelp(c)
}

// run executes the CLI and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	return runApp(newApp(stdout, stderr), args, stderr)
}

// runApp runs app with args and maps its error to an exit code.
func runApp(app *cli.App, args []string, stderr io.Writer) int {
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
			code := withProfiles(func() int { return run(os.Args, os.Stdout, os.Stderr) })
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(code)
		}
		fmt.Fprintf(os.Stderr, "distswarm: DISTSWARM_CPUPROFILE: cannot profile to %s\n", p)
	}
	os.Exit(withProfiles(func() int { return run(os.Args, os.Stdout, os.Stderr) }))
}

// withProfiles runs f and writes the profiles asked for when f returns.
// DISTSWARM_MEMPROFILE=FILE: a pprof heap profile, what is live then and
// every allocation of the run (go tool pprof -sample_index=alloc_space).
// DISTSWARM_MUTEXPROFILE=FILE: lock contention, sampled from the start (one
// event in mutexSampleRate): where goroutines waited for a lock another
// held, and how long.
func withProfiles(f func() int) int {
	mutex := os.Getenv("DISTSWARM_MUTEXPROFILE")
	if mutex != "" {
		runtime.SetMutexProfileFraction(mutexSampleRate)
	}
	code := f()
	writeProfileTo(os.Stderr, "DISTSWARM_MEMPROFILE", os.Getenv("DISTSWARM_MEMPROFILE"), "allocs")
	writeProfileTo(os.Stderr, "DISTSWARM_MUTEXPROFILE", mutex, "mutex")
	return code
}

// mutexSampleRate: DISTSWARM_MUTEXPROFILE records one contention event in
// this many.
const mutexSampleRate = 5

// writeProfileTo writes the named pprof profile to path, if path is set;
// a failure goes to stderr, naming env, the variable that asked for it.
func writeProfileTo(stderr io.Writer, env, path, name string) {
	if path == "" {
		return
	}
	out, err := os.Create(path)
	if err == nil {
		err = pprof.Lookup(name).WriteTo(out, 0)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "distswarm: %s: %v\n", env, err)
	}
}
