package lsd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// The BEP 14 groups.
var (
	groupV4 = &net.UDPAddr{IP: net.IPv4(239, 192, 152, 143), Port: Port}
	groupV6 = &net.UDPAddr{IP: net.ParseIP("ff15::efc0:988f"), Port: Port}
)

// sockets are the two multicast sockets, one per family, each bound to
// the BEP 14 port and joined on every interface in use. Each datagram is
// sent on one interface by naming it in the packet's control message.
type sockets struct {
	v4 *ipv4.PacketConn
	v6 *ipv6.PacketConn
}

// received is one datagram read: its bytes, source and interface index.
type received struct {
	n       int
	src     netip.Addr
	ifIndex int
}

func (s *sockets) open(ctx context.Context, withV6 bool, log *slog.Logger) error {
	lc := net.ListenConfig{Control: reuseAddr}
	c4, err4 := lc.ListenPacket(ctx, "udp4", fmt.Sprintf("0.0.0.0:%d", Port))
	if err4 == nil {
		s.v4 = ipv4.NewPacketConn(c4)
		err4 = configureV4(s.v4)
	}
	if err4 != nil {
		log.Warn("LAN discovery: no IPv4", "err", err4)
		s.closeV4()
		s.v4 = nil
	}
	var err6 error
	if withV6 {
		c6, err := lc.ListenPacket(ctx, "udp6", fmt.Sprintf("[::]:%d", Port))
		if err6 = err; err == nil {
			s.v6 = ipv6.NewPacketConn(c6)
			err6 = configureV6(s.v6)
		}
		if err6 != nil {
			log.Info("LAN discovery: no IPv6", "err", err6)
			s.closeV6()
			s.v6 = nil
		}
	}
	if s.v4 == nil && s.v6 == nil {
		return fmt.Errorf("lsd: open UDP port %d: %w", Port, errors.Join(err4, err6))
	}
	return nil
}

// configureV4: link-local reach (TTL 1: announces never leave the LAN),
// looped back so other programs on this machine hear them, and the
// arrival interface reported.
func configureV4(c *ipv4.PacketConn) error {
	if err := c.SetMulticastTTL(1); err != nil {
		return fmt.Errorf("multicast TTL: %w", err)
	}
	if err := c.SetMulticastLoopback(true); err != nil {
		return fmt.Errorf("multicast loopback: %w", err)
	}
	if err := c.SetControlMessage(ipv4.FlagInterface, true); err != nil {
		return fmt.Errorf("IP_PKTINFO: %w", err)
	}
	return nil
}

func configureV6(c *ipv6.PacketConn) error {
	if err := c.SetMulticastHopLimit(1); err != nil {
		return fmt.Errorf("multicast hop limit: %w", err)
	}
	if err := c.SetMulticastLoopback(true); err != nil {
		return fmt.Errorf("multicast loopback: %w", err)
	}
	if err := c.SetControlMessage(ipv6.FlagInterface, true); err != nil {
		return fmt.Errorf("IPV6_RECVPKTINFO: %w", err)
	}
	return nil
}

// join joins the groups on each interface and returns those it joined on
// for at least one family, with the families that worked.
func (s *sockets) join(ifaces []lanInterface, log *slog.Logger) []lanInterface {
	var out []lanInterface
	for _, li := range ifaces {
		if j := s.joinMissing(li, lanInterface{Interface: li.Interface}, log); j.v4 || j.v6 {
			out = append(out, j)
		}
	}
	return out
}

// joinMissing joins on cur the families it has addresses of that have
// (the same interface as joined so far) lacks, and returns what is joined
// now.
func (s *sockets) joinMissing(cur, have lanInterface, log *slog.Logger) lanInterface {
	ifi := cur.Interface
	out := have
	out.Interface = ifi
	out.src4 = cur.src4
	if cur.v4 && !have.v4 && s.v4 != nil {
		if err := s.v4.JoinGroup(&ifi, groupV4); err != nil {
			log.Warn("LAN discovery: join IPv4 group", "interface", ifi.Name, "err", err)
		} else {
			out.v4 = true
		}
	}
	if cur.v6 && !have.v6 && s.v6 != nil {
		if err := s.v6.JoinGroup(&ifi, groupV6); err != nil {
			log.Info("LAN discovery: join IPv6 group", "interface", ifi.Name, "err", err)
		} else {
			out.v6 = true
		}
	}
	return out
}

// leave leaves the groups on an interface no longer used (errors are
// expected when it is gone).
func (s *sockets) leave(li lanInterface) {
	ifi := li.Interface
	if li.v4 && s.v4 != nil {
		_ = s.v4.LeaveGroup(&ifi, groupV4)
	}
	if li.v6 && s.v6 != nil {
		_ = s.v6.LeaveGroup(&ifi, groupV6)
	}
}

// send sends b on li in the family asked for.
func (s *sockets) send(li lanInterface, v6 bool, b []byte) error {
	if v6 {
		_, err := s.v6.WriteTo(b, &ipv6.ControlMessage{IfIndex: li.Index}, groupV6)
		return err
	}
	_, err := s.v4.WriteTo(b, &ipv4.ControlMessage{IfIndex: li.Index, Src: li.src4}, groupV4)
	return err
}

func (s *sockets) readV4(buf []byte) (received, error) {
	n, cm, src, err := s.v4.ReadFrom(buf)
	if err != nil {
		return received{}, err
	}
	return receivedFrom(n, ifIndexV4(cm), src), nil
}

func (s *sockets) readV6(buf []byte) (received, error) {
	n, cm, src, err := s.v6.ReadFrom(buf)
	if err != nil {
		return received{}, err
	}
	idx := 0
	if cm != nil {
		idx = cm.IfIndex
	}
	return receivedFrom(n, idx, src), nil
}

func ifIndexV4(cm *ipv4.ControlMessage) int {
	if cm == nil {
		return 0
	}
	return cm.IfIndex
}

func receivedFrom(n int, ifIndex int, src net.Addr) received {
	r := received{n: n, ifIndex: ifIndex}
	if ua, ok := src.(*net.UDPAddr); ok {
		if a, ok := netip.AddrFromSlice(ua.IP); ok {
			r.src = a.Unmap()
		}
	}
	return r
}

func (s *sockets) close() {
	s.closeV4()
	s.closeV6()
}

func (s *sockets) closeV4() {
	if s.v4 != nil {
		s.v4.Close()
	}
}

func (s *sockets) closeV6() {
	if s.v6 != nil {
		s.v6.Close()
	}
}
