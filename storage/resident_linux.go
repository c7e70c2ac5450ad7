package storage

import (
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// dropResident removes the state db's mapped pages from the process's resident set. bbolt maps
// the file read-only and shared (MAP_SHARED, PROT_READ), so MADV_DONTNEED only drops this
// process's page table entries: the data stays in the page cache and a later access faults it
// back in, unchanged. Runs inside a read transaction, which keeps bbolt from remapping meanwhile.
func dropResident(db *bolt.DB) error {
	return db.View(func(tx *bolt.Tx) error {
		size := tx.Size() // ≤ the file size ≤ the mapping's size
		if size <= 0 {
			return nil
		}
		_, _, errno := syscall.Syscall(syscall.SYS_MADVISE, db.Info().Data, uintptr(size), syscall.MADV_DONTNEED)
		if errno != 0 {
			return errno
		}
		return nil
	})
}
