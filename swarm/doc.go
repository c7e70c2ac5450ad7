// Package swarm owns who distswarm talks to: the BitTorrent client's
// lifecycle and configuration, fetching named distfiles from collections
// (peers, webseeds, then plain HTTP), seeding, discovery (trackers, manual
// peers, PEX, DHT) and the authorities that files are verified against.
//
// Collections themselves (building, sharding, loading) live in
// swarm/collection; where bytes live and when they are final is package
// storage.
package swarm
