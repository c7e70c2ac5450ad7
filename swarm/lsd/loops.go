package lsd

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/anacrolix/torrent/metainfo"
)

// announceLoop sends each infohash when its schedule says, and looks for
// new interfaces now and then, until ctx is done.
func (s *Service) announceLoop(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	refresh := time.NewTicker(s.cfg.InterfaceRefresh)
	defer refresh.Stop()
	for {
		due, next := s.takeDue(time.Now())
		if len(due) > 0 {
			s.sendAll(ctx, due)
		}
		timer.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-timer.C:
		case <-refresh.C:
			s.refreshInterfaces()
		}
	}
}

// takeDue returns the infohashes due at now, moves their schedules on,
// and returns when the next one is due.
func (s *Service) takeDue(now time.Time) ([]metainfo.Hash, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []metainfo.Hash
	next := now.Add(s.cfg.Interval)
	for ih, sc := range s.sched {
		if !sc.next.After(now) {
			due = append(due, ih)
			sc.lastSent = now
			s.advance(sc, now)
		}
		if sc.next.Before(next) {
			next = sc.next
		}
	}
	slices.SortFunc(due, func(a, b metainfo.Hash) int { return slices.Compare(a[:], b[:]) })
	return due, next
}

// advance moves sc to its next burst time, or after the burst to an
// Interval from now with ±10 % jitter, so that machines started together
// drift apart.
func (s *Service) advance(sc *schedule, now time.Time) {
	sc.stage++
	if sc.stage < len(s.cfg.Burst) {
		sc.next = sc.added.Add(s.cfg.Burst[sc.stage])
		return
	}
	jitter := time.Duration((rand.Float64()*0.2 - 0.1) * float64(s.cfg.Interval))
	sc.next = now.Add(s.cfg.Interval + jitter)
}

// sendAll announces ihs on every interface in each family, within the
// global send rate.
func (s *Service) sendAll(ctx context.Context, ihs []metainfo.Hash) {
	s.mu.Lock()
	ifaces := slices.Clone(s.ifaces)
	s.mu.Unlock()
	for _, v6 := range []bool{false, true} {
		dgs := MarshalAnnounces(v6, s.cfg.Port, s.cookie, ihs)
		for _, li := range ifaces {
			if (v6 && !li.v6) || (!v6 && !li.v4) {
				continue
			}
			for _, dg := range dgs {
				if s.sendLim.Wait(ctx) != nil {
					return
				}
				if err := s.socks.send(li, v6, dg); err != nil {
					s.stats.sendErrors.Add(1)
					s.log.Debug("LAN discovery: send", "interface", li.Name, "ipv6", v6, "err", err)
					continue
				}
				s.stats.sent.Add(1)
			}
		}
	}
}

// refreshInterfaces joins the groups on interfaces that appeared (or
// gained an address family), leaves those that went, and forgets expired
// peers. Anything new restarts the bursts: there is a new network to tell.
func (s *Service) refreshInterfaces() {
	cur, err := chooseInterfaces(s.cfg.Interfaces)
	if err != nil {
		s.log.Debug("LAN discovery: interfaces", "err", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peers.prune(time.Now())
	old := map[int]lanInterface{}
	for _, li := range s.ifaces {
		old[li.Index] = li
	}
	var next []lanInterface
	changed := false
	for _, li := range cur {
		have, known := old[li.Index]
		delete(old, li.Index)
		if !known {
			have = lanInterface{Interface: li.Interface}
		}
		j := s.socks.joinMissing(li, have, s.log)
		if j.v4 != have.v4 || j.v6 != have.v6 {
			changed = true
			s.log.Info("LAN discovery: interface in use", "interface", li.Name, "ipv4", j.v4, "ipv6", j.v6)
		}
		if j.v4 || j.v6 {
			next = append(next, j)
		}
	}
	for _, li := range old {
		s.socks.leave(li)
	}
	s.ifaces = next
	if changed {
		s.reannounceLocked(time.Now())
	}
}

// reannounceLocked restarts every infohash's burst (a new network to
// tell).
func (s *Service) reannounceLocked(now time.Time) {
	for _, sc := range s.sched {
		*sc = schedule{added: now, next: now}
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// receiveLoop reads datagrams with read until the socket is closed.
func (s *Service) receiveLoop(ctx context.Context, read func([]byte) (received, error)) {
	buf := make([]byte, MaxDatagram+1)
	for {
		r, err := read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Debug("LAN discovery: receive", "err", err)
			select { // a persistent error must not spin
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		s.handle(buf[:r.n], r)
	}
}

// handle takes one datagram: within the receive rate, from an interface
// in use, of acceptable size, parsed, not our own; each fresh (infohash,
// peer) goes to OnPeer.
func (s *Service) handle(b []byte, r received) {
	s.stats.received.Add(1)
	name, ok := s.interfaceName(r.ifIndex)
	if !ok || !s.recvLim.Allow() || !r.src.IsValid() || r.src.IsUnspecified() {
		s.stats.dropped.Add(1)
		return
	}
	a, err := ParseAnnounce(b)
	if err != nil {
		s.stats.dropped.Add(1)
		return
	}
	if a.Cookie == s.cookie {
		s.stats.own.Add(1)
		return
	}
	src := r.src
	if src.Is6() && src.IsLinkLocalUnicast() {
		src = src.WithZone(name)
	}
	now := time.Now()
	var newcomers []metainfo.Hash
	for _, ih := range a.Infohashes {
		p := Peer{Infohash: ih, Addr: netip.AddrPortFrom(src, uint16(a.Port)), Interface: name}
		s.mu.Lock()
		fresh := s.peers.fresh(ih, p.Addr, now)
		s.mu.Unlock()
		if fresh {
			s.stats.peers.Add(1)
			newcomers = append(newcomers, ih)
			s.cfg.OnPeer(p)
		}
	}
	s.answer(newcomers, now)
}

// answer brings forward the announce of infohashes a new peer announced,
// when this Service announces them too and has not within replyGap: the
// newcomer hears of us in about a second, not at our next periodic
// announce minutes later (it needs to when it cannot be dialled).
func (s *Service) answer(ihs []metainfo.Hash, now time.Time) {
	s.mu.Lock()
	woke := false
	for _, ih := range ihs {
		sc, ok := s.sched[ih]
		if !ok || now.Sub(sc.lastSent) < replyGap {
			continue
		}
		if at := now.Add(rand.N(replyJitter)); at.Before(sc.next) {
			sc.next = at
			woke = true
		}
	}
	s.mu.Unlock()
	if woke {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// interfaceName is the name of the interface in use with index idx; ok is
// false for interfaces not in use (another program's membership lets
// their datagrams reach this socket too).
func (s *Service) interfaceName(idx int) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, li := range s.ifaces {
		if li.Index == idx {
			return li.Name, true
		}
	}
	return "", false
}
