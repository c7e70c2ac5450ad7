// Package regfile opens regular files without registering them with the Go
// runtime's network poller.
//
// os.OpenFile on Linux puts every descriptor in non-blocking mode and offers
// it to epoll, which refuses regular files, and then puts it back: four
// fcntl calls and an epoll_ctl around each open. distswarm opens many small
// files (a 5,000-file fetch opens each staged file to write, to hash and to
// verify, and the seeder opens each to read); with [Open] each open is one
// openat and one fcntl, as with os.NewFile.
//
// A file opened here never uses the poller: deadlines do not apply to it,
// and a read that waits (a FIFO or a pipe given as a path, which `distswarm
// hash` accepts) blocks an OS thread instead of parking in the poller.
// Regular files never wait, so for them nothing changes.
package regfile

import "os"

// Open is os.OpenFile for regular files (see the package comment). Its
// errors are *os.PathError, as os.OpenFile's are.
func Open(name string, flag int, perm os.FileMode) (*os.File, error) {
	return open(name, flag, perm)
}
