// Command tcpcount is a counting TCP relay for integration/bench: it
// accepts connections on a loopback address, relays each to -to, and on
// SIGTERM or SIGINT prints the bytes it carried each way, so a benchmark
// can set wire bytes (payload plus BitTorrent framing, requests and index
// files) against the payload.
//
//	tcpcount -to 127.0.0.1:6881
//
// Prints "listening on PORT" once it accepts connections and
// "to-target N from-target M" when stopped.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
)

// counter is an io.Writer that counts what passes through to w.
type counter struct {
	w io.Writer
	n *atomic.Int64
}

func (c counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

func main() {
	to := flag.String("to", "", "address to relay to (required)")
	addr := flag.String("listen", "127.0.0.1:0", "listen address")
	flag.Parse()
	if *to == "" {
		log.Fatal("tcpcount: -to ADDR is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %d\n", ln.Addr().(*net.TCPAddr).Port)
	var toTarget, fromTarget atomic.Int64
	var wg sync.WaitGroup
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			relay(ctx, c, *to, &toTarget, &fromTarget)
		}()
	}
	wg.Wait()
	fmt.Printf("to-target %d from-target %d\n", toTarget.Load(), fromTarget.Load())
}

// relay copies both ways until either side closes or ctx ends.
func relay(ctx context.Context, c net.Conn, to string, up, down *atomic.Int64) {
	defer c.Close()
	t, err := net.Dial("tcp", to)
	if err != nil {
		log.Printf("tcpcount: %v", err)
		return
	}
	defer t.Close()
	stop := context.AfterFunc(ctx, func() { c.Close(); t.Close() })
	defer stop()
	done := make(chan struct{}, 2)
	go func() { io.Copy(counter{t, up}, c); done <- struct{}{} }()
	go func() { io.Copy(counter{c, down}, t); done <- struct{}{} }()
	<-done
}
