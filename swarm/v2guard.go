package swarm

import (
	"github.com/anacrolix/torrent"
	pp "github.com/anacrolix/torrent/peer_protocol"
)

// installV2HashGuard turns every BEP 52 hash message a peer sends (hash
// request, hashes, hash reject) into a keep-alive before the library acts
// on it. anacrolix v1.61 handles them whatever the connection negotiated,
// and panics on them: Torrent.getFileByPiecesRoot unwraps the pieces root
// of every file (v1 files and pad files have none), and onReadHashes
// panics on proof layers. One such message from any peer killed the
// process. distswarm never uses v2 hashes: its collections are v1, a
// hybrid torrent is used with its piece layers or refused (see
// ErrV2NoPieceLayers), and it asks no peer for hashes. It runs before the
// callbacks already installed (the seed cap).
func installV2HashGuard(cb *torrent.Callbacks) {
	next := cb.ReadMessage
	cb.ReadMessage = func(c *torrent.PeerConn, m *pp.Message) {
		if isV2HashMessage(m) {
			*m = pp.Message{Keepalive: true}
			return
		}
		if next != nil {
			next(c, m)
		}
	}
}

func isV2HashMessage(m *pp.Message) bool {
	if m.Keepalive {
		return false
	}
	switch m.Type {
	case pp.HashRequest, pp.Hashes, pp.HashReject:
		return true
	}
	return false
}
