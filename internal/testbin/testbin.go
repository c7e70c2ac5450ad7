// Package testbin builds the distswarm binary that the CLI and integration
// tests run as a subprocess. With DISTSWARM_RACE=1 in the environment it
// is built with the race detector (-race), so data races in code that only
// the binary runs (the CLI, the daemon, fetches over real sockets) are
// reported too: such a binary prints "WARNING: DATA RACE" and exits 66
// when it ends after a race. CI sets it (.ci/run).
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

// Race reports whether the binary is to be built with -race.
func Race() bool { return os.Getenv(RaceEnv) == "1" }

// Build builds the main package pkg (a path relative to dir, e.g.
// "./cmd/distswarm") from the module directory dir into out, with -race
// when Race says so.
func Build(dir, pkg, out string) error {
	args := []string{"build", "-o", out}
	if Race() {
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
