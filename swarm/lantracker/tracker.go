package lantracker

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/anacrolix/torrent/bencode"
)

// Defaults and bounds.
const (
	// DefaultInterval is the announce interval given to clients: short,
	// so a room of machines finds newcomers quickly.
	DefaultInterval = time.Minute
	// MaxTorrents bounds the infohashes tracked.
	MaxTorrents = 4096
	// MaxPeersPerTorrent bounds the peers kept per infohash; the one
	// heard from longest ago makes room for a new one.
	MaxPeersPerTorrent = 1000
	// maxNumWant bounds the peers returned per announce.
	maxNumWant = 100
	// defaultNumWant is returned when the client asks for no number.
	defaultNumWant = 50
)

// Tracker is an http.Handler answering announces at any path (mount it at
// /announce). Safe for concurrent use.
type Tracker struct {
	interval time.Duration
	now      func() time.Time

	mu       sync.Mutex
	torrents map[[20]byte]map[netip.AddrPort]peer
}

type peer struct {
	seen time.Time
	seed bool
}

// New returns a Tracker that tells clients to announce every interval
// (DefaultInterval when 0) and forgets a peer not heard for two of them.
func New(interval time.Duration) *Tracker {
	if interval <= 0 {
		interval = DefaultInterval
	}
	return &Tracker{interval: interval, now: time.Now, torrents: map[[20]byte]map[netip.AddrPort]peer{}}
}

// announce is one parsed request.
type announce struct {
	infoHash [20]byte
	addr     netip.AddrPort
	seed     bool
	stopped  bool
	numWant  int
}

// response is the bencoded answer (peers and peers6 compact).
type response struct {
	Interval    int    `bencode:"interval"`
	MinInterval int    `bencode:"min interval"`
	Complete    int    `bencode:"complete"`
	Incomplete  int    `bencode:"incomplete"`
	Peers       []byte `bencode:"peers"`
	Peers6      []byte `bencode:"peers6,omitempty"`
}

type failure struct {
	Reason string `bencode:"failure reason"`
}

// ServeHTTP answers one announce.
func (tr *Tracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	a, reason := parseAnnounce(r)
	if reason != "" {
		writeBencode(w, failure{Reason: reason})
		return
	}
	writeBencode(w, tr.handle(a))
}

func writeBencode(w http.ResponseWriter, v any) {
	b, err := bencode.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(b)
}

// parseAnnounce reads the request; reason is set when it is refused.
func parseAnnounce(r *http.Request) (announce, string) {
	q := r.URL.Query()
	var a announce
	ih := q.Get("info_hash")
	if len(ih) != 20 {
		return a, "info_hash must be 20 bytes"
	}
	copy(a.infoHash[:], ih)
	if len(q.Get("peer_id")) != 20 {
		return a, "peer_id must be 20 bytes"
	}
	port, err := strconv.ParseUint(q.Get("port"), 10, 16)
	if err != nil || port == 0 {
		return a, "bad port"
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return a, "no remote address"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return a, "bad remote address"
	}
	a.addr = netip.AddrPortFrom(ip.Unmap().WithZone(""), uint16(port))
	left, err := strconv.ParseInt(q.Get("left"), 10, 64)
	a.seed = err == nil && left == 0
	a.stopped = q.Get("event") == "stopped"
	a.numWant = defaultNumWant
	if n, err := strconv.Atoi(q.Get("numwant")); err == nil && n >= 0 {
		a.numWant = n
	}
	return a, ""
}

// handle records the announce and returns the other peers of its torrent.
func (tr *Tracker) handle(a announce) any {
	now := tr.now()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	peers := tr.torrents[a.infoHash]
	if a.stopped {
		delete(peers, a.addr)
		if len(peers) == 0 {
			delete(tr.torrents, a.infoHash)
		}
		return response{Interval: tr.seconds(), MinInterval: tr.seconds() / 2}
	}
	if peers == nil {
		if len(tr.torrents) >= MaxTorrents {
			tr.expire(now)
			if len(tr.torrents) >= MaxTorrents {
				return failure{Reason: "tracker full"}
			}
		}
		peers = map[netip.AddrPort]peer{}
		tr.torrents[a.infoHash] = peers
	}
	tr.expireTorrent(peers, now)
	if _, ok := peers[a.addr]; !ok && len(peers) >= MaxPeersPerTorrent {
		evictOldest(peers)
	}
	peers[a.addr] = peer{seen: now, seed: a.seed}
	return tr.answer(peers, a)
}

func (tr *Tracker) seconds() int { return int(tr.interval / time.Second) }

// answer lists up to a.numWant peers other than a's, seeds counted.
func (tr *Tracker) answer(peers map[netip.AddrPort]peer, a announce) response {
	resp := response{Interval: tr.seconds(), MinInterval: tr.seconds() / 2, Peers: []byte{}}
	n, want := 0, min(a.numWant, maxNumWant)
	for addr, p := range peers {
		if p.seed {
			resp.Complete++
		} else {
			resp.Incomplete++
		}
		if addr == a.addr || n >= want {
			continue
		}
		n++
		ip := addr.Addr()
		port := []byte{byte(addr.Port() >> 8), byte(addr.Port())}
		if ip.Is4() {
			b := ip.As4()
			resp.Peers = append(append(resp.Peers, b[:]...), port...)
		} else {
			b := ip.As16()
			resp.Peers6 = append(append(resp.Peers6, b[:]...), port...)
		}
	}
	return resp
}

// expire forgets the peers not heard for two intervals, and torrents left
// with none.
func (tr *Tracker) expire(now time.Time) {
	for ih, peers := range tr.torrents {
		tr.expireTorrent(peers, now)
		if len(peers) == 0 {
			delete(tr.torrents, ih)
		}
	}
}

func (tr *Tracker) expireTorrent(peers map[netip.AddrPort]peer, now time.Time) {
	for addr, p := range peers {
		if now.Sub(p.seen) > 2*tr.interval {
			delete(peers, addr)
		}
	}
}

func evictOldest(peers map[netip.AddrPort]peer) {
	var oldest netip.AddrPort
	var at time.Time
	for addr, p := range peers {
		if at.IsZero() || p.seen.Before(at) {
			oldest, at = addr, p.seen
		}
	}
	delete(peers, oldest)
}

// Stats are the torrents and peers tracked now.
func (tr *Tracker) Stats() (torrents, peers int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.expire(tr.now())
	for _, ps := range tr.torrents {
		peers += len(ps)
	}
	return len(tr.torrents), peers
}
