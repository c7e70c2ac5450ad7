//go:build !unix

package swarm

import "os"

// writableDir reports whether p is a directory that is not read-only.
func writableDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir() && fi.Mode().Perm()&0o200 != 0
}
