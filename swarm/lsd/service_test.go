package lsd

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
)

// newTestService is a Service not started, with one interface (index 7)
// in use, recording what it reports.
func newTestService(t *testing.T, cfg Config) (*Service, *[]Peer) {
	t.Helper()
	var got []Peer
	cfg.Port = 6881
	cfg.OnPeer = func(p Peer) { got = append(got, p) }
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.ifaces = []lanInterface{{Interface: net.Interface{Index: 7, Name: "eth7"}, v4: true, v6: true}}
	return s, &got
}

func announceFrom(port int, cookie string, ihs ...metainfo.Hash) []byte {
	return MarshalAnnounces(false, port, cookie, ihs)[0]
}

var lanSrc = netip.MustParseAddr("192.168.1.20")

func TestHandleReportsOncePerWindow(t *testing.T) {
	s, got := newTestService(t, Config{})
	msg := announceFrom(6999, "other", hashN(1), hashN(2))
	for range 5 {
		s.handle(msg, received{src: lanSrc, ifIndex: 7})
	}
	if len(*got) != 2 {
		t.Fatalf("reported %d peers for 5 identical announces of 2 infohashes, want 2: %+v", len(*got), *got)
	}
	want := netip.MustParseAddrPort("192.168.1.20:6999")
	if (*got)[0].Addr != want || (*got)[0].Interface != "eth7" {
		t.Fatalf("got %+v", (*got)[0])
	}
}

func TestSeen(t *testing.T) {
	s, _ := newTestService(t, Config{})
	s.handle(announceFrom(6999, "other", hashN(1), hashN(2)), received{src: lanSrc, ifIndex: 7})
	time.Sleep(time.Millisecond) // distinct report times
	s.handle(announceFrom(7000, "other", hashN(2)), received{src: lanSrc, ifIndex: 7})
	seen := s.Seen()
	if len(seen) != 3 {
		t.Fatalf("seen %+v, want 3 (infohash, peer) pairs", seen)
	}
	if seen[0].Addr.Port() != 7000 || seen[0].Infohash != hashN(2) {
		t.Fatalf("newest first: got %+v", seen[0])
	}
}

func TestHandleDrops(t *testing.T) {
	s, got := newTestService(t, Config{})
	own := announceFrom(6999, s.Cookie(), hashN(1))
	s.handle(own, received{src: lanSrc, ifIndex: 7})
	s.handle(announceFrom(6999, "x", hashN(1)), received{src: lanSrc, ifIndex: 8}) // interface not in use
	s.handle(announceFrom(6999, "x", hashN(1)), received{src: netip.IPv4Unspecified(), ifIndex: 7})
	s.handle([]byte("GET / HTTP/1.1\r\n\r\n"), received{src: lanSrc, ifIndex: 7})
	s.handle([]byte(strings.Repeat("x", MaxDatagram+1)), received{src: lanSrc, ifIndex: 7})
	if len(*got) != 0 {
		t.Fatalf("reported %+v", *got)
	}
	st := s.Stats()
	if st.Own != 1 || st.Dropped != 4 || st.Received != 5 {
		t.Fatalf("stats %+v, want 1 own and 4 dropped of 5", st)
	}
}

func TestHandleLinkLocalZone(t *testing.T) {
	s, got := newTestService(t, Config{})
	s.handle(announceFrom(7000, "x", hashN(1)), received{src: netip.MustParseAddr("fe80::1"), ifIndex: 7})
	if len(*got) != 1 || (*got)[0].Addr.String() != "[fe80::1%eth7]:7000" {
		t.Fatalf("got %+v, want the link-local peer with zone eth7", *got)
	}
}

// TestHandleBounded: a flood of announces (many ports, many infohashes)
// reports at most maxPeersPerInfohash peers per infohash and at most
// ReceiveRate-bounded datagrams.
func TestHandleBounded(t *testing.T) {
	s, got := newTestService(t, Config{ReceiveRate: 1000})
	for port := 1; port <= 500; port++ {
		s.handle(announceFrom(port, "x", hashN(1)), received{src: lanSrc, ifIndex: 7})
	}
	if len(*got) != maxPeersPerInfohash {
		t.Fatalf("500 peers of one infohash: reported %d, want the bound %d", len(*got), maxPeersPerInfohash)
	}
	slow, slowGot := newTestService(t, Config{ReceiveRate: 5})
	for i := range 200 {
		slow.handle(announceFrom(1000+i, "x", hashN(2)), received{src: lanSrc, ifIndex: 7})
	}
	// the bucket holds 2×rate+1 = 11, and a few more trickle in meanwhile
	if n := len(*slowGot); n < 11 || n > 40 {
		t.Fatalf("200 datagrams at a receive rate of 5/s: %d processed", n)
	}
	if st := slow.Stats(); st.Dropped < 150 {
		t.Fatalf("stats %+v: the flood was not dropped", st)
	}
}

