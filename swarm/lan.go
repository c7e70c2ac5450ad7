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

// StartLAN runs Local Service Discovery until ctx ends: the node
// announces the infohashes of the torrents it has added (its collections,
// seeded or fetched; nothing per file), and peers heard on the LAN for
// them are added to those torrents.
func (n *Node) StartLAN(ctx context.Context, o LANOptions) (*lsd.Service, error) {
	svc, err := lsd.New(lsd.Config{Port: n.Port(), Interfaces: o.Interfaces, OnPeer: n.addLANPeer, Logger: n.log})
	if err != nil {
		return nil, err
	}
	if err := svc.Start(ctx); err != nil {
		return nil, fmt.Errorf("LAN discovery: %w", err)
	}
	go n.syncLANInfohashes(ctx, svc)
	return svc, nil
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

// infohashes are those of every torrent the node has added.
func (n *Node) infohashes() []metainfo.Hash {
	all := n.reg.all()
	out := make([]metainfo.Hash, 0, len(all))
	for _, nt := range all {
		out = append(out, nt.ih)
	}
	return out
}

// addLANPeer gives a peer heard on the LAN to the torrent it announced,
// if the node has that torrent.
func (n *Node) addLANPeer(p lsd.Peer) {
	nt := n.reg.get(p.Infohash)
	if nt == nil {
		return
	}
	n.log.Debug("LAN peer", "infohash", p.Infohash.HexString(), "addr", p.Addr.String(), "interface", p.Interface)
	nt.t.AddPeers([]torrent.PeerInfo{{Addr: net.TCPAddrFromAddrPort(p.Addr), Source: peerSourceLSD}})
}
