// Package testbin builds the distswarm binary that the CLI and integration
// tests run as a subprocess. DISTSWARM_RACE in the environment has it
// built with the race detector (-race), so data races in code that only the
// binary runs (the CLI, the daemon, fetches over real sockets) are reported
// too: such a binary prints "WARNING: DATA RACE" and exits 66 when it ends
// after a race. DISTSWARM_RACE=1 (or all) means every suite; otherwise it
// lists the suites, comma-separated: cli (cmd/distswarm), integration.
// A -race binary is several times slower: CI (.ci/run) uses it for the CLI
// tests and for a subset of the integration tests.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// RaceEnv is the environment variable that asks for a -race build.
const RaceEnv = "DISTSWARM_RACE"

// RaceReport is what a -race binary prints when it detects a data race.
const RaceReport = "WARNING: DATA RACE"

// Suites whose tests build the binary, for DISTSWARM_RACE.
const (
	SuiteCLI         = "cli"
	SuiteIntegration = "integration"
)

// Race reports whether DISTSWARM_RACE asks for a -race binary for suite.
func Race(suite string) bool {
	v := os.Getenv(RaceEnv)
	if v == "1" || v == "all" {
		return true
	}
	for _, s := range strings.Split(v, ",") {
		if strings.TrimSpace(s) == suite {
			return true
		}
	}
	return false
}

// Build builds the main package pkg (a path relative to dir, e.g.
// "./cmd/distswarm") from the module directory dir into out for the tests
// of suite, with -race when Race says so.
func Build(dir, pkg, out, suite string) error {
	args := []string{"build", "-o", out}
	if Race(suite) {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(cmd.Args[1:], " "), err, b)
	}
	if _, err := os.Stat(out); err != nil {
		return fmt.Errorf("built %s: %w", filepath.Base(out), err)
	}
	return nil
}
