//go:build unix

package main

import (
	"os"
	"syscall"
)

// shareWithStoreGroup keeps what this process creates in the store at dir
// writable by the store's group, when the store is shared: a directory its
// group may write (install -d -o portage -g portage -m 2775) is used by
// root, the portage user (FEATURES=userfetch) and the daemon alike, and a
// directory or state db root created 0755/0644 would lock the others out.
// The process umask then lets group write through; the setgid bit of the
// store directory, inherited by the directories created in it, gives new
// files the store's group.
func shareWithStoreGroup(dir string) {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() || st.Mode().Perm()&0o020 == 0 {
		return
	}
	old := syscall.Umask(0o022)
	syscall.Umask(old &^ 0o020)
}
