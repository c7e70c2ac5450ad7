package main

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distswarm/distswarm/internal/testbin"
	"golang.org/x/crypto/blake2b"
)

// binary is the distswarm executable built once for the CLI tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "distswarm-cli-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binary = filepath.Join(dir, "distswarm")
	if err := testbin.Build(".", ".", binary, testbin.SuiteCLI); err != nil {
		fmt.Fprintf(os.Stderr, "build distswarm: %v\n", err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	// Bounded: a command that should fail fast but serves forever (seed)
	// fails the test instead of hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("distswarm %v still running after a minute:\n%s", args, e.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	if strings.Contains(e.String(), "goroutine ") || strings.Contains(e.String(), "panic:") || strings.Contains(e.String(), testbin.RaceReport) {
		t.Fatalf("distswarm %v crashed:\n%s", args, e.String())
	}
	return result{code, o.String(), e.String()}
}

// distLine builds a DIST line with digests computed independently of the
// code under test.
func distLine(name string, data []byte) string {
	b := blake2b.Sum512(data)
	s := sha512.Sum512(data)
	return fmt.Sprintf("DIST %s %d BLAKE2B %s SHA512 %s", name, len(data), hex.EncodeToString(b[:]), hex.EncodeToString(s[:]))
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fixture: a distdir with a correct flat file, a correct nested file (GLEP
// 75 default layout), a truncated file, a corrupted file and a missing one.
func fixture(t *testing.T) (distdir, manifestPath string) {
	t.Helper()
	distdir = t.TempDir()
	files := map[string][]byte{
		"good-1.tar.gz":     bytes.Repeat([]byte("good"), 1000),
		"which-2.23.tar.gz": []byte("nested content"),
		"trunc-1.tar.xz":    bytes.Repeat([]byte{7}, 5000),
		"corrupt-1.tar.bz2": bytes.Repeat([]byte{9}, 3000),
		"missing-1.zip":     []byte("never on disk"),
	}
	var lines []string
	for _, name := range []string{"corrupt-1.tar.bz2", "good-1.tar.gz", "missing-1.zip", "trunc-1.tar.xz", "which-2.23.tar.gz"} {
		lines = append(lines, distLine(name, files[name]))
	}
	write(t, filepath.Join(distdir, "good-1.tar.gz"), files["good-1.tar.gz"])
	write(t, filepath.Join(distdir, "80", "which-2.23.tar.gz"), files["which-2.23.tar.gz"]) // BLAKE2B("which-2.23.tar.gz") starts 80
	write(t, filepath.Join(distdir, "trunc-1.tar.xz"), files["trunc-1.tar.xz"][:4000])
	bad := bytes.Clone(files["corrupt-1.tar.bz2"])
	bad[1500] ^= 0xff
	write(t, filepath.Join(distdir, "corrupt-1.tar.bz2"), bad)
	manifestPath = filepath.Join(t.TempDir(), "Manifest")
	write(t, manifestPath, []byte(strings.Join(lines, "\n")+"\n"))
	return distdir, manifestPath
}

func TestManifestVerifyReportsEachProblem(t *testing.T) {
	distdir, mf := fixture(t)
	r := runCLI(t, "", "manifest", "verify", "--distdir", distdir, mf)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 problem lines, got %d:\n%s", len(lines), r.stdout)
	}
	wants := []string{
		mf + ":1: corrupt-1.tar.bz2: BLAKE2B mismatch",
		mf + ":3: missing-1.zip: missing from " + distdir,
		mf + ":4: trunc-1.tar.xz: size 4000, want 5000",
	}
	for i, w := range wants {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want prefix %q", i+1, lines[i], w)
		}
	}
	if !strings.Contains(r.stderr, "2 verified") || !strings.Contains(r.stderr, "2 failed") || !strings.Contains(r.stderr, "1 missing") {
		t.Errorf("summary missing or wrong: %q", r.stderr)
	}
}

