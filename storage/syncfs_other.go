//go:build !linux

package storage

import "errors"

// errNoSyncFS says that this platform has no syncfs: the committer syncs file by file.
var errNoSyncFS = errors.New("syncfs is not available on this platform")

// syncFS is not available here; callers fall back to fsync per file and directory.
func syncFS(string) error { return errNoSyncFS }

// deviceOf is not available here, so that no batch relies on syncFS.
func deviceOf(string) (uint64, error) { return 0, errNoSyncFS }
