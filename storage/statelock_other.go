//go:build !unix

package storage

import "os"

// flockExclusive relies on bbolt's own lock where flock does not exist.
func flockExclusive(*os.File) error { return nil }
