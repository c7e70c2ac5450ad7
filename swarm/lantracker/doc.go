// Package lantracker is a small HTTP BitTorrent tracker (BEP 3, compact
// peer lists of BEP 23, IPv6 peers of BEP 7) for a LAN event: the daemon
// serves it with --tracker, and every client in the room (distswarm,
// libtorrent, qBittorrent, Transmission) can be given its announce URL.
//
// It keeps peers in memory only, bounded in torrents and peers per
// torrent, forgets peers that stop announcing, and takes a peer's address
// from its connection (never from the "ip" parameter). anacrolix v1.61's
// tracker/http/server needs a peer store it does not provide and logs
// through the global logger, hence this one.
package lantracker
