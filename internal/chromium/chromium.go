// Package chromium runs Debian's headless Chromium for browser tests of the
// status page: dump the DOM a page builds, save a screenshot as a test
// artifact, and find data- attributes in a dumped DOM.
//
// Every run is bounded by a timeout, gets a private profile directory and
// runs in its own process group, which is killed when the run ends. A
// missing browser skips the test, except under CI=true, where it fails.
package chromium

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// Path is where Debian's chromium package installs the browser.
const Path = "/usr/bin/chromium"

// Timeout bounds one browser run.
const Timeout = 90 * time.Second

// ArtifactsEnv names the directory test artifacts go to; by default
// integration/.work/artifacts in the repository (ignored by git).
const ArtifactsEnv = "DISTSWARM_ARTIFACTS"

// Require returns the browser's path. When it is not installed, the test is
// skipped, or fails under CI=true so the suite cannot silently shrink.
func Require(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(Path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing (apt-get install chromium; .ci/run installs it): %v", Path, err)
		}
		t.Skipf("%s is not installed (apt-get install chromium); skipping the browser test", Path)
	}
	return Path
}

// DumpDOM loads url and returns the serialized DOM after the load event.
func DumpDOM(t testing.TB, url string) string {
	t.Helper()
	out, err := run(t, "--dump-dom", url)
	if err != nil {
		t.Fatalf("chromium --dump-dom %s: %v", url, err)
	}
	return string(out)
}

// Screenshot saves a PNG of url rendered in a 1280x900 window to
// ArtifactDir(t)/name and returns its path.
func Screenshot(t testing.TB, url, name string) string {
	t.Helper()
	file := filepath.Join(ArtifactDir(t), name)
	if _, err := run(t, "--screenshot="+file, "--window-size=1280,900", url); err != nil {
		t.Fatalf("chromium --screenshot %s: %v", url, err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Size() == 0 {
		t.Fatalf("chromium wrote no screenshot at %s: %v", file, err)
	}
	t.Logf("screenshot: %s", file)
	return file
}

// ArtifactDir returns (creating it) the directory for test artifacts:
// $DISTSWARM_ARTIFACTS, else integration/.work/artifacts in the repository.
func ArtifactDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(ArtifactsEnv)
	if dir == "" {
		_, self, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(self), "..", "..", "integration", ".work", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifact directory: %v", err)
	}
	return dir
}

// run starts the browser headless with a private profile in its own process
// group and returns its stdout. The whole group is killed on return.
func run(t testing.TB, args ...string) ([]byte, error) {
	t.Helper()
	bin := Require(t)
	profile := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + profile}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+profile)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start chromium: %w", err)
	}
	err := cmd.Wait()
	// Helpers (zygote, GPU/network services) may outlive the browser.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if ctx.Err() != nil {
		return nil, fmt.Errorf("chromium timed out after %v: %w; stderr:\n%s", Timeout, ctx.Err(), tail(stderr.String()))
	}
	if err != nil {
		return nil, fmt.Errorf("chromium: %w; stderr:\n%s", err, tail(stderr.String()))
	}
	return stdout.Bytes(), nil
}

func tail(s string) string {
	const n = 4000
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// Element is one element of a parsed DOM that carries a searched attribute.
type Element struct {
	Tag   string
	Attrs map[string]string
	Text  string // concatenated text content, whitespace-trimmed
}

// FindAttr parses dom and returns every element that has the attribute
// attr, in document order.
func FindAttr(dom, attr string) ([]Element, error) {
	root, err := html.Parse(strings.NewReader(dom))
	if err != nil {
		return nil, fmt.Errorf("parse DOM: %w", err)
	}
	var found []Element
	for n := range root.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		attrs := map[string]string{}
		for _, a := range n.Attr {
			attrs[a.Key] = a.Val
		}
		if _, ok := attrs[attr]; ok {
			found = append(found, Element{Tag: n.Data, Attrs: attrs, Text: strings.TrimSpace(textOf(n))})
		}
	}
	return found, nil
}

// One returns the single element with attribute attr, or an error.
func One(dom, attr string) (Element, error) {
	els, err := FindAttr(dom, attr)
	if err != nil {
		return Element{}, err
	}
	if len(els) != 1 {
		return Element{}, fmt.Errorf("%d elements with attribute %s, want 1", len(els), attr)
	}
	return els[0], nil
}

func textOf(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}
