package storage

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// syncFS makes every dirty page and inode of the filesystem holding path durable (syncfs(2)):
// one call for a whole batch of files instead of an fsync each.
func syncFS(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("syncfs: open %s: %w", path, err)
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return fmt.Errorf("syncfs %s: %w", path, err)
	}
	return nil
}

// deviceOf returns the id of the filesystem (st_dev) holding path.
func deviceOf(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("stat %s: %w", path, err)
	}
	return uint64(st.Dev), nil //nolint:unconvert // Dev's type differs between architectures
}
