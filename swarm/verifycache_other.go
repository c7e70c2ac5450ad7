//go:build !linux

package swarm

// identify has no portable ctime: no file is ever taken as verified before.
func identify(string) (fileID, bool) { return fileID{}, false }
