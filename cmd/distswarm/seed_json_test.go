package main

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestSeedJSON: `seed --json` writes only JSON objects on standard output,
// one a line: magnet (a collection made with --from), ready with the port,
// a status event and, on SIGTERM, a stopped event.
func TestSeedJSON(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	write(t, filepath.Join(src, "foo-1.tar.gz"), []byte("foo"))
	cmd := exec.Command(binary, "seed", "--json", "--offline", "--listen", "127.0.0.1:0",
		"--store", filepath.Join(dir, "store"), "--from", src, "--out", filepath.Join(dir, "c.torrent"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	events := make(chan map[string]any, 16)
	go func() {
		defer close(done)
		defer close(events)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev map[string]any
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Errorf("not a JSON line: %q (%v)", sc.Text(), err)
				continue
			}
			events <- ev
		}
		cmd.Wait()
	}()
	next := func() map[string]any {
		t.Helper()
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("seed exited early")
			}
			return ev
		case <-time.After(time.Minute):
			t.Fatal("no event within a minute")
		}
		return nil
	}
	want := func(event string) map[string]any {
		t.Helper()
		for {
			ev := next()
			if ev["event"] == event {
				return ev
			}
			if ev["event"] != "magnet" && ev["event"] != "checking" {
				t.Fatalf("event %v before %s", ev, event)
			}
		}
	}
	if ev := want("ready"); ev["port"].(float64) <= 0 {
		t.Errorf("ready event without a port: %v", ev)
	}
	if ev := want("status"); ev["pieces"] != ev["pieces_complete"] || ev["peers"] != 0.0 {
		t.Errorf("status event: %v, want every piece here and no peer", ev)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if ev := want("stopped"); ev["bytes_uploaded"] != 0.0 {
		t.Errorf("stopped event: %v", ev)
	}
}
