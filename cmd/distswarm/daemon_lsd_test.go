package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestDaemonLSDInterfaceMissingIsUsageError: a --lsd-interface that does
// not exist stops the daemon at start (exit 2, naming it) instead of
// running without the LAN discovery asked for. Nothing is multicast: the
// interface is looked up before any socket is opened.
func TestDaemonLSDInterfaceMissingIsUsageError(t *testing.T) {
	store := filepath.Join(t.TempDir(), "store")
	r := runCLI(t, "", "daemon", "--store", store, "--offline", "--listen", "127.0.0.1:0", "--gateway", "off",
		"--lsd-interface", "nosuchif0")
	if r.code != 2 || !strings.Contains(r.stderr, "nosuchif0") {
		t.Fatalf("daemon --lsd-interface nosuchif0: exit %d, stderr %q; want exit 2 naming it", r.code, r.stderr)
	}
}
