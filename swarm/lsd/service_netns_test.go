package lsd

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestTwoServicesDiscoverEachOther: two Services in two namespaces on one
// veth find each other's infohash and port over IPv4 and IPv6, never
// report themselves, and use the veth but not lo.
func TestTwoServicesDiscoverEachOther(t *testing.T) {
	l := newLAN(t, "two")
	ihA, ihB := hashN(10), hashN(11)
	t0 := time.Now()
	a := startHelper(t, l.nsA, "A", helperConfig{Port: 7001, Infohashes: []string{hexOf(ihA)}, Seconds: 40})
	b := startHelper(t, l.nsB, "B", helperConfig{Port: 7002, Infohashes: []string{hexOf(ihB)}, Seconds: 40})
	for _, p := range []*proc{a, b} {
		if ev := waitStarted(t, p); strings.Join(ev.Interfaces, ",") != map[*proc]string{a: l.ifA, b: l.ifB}[p] {
			t.Fatalf("%s uses interfaces %v, want only its veth (not lo)", p.name, ev.Interfaces)
		}
	}
	checks := []struct {
		p    *proc
		ih   string
		addr string
	}{
		{b, hexOf(ihA), l.ipA + ":7001"},
		{a, hexOf(ihB), l.ipB + ":7002"},
		{b, hexOf(ihA), "[" + l.ip6A + "]:7001"},
		{a, hexOf(ihB), "[" + l.ip6B + "]:7002"},
	}
	for _, c := range checks {
		ev := waitFor(t, c.p, 25*time.Second, "peer "+c.addr, func(e helperEvent) bool {
			return e.Event == "peer" && e.Infohash == c.ih && e.Addr == c.addr
		})
		t.Logf("%s heard %s after %d ms (test start to here: %s)", c.p.name, c.addr, ev.ElapsedMS, time.Since(t0).Round(time.Millisecond))
	}
	for _, p := range []*proc{a, b} {
		own := map[*proc]string{a: ":7001", b: ":7002"}[p]
		for _, e := range peerEvents(p) {
			if strings.HasSuffix(e.Addr, own) {
				t.Errorf("%s reported its own announce: %+v", p.name, e)
			}
		}
	}
}

// TestLateJoinerAnswered: A announced once, long before B starts, and
// would not again for an hour; B's burst makes A answer at once, so B
// learns A in about a second (the late joiner of a LAN event).
func TestLateJoinerAnswered(t *testing.T) {
	l := newLAN(t, "late")
	ih := hashN(30)
	a := startHelper(t, l.nsA, "A", helperConfig{Port: 7201, Infohashes: []string{hexOf(ih)}, NoIPv6: true,
		BurstMS: []int{0}, IntervalS: 3600, Seconds: 40})
	waitStarted(t, a)
	// A's only announce has gone, to nobody, more than replyGap ago
	time.Sleep(replyGap + time.Second)
	b := startHelper(t, l.nsB, "B", helperConfig{Port: 7202, Infohashes: []string{hexOf(ih)}, NoIPv6: true,
		BurstMS: []int{0}, IntervalS: 3600, Seconds: 40})
	waitStarted(t, b)
	ev := waitFor(t, b, 20*time.Second, "A's answer", func(e helperEvent) bool {
		return e.Event == "peer" && e.Addr == l.ipA+":7201"
	})
	t.Logf("late joiner heard the earlier node after %d ms", ev.ElapsedMS)
}

// TestInterfaceComingUp: two Services start with no suitable interface
// (the cable not yet plugged in); when the link comes up they join it,
// announce there and find each other, without a restart.
func TestInterfaceComingUp(t *testing.T) {
	l := newUnlinkedLAN(t, "up")
	ih := hashN(40)
	var ps []*proc
	for i, ns := range []string{l.nsA, l.nsB} {
		p := startHelper(t, ns, []string{"A", "B"}[i], helperConfig{Port: 7301 + i, Infohashes: []string{hexOf(ih)},
			RefreshMS: 300, IntervalS: 3600, Seconds: 40})
		if ev := waitStarted(t, p); len(ev.Interfaces) != 0 {
			t.Fatalf("%s started on %v before any link existed", p.name, ev.Interfaces)
		}
		ps = append(ps, p)
	}
	time.Sleep(8 * time.Second) // the start-up bursts are over, sent nowhere
	t0 := time.Now()
	l.link(t)
	waitFor(t, ps[1], 20*time.Second, "A on the new link", func(e helperEvent) bool {
		return e.Event == "peer" && e.Addr == l.ipA+":7301"
	})
	waitFor(t, ps[0], 20*time.Second, "B on the new link", func(e helperEvent) bool {
		return e.Event == "peer" && e.Addr == l.ipB+":7302"
	})
	t.Logf("link up to both found: %s", time.Since(t0).Round(time.Millisecond))
}

// TestLoopbackWhenNamed: loopback is never chosen by default, but named
// explicitly it works, and two Services on one machine hear each other
// (multicast looped back) while each ignores its own announces by cookie.
func TestLoopbackWhenNamed(t *testing.T) {
	ns := newNamespace(t, "dslsdLo"+pidTag())
	ih1, ih2 := hashN(20), hashN(21)
	one := startHelper(t, ns, "one", helperConfig{Port: 7101, Infohashes: []string{hexOf(ih1)}, Interfaces: []string{"lo"}, NoIPv6: true, Seconds: 30})
	two := startHelper(t, ns, "two", helperConfig{Port: 7102, Infohashes: []string{hexOf(ih2)}, Interfaces: []string{"lo"}, NoIPv6: true, Seconds: 30})
	waitStarted(t, one)
	waitStarted(t, two)
	ev := waitFor(t, two, 20*time.Second, "peer one", func(e helperEvent) bool {
		return e.Event == "peer" && e.Infohash == hexOf(ih1) && e.Addr == "127.0.0.1:7101"
	})
	t.Logf("same machine, lo: first peer after %d ms", ev.ElapsedMS)
	waitFor(t, one, 20*time.Second, "peer two", func(e helperEvent) bool {
		return e.Event == "peer" && e.Infohash == hexOf(ih2) && e.Addr == "127.0.0.1:7102"
	})
	// let the burst at 3 s pass: the own announces looped back by then
	time.Sleep(4 * time.Second)
	for _, e := range peerEvents(one) {
		if e.Addr == "127.0.0.1:7101" {
			t.Errorf("one reported its own announce: %+v", e)
		}
	}
	// default choice in a namespace with only lo: nothing suitable, it
	// starts and waits for an interface
	idle := startHelper(t, ns, "idle", helperConfig{Port: 7103, Infohashes: []string{hexOf(ih1)}, NoIPv6: true, Seconds: 10})
	if ev := waitStarted(t, idle); len(ev.Interfaces) != 0 {
		t.Fatalf("default choice took %v; loopback must be named to be used", ev.Interfaces)
	}
}

func pidTag() string { return fmt.Sprint(os.Getpid() % 100000) }
