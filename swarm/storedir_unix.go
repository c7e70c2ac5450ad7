//go:build unix

package swarm

import (
	"os"

	"golang.org/x/sys/unix"
)

// writableDir reports whether p is a directory in which the calling
// process (its effective uid and groups) may create files.
func writableDir(p string) bool {
	fi, err := os.Stat(p)
	if err != nil || !fi.IsDir() {
		return false
	}
	return unix.Faccessat(unix.AT_FDCWD, p, unix.W_OK|unix.X_OK, unix.AT_EACCESS) == nil
}
