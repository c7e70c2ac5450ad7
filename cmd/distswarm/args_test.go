package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// A flag after a name is a usage error (exit 2) naming the flag, not a
// file to fetch; "-" stays a name; a mistyped command or flag gets a
// suggestion.
func TestFlagAfterNameAndSuggestions(t *testing.T) {
	store := t.TempDir()
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"fetch", "--store", store, "--torrent", "x.torrent", "foo-1.tar.gz", "--offline"}, 2,
			`flag --offline after the name "foo-1.tar.gz": put flags before names`},
		{[]string{"hash", "some-file", "-v"}, 2, `flag -v after the name "some-file"`},
		{[]string{"fetc"}, 2, `did you mean "fetch"?`},
		{[]string{"colection", "create"}, 2, `did you mean "collection"?`},
		{[]string{"fetch", "--offlin"}, 2, `Did you mean "--offline"?`},
		{[]string{"zzzzzzz"}, 2, `unknown command "zzzzzzz" (distswarm --help`},
	}
	for _, c := range cases {
		r := runCLI(t, "", c.args...)
		if out := r.stdout + r.stderr; r.code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("distswarm %v: exit %d, stderr:\n%s\nwant exit %d and %q", c.args, r.code, r.stderr, c.code, c.want)
		}
	}
	// "-" (standard input or output) is a name like any other.
	if err := flagAfterName([]string{"NAME", "-"}); err != nil {
		t.Errorf("NAME -: %v", err)
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"fetch", "fetc", 1}, {"seed", "sede", 2}, {"", "abc", 3}, {"daemon", "daemon", 0}} {
		if got := editDistance(c.a, c.b); got != c.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
}

// Ctrl-C during a fetch of several files prints one summary line, not a
// line per unfinished file, and exits 130.
func TestFetchInterruptedSummary(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	var names []string
	for i := range 5 {
		name := fmt.Sprintf("pkg%d-1.tar.gz", i)
		if err := os.WriteFile(filepath.Join(src, name), bytes.Repeat([]byte{byte(i)}, 50000), 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	torrent := filepath.Join(dir, "c.torrent")
	if r := runCLI(t, "", "collection", "create", "--from", src, "--out", torrent); r.code != 0 {
		t.Fatalf("create: %d %s", r.code, r.stderr)
	}
	// No peer has the files: the fetch waits until it is interrupted.
	args := append([]string{"fetch", "--store", filepath.Join(dir, "store"), "--listen", "127.0.0.1:0", "--offline",
		"--torrent", torrent, "--trust-collection", "--timeout", "5m"}, names...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once the fetch is under way (its node is open: the state db exists).
	for ctx.Err() == nil {
		if _, err := os.Stat(filepath.Join(dir, "store", ".distswarm", "state.db")); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("interrupted fetch: %v, want exit 130\n%s", err, stderr.String())
	}
	out := stderr.String()
	if strings.Count(out, "interrupted") != 1 || strings.Contains(out, "FAILED") {
		t.Errorf("want one 'interrupted' summary line and no per-file lines:\n%s", out)
	}
}

// syncBuffer is a bytes.Buffer safe for a process's writes and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
