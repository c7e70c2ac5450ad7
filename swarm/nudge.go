package swarm

import "time"

// nudgeAfter is how long a torrent that a request waits on may receive
// nothing at all (not a byte, counted as it comes off the sockets), with
// peers connected, before nudgeIfIdle makes the library reconsider its
// requests. Counting every byte rather than whole blocks keeps a slow link
// that trickles a block in over several seconds from being nudged: a nudge
// cancels and asks again what is outstanding.
//
// anacrolix v1.61 decides what to request on a connection only when an
// event asks it to (a block arrived, a HAVE, an unchoke, a priority
// change), and a few events end with nothing requested: after a BEP 6
// reject it adds no request ("the peer will unchoke if it can take
// more"), so a reject of a connection's only outstanding request leaves
// it unchoked, interested and idle until something else happens
// (TestIdleAfterRejectResumes: a seed that rejects each connection's first
// request; recycleIfStuck alone does not help, since the new connection
// meets the same reject). A nudge (writeGuard.nudge) makes every connection
// of the torrent update its requests; a closed connection would cost its
// handshake and the library's state of the peer.
//
// A nudge cannot end the other idle state, a request update lost by the
// connection's writer (see writerWakeEvery): the library drops the nudge's
// update because one is already pending. The P1 idle spells were that one.
const nudgeAfter = 2 * time.Second

// nudgeIfIdle nudges the torrent when it has had peers connected and
// received nothing for nudgeAfter, at most once every nudgeAfter. Called
// on a request's tick; it reports whether it nudged.
func (nt *nodeTorrent) nudgeIfIdle(now time.Time) bool {
	st := nt.t.Stats()
	nt.mu.Lock()
	due := nt.idle.idleFor(now, st.BytesRead.Int64(), st.ActivePeers > 0, nudgeAfter)
	nt.mu.Unlock()
	return due && nt.writes.nudge(nt.t)
}
