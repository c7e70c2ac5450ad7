// Package gateway owns the HTTP face of a distswarm node: the mirror
// (GET/HEAD /distfiles/layout.conf and /distfiles/<GLEP 75 path>, so
// unmodified Portage can use a node as a GENTOO_MIRRORS entry), the binhost
// under /binpkgs (a package the node's trust file refuses is 403 with its
// counts), the status page at "/", the JSON API under /api/v1 (status,
// collections, recent, quarantine, binpkgs) and the Prometheus text at
// /metrics.
//
// The gateway holds no state of its own beyond a bound on concurrent misses:
// everything it shows comes from a [Backend] (the node) at request time, and
// every distfile it serves is one the Backend has verified. It never serves
// anything but layout.conf and paths that are exactly where the store's
// layout puts a valid distfile name (or the flat name): no directory
// listings, no dotfiles, nothing of the store's private directories
// (.partial, .quarantine, .distswarm, collections) and nothing outside the
// distfiles tree, whatever the encoding of the request path.
//
// The daemon (cmd/distswarm) mounts [New]'s handler on its --gateway address.
package gateway
