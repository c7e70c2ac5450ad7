package lsd

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// requireNetns skips (or fails, under CI=true) when network namespaces
// cannot be made here: they need root and iproute2.
func requireNetns(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root for network namespaces"
	} else if _, err := exec.LookPath("ip"); err != nil {
		why = "needs iproute2 (ip) for network namespaces"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: %s", why)
	}
	t.Skip(why)
}

// run runs a command, failing the test with its output if it fails.
func run(t *testing.T, argv ...string) {
	t.Helper()
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
}

// lan is two network namespaces joined by a veth pair, with IPv4 and
// IPv6 addresses (no duplicate address detection, so IPv6 works at once)
// and the multicast route Transmission-style clients need.
type lan struct {
	nsA, nsB   string
	ifA, ifB   string
	ipA, ipB   string
	ip6A, ip6B string
}

// newNamespace creates a namespace with lo up, deleted at cleanup.
func newNamespace(t *testing.T, name string) string {
	t.Helper()
	requireNetns(t)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ip netns add: %v\n%s", err, out)
		}
		t.Skipf("network namespaces unavailable here: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	return name
}

// newLAN creates the two namespaces of a test; tag keeps names apart
// between tests and between concurrent test processes.
func newLAN(t *testing.T, tag string) *lan {
	t.Helper()
	l := newUnlinkedLAN(t, tag)
	l.link(t)
	return l
}

// newUnlinkedLAN is newLAN without the veth pair: link adds it later.
func newUnlinkedLAN(t *testing.T, tag string) *lan {
	t.Helper()
	id := fmt.Sprintf("%s%d", tag, os.Getpid()%100000)
	sub := os.Getpid()%200 + 20
	return &lan{
		nsA: newNamespace(t, "dslsdA"+id), nsB: newNamespace(t, "dslsdB"+id),
		ifA: "la" + id, ifB: "lb" + id,
		ipA: fmt.Sprintf("10.231.%d.1", sub), ipB: fmt.Sprintf("10.231.%d.2", sub),
		ip6A: fmt.Sprintf("fd00:231:%d::1", sub), ip6B: fmt.Sprintf("fd00:231:%d::2", sub),
	}
}

// link creates the veth pair between the namespaces, up and addressed.
func (l *lan) link(t *testing.T) {
	t.Helper()
	run(t, "ip", "link", "add", l.ifA, "netns", l.nsA, "type", "veth", "peer", "name", l.ifB, "netns", l.nsB)
	l.configure(t, l.nsA, l.ifA, l.ipA, l.ip6A)
	l.configure(t, l.nsB, l.ifB, l.ipB, l.ip6B)
}

func (l *lan) configure(t *testing.T, ns, ifc, ip4, ip6 string) {
	t.Helper()
	// no DAD: the link-local address is usable the moment the link is up
	run(t, "ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf."+ifc+".accept_dad=0")
	run(t, "ip", "-n", ns, "addr", "add", ip4+"/24", "dev", ifc)
	run(t, "ip", "-n", ns, "-6", "addr", "add", ip6+"/64", "dev", ifc, "nodad")
	run(t, "ip", "-n", ns, "link", "set", ifc, "up")
	run(t, "ip", "-n", ns, "route", "add", "224.0.0.0/4", "dev", ifc)
}
