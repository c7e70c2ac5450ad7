package storage

import (
	"fmt"
	"os"

	"github.com/distswarm/distswarm/internal/regfile"
	"github.com/distswarm/distswarm/storage/layout"
)

// FileSystem is what the store asks of the filesystem to make a verified file durable, move it
// into place and keep its state db: the operations whose failures (a rename across filesystems,
// a failing syncfs or fsync, a state db that stops taking writes) the store must survive with
// nothing lost. Options.FS selects it; nil means OSFileSystem. Tests substitute one that fails
// on purpose.
type FileSystem interface {
	// Rename renames the file oldpath to newpath (os.Rename). EXDEV makes the store copy across.
	Rename(oldpath, newpath string) error
	// SyncFS makes every dirty page of the filesystem holding path durable (syncfs(2)). An
	// error makes the store fsync file by file and directory by directory instead.
	SyncFS(path string) error
	// Device returns the id (st_dev) of the filesystem holding path. The store syncs with one
	// SyncFS only files whose staging and final directories are on one device.
	Device(path string) (uint64, error)
	// SyncFile makes the file at path durable (fsync).
	SyncFile(path string) error
	// SyncDir makes the entries of directory dir durable (fsync of the directory).
	SyncDir(dir string) error
	// OpenDB opens a file of the state db, as os.OpenFile (bbolt's Options.OpenFile).
	OpenDB(name string, flag int, perm os.FileMode) (*os.File, error)
}

// OSFileSystem is the FileSystem of the operating system.
type OSFileSystem struct{}

// Rename is regfile.Rename: os.Rename without its lstat of newpath (the store renames files
// only).
func (OSFileSystem) Rename(oldpath, newpath string) error { return regfile.Rename(oldpath, newpath) }

// SyncFS is syncfs(2) on Linux; elsewhere it fails, and the store syncs file by file.
func (OSFileSystem) SyncFS(path string) error { return syncFS(path) }

// Device is st_dev of path on Linux; elsewhere it fails, so that no batch relies on SyncFS.
func (OSFileSystem) Device(path string) (uint64, error) { return deviceOf(path) }

// SyncFile opens path and fsyncs it.
func (OSFileSystem) SyncFile(path string) error {
	fh, err := regfile.Open(path, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("fsync: %w", err)
	}
	defer fh.Close()
	if err := fh.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	return nil
}

// SyncDir is layout.SyncDir.
func (OSFileSystem) SyncDir(dir string) error { return layout.SyncDir(dir) }

// OpenDB is os.OpenFile.
func (OSFileSystem) OpenDB(name string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag, perm)
}
