//go:build !unix

package main

// shareWithStoreGroup has nothing to do where there is no umask.
func shareWithStoreGroup(string) {}
