// Command httpserve is the HTTP reference of integration/bench: Go's file
// server (sendfile, keep-alive) over one directory on a loopback address.
// Prints "listening on PORT" once it accepts connections.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
)

func main() {
	dir := flag.String("dir", ".", "directory to serve")
	addr := flag.String("listen", "127.0.0.1:0", "listen address")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %d\n", ln.Addr().(*net.TCPAddr).Port)
	log.Fatal(http.Serve(ln, http.FileServer(http.Dir(*dir))))
}
