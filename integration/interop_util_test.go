package integration

// Shared plumbing for the interop suite: finding the real BitTorrent
// clients, running them bounded in time, and a loopback opentracker.

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Python is Debian's interpreter, the one that sees python3-libtorrent (a
// pyenv python3 earlier on PATH does not).
const Python = "/usr/bin/python3"

// inCI reports whether missing interop clients must fail the suite
// instead of skipping it (CI=true), so the suite cannot silently shrink.
func inCI() bool { return os.Getenv("CI") == "true" }

// missingClient skips the test locally and fails it in CI.
func missingClient(t testing.TB, what string, err error) {
	t.Helper()
	if inCI() {
		t.Fatalf("interop client %s is not available in CI: %v (.ci/run installs it)", what, err)
	}
	t.Skipf("interop client %s not installed (%v); skipping", what, err)
}

// RequireTool returns the path of an external program, skipping the test
// when it is not installed (failing it when CI=true).
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missingClient(t, name, err)
	}
	return p
}

// RequireLibtorrent skips (or, in CI, fails) the test unless
// python3-libtorrent can be imported by Python.
func RequireLibtorrent(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, Python, "-c", "import libtorrent").CombinedOutput()
	if err != nil {
		missingClient(t, "python3-libtorrent", fmt.Errorf("%v: %s", err, bytes.TrimSpace(out)))
	}
}

// ExtProc is an external program running in the background, bounded in
// time, with its output captured. It is stopped when the test ends.
type ExtProc struct {
	Name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

// StartExt starts name with args in dir (if not empty), killed after
// timeout at the latest. Stdout and stderr are captured together.
func StartExt(t testing.TB, timeout time.Duration, dir, name string, args ...string) *ExtProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGKILL) }
	p := &ExtProc{Name: filepath.Base(name), cmd: cmd, done: make(chan struct{})}
	w := &lockedWriter{mu: &p.mu, w: &p.out}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.Stdin = nil
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		cancel()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("output of %s %s:\n%s", p.Name, strings.Join(args, " "), lastLines(p.Output(), 40))
		}
	})
	return p
}

// Output is what the process printed so far.
func (p *ExtProc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Pid is the process id.
func (p *ExtProc) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *ExtProc) Done() <-chan struct{} { return p.done }

// Wait waits up to d for the process to exit and returns its exit code
// (-1 with an error when it did not exit in time or was killed).
func (p *ExtProc) Wait(d time.Duration) (int, error) {
	select {
	case <-p.done:
	case <-time.After(d):
		return -1, fmt.Errorf("%s still running after %s", p.Name, d)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode(), nil
	}
	if p.err != nil {
		return -1, p.err
	}
	return 0, nil
}

// Stop sends SIGTERM, waits up to 10 s, then kills.
func (p *ExtProc) Stop() {
	stopProcess(p.cmd.Process, p.done)
}

// lastLines returns at most the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// FreePort returns a TCP port that is free on ip right now, and only now:
// give it to a process through OnFreePort, which tries another port when
// the process finds it taken.
func FreePort(t testing.TB, ip string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("free port on %s: %v", ip, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WaitListening waits up to d until something accepts TCP on addr.
func WaitListening(t testing.TB, addr string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listening on %s after %s: %v", addr, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// StartOpentracker runs opentracker on 127.0.0.1 (HTTP and UDP on one
// port) with a whitelist of the given 40-hex infohashes (Debian builds it
// whitelist-only) and returns its HTTP announce URL. opentracker refuses
// to keep root, so it drops to nobody inside a world-readable chroot.
func StartOpentracker(t testing.TB, infohashes ...string) string {
	t.Helper()
	bin := RequireTool(t, "opentracker")
	dir, err := os.MkdirTemp("", "distswarm-tracker-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	wl := strings.Join(infohashes, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "whitelist.txt"), []byte(wl), 0o644); err != nil {
		t.Fatal(err)
	}
	var p *ExtProc
	port := OnFreePort(t, "127.0.0.1", func(port int) error {
		p = StartExt(t, 30*time.Minute, "", bin, "-i", "127.0.0.1", "-p", fmt.Sprint(port), "-P", fmt.Sprint(port),
			"-d", dir, "-u", "nobody", "-w", "whitelist.txt")
		if err := WaitOwnListener(p, "127.0.0.1", port, 10*time.Second); err != nil {
			p.Stop()
			return err
		}
		return nil
	})
	select {
	case <-p.Done():
		t.Fatalf("opentracker exited: %s", p.Output())
	default:
	}
	announce := fmt.Sprintf("http://127.0.0.1:%d/announce", port)
	if len(infohashes) > 0 {
		// opentracker reads its whitelist in a thread of its own, after it
		// listens: until then it refuses every announce.
		if err := waitWhitelisted(announce, infohashes[0], 30*time.Second); err != nil {
			t.Fatalf("opentracker: %v\n%s", err, p.Output())
		}
	}
	return announce
}

// waitWhitelisted announces the hex infohash to the tracker until it is
// answered with a peer list rather than a failure, for at most limit.
func waitWhitelisted(announce, infohash string, limit time.Duration) error {
	raw, err := hex.DecodeString(infohash)
	if err != nil {
		return fmt.Errorf("whitelist entry %q: %w", infohash, err)
	}
	u := announce + "?info_hash=" + url.QueryEscape(string(raw)) +
		"&peer_id=-DS0001-wlwait000000&port=9&uploaded=0&downloaded=0&left=0&compact=1&event=stopped"
	client := &http.Client{Timeout: 5 * time.Second}
	var last string
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		resp, err := client.Get(u)
		if err != nil {
			last = err.Error()
			continue
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if last = string(b); strings.Contains(last, "interval") {
			return nil
		}
	}
	return fmt.Errorf("whitelist not loaded within %v: last answer %q", limit, last)
}
