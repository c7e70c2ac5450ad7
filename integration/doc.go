// Package integration holds distswarm's end-to-end tests: the built binary
// run as separate processes (seeders, leechers) on 127.0.0.1, against real
// files, with faults (poisoned collections, corrupt peers, SIGKILL). Every
// process and wait is bounded in time and cleaned up. The DHT is always off.
package integration
