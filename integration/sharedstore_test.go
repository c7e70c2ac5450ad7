package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSharedStoreRootThenUnprivileged: a store made as the README says
// (group-writable, setgid) is first used by root, then by an unprivileged
// member of its group (Portage's FEATURES=userfetch) without a daemon. What
// root created (distfiles/ subdirectories, the state db, .partial) must not
// lock the second user out.
func TestSharedStoreRootThenUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root (CI runs as root)")
		}
		t.Skip("needs root to run a fetch as another user")
	}
	base, err := os.MkdirTemp("", "distswarm-shared-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(base, "src")
	files := Corpus(t, src, 41, []int{1000, 20000, 300000, 70000})
	torrent := filepath.Join(base, "c.torrent")
	if r := Run(t, time.Minute, "collection", "create", "--from", src, "--out", torrent); r.Code != 0 {
		t.Fatalf("create: %d %s", r.Code, r.Stderr)
	}
	mf := WriteManifest(t, base, files)
	chmodReadable(t, base)
	seeder := StartSeeder(t, append(Loopback, "--store", filepath.Join(base, "seed"), "--from", src, torrent)...)

	// install -d -o root -g nogroup -m 2775 STORE
	store := filepath.Join(base, "store")
	if err := os.Mkdir(store, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(store, 0, 65534); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(store, 0o2775|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	fetch := func(names ...string) []string {
		return append(FetchArgs(store, "--torrent", torrent, "--manifest", mf, "--peer", seeder.Addr(), "--timeout", "60s"), names...)
	}
	if r := Run(t, 90*time.Second, fetch(files[0].Name, files[1].Name)...); r.Code != 0 {
		t.Fatalf("fetch as root: exit %d\n%s", r.Code, r.Stderr)
	}
	// As nobody:nogroup, a member of the store's group only.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", binary}, fetch(files[2].Name, files[3].Name)...)
	cmd := exec.CommandContext(ctx, "setpriv", args...)
	cmd.Env = append(os.Environ(), "HOME=/nonexistent")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("fetch as nobody:nogroup after root used the store: %v\n%s\nstore:\n%s", err, stderr.String(), modes(t, store))
	}
	CheckPlaced(t, store, files)
}

// chmodReadable makes dir's tree readable by every user.
func chmodReadable(t *testing.T, dir string) {
	t.Helper()
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return os.Chmod(p, 0o755)
		}
		return os.Chmod(p, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// modes lists the modes and owners under dir, for a failure message.
func modes(t *testing.T, dir string) string {
	out, _ := exec.Command("find", dir, "-printf", "%M %u:%g %p\n").CombinedOutput()
	return strings.TrimSpace(string(out))
}
