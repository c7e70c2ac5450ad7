package main

// Hidden debugging aid, not a flag: with DISTSWARM_PPROF=127.0.0.1:6060 in
// the environment, distswarm serves net/http/pprof on that address (loopback
// only) for the life of the process, e.g.
//
//	DISTSWARM_PPROF=127.0.0.1:6060 distswarm seed ... &
//	go tool pprof -top -sample_index=inuse_space http://127.0.0.1:6060/debug/pprof/heap
//
// A non-loopback address is refused: the profiles expose file paths and
// memory contents.

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
)

const pprofEnv = "DISTSWARM_PPROF"

func init() {
	if addr := os.Getenv(pprofEnv); addr != "" {
		if err := startPprof(addr); err != nil {
			fmt.Fprintf(os.Stderr, "distswarm: %s: %v\n", pprofEnv, err)
		}
	}
}

// startPprof listens on addr (a loopback host:port) and serves the pprof
// handlers on their own mux, never on http.DefaultServeMux.
func startPprof(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%q is not a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go http.Serve(ln, mux)
	return nil
}
