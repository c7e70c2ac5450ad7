//go:build !unix

package lsd

import "syscall"

// reuseAddr is not set where SO_REUSEADDR is not the unix one: only one
// program then binds the BEP 14 port.
func reuseAddr(_, _ string, _ syscall.RawConn) error { return nil }
