package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestListenerOwner: listenerOwner tells this process's listener from
// another process's, and a closed one from both.
func TestListenerOwner(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	other := exec.Command("sleep", "60")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Process.Kill(); other.Wait() })
	for _, c := range []struct {
		pid  int
		want owner
	}{{os.Getpid(), ownerSelf}, {other.Process.Pid, ownerOther}} {
		if got, err := listenerOwner("127.0.0.1", port, c.pid); err != nil || got != c.want {
			t.Errorf("listener of pid %d: owner %d (%v), want %d", c.pid, got, err, c.want)
		}
	}
	ln.Close()
	if got, err := listenerOwner("127.0.0.1", port, os.Getpid()); err != nil || got != ownerNone {
		t.Errorf("closed listener: owner %d (%v), want none", got, err)
	}
}

// TestGatedProxy: the proxy resets connections until it is opened, then
// carries bytes both ways to its target.
func TestGatedProxy(t *testing.T) {
	g := NewGatedProxy(t)
	if err := refused(g.Addr()); err != nil {
		t.Fatalf("closed gate: %v", err)
	}

	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			e, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(e, e); e.Close() }()
		}
	}()
	g.Open(echo.Addr().String())
	c, err := net.DialTimeout("tcp", g.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	msg := []byte("through the open gate")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("open gate: read %q (%v), want %q", got, err, msg)
	}
}

// refused returns nil when a connection to addr is reset at once, by the
// dial or by the first read, and an error saying what happened otherwise.
func refused(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		if os.IsTimeout(err) {
			return err
		}
		return nil
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := c.Read(make([]byte, 1))
	if err == nil || os.IsTimeout(err) {
		return fmt.Errorf("read %d bytes, err %v; want the connection reset", n, err)
	}
	return nil
}

// TestWaitOwnListenerTaken: a process whose port another process listens
// on is told apart (errPortTaken), and OnFreePort then tries another port.
func TestWaitOwnListenerTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().(*net.TCPAddr).Port
	var tried []int
	got := OnFreePort(t, "127.0.0.1", func(port int) error {
		tried = append(tried, port)
		if len(tried) > 1 {
			return nil
		}
		// As if another process had bound the port after FreePort.
		p := StartExt(t, time.Minute, "", "sleep", "60")
		defer p.Stop()
		err := WaitOwnListener(p, "127.0.0.1", taken, 10*time.Second)
		if !errors.Is(err, errPortTaken) {
			t.Errorf("port held by another process: %v, want errPortTaken", err)
		}
		return err
	})
	if len(tried) != 2 || got != tried[1] {
		t.Errorf("OnFreePort returned %d after trying %v, want the second port", got, tried)
	}
}

// TestGatedProxyThrottle: a throttled proxy carries every byte from its
// target, and no faster than its rate (a lower bound, which a busy machine
// cannot break).
func TestGatedProxyThrottle(t *testing.T) {
	const size, perSec = 1 << 20, 2 << 20
	src, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	payload := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	go func() {
		e, err := src.Accept()
		if err != nil {
			return
		}
		e.Write(payload)
		e.Close()
	}()
	g := NewGatedProxy(t)
	g.Throttle(perSec)
	g.Open(src.Addr().String())
	c, err := net.DialTimeout("tcp", g.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	start := time.Now()
	got, err := io.ReadAll(c)
	took := time.Since(start)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("read %d bytes (%v), want the %d sent", len(got), err, len(payload))
	}
	// The limiter's burst (one chunk) comes at once; the rest at the rate.
	if least := time.Duration(float64(size-throttleChunk) / perSec * float64(time.Second)); took < least {
		t.Fatalf("%d bytes through a %d B/s proxy in %s, want at least %s", size, perSec, took, least)
	}
	t.Logf("%d bytes in %s", size, took.Round(time.Millisecond))
}
