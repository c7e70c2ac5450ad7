// Package lsd is BitTorrent Local Service Discovery (BEP 14): a node tells
// the machines on its LAN which torrents it has, and hears which ones they
// have, by multicast, with no tracker, DHT or configuration.
//
// An announce is an HTTP-like UDP datagram sent to 239.192.152.143:6771
// (IPv4) and [ff15::efc0:988f]:6771 (IPv6):
//
//	BT-SEARCH * HTTP/1.1\r\n
//	Host: 239.192.152.143:6771\r\n
//	Port: 6881\r\n
//	Infohash: 0123456789abcdef0123456789abcdef01234567\r\n
//	Infohash: ...                      (BEP 14 allows several)\r\n
//	cookie: 5f3a9c1e\r\n
//	\r\n
//	\r\n
//
// The receiver takes the datagram's source address with the Port header
// as the peer of every Infohash. libtorrent (and qBittorrent, which links
// it) writes one infohash per datagram with a hexadecimal cookie;
// Transmission 3 writes no cookie; header names are matched without
// regard to case and hex digits in either case, as other clients write
// them.
//
// A Service announces a set of infohashes (the caller's collections:
// nothing per file is ever sent) on every suitable interface — up,
// multicast-capable and not loopback, or the ones chosen explicitly — in a
// fast burst when an infohash is added (0, 1, 3, 7 s) and then every few
// minutes. Everything it does is bounded: outgoing datagrams by a global
// rate, incoming ones by size, rate and infohash count, and the peers it
// remembers (to report each one once per window) by count per infohash
// and in total. Its own announces, recognised by a random cookie, are
// ignored.
package lsd
