// Command gatewayserve serves a store's distfiles through swarm/gateway's
// handler on a loopback address, backed by the files as they are (no swarm,
// no upstream): the gateway half of benchmark G1 until the daemon serves it.
// Prints "listening on PORT path /distfiles/REL" (REL is where the store's
// layout.conf puts -name) once it accepts connections.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/distswarm/distswarm/storage/layout"
	"github.com/distswarm/distswarm/swarm"
	"github.com/distswarm/distswarm/swarm/gateway"
)

// filesBackend serves what STORE/distfiles holds; a missing file is unknown.
type filesBackend struct {
	store, dir string
	conf       *layout.Config
	started    time.Time
	served     atomic.Int64
}

func (b *filesBackend) DistfilesDir() string { return b.dir }

func (b *filesBackend) DistfileRelPath(name string) string { return b.conf.Path(name, nil) }

func (b *filesBackend) Distfile(_ context.Context, name string) (string, error) {
	p := filepath.Join(b.dir, filepath.FromSlash(b.DistfileRelPath(name)))
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return "", fmt.Errorf("distfile %q: %w", name, errors.Join(fs.ErrNotExist, err))
	}
	return p, nil
}

func (b *filesBackend) Status() swarm.NodeStatus {
	return swarm.NodeStatus{Store: b.store, Started: b.started, Totals: swarm.ByteCounters{Served: b.served.Load()}}
}

func (b *filesBackend) CountServed(n int64) { b.served.Add(n) }

func main() {
	store := flag.String("store", "", "store directory (STORE/distfiles with layout.conf)")
	name := flag.String("name", "", "print the gateway path of this distfile")
	addr := flag.String("listen", "127.0.0.1:0", "listen address")
	flag.Parse()
	dir := filepath.Join(*store, "distfiles")
	conf, err := layout.LoadConfig(filepath.Join(dir, layout.ConfigName))
	if err != nil {
		log.Fatal(err)
	}
	b := &filesBackend{store: *store, dir: dir, conf: conf, started: time.Now()}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %d path /distfiles/%s\n", ln.Addr().(*net.TCPAddr).Port,
		layout.QuotePath(b.DistfileRelPath(*name)))
	log.Fatal(http.Serve(ln, gateway.New(b, gateway.Options{})))
}
