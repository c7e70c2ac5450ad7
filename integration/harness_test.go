package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/distswarm/distswarm/internal/testbin"
	"golang.org/x/crypto/blake2b"
)

// binary is the distswarm executable built once for all tests.
var binary string

// linkemu is integration/bench/linkemu, built with binary: the tests' links
// get their delay and loss from it where the kernel has no sch_netem.
var linkemu string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "distswarm-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// Portage runs FETCHCOMMAND as an unprivileged user (portage_harness_test.go).
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binary = filepath.Join(dir, "distswarm")
	_, self, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(self))
	if err := testbin.Build(root, "./cmd/distswarm", binary, testbin.SuiteIntegration); err != nil {
		fmt.Fprintf(os.Stderr, "build distswarm: %v\n", err)
		os.Exit(2)
	}
	linkemu = filepath.Join(dir, "linkemu")
	if err := testbin.Build(root, "./integration/bench/linkemu", linkemu, testbin.SuiteIntegration); err != nil {
		fmt.Fprintf(os.Stderr, "build linkemu: %v\n", err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// File is one generated distfile.
type File struct {
	Name string
	Data []byte
}

// Corpus writes deterministic pseudo-random files of the given sizes into
// dir (flat) and returns them in order.
func Corpus(t testing.TB, dir string, seed int64, sizes []int) []File {
	t.Helper()
	r := rand.New(rand.NewSource(seed))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := make([]File, len(sizes))
	for i, sz := range sizes {
		b := make([]byte, sz)
		r.Read(b)
		f := File{Name: fmt.Sprintf("dist%04d-%d.tar.gz", i, sz), Data: b}
		if err := os.WriteFile(filepath.Join(dir, f.Name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		files[i] = f
	}
	return files
}

// MixedSizes returns n sizes from 0 B to maxSize, many under 32 KiB.
func MixedSizes(n int, maxSize int, seed int64) []int {
	r := rand.New(rand.NewSource(seed))
	out := make([]int, n)
	for i := range out {
		switch {
		case i == 0:
			out[i] = 0
		case i%2 == 0:
			out[i] = 1 + r.Intn(32<<10)
		case i%7 == 0:
			out[i] = maxSize - r.Intn(1<<20)
		default:
			out[i] = r.Intn(maxSize / 4)
		}
	}
	return out
}

// DistLine is a Manifest DIST line computed independently of distswarm.
func DistLine(f File) string {
	b := blake2b.Sum512(f.Data)
	s := sha512.Sum512(f.Data)
	return fmt.Sprintf("DIST %s %d BLAKE2B %s SHA512 %s", f.Name, len(f.Data), hex.EncodeToString(b[:]), hex.EncodeToString(s[:]))
}

// WriteManifest writes a Manifest with the DIST lines of files and returns
// its path.
func WriteManifest(t testing.TB, dir string, files []File) string {
	t.Helper()
	var lines []string
	for _, f := range files {
		lines = append(lines, DistLine(f))
	}
	p := filepath.Join(dir, "Manifest")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// GLEP75Path is the default-layout path (filename-hash BLAKE2B 8) of a
// distfile in a store, computed independently of distswarm.
func GLEP75Path(store, name string) string {
	h := blake2b.Sum512([]byte(name))
	return filepath.Join(store, "distfiles", hex.EncodeToString(h[:1]), name)
}

// CheckPlaced asserts every file is at its GLEP 75 path in the store with
// exactly its content.
func CheckPlaced(t testing.TB, store string, files []File) {
	t.Helper()
	for _, f := range files {
		got, err := os.ReadFile(GLEP75Path(store, f.Name))
		if err != nil {
			t.Errorf("%s not placed: %v", f.Name, err)
			continue
		}
		if !bytes.Equal(got, f.Data) {
			t.Errorf("%s placed with wrong content (%d bytes, want %d)", f.Name, len(got), len(f.Data))
		}
	}
}

// Result of a finished command.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Run runs distswarm to completion with a deadline.
func Run(t testing.TB, timeout time.Duration, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run distswarm %v: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("distswarm %v did not finish within %s\nstderr:\n%s", args, timeout, e.String())
	}
	if strings.Contains(e.String(), "panic:") || strings.Contains(e.String(), "goroutine ") ||
		strings.Contains(e.String(), testbin.RaceReport) {
		t.Fatalf("distswarm %v crashed:\n%s", args, e.String())
	}
	return Result{code, o.String(), e.String()}
}

// Proc is a background distswarm process (a seeder).
type Proc struct {
	cmd    *exec.Cmd
	Port   int
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan struct{}
}

// StartSeeder starts `distswarm seed ARGS...` (add --listen 127.0.0.1:0
// --offline yourself or use SeedArgs) and waits until it reports its port.
// It is killed when the test ends.
func StartSeeder(t testing.TB, args ...string) *Proc {
	t.Helper()
	p, _ := startSeeder(t, 60*time.Second, args)
	return p
}

// Addr is the seeder's HOST:PORT on loopback.
func (p *Proc) Addr() string { return fmt.Sprintf("127.0.0.1:%d", p.Port) }

// Stderr returns what the process wrote to standard error so far.
func (p *Proc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// Stop interrupts the process and waits (bounded) for it to exit.
func (p *Proc) Stop() {
	stopProcess(p.cmd.Process, p.done)
}

// stopProcess sends SIGTERM to a process that has not exited yet (done is
// closed when it has), waits up to 10 s, then kills it.
func stopProcess(proc *os.Process, done <-chan struct{}) {
	select {
	case <-done:
		return
	default:
	}
	proc.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		proc.Kill()
		<-done
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// Loopback are the network flags every test process gets: loopback only,
// no DHT, no trackers. urfave/cli stops parsing flags at the first
// positional argument, so flags go before names and collections.
var Loopback = []string{"--listen", "127.0.0.1:0", "--offline"}

// Names returns the names of files.
func Names(files []File) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.Name
	}
	return out
}

// Pid is the process id of a background distswarm process.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

var readyLine = regexp.MustCompile(`seeding on port (\d+) \(ready in ([^)]+)\)`)

// StartSeederTimed is StartSeeder that also returns the start-up time the
// seeder reports on its "ready in" line. It waits up to 6 minutes: its user
// seeds 100,000 files, whose first check took 2 minutes on a busy 2-core
// machine.
func StartSeederTimed(t testing.TB, args ...string) (*Proc, time.Duration) {
	t.Helper()
	p, m := startCmdStall(t, 20*time.Minute, 2*time.Minute, readyLine, exec.Command(binary, append([]string{"seed"}, args...)...), args)
	fmt.Sscan(m[1], &p.Port)
	took, _ := time.ParseDuration(m[2])
	return p, took
}

// startSeeder starts `distswarm seed ARGS...`, waits up to wait for its
// ready line and returns the process (with its port) and the start-up
// time it reports.
func startSeeder(t testing.TB, wait time.Duration, args []string) (*Proc, time.Duration) {
	t.Helper()
	p, m := startProc(t, wait, readyLine, append([]string{"seed"}, args...))
	fmt.Sscan(m[1], &p.Port)
	took, _ := time.ParseDuration(m[2])
	return p, took
}

// startProc starts distswarm with args and waits up to wait for a line of
// its standard output that matches ready, whose submatches it returns. The
// process is stopped when the test ends.
func startProc(t testing.TB, wait time.Duration, ready *regexp.Regexp, args []string) (*Proc, []string) {
	t.Helper()
	return startCmd(t, wait, ready, exec.Command(binary, args...), args)
}

// startCmd is startProc for a prepared command (e.g. distswarm run in a
// network namespace by `ip netns exec`, which execs it: the PID stopped
// is distswarm's).
func startCmd(t testing.TB, wait time.Duration, ready *regexp.Regexp, cmd *exec.Cmd, args []string) (*Proc, []string) {
	t.Helper()
	return startCmdStall(t, wait, 0, ready, cmd, args)
}

// startCmdStall is startCmd that, when stall is positive, also gives up
// once the process has written nothing to standard error for stall: a
// long start (the first check of 100,000 files on a busy machine) may take
// its time as long as it reports progress.
func startCmdStall(t testing.TB, wait, stall time.Duration, ready *regexp.Regexp, cmd *exec.Cmd, args []string) (*Proc, []string) {
	t.Helper()
	p := &Proc{cmd: cmd, done: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop()
		if strings.Contains(p.Stderr(), testbin.RaceReport) {
			t.Errorf("distswarm %s: data race:\n%s", args[0], p.Stderr())
		}
	})
	readyc := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := ready.FindStringSubmatch(sc.Text()); m != nil {
				readyc <- m
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { cmd.Wait(); close(p.done) }()
	deadline := time.After(wait)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	seen, lastOutput := 0, time.Now()
	for {
		select {
		case m := <-readyc:
			return p, m
		case <-p.done:
			t.Fatalf("distswarm %s exited before it was ready: %s", args[0], p.Stderr())
		case <-deadline:
			t.Fatalf("distswarm %s not ready within %s: %s", args[0], wait, p.Stderr())
		case <-tick.C:
			if n := len(p.Stderr()); n != seen {
				seen, lastOutput = n, time.Now()
			} else if stall > 0 && time.Since(lastOutput) > stall {
				t.Fatalf("distswarm %s not ready and silent for %s: %s", args[0], stall, p.Stderr())
			}
		}
	}
}

// ProcStatus returns a field of /proc/PID/status (e.g. "VmHWM", "VmRSS"),
// such as "123456 kB", or "" when it cannot be read.
func ProcStatus(pid int, field string) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// RunBg is Run for goroutines other than the test's: it never calls
// t.Fatal. A timeout or a crash is returned as an error.
func RunBg(timeout time.Duration, args ...string) (Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		return Result{}, fmt.Errorf("run distswarm %v: %v", args, err)
	}
	res := Result{code, o.String(), e.String()}
	if ctx.Err() != nil {
		return res, fmt.Errorf("distswarm %v did not finish within %s\nstderr:\n%s", args, timeout, e.String())
	}
	if strings.Contains(e.String(), "panic:") || strings.Contains(e.String(), "goroutine ") ||
		strings.Contains(e.String(), testbin.RaceReport) {
		return res, fmt.Errorf("distswarm %v crashed:\n%s", args, e.String())
	}
	return res, nil
}

// RegularFiles returns the slash-separated paths, relative to dir, of
// every regular file below dir (none if dir does not exist), sorted.
func RegularFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && p == dir {
				return filepath.SkipDir
			}
			return err
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return out
}

// FetchArgs is `fetch` with the loopback flags, a store and the given
// options (which must all be flags); append names after it.
func FetchArgs(store string, opts ...string) []string {
	args := append([]string{"fetch"}, Loopback...)
	args = append(args, "--store", store)
	return append(args, opts...)
}
