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
// A file opened here never uses the poller, so its reads and writes cannot
// be interrupted by deadlines. That is what regular files do anyway; do not
// use it for pipes, sockets or terminals.
package regfile

import "os"

// Open is os.OpenFile for regular files (see the package comment). Its
// errors are *os.PathError, as os.OpenFile's are.
func Open(name string, flag int, perm os.FileMode) (*os.File, error) {
	return open(name, flag, perm)
}