func TestPeerTableBoundsInfohashes(t *testing.T) {
	p := newPeerTable(time.Minute)
	now := time.Now()
	addr := netip.MustParseAddrPort("10.0.0.1:1")
	n := 0
	for i := range maxInfohashes + 100 {
		var ih metainfo.Hash
		copy(ih[:], fmt.Sprintf("%020d", i))
		if p.fresh(ih, addr, now) {
			n++
		}
	}
	if n != maxInfohashes || len(p.byIH) != maxInfohashes {
		t.Fatalf("took %d infohashes (table %d), want %d", n, len(p.byIH), maxInfohashes)
	}
	// once the window passed, old entries make room again
	var ih metainfo.Hash
	copy(ih[:], "a new infohash, late")
	if !p.fresh(ih, addr, now.Add(2*time.Minute)) {
		t.Fatal("no room after the window passed")
	}
	if !p.fresh(hashN(1), addr, now.Add(4*time.Minute)) || p.fresh(hashN(1), addr, now.Add(4*time.Minute+time.Second)) {
		t.Fatal("a pair must be reported again after the window, not within it")
	}
}

func TestScheduleBurstThenInterval(t *testing.T) {
	s, _ := newTestService(t, Config{Interval: time.Hour})
	t0 := time.Now()
	s.SetInfohashes([]metainfo.Hash{hashN(1)})
	var sentAt []time.Duration
	now := t0
	// the loop wakes at least every Interval, before a late jittered
	// announce too: a few more wakes than announces
	for i := 0; i < 10 && len(sentAt) < 5; i++ {
		due, next := s.takeDue(now)
		if len(due) == 1 {
			sentAt = append(sentAt, now.Sub(t0).Round(time.Second))
		}
		now = next
	}
	want := []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second}
	if len(sentAt) < 5 || fmt.Sprint(sentAt[:4]) != fmt.Sprint(want) {
		t.Fatalf("announced at %v, want %v then about an hour later", sentAt, want)
	}
	if gap := sentAt[4] - sentAt[3]; gap < 54*time.Minute || gap > 66*time.Minute {
		t.Fatalf("after the burst the next announce came %v later, want Interval ±10%%", gap)
	}
	s.Announce(hashN(2))
	if due, _ := s.takeDue(time.Now()); len(due) != 1 || due[0] != hashN(2) {
		t.Fatalf("Announce of a second infohash: due %v, want it alone at once", due)
	}
	if due, _ := s.takeDue(now.Add(48 * time.Hour)); len(due) != 2 {
		t.Fatalf("Announce dropped the first infohash: due %v", due)
	}
	s.SetInfohashes(nil)
	if due, _ := s.takeDue(now.Add(96 * time.Hour)); len(due) != 0 {
		t.Fatalf("removed infohash still announced: %v", due)
	}
}

func TestNewAndStartErrors(t *testing.T) {
	if _, err := New(Config{Port: 0, OnPeer: func(Peer) {}}); err == nil {
		t.Error("port 0 accepted")
	}
	if _, err := New(Config{Port: 1}); err == nil {
		t.Error("no OnPeer accepted")
	}
	s, err := New(Config{Port: 1, Interfaces: []string{"no-such-if0"}, OnPeer: func(Peer) {}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "no-such-if0") {
		t.Fatalf("Start with a missing interface: %v", err)
	}
	if err := s.Start(context.Background()); err == nil {
		t.Fatal("second Start accepted")
	}
}

// TestAnswerNewcomer: a new peer announcing an infohash we announce too
// brings our next announce of it forward (once per replyGap); one we do
// not announce does not.
func TestAnswerNewcomer(t *testing.T) {
	s, _ := newTestService(t, Config{Interval: time.Hour})
	ours, theirs := hashN(1), hashN(2)
	s.SetInfohashes([]metainfo.Hash{ours})
	// the burst was a minute ago; the next announce is an hour away
	now := time.Now()
	*s.sched[ours] = schedule{added: now.Add(-time.Minute), lastSent: now.Add(-time.Minute),
		next: now.Add(time.Hour), stage: len(DefaultBurst)}
	if due, _ := s.takeDue(now.Add(time.Second)); len(due) != 0 {
		t.Fatalf("due before any newcomer: %v", due)
	}
	s.handle(announceFrom(7000, "x", ours, theirs), received{src: lanSrc, ifIndex: 7})
	due, _ := s.takeDue(time.Now().Add(replyJitter))
	if len(due) != 1 || due[0] != ours {
		t.Fatalf("after a newcomer, due %v; want our infohash answered", due)
	}
	s.handle(announceFrom(7001, "x", ours), received{src: lanSrc, ifIndex: 7})
	if due, _ := s.takeDue(time.Now().Add(replyJitter)); len(due) != 0 {
		t.Fatalf("answered again within replyGap: %v", due)
	}
}
