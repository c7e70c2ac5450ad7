//go:build unix

package regfile

import (
	"os"
	"syscall"
)

const fdCloexec = syscall.FD_CLOEXEC

func fcntlGetFD(f *os.File) (int, error) {
	r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), syscall.F_GETFD, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}
