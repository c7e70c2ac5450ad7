package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/distswarm/distswarm/swarm"
)

// The seeder's status lines: a warning first when pieces are missing, a
// line only when something changed, and always a last one at exit.
func TestSeedReporter(t *testing.T) {
	var out bytes.Buffer
	r := &seedReporter{w: &out, lastAt: time.Now()}
	idle := swarm.SeedStatus{Torrents: 1, PiecesComplete: 1, Pieces: 112}
	r.report(idle, false)
	r.report(idle, false)
	r.report(idle, false)
	busy := idle
	busy.Peers, busy.BytesUploaded = 1, 16384
	r.report(busy, false)
	r.report(busy, false)
	r.report(busy, true)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want warning + idle + busy + final:\n%s", len(lines), out.String())
	}
	if !strings.HasPrefix(lines[0], "warning: only 1 of 112 pieces") || !strings.Contains(lines[0], "--from DIR") {
		t.Errorf("first line: %q", lines[0])
	}
	if !strings.Contains(lines[2], "1 peers, uploaded 16 KiB") || !strings.HasPrefix(lines[3], "stopped: ") {
		t.Errorf("lines: %q", lines)
	}
	// A complete store gets no warning.
	out.Reset()
	r = &seedReporter{w: &out, lastAt: time.Now()}
	r.report(swarm.SeedStatus{Torrents: 1, PiecesComplete: 5, Pieces: 5}, false)
	if strings.Contains(out.String(), "warning") {
		t.Errorf("complete store warned: %s", out.String())
	}
}

// The first check's progress, without a terminal: a line at once, then at
// most one every 10 s.
func TestSeedReporterChecking(t *testing.T) {
	var out bytes.Buffer
	r := &seedReporter{w: &out}
	r.checking(10, 100)
	r.checking(20, 100)
	r.checked()
	if got := strings.TrimSpace(out.String()); got != "checking the files found: 10/100 pieces" {
		t.Errorf("progress lines: %q", got)
	}
}