func TestManifestVerifyAllGood(t *testing.T) {
	distdir, mf := fixture(t)
	// Keep only the two good entries.
	data, _ := os.ReadFile(mf)
	var keep []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, "good-1") || strings.Contains(l, "which-2.23") {
			keep = append(keep, l)
		}
	}
	write(t, mf, []byte(strings.Join(keep, "\n")+"\n"))
	r := runCLI(t, "", "manifest", "verify", "--distdir", distdir, mf)
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestManifestVerifyIgnoreMissingAndJSON(t *testing.T) {
	distdir, mf := fixture(t)
	data, _ := os.ReadFile(mf)
	var keep []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, "good-1") || strings.Contains(l, "missing-1") {
			keep = append(keep, l)
		}
	}
	write(t, mf, []byte(strings.Join(keep, "\n")+"\n"))
	if r := runCLI(t, "", "manifest", "verify", "--distdir", distdir, mf); r.code != 1 {
		t.Fatalf("missing file without --ignore-missing: exit %d", r.code)
	}
	r := runCLI(t, "", "manifest", "verify", "--ignore-missing", "--json", "--distdir", distdir, mf)
	if r.code != 0 {
		t.Fatalf("--ignore-missing: exit %d, stderr %s", r.code, r.stderr)
	}
	statuses := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var o verifyOutcome
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			t.Fatalf("bad json line %q: %v", l, err)
		}
		statuses[o.Name] = o.Status
	}
	if statuses["good-1.tar.gz"] != "ok" || statuses["missing-1.zip"] != "missing" {
		t.Errorf("json statuses %v", statuses)
	}
}

func TestManifestParseErrorsExit2WithFileAndLine(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "Manifest")
	write(t, bad, []byte(distLine("ok.tar.gz", []byte("abc"))+"\nDIST broken.tar.gz 3 SHA512\n"))
	for _, args := range [][]string{
		{"manifest", "verify", "--distdir", dir, bad},
		{"manifest", "check", bad},
	} {
		r := runCLI(t, "", args...)
		if r.code != 2 || !strings.Contains(r.stderr, bad+":2:") {
			t.Errorf("%v: exit %d stderr %q, want exit 2 naming %s:2", args, r.code, r.stderr, bad)
		}
	}
	r := runCLI(t, "", "manifest", "check", "testdata/zstd.Manifest")
	if r.code != 0 || !strings.Contains(r.stdout, "ok") {
		t.Errorf("check real Manifest: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, "", "manifest", "verify", "--distdir", filepath.Join(dir, "nope"), bad); r.code != 2 {
		t.Errorf("nonexistent distdir: exit %d, want 2", r.code)
	}
	if r := runCLI(t, "", "manifest", "verify", "--no-such-flag"); r.code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", r.code)
	}
}

func TestHashPrintsVerifiableDistLine(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte("distswarm"), 12345)
	p := filepath.Join(dir, "pkg-1.0.tar.gz")
	write(t, p, data)
	r := runCLI(t, "", "hash", p)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if got, want := strings.TrimSpace(r.stdout), distLine("pkg-1.0.tar.gz", data); got != want {
		t.Fatalf("hash line\n got %s\nwant %s", got, want)
	}
	if r := runCLI(t, "", "hash", filepath.Join(dir, "absent")); r.code != 1 || !strings.Contains(r.stderr, "absent") {
		t.Errorf("missing file: exit %d stderr %q", r.code, r.stderr)
	}
	if r := runCLI(t, ""); r.code != 0 {
		t.Errorf("no args (help): exit %d", r.code)
	}
}

