package lantracker

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
)

var testIH = strings.Repeat("i", 20)

func announceURL(base, ih, peerID string, port int, extra string) string {
	return base + "/announce?info_hash=" + url.QueryEscape(ih) + "&peer_id=" + url.QueryEscape(peerID) +
		"&port=" + strconv.Itoa(port) + "&left=100&compact=1" + extra
}

type reply struct {
	Failure    string `bencode:"failure reason"`
	Interval   int    `bencode:"interval"`
	Complete   int    `bencode:"complete"`
	Incomplete int    `bencode:"incomplete"`
	Peers      string `bencode:"peers"`
}

func get(t *testing.T, u string) reply {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var r reply
	if err := bencode.Unmarshal(b, &r); err != nil {
		t.Fatalf("answer %q: %v", b, err)
	}
	return r
}

// compactPeers decodes BEP 23 IPv4 peers.
func compactPeers(t *testing.T, s string) []netip.AddrPort {
	t.Helper()
	if len(s)%6 != 0 {
		t.Fatalf("compact peers of %d bytes", len(s))
	}
	var out []netip.AddrPort
	for i := 0; i < len(s); i += 6 {
		ip := netip.AddrFrom4([4]byte{s[i], s[i+1], s[i+2], s[i+3]})
		out = append(out, netip.AddrPortFrom(ip, uint16(s[i+4])<<8|uint16(s[i+5])))
	}
	return out
}

// TestAnnounceOverHTTP: over a real socket on 127.0.0.1, a second
// announcer gets the first one's address (from its connection, with its
// port), not its own; "stopped" removes a peer; a malformed request gets
// a failure reason.
func TestAnnounceOverHTTP(t *testing.T) {
	srv := httptest.NewServer(New(0))
	defer srv.Close()
	first := get(t, announceURL(srv.URL, testIH, strings.Repeat("a", 20), 7001, "&ip=10.9.9.9"))
	if first.Failure != "" || len(first.Peers) != 0 || first.Interval != int(DefaultInterval/time.Second) {
		t.Fatalf("first announce: %+v", first)
	}
	second := get(t, announceURL(srv.URL, testIH, strings.Repeat("b", 20), 7002, ""))
	peers := compactPeers(t, second.Peers)
	want := netip.MustParseAddrPort("127.0.0.1:7001")
	if len(peers) != 1 || peers[0] != want || second.Incomplete != 2 {
		t.Fatalf("second announce got peers %v (%+v), want only %v (the 'ip' parameter ignored)", peers, second, want)
	}
	get(t, announceURL(srv.URL, testIH, strings.Repeat("a", 20), 7001, "&event=stopped"))
	third := get(t, announceURL(srv.URL, testIH, strings.Repeat("b", 20), 7002, ""))
	if len(third.Peers) != 0 {
		t.Errorf("a stopped peer is still handed out: %v", compactPeers(t, third.Peers))
	}
	for _, bad := range []string{
		srv.URL + "/announce?info_hash=short&peer_id=" + strings.Repeat("a", 20) + "&port=1",
		announceURL(srv.URL, testIH, "short", 1, ""),
		announceURL(srv.URL, testIH, strings.Repeat("a", 20), 0, ""),
	} {
		if r := get(t, bad); r.Failure == "" {
			t.Errorf("%s: no failure reason: %+v", bad, r)
		}
	}
}

// TestTrackerBounds: peers per torrent and torrents are bounded, and
// peers that stop announcing are forgotten after two intervals.
func TestTrackerBounds(t *testing.T) {
	tr := New(time.Minute)
	now := time.Unix(1e9, 0)
	tr.now = func() time.Time { return now }
	var ih [20]byte
	for i := range MaxPeersPerTorrent + 50 {
		addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 6881)
		tr.handle(announce{infoHash: ih, addr: addr, numWant: 10})
		now = now.Add(time.Millisecond)
	}
	if _, peers := tr.Stats(); peers != MaxPeersPerTorrent {
		t.Errorf("%d peers kept for one torrent, want the bound %d", peers, MaxPeersPerTorrent)
	}
	r := tr.handle(announce{infoHash: ih, addr: netip.MustParseAddrPort("10.200.0.1:1"), numWant: 1000}).(response)
	if len(r.Peers)/6 > maxNumWant {
		t.Errorf("%d peers returned, want at most %d", len(r.Peers)/6, maxNumWant)
	}
	for i := range MaxTorrents + 10 {
		var other [20]byte
		other[0], other[1], other[2] = 1, byte(i>>8), byte(i)
		tr.handle(announce{infoHash: other, addr: netip.MustParseAddrPort("10.0.0.1:1")})
	}
	if torrents, _ := tr.Stats(); torrents > MaxTorrents {
		t.Errorf("%d torrents tracked, want at most %d", torrents, MaxTorrents)
	}
	now = now.Add(2*time.Minute + time.Second)
	if torrents, peers := tr.Stats(); torrents != 0 || peers != 0 {
		t.Errorf("after two silent intervals %d torrents, %d peers remain", torrents, peers)
	}
}
