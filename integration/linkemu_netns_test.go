package integration

import (
	"bufio"
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pyEcho serves one TCP connection on ADDR PORT: it answers every byte
// with a byte, until the client closes.
const pyEcho = `
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
while c.recv(1):
    c.sendall(b"x")
`

// pyRTT connects to ADDR PORT (within 3 s) and prints the shortest of five
// one-byte round trips, in milliseconds.
const pyRTT = `
import socket, sys, time
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
best = 1e9
for _ in range(5):
    t = time.monotonic()
    c.sendall(b"y")
    c.recv(1)
    best = min(best, time.monotonic() - t)
print(round(best * 1000))
`

// TestLinkemuDelaysAndDrops: the link emulator that stands in for tc netem
// (TestLANLinkFaults, make bench's N2) delays what a host sends by the
// given time, and a link that loses everything carries nothing.
func TestLinkemuDelaysAndDrops(t *testing.T) {
	if _, err := exec.LookPath("/usr/bin/python3"); err != nil {
		t.Skip("needs /usr/bin/python3")
	}
	lan := newBridgeLAN(t, "emu")
	server, slow, dead := lan.addHost(), lan.addHost(), lan.addHost()
	lan.emulateLink(slow, 150*time.Millisecond, 0)
	lan.emulateLink(dead, 0, 100)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rtt := func(client lanHost, port int) (int, error) {
		srv := exec.CommandContext(ctx, "ip", "netns", "exec", server.ns, "/usr/bin/python3", "-c", pyEcho,
			server.ip, strconv.Itoa(port))
		out, err := srv.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
		if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "listening\n" {
			t.Fatalf("echo server: %q, %v", line, err)
		}
		b, err := exec.CommandContext(ctx, "ip", "netns", "exec", client.ns, "/usr/bin/python3", "-c", pyRTT,
			server.ip, strconv.Itoa(port)).CombinedOutput()
		if err != nil {
			return 0, err
		}
		return strconv.Atoi(strings.TrimSpace(string(b)))
	}
	direct, err := rtt(lan.hosts[0], 7001) // the server to itself: no emulated link
	if err != nil {
		t.Fatal(err)
	}
	delayed, err := rtt(slow, 7002)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("round trip %d ms on the host, %d ms over the link delayed 150 ms", direct, delayed)
	if delayed < 150 || delayed < direct+140 {
		t.Errorf("round trip over the delayed link %d ms, want >= 150 ms", delayed)
	}
	if ms, err := rtt(dead, 7003); err == nil {
		t.Errorf("a link that drops everything carried a round trip (%d ms)", ms)
	}
}
