//go:build !linux

package storage

import bolt "go.etcd.io/bbolt"

// dropResident is a no-op where MADV_DONTNEED is not used.
func dropResident(*bolt.DB) error { return nil }
