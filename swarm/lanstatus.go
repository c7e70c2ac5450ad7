package swarm

import (
	"net/netip"
	"sort"
	"time"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/swarm/lsd"
)

// Bounds of the LAN part of a node's status (the peer table behind it
// holds up to 1024 infohashes × 64 peers, filled by anyone on the link).
const (
	lanStatusPeers       = 256
	lanStatusInfohashes  = 256
	lanStatusPerPeerIHes = 64
)

// LANStatus is what LAN discovery (BEP 14) heard, and the collections the
// node learned from it.
type LANStatus struct {
	Interfaces []string `json:"interfaces"`
	// Peers are the machines heard within the last half announce
	// interval, newest first (bounded).
	Peers []LANPeer `json:"peers"`
	// Infohashes are the collections announced there, most announced
	// first (bounded).
	Infohashes []LANInfohash `json:"infohashes"`
	// Learned are the collections learned from the LAN, newest first.
	Learned []LearnedCollection `json:"learned"`
	// LearnFailures counts infohashes that could not be learned (no
	// answer, not a distswarm collection, Manifest not fetched).
	LearnFailures int64 `json:"learn_failures"`
	// Datagrams sent and received; Dropped were not used (rate, size,
	// parse, foreign interface); Own were this node's own.
	Sent     int64 `json:"sent"`
	Received int64 `json:"received"`
	Dropped  int64 `json:"dropped"`
	Own      int64 `json:"own"`
}

// LANPeer is one machine heard on the LAN.
type LANPeer struct {
	Addr       string    `json:"addr"`
	Infohashes []string  `json:"infohashes"` // bounded
	LastHeard  time.Time `json:"last_heard"`
}

// LANInfohash is one infohash heard on the LAN.
type LANInfohash struct {
	InfoHash string `json:"infohash"`
	Peers    int    `json:"peers"`
	// Name is the collection's, when the node has it or learned it.
	Name    string `json:"name,omitempty"`
	Own     bool   `json:"own"`     // one of the node's own collections
	Learned bool   `json:"learned"` // learned from the LAN
}

// lanStatus is nil when LAN discovery does not run.
func (n *Node) lanStatus() *LANStatus {
	ls := n.lanState()
	if ls == nil {
		return nil
	}
	st := ls.svc.Stats()
	out := &LANStatus{Interfaces: ls.svc.Interfaces(), Sent: st.Sent, Received: st.Received, Dropped: st.Dropped, Own: st.Own}
	out.Learned, out.LearnFailures = ls.learner.list()
	seen := ls.svc.Seen()
	out.Peers = lanPeersSeen(seen)
	out.Infohashes = n.lanInfohashes(seen, out.Learned)
	return out
}

// lanPeersSeen groups sightings by peer address, newest first.
func lanPeersSeen(seen []lsd.Sighting) []LANPeer {
	idx := map[netip.AddrPort]int{}
	var out []LANPeer
	for _, s := range seen { // newest first
		i, ok := idx[s.Addr]
		if !ok {
			if len(out) >= lanStatusPeers {
				continue
			}
			i = len(out)
			idx[s.Addr] = i
			out = append(out, LANPeer{Addr: s.Addr.String(), LastHeard: s.Reported})
		}
		if len(out[i].Infohashes) < lanStatusPerPeerIHes {
			out[i].Infohashes = append(out[i].Infohashes, s.Infohash.HexString())
		}
	}
	return out
}

func (n *Node) lanInfohashes(seen []lsd.Sighting, learned []LearnedCollection) []LANInfohash {
	names := map[string]string{}
	for _, c := range learned {
		names[c.InfoHash] = c.Name
	}
	peers := map[metainfo.Hash]int{}
	for _, s := range seen {
		peers[s.Infohash]++
	}
	out := make([]LANInfohash, 0, len(peers))
	for ih, np := range peers {
		e := LANInfohash{InfoHash: ih.HexString(), Peers: np, Learned: n.reg.isLearned(ih)}
		if nt := n.reg.get(ih); nt != nil {
			e.Name, e.Own = nt.info.BestName(), !e.Learned
		} else if name, ok := names[e.InfoHash]; ok {
			e.Name = name
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Peers != out[j].Peers {
			return out[i].Peers > out[j].Peers
		}
		return out[i].InfoHash < out[j].InfoHash
	})
	if len(out) > lanStatusInfohashes {
		out = out[:lanStatusInfohashes]
	}
	return out
}
