package swarm

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/anacrolix/torrent"
)

// Stall reports: a fetch that makes no progress says so, with what it
// knows of why, instead of staying silent until its deadline (a dead peer,
// a .torrent whose piece hashes are damaged, a webseed that answers
// nothing). The first report comes after stallFirst without data, later
// ones at doubling intervals up to stallMax.
const (
	stallFirst = 30 * time.Second
	stallMax   = 5 * time.Minute
)

// stallWatch tracks whether a request's torrents make progress: data
// received, unless all of it failed its piece hashes (a peer that keeps
// sending bad data is no progress).
type stallWatch struct {
	first            time.Duration
	moved, good, bad int64     // totals over the request's torrents at the last change
	lastData         time.Time // when the request last made progress
	next             time.Time // when to report if nothing changes
	interval         time.Duration
}

func newStallWatch(first time.Duration) *stallWatch {
	if first <= 0 {
		first = stallFirst
	}
	return &stallWatch{first: first, moved: -1}
}

// check takes the totals of data bytes received and pieces verified and
// failed, and returns how long there was no progress and whether to
// report it now; reports come at doubling intervals while the stall lasts.
func (s *stallWatch) check(moved, good, bad int64, now time.Time) (time.Duration, bool) {
	progress := good != s.good || (moved != s.moved && bad == s.bad)
	s.moved, s.good, s.bad = moved, good, bad
	if progress || s.lastData.IsZero() {
		s.lastData, s.interval = now, s.first
		s.next = now.Add(s.interval)
		return 0, false
	}
	if now.Before(s.next) {
		return 0, false
	}
	s.interval = min(2*s.interval, stallMax)
	s.next = now.Add(s.interval)
	return now.Sub(s.lastData), true
}

// stallCheck logs a diagnosis for each torrent the request still waits on
// when it made no progress for a while.
func (r *fetchRun) stallCheck(now time.Time) {
	var moved, good, bad int64
	for _, nt := range r.added {
		st := nt.t.Stats()
		moved += st.BytesReadData.Int64()
		good += st.PiecesDirtiedGood.Int64()
		bad += st.PiecesDirtiedBad.Int64()
	}
	stalled, report := r.stall.check(moved, good, bad, now)
	if !report {
		return
	}
	waiting := map[*nodeTorrent][]string{}
	for key, w := range r.waiting {
		if nt := r.added[key.ih]; nt != nil {
			waiting[nt] = append(waiting[nt], w.name)
		}
	}
	for _, nt := range r.trustWait {
		waiting[nt] = append(waiting[nt], "(collection Manifest)")
	}
	banned := r.n.reg.bannedGiven(r.n.bannedIPs())
	for nt, names := range waiting {
		r.log.Warn("no progress for "+stalled.Round(time.Second).String()+": "+nt.stallReason(len(r.n.reg.peers), banned),
			"infohash", nt.ih.HexString(), "files", strings.Join(firstN(names, 3), " "), "waiting", len(names))
	}
}

// redialEvery is how often a request dials the peers it knows of by
// address (given with --peer, or heard on the LAN) and is not connected to
// again, for a torrent it waits on: the library forgets a peer whose dial
// failed (it was not listening yet, or still checking its files) and would
// not try it again.
const redialEvery = 5 * time.Second

// redialKnown tends every torrent the request waits on (see tend) with
// the peers it knows of by address. LAN peers count: after a link fault
// (TestLANLinkFaults: the fetching host's interface down for 20 s) the
// connections to the seeders heard on the LAN stayed open and idle, and
// nothing else would have dialled them again before their next announce,
// minutes later.
func (r *fetchRun) redialKnown(now time.Time) {
	if now.Sub(r.lastRedial) < redialEvery {
		return
	}
	r.lastRedial = now
	for _, nt := range r.waitedTorrents() {
		r.n.tendKnown(nt, now, r.log)
	}
}

// tendKnown tends nt (see tend) with the peers the node knows of by
// address for it: the given ones and those heard on the LAN.
func (n *Node) tendKnown(nt *nodeTorrent, now time.Time, log *slog.Logger) {
	if peers := n.reg.tended(nt.ih); len(peers) > 0 {
		nt.tend(now, peers, log)
	}
}

