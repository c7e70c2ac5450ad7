package integration

// Ports for processes that must be told their port in advance. FreePort
// can only say which port is free now: the port is free again once it
// returns, and any other process (a distswarm of this test binding :0, a
// test of another package run in parallel) may take it before the process
// it is meant for binds it. OnFreePort picks another port when that
// happens, so a collision costs a retry instead of failing the test.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// errPortTaken says a process could not bind the port it was given:
// another process took it after FreePort freed it.
var errPortTaken = errors.New("port taken by another process")

// portTries bounds how many ports OnFreePort tries.
const portTries = 5

// OnFreePort calls start with a port that is free on ip right now and
// returns that port once start succeeds. start returns an error wrapping
// errPortTaken when its process found the port taken; OnFreePort then
// tries another port, at most portTries in all. Any other error fails the
// test.
func OnFreePort(t testing.TB, ip string, start func(port int) error) int {
	t.Helper()
	var err error
	for range portTries {
		port := FreePort(t, ip)
		if err = start(port); err == nil {
			return port
		}
		if !errors.Is(err, errPortTaken) {
			t.Fatalf("port %d on %s: %v", port, ip, err)
		}
		t.Logf("port %d on %s: %v; trying another port", port, ip, err)
	}
	t.Fatalf("no port on %s after %d tries: %v", ip, portTries, err)
	return 0
}

// addrInUse reports whether a process's output says its bind failed
// because the address was in use (Go, opentracker, Transmission and
// aria2 all print strerror(EADDRINUSE)).
func addrInUse(output string) bool {
	return strings.Contains(strings.ToLower(output), "address already in use")
}

// WaitOwnListener waits up to d until p listens on TCP ip:port. It returns
// an error wrapping errPortTaken when another process listens there, or
// when p says (or exits saying) the address is in use, and another error
// when p exits or is not listening in time.
func WaitOwnListener(p *ExtProc, ip string, port int, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		owner, err := listenerOwner(ip, port, p.Pid())
		switch {
		case err != nil:
			return err
		case owner == ownerSelf:
			return nil
		case owner == ownerOther:
			return fmt.Errorf("%s:%d: %w", ip, port, errPortTaken)
		case addrInUse(p.Output()):
			return fmt.Errorf("%s: %s: %w", p.Name, lastLines(p.Output(), 3), errPortTaken)
		}
		select {
		case <-p.Done():
			return fmt.Errorf("%s exited before it listened on %s:%d: %s", p.Name, ip, port, lastLines(p.Output(), 10))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening on %s:%d after %s: %s", p.Name, ip, port, d, lastLines(p.Output(), 10))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// owner says who holds a listening socket.
type owner int

const (
	ownerNone  owner = iota // nobody listens
	ownerSelf               // the process asked about listens
	ownerOther              // another process listens
)

// listenerOwner says whether process pid, another process or nobody
// listens on TCP ip:port (or on 0.0.0.0:port, which holds it too), from
// /proc/net/tcp and the sockets among /proc/PID/fd. When pid's descriptors
// cannot be read (another user's process, tests not run as root) any
// listener counts as pid's, as a plain connect test would.
func listenerOwner(ip string, port, pid int) (owner, error) {
	inodes, err := listeningInodes(ip, port)
	if err != nil || len(inodes) == 0 {
		return ownerNone, err
	}
	mine, err := socketInodes(pid)
	if err != nil {
		return ownerSelf, nil
	}
	for _, ino := range inodes {
		if mine[ino] {
			return ownerSelf, nil
		}
	}
	return ownerOther, nil
}

// listeningInodes returns the inodes of the IPv4 TCP sockets in LISTEN
// state on ip:port or 0.0.0.0:port, from /proc/net/tcp.
func listeningInodes(ip string, port int) ([]string, error) {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return nil, fmt.Errorf("read listening sockets: %w", err)
	}
	defer f.Close()
	want := map[string]bool{procAddr(net.ParseIP(ip), port): true, procAddr(net.IPv4zero, port): true}
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fields := strings.Fields(sc.Text())
		if len(fields) >= 10 && want[fields[1]] && fields[3] == "0A" {
			out = append(out, fields[9])
		}
	}
	return out, sc.Err()
}

// procAddr is ip:port as /proc/net/tcp writes it: the IPv4 address as a
// host-order (little-endian here) 32-bit word in hex, the port in hex.
func procAddr(ip net.IP, port int) string {
	v4 := ip.To4()
	return fmt.Sprintf("%02X%02X%02X%02X:%04X", v4[3], v4[2], v4[1], v4[0], port)
}

// socketInodes returns the inodes of the sockets process pid holds.
func socketInodes(pid int) (map[string]bool, error) {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("descriptors of %d: %w", pid, err)
	}
	out := map[string]bool{}
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join(dir, e.Name()))
		if ino, ok := strings.CutPrefix(l, "socket:["); err == nil && ok {
			out[strings.TrimSuffix(ino, "]")] = true
		}
	}
	return out, nil
}

// GatedProxy holds a TCP port on 127.0.0.1 for a peer that starts later,
// so the port can be given out before that peer runs, with no race for
// it. Until Open it accepts and at once resets every connection, as a host
// where nothing listens yet would refuse it; after Open it forwards each
// new connection to the peer. It is closed when the test ends.
type GatedProxy struct {
	ln     net.Listener
	target atomic.Pointer[string]
	down   atomic.Pointer[rate.Limiter] // see Throttle
}

// NewGatedProxy listens on 127.0.0.1:0 and serves until the test ends.
func NewGatedProxy(t testing.TB) *GatedProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("gated proxy: %v", err)
	}
	g := &GatedProxy{ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() { defer wg.Done(); g.serve(&wg) }()
	return g
}

// Addr is the proxy's HOST:PORT, the address to give out for the peer.
func (g *GatedProxy) Addr() string { return g.ln.Addr().String() }

// Open forwards the connections accepted from now on to target.
func (g *GatedProxy) Open(target string) { g.target.Store(&target) }

// Throttle bounds what the connections accepted from now on carry from the
// target to the client, together, to bytesPerSec: a transfer on loopback
// then takes long enough to be caught in the middle on a fast machine.
func (g *GatedProxy) Throttle(bytesPerSec int) {
	g.down.Store(rate.NewLimiter(rate.Limit(bytesPerSec), throttleChunk))
}

// throttleChunk is the most a throttled connection writes at once.
const throttleChunk = 16 << 10

func (g *GatedProxy) serve(wg *sync.WaitGroup) {
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		target := g.target.Load()
		if target == nil {
			c.(*net.TCPConn).SetLinger(0) // RST, like a refused connection
			c.Close()
			continue
		}
		wg.Add(1)
		down := g.down.Load()
		go func() { defer wg.Done(); forward(c, *target, down) }()
	}
}

// forward copies between c and a new connection to target, both ways,
// until either side closes or fails; then it closes both. down, if not nil,
// paces what goes from target to c.
func forward(c net.Conn, target string, down *rate.Limiter) {
	defer c.Close()
	up, err := net.DialTimeout("tcp", target, 10*time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() {
		if down == nil {
			io.Copy(c, up)
		} else {
			copyPaced(c, up, down)
		}
		done <- struct{}{}
	}()
	<-done
}

// copyPaced copies src to dst in chunks of at most throttleChunk, each
// after waiting for lim. It stops at the first error.
func copyPaced(dst io.Writer, src io.Reader, lim *rate.Limiter) {
	buf := make([]byte, throttleChunk)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if lim.WaitN(context.Background(), n) != nil {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
