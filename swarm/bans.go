package swarm

import (
	"net"
	"net/netip"
	"sort"
	"strings"
)

// IP bans. anacrolix v1.61 bans the IP address of a peer that sent data
// failing its piece hash (Client.banPeerIP), for the life of the client and
// with no way to lift it: every peer at that address is dropped and never
// dialled again, so an honest peer behind the same NAT address, or another
// process on the same host, goes with the bad one. distswarm cannot undo
// that; it says so as soon as it happens, and a stall report names the
// given peers it took, so a fetch does not just wait in silence.

// bannedIPs returns the addresses the client has banned, sorted.
func (n *Node) bannedIPs() []netip.Addr {
	var out []netip.Addr
	for _, s := range n.cl.BadPeerIPs() {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a.Unmap())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}

// bannedGiven returns the given peers (--peer) whose IP address is among
// banned.
func (r *registry) bannedGiven(banned []netip.Addr) []string {
	var out []string
	for _, p := range r.peers {
		host, _, err := net.SplitHostPort(p.Addr.String())
		if err != nil {
			continue
		}
		a, err := netip.ParseAddr(host)
		if err != nil {
			continue
		}
		for _, b := range banned {
			if a.Unmap() == b {
				out = append(out, p.Addr.String())
				break
			}
		}
	}
	return out
}

// reportBans warns once for each address the client bans while the
// request runs.
func (r *fetchRun) reportBans() {
	for _, a := range r.n.bannedIPs() {
		if r.bansSeen[a] {
			continue
		}
		if r.bansSeen == nil {
			r.bansSeen = make(map[netip.Addr]bool)
		}
		r.bansSeen[a] = true
		r.log.Warn("banned IP address "+a.String()+": a peer there sent data that failed its hash check, and every peer at that address is now dropped, honest ones too (the library bans whole addresses until this process exits)",
			"given_peers_banned", strings.Join(r.n.reg.bannedGiven([]netip.Addr{a}), " "))
	}
}
