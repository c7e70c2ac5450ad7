package storage

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// stateLock is an exclusive flock on STORE/.distswarm/state.db.lock, held
// by the one process that has the store's state db open.
type stateLock struct{ f *os.File }

// lockStateFile takes the lock at path without waiting: ErrLocked when
// another process holds it.
func lockStateFile(path string) (*stateLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, fmt.Errorf("state db lock: %w", err)
	}
	if err := flockExclusive(f); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &stateLock{f: f}, nil
}

// Close releases the lock.
func (l *stateLock) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	return l.f.Close()
}