func TestLayoutPathArgsAndStdinUntrimmed(t *testing.T) {
	r := runCLI(t, "", "layout", "path", "--spec", "filename-hash BLAKE2B 8", "foo-1.tar.gz", "which-2.23.tar.gz")
	if r.code != 0 || r.stdout != "1b/foo-1.tar.gz\n80/which-2.23.tar.gz\n" {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	// Standard input: one name per line, hashed byte-exact. " foo-1.tar.gz"
	// (leading space) must not be trimmed into foo-1.tar.gz.
	r = runCLI(t, "foo-1.tar.gz\n foo-1.tar.gz\nwhich-2.23.tar.gz", "layout", "path", "--spec", "filename-hash SHA1 8:16")
	lines := strings.Split(r.stdout, "\n")
	if r.code != 0 || len(lines) != 4 || lines[0] != "19/c3b6/foo-1.tar.gz" || !strings.HasSuffix(lines[1], "/ foo-1.tar.gz") || strings.HasPrefix(lines[1], "19/c3b6/") {
		t.Fatalf("stdin: exit %d stdout %q", r.code, r.stdout)
	}
	// content-hash: the input is the digest.
	empty := "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
	r = runCLI(t, "", "layout", "path", "--spec", "content-hash SHA512 8:16:24", empty)
	if r.code != 0 || r.stdout != "cf/83e1/357eef/"+empty+"\n" {
		t.Fatalf("content-hash: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	// layout.conf
	conf := filepath.Join(t.TempDir(), "layout.conf")
	write(t, conf, []byte("[structure]\n0=filename-hash BLAKE2B 8:8\n1=flat\n"))
	r = runCLI(t, "", "layout", "path", "--layout-conf", conf, "which-2.23.tar.gz")
	if r.code != 0 || r.stdout != "80/0b/which-2.23.tar.gz\n" {
		t.Fatalf("layout-conf: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	for _, bad := range [][]string{
		{"layout", "path", "--spec", "filename-hash blake2b 8", "x"},
		{"layout", "path", "--spec", "filename-hash BLAKE2B 3", "x"},
		{"layout", "path", "--spec", "nonsense", "x"},
		{"layout", "path", "x"},
	} {
		if r := runCLI(t, "", bad...); r.code != 2 || r.stderr == "" {
			t.Errorf("%v: exit %d stderr %q, want 2 with a message", bad, r.code, r.stderr)
		}
	}
}

func TestLayoutFindAndMigrate(t *testing.T) {
	dir := t.TempDir()
	names := []string{"foo-1.tar.gz", "which-2.23.tar.gz", "café-1.0.tar.gz"}
	for _, n := range names {
		write(t, filepath.Join(dir, n), []byte("content of "+n))
	}
	r := runCLI(t, "", "layout", "migrate", "--distdir", dir, "--dry-run")
	if r.code != 0 || strings.Count(r.stdout, "\n") != 3 {
		t.Fatalf("dry-run: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "foo-1.tar.gz")); err != nil {
		t.Fatalf("dry-run moved a file: %v", err)
	}
	if r := runCLI(t, "", "layout", "migrate", "--distdir", dir); r.code != 0 {
		t.Fatalf("migrate: exit %d stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "1b", "foo-1.tar.gz")); err != nil {
		t.Fatalf("not at GLEP 75 path: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "layout.conf")); err != nil {
		t.Fatalf("layout.conf not written: %v", err)
	}
	// Idempotent.
	if r := runCLI(t, "", "layout", "migrate", "--distdir", dir); r.code != 0 || !strings.Contains(r.stderr, "moved 0") {
		t.Fatalf("second migrate: exit %d stderr %q", r.code, r.stderr)
	}
	r = runCLI(t, "", "layout", "find", "--distdir", dir, "which-2.23.tar.gz", "café-1.0.tar.gz", "absent.tar.gz")
	if r.code != 1 || !strings.Contains(r.stdout, filepath.Join(dir, "80", "which-2.23.tar.gz")) || !strings.Contains(r.stderr, "absent.tar.gz") {
		t.Fatalf("find: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	for _, n := range names {
		r := runCLI(t, "", "layout", "find", "--distdir", dir, n)
		got, err := os.ReadFile(strings.TrimSpace(r.stdout))
		if err != nil || string(got) != "content of "+n {
			t.Errorf("find %s after migrate: %q %v", n, got, err)
		}
	}
}

// seed --from a directory that does not exist (or a file) is a usage
// error naming it, not a seeder that quietly serves nothing.
func TestSeedFromMissingDirIsUsageError(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	write(t, file, []byte("x"))
	src := filepath.Join(dir, "src")
	write(t, filepath.Join(src, "foo-1.tar.gz"), []byte("foo"))
	torrent := filepath.Join(dir, "c.torrent")
	if r := runCLI(t, "", "collection", "create", "--from", src, "--out", torrent); r.code != 0 {
		t.Fatalf("create: exit %d %s", r.code, r.stderr)
	}
	for _, from := range []string{filepath.Join(dir, "nope"), file} {
		// With a collection given, this used to start seeding nothing.
		r := runCLI(t, "", "seed", "--offline", "--listen", "127.0.0.1:0", "--store", filepath.Join(dir, "store"), "--from", from, torrent)
		if r.code != 2 || !strings.Contains(r.stderr, from) {
			t.Errorf("seed --from %s: exit %d stderr %q, want exit 2 naming it", from, r.code, r.stderr)
		}
	}
}

// TestBinaryRaceBuild: the binary under test has the race detector exactly
// when DISTSWARM_RACE asks for it for the CLI tests (testbin).
func TestBinaryRaceBuild(t *testing.T) {
	out, err := exec.Command("go", "version", "-m", binary).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, out)
	}
	if got, want := strings.Contains(string(out), "-race=true"), testbin.Race(testbin.SuiteCLI); got != want {
		t.Errorf("binary built with -race: %v, want %v (%s=%q)", got, want, testbin.RaceEnv, os.Getenv(testbin.RaceEnv))
	}
}
