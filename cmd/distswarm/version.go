package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// version is set when linking, from the Makefile:
//
//	go build -ldflags "-X main.version=$(git describe --always --dirty)"
//
// Without it, buildVersion asks the build info.
var version string

const versionFlagName = "version"

func versionFlag() cli.Flag {
	return &cli.BoolFlag{Name: versionFlagName, Usage: "print the version and exit"}
}

// buildVersion is the version, the Go toolchain and the platform, e.g.
// "v0.3.0-12-gabc1234 (go1.26.8 linux/amd64)".
func buildVersion() string {
	return fmt.Sprintf("%s (%s %s/%s)", versionString(version, readBuildInfo()), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func readBuildInfo() *debug.BuildInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	return bi
}

// versionString picks the version: the one set when linking; else the
// module version `go install ...@vX` records; else the VCS revision the
// toolchain stamped (+"-dirty" for uncommitted changes); else "devel".
func versionString(linked string, bi *debug.BuildInfo) string {
	if linked != "" {
		return linked
	}
	if bi == nil {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var revision, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if revision == "" {
		return "devel"
	}
	if len(revision) > 12 {
		revision = revision[:12]
	}
	if modified == "true" {
		revision += "-dirty"
	}
	return revision
}
