//go:build unix

package swarm

import "syscall"

// fetchMaxOpenFiles is the bound on the files a fetch's store keeps open: up to 4096, and at most
// half of the process's descriptor limit (which the Go runtime raises to the hard limit at start),
// leaving the rest to sockets. The library requests pieces in random order within 64 MiB of
// unverified data, so a collection of small files has thousands of files in flight, and a bound
// below that reopened a file for nearly every 16 KiB write (P2: 27% of the leecher's CPU).
func fetchMaxOpenFiles() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0 // the store's default
	}
	return int(min(lim.Cur/2, 4096))
}