// nudgeIdle nudges each torrent the request waits on that has peers
// connected and received nothing for nudgeAfter (see nudge.go).
func (r *fetchRun) nudgeIdle(now time.Time) {
	for _, nt := range r.waitedTorrents() {
		if nt.nudgeIfIdle(now) {
			r.log.Debug("nothing received for "+nudgeAfter.String()+" with peers connected: asked the library to request again",
				"infohash", nt.ih.HexString())
		}
	}
}

// waitedTorrents is every torrent the request waits on, once each.
func (r *fetchRun) waitedTorrents() []*nodeTorrent {
	seen := map[*nodeTorrent]bool{}
	var out []*nodeTorrent
	add := func(nt *nodeTorrent) {
		if nt != nil && !seen[nt] {
			seen[nt] = true
			out = append(out, nt)
		}
	}
	for _, nt := range r.trustWait {
		add(nt)
	}
	for key := range r.waiting {
		add(r.added[key.ih])
	}
	return out
}

// tend keeps a torrent that a request waits on going, every redialEvery:
// it recycles stuck connections to the given peers, then dials the given
// peers it is not connected to. Every wait on a torrent's data calls it.
func (nt *nodeTorrent) tend(now time.Time, given []torrent.PeerInfo, log *slog.Logger) {
	if n := nt.recycleIfStuck(now, given); n > 0 {
		log.Info("closed connections to given peers that delivered nothing; dialling them again",
			"infohash", nt.ih.HexString(), "connections", n, "idle", stuckAfter)
	}
	redialMissing(nt.t, given)
}

// stuckAfter is how long a torrent waited on may receive no useful data
// with peers connected before recycleIfStuck closes its connections. With
// tend every redialEvery (5 s), a connection that delivers nothing is
// replaced at the second tend after the torrent went quiet, about 10 s in:
// well inside the gateway's default swarm budget (20 s). At 15 s (the third
// tend) the new connection had 5 s left, and a gateway miss under load once
// ran out of budget with the seed connected and idle.
const stuckAfter = 8 * time.Second

// progressMark is a torrent's byte count (of useful data, or of every byte
// read) and when it last moved.
type progressMark struct {
	bytes int64
	at    time.Time
}

// idleFor records a byte count seen at now and reports whether it has not
// moved for after, with peers connected (active); when it reports true the
// wait starts again, so it reports at most once every after. The caller
// holds the lock that guards m.
func (m *progressMark) idleFor(now time.Time, bytes int64, active bool, after time.Duration) bool {
	if m.at.IsZero() || bytes != m.bytes || !active {
		m.bytes, m.at = bytes, now
		return false
	}
	if now.Sub(m.at) < after {
		return false
	}
	m.at = now
	return true
}

// recycleIfStuck closes the torrent's connections to the given peers (the
// --peer ones and those heard on the LAN), whichever side dialled (see
// listenAddrOf), when no connection has delivered
// a useful byte for stuckAfter; the redial then connects to them afresh.
// Peers found otherwise (trackers, PEX) are left alone: nothing would dial
// them again before their next announce.
// anacrolix v1.61 can leave a connection to a seed that unchoked us idle
// with nothing requested (seen after a corrupt peer next to it was banned:
// the index files of a binpkg collection waited 90 s on an honest seed that
// was never asked; and in a 5,000-file fetch), and it requests again only
// on a new event. One such case, the writer's lost wake-up, is now bounded
// by writerWakeEvery and another, a rejected last request, ended by
// nudgeIfIdle; this stays for whatever else leaves a connection idle.
func (nt *nodeTorrent) recycleIfStuck(now time.Time, given []torrent.PeerInfo) (closed int) {
	if len(given) == 0 {
		return 0
	}
	st := nt.t.Stats()
	nt.mu.Lock()
	stuck := nt.progress.idleFor(now, st.BytesReadUsefulData.Int64(), st.ActivePeers > 0, stuckAfter)
	nt.mu.Unlock()
	if !stuck {
		return
	}
	isGiven := make(map[string]bool, len(given))
	for _, p := range given {
		isGiven[p.Addr.String()] = true
	}
	for _, pc := range nt.t.PeerConns() {
		if isGiven[pc.RemoteAddr.String()] || isGiven[listenAddrOf(pc)] {
			pc.Close()
			closed++
		}
	}
	return closed
}

