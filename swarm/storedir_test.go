package swarm

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestDefaultStoreDir: the system store wins whenever it is a writable
// directory, whatever HOME says (Portage's userfetch sets HOME to a
// per-package temporary directory); otherwise a user gets their cache
// directory and root gets the system store to create.
func TestDefaultStoreDir(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("HOME", filepath.Join(t.TempDir(), "portage", "app-misc", "foo-1", "homedir"))
	userStore := filepath.Join(cache, "distswarm")
	const someUser = 250

	t.Run("system store writable", func(t *testing.T) {
		system := t.TempDir()
		for _, euid := range []int{0, someUser} {
			if got := defaultStoreDir(system, euid); got != system {
				t.Errorf("euid %d: got %s, want the system store %s", euid, got, system)
			}
		}
	})
	t.Run("system store missing", func(t *testing.T) {
		system := filepath.Join(t.TempDir(), "distswarm")
		if got := defaultStoreDir(system, someUser); got != userStore {
			t.Errorf("user: got %s, want %s", got, userStore)
		}
		if got := defaultStoreDir(system, 0); got != system {
			t.Errorf("root: got %s, want %s (root creates it)", got, system)
		}
	})
	t.Run("system store is a file", func(t *testing.T) {
		system := filepath.Join(t.TempDir(), "distswarm")
		if err := os.WriteFile(system, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if got := defaultStoreDir(system, someUser); got != userStore {
			t.Errorf("got %s, want %s", got, userStore)
		}
	})
	t.Run("system store read-only", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root may write to any directory: run as another user to test a read-only one")
		}
		system := t.TempDir()
		if err := os.Chmod(system, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(system, 0o755) })
		if got := defaultStoreDir(system, os.Geteuid()); got != userStore {
			t.Errorf("got %s, want %s", got, userStore)
		}
	})
}

// TestOpenDefaultStoreSaysWhatToDo: a default store that cannot be created
// fails with the cause and with how to provide one.
func TestOpenDefaultStoreSaysWhatToDo(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := OpenDefaultStore(filepath.Join(blocker, "distswarm"))
	if err == nil {
		t.Fatal("a store below a regular file was opened")
	}
	if !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("the cause is lost: %v", err)
	}
	for _, want := range []string{SystemStoreDir, "portage group", "--store"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q: %v", want, err)
		}
	}
}
