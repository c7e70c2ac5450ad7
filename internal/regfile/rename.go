package regfile

import (
	"os"
	"syscall"
)

// Rename renames the regular file oldpath to newpath, replacing a file
// there, with one rename(2). os.Rename first lstats newpath, to refuse
// replacing a directory; for a file that check costs a syscall per rename
// and adds nothing, since rename(2) of a file over a directory fails with
// EISDIR anyway. Its errors are *os.LinkError, as os.Rename's are.
func Rename(oldpath, newpath string) error {
	for {
		err := syscall.Rename(oldpath, newpath)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
		}
		return nil
	}
}
