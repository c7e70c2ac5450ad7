//go:build unix

package lsd

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// reuseAddr lets several programs on one machine (another distswarm,
// libtorrent, Transmission) bind the BEP 14 port together, as they all do.
func reuseAddr(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
