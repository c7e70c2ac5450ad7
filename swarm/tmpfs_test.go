package swarm

import (
	"os"
	"os/exec"
	"testing"
)

// mountTmpfs mounts a tmpfs of size (e.g. "256k") on a new temporary directory and unmounts it
// when the test ends (lazily if it is still busy). It skips the test when not root.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() {
		if err := exec.Command("umount", mnt).Run(); err != nil {
			if out, err := exec.Command("umount", "-l", mnt).CombinedOutput(); err != nil {
				t.Errorf("umount -l %s: %v %s", mnt, err, out)
			}
		}
	})
	return mnt
}
