package main

import (
	"bytes"
	"encoding/json"
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

// With --json the status lines are JSON objects, one a line, written only
// when something changed and once at exit; warnings stay text on w.
func TestSeedReporterJSON(t *testing.T) {
	var text, js bytes.Buffer
	r := &seedReporter{w: &text, json: &js, lastAt: time.Now()}
	idle := swarm.SeedStatus{Torrents: 1, PiecesComplete: 1, Pieces: 112}
	r.report(idle, false)
	r.report(idle, false)
	busy := idle
	busy.Peers, busy.BytesUploaded = 1, 16384
	r.report(busy, false)
	r.report(busy, true)
	if !strings.HasPrefix(text.String(), "warning: only 1 of 112 pieces") || strings.Count(text.String(), "\n") != 1 {
		t.Errorf("text: %q, want the warning alone", text.String())
	}
	lines := strings.Split(strings.TrimSpace(js.String()), "\n")
	want := []string{
		`{"event":"status","torrents":1,"pieces_complete":1,"pieces":112,"peers":0,"bytes_uploaded":0,"upload_rate":0}`,
		`"event":"status","torrents":1,"pieces_complete":1,"pieces":112,"peers":1,"bytes_uploaded":16384,`,
		`"event":"stopped","torrents":1,"pieces_complete":1,"pieces":112,"peers":1,"bytes_uploaded":16384,"upload_rate":0}`,
	}
	if len(lines) != len(want) {
		t.Fatalf("%d JSON lines, want %d:\n%s", len(lines), len(want), js.String())
	}
	for i, l := range lines {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil || !strings.Contains(l, want[i]) {
			t.Errorf("line %d: %s (%v), want it to contain %s", i, l, err, want[i])
		}
	}
	js.Reset()
	r.ready(&text, 6881, 1500*time.Millisecond)
	if got := strings.TrimSpace(js.String()); got != `{"event":"ready","port":6881,"ready_ms":1500}` {
		t.Errorf("ready: %s", got)
	}
}
