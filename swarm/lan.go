package swarm

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/swarm/lsd"
)

// lanSyncEvery is how often the infohashes announced on the LAN follow
// the torrents the node has added.
const lanSyncEvery = time.Second

// peerSourceLSD marks peers found by Local Service Discovery.
const peerSourceLSD torrent.PeerSource = "Lsd"

// LANOptions configures LAN discovery (BEP 14).
type LANOptions struct {
	// Interfaces to announce on; empty means every suitable one.
	Interfaces []string
}

// lanState is a node's LAN discovery.
type lanState struct {
	svc     *lsd.Service
	learner *lanLearner
}

// StartLAN runs Local Service Discovery until ctx ends: the node
// announces the infohashes of the torrents it has added (its collections,
// seeded or fetched; nothing per file), and peers heard on the LAN for
// them are added to those torrents. Collections heard there that the node
// does not have are learned (their info dict and collection Manifest, no
// data): fetches, Portage mode and the gateway find distfiles in them.
func (n *Node) StartLAN(ctx context.Context, o LANOptions) (*lsd.Service, error) {
	learner := newLANLearner()
	svc, err := lsd.New(lsd.Config{Port: n.Port(), Interfaces: o.Interfaces, Logger: n.log,
		OnPeer: func(p lsd.Peer) { n.addLANPeer(p, learner) }})
	if err != nil {
		return nil, err
	}
	if err := svc.Start(ctx); err != nil {
		return nil, fmt.Errorf("LAN discovery: %w", err)
	}
	n.loadLearned(learner)
	n.lanMu.Lock()
	n.lan = &lanState{svc: svc, learner: learner}
	n.lanMu.Unlock()
	n.reg.setLANPeers(func(ih metainfo.Hash) []torrent.PeerInfo { return lanPeersOf(svc, ih) })
	go n.syncLANInfohashes(ctx, svc)
	go n.learnLoop(ctx, learner)
	return svc, nil
}

// WaitLAN waits, after the context of StartLAN ended, until the node
// no longer learns from the LAN (it may then be closed). It returns at
// once when StartLAN did not run.
func (n *Node) WaitLAN() {
	if ls := n.lanState(); ls != nil {
		<-ls.learner.done
	}
}

// UseTracker makes every torrent of the node announce to url too (the
// embedded tracker of a LAN event, shown in the status). only keeps the
// collections' own trackers out (--offline): the client must not have
// trackers disabled (ClientOptions.NoTrackers) for url to be used.
func (n *Node) UseTracker(url string, only bool) {
	n.lanMu.Lock()
	n.trackerURL = url
	n.lanMu.Unlock()
	n.reg.useTracker(url, only)
}

func (n *Node) embeddedTrackerURL() string {
	n.lanMu.Lock()
	defer n.lanMu.Unlock()
	return n.trackerURL
}

// lanState returns LAN discovery, nil before StartLAN.
func (n *Node) lanState() *lanState {
	n.lanMu.Lock()
	defer n.lanMu.Unlock()
	return n.lan
}

// lanPeersOf are the peers heard on the LAN for ih.
func lanPeersOf(svc *lsd.Service, ih metainfo.Hash) []torrent.PeerInfo {
	var out []torrent.PeerInfo
	for _, s := range svc.Seen() {
		if s.Infohash == ih {
			out = append(out, torrent.PeerInfo{Addr: net.TCPAddrFromAddrPort(s.Addr), Source: peerSourceLSD})
		}
	}
	return out
}

func (n *Node) syncLANInfohashes(ctx context.Context, svc *lsd.Service) {
	tick := time.NewTicker(lanSyncEvery)
	defer tick.Stop()
	for {
		svc.SetInfohashes(n.infohashes())
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// infohashes are those of every torrent the node has added, except the
// collections learned from the LAN that no fetch has used: a node does not
// repeat what strangers announce.
func (n *Node) infohashes() []metainfo.Hash {
	all := n.reg.all()
	out := make([]metainfo.Hash, 0, len(all))
	for _, nt := range all {
		if nt.used.Load() || !n.reg.isLearned(nt.ih) {
			out = append(out, nt.ih)
		}
	}
	return out
}

// addLANPeer gives a peer heard on the LAN to the torrent it announced,
// if the node has that torrent, else offers the infohash to the learner.
func (n *Node) addLANPeer(p lsd.Peer, learner *lanLearner) {
	nt := n.reg.get(p.Infohash)
	if nt == nil {
		if !n.reg.isLearned(p.Infohash) {
			learner.offer(p, time.Now())
		}
		return
	}
	n.log.Debug("LAN peer", "infohash", p.Infohash.HexString(), "addr", p.Addr.String(), "interface", p.Interface)
	nt.t.AddPeers([]torrent.PeerInfo{{Addr: net.TCPAddrFromAddrPort(p.Addr), Source: peerSourceLSD}})
}
