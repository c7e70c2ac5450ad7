//go:build !unix

package swarm

// fetchMaxOpenFiles is the bound on the files a fetch's store keeps open (see the unix version).
func fetchMaxOpenFiles() int { return 4096 }