// listenAddrOf is where the peer of a connection it made to us listens: its
// address with the port of its extended handshake ("" when it sent none). A
// given peer's connection in that direction is recycled like one we dialled:
// left alone, a stuck one also kept the redial out, since the library keeps
// an existing connection over a new one to the same peer ID in the same or
// the less preferred direction. (On a LAN, peers heard by LSD dial each
// other; TestLANLinkFaults once stalled for minutes after its link came
// back, with both of its connections idle.)
func listenAddrOf(pc *torrent.PeerConn) string {
	port := pc.PeerListenPort
	if port <= 0 || port > 65535 || pc.RemoteAddr == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(pc.RemoteAddr.String())
	if err != nil {
		return ""
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// redialMissing adds again the given peers the torrent has no connection
// to. Not only when it has none at all: a connected peer that sends only bad
// data (or nothing) must not keep an honest one, whose first dial failed,
// from being tried again.
func redialMissing(t *torrent.Torrent, peers []torrent.PeerInfo) {
	if len(peers) == 0 {
		return
	}
	connected := map[string]bool{}
	for _, pc := range t.PeerConns() {
		// RemoteAddr is set when the connection is made; the other fields
		// change under the client's lock, which PeerConns does not hold.
		// A given peer that connected to us (not dialled) is dialled again:
		// the library drops the duplicate after the handshake.
		connected[pc.RemoteAddr.String()] = true
	}
	var missing []torrent.PeerInfo
	for _, p := range peers {
		if !connected[p.Addr.String()] {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		t.AddPeers(missing)
	}
}

// stallReason says what the torrent's connections tell about a stall;
// given is the number of peers the user gave (--peer), banned those of
// them whose IP address the client banned.
func (nt *nodeTorrent) stallReason(given int, banned []string) string {
	s := nt.t.Stats()
	webseeds, held := len(nt.mi.UrlList), nt.webseedsHeld()
	bad, good := s.PiecesDirtiedBad.Int64(), s.PiecesDirtiedGood.Int64()
	ws := fmt.Sprintf("%d webseeds", webseeds)
	if held > 0 {
		ws += " (held back while peers deliver)"
	}
	counts := fmt.Sprintf("%d peers connected (%d seeders), %d known, %d connecting; %s; pieces verified %d, failed %d",
		s.ActivePeers, s.ConnectedSeeders, s.TotalPeers, s.HalfOpenPeers, ws, good, bad)
	switch {
	case s.ActivePeers == 0 && len(banned) > 0:
		why := "a peer there sent bad data"
		if good == 0 {
			why = "every piece received failed its hash check: the .torrent's piece hashes may be damaged, or a peer there sends bad data"
		}
		return fmt.Sprintf("no peer connected: given peers %s are at a banned IP address (%s; the library bans the whole address until this process exits, so run peers on separate addresses) (%s)",
			strings.Join(banned, " "), why, counts)
	case bad > 0 && good == 0:
		return "every piece received failed its hash check: the .torrent's piece hashes may be damaged, or the peers send bad data (" + counts + ")"
	case bad > 0:
		return "pieces fail their hash check: a peer sends bad data, or the .torrent is damaged (" + counts + ")"
	case s.ActivePeers == 0 && given > 0:
		return fmt.Sprintf("no peer connected: none of the %d given answers (%s)", given, counts)
	case s.ActivePeers == 0 && s.TotalPeers == 0 && webseeds == held:
		return "no peer known and no webseed: give --peer, a tracker or the DHT (" + counts + ")"
	case s.ActivePeers == 0 && webseeds > held:
		return "no peer connected and the webseeds send nothing (" + counts + ")"
	case s.ActivePeers == 0:
		return "no peer connected: the known peers do not answer (" + counts + ")"
	}
	return "peers are connected but send nothing: they may not have the files, or keep us choked (" + counts + ")"
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
