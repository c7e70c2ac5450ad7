package lsd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"golang.org/x/time/rate"
)

// Defaults of Config.
var (
	// DefaultBurst is when an infohash is announced after it is added.
	DefaultBurst = []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second}
)

const (
	// DefaultInterval is how often each infohash is announced after its
	// burst (libtorrent's is 5 minutes too).
	DefaultInterval = 5 * time.Minute
	// DefaultSendRate bounds the datagrams sent per second, all
	// interfaces and families together.
	DefaultSendRate = 20
	// DefaultReceiveRate bounds the datagrams processed per second; more
	// are dropped unread.
	DefaultReceiveRate = 200
	// replyGap is the least time between two announces of an infohash
	// brought forward to answer newcomers (see answer).
	replyGap = 5 * time.Second
	// replyJitter spreads the answers of the machines on a LAN.
	replyJitter = 500 * time.Millisecond
	// DefaultInterfaceRefresh is how often interfaces that came up (a
	// cable plugged in, a new network) are looked for.
	DefaultInterfaceRefresh = 30 * time.Second
)

// Config configures a Service.
type Config struct {
	// Port is the BitTorrent listen port announced (required).
	Port int
	// Interfaces are the names of the interfaces to announce and listen
	// on; empty means every one that is up, multicast-capable and not
	// loopback. A named interface may be loopback.
	Interfaces []string
	// NoIPv6 keeps to IPv4 (239.192.152.143) only.
	NoIPv6 bool
	// OnPeer is called for each (infohash, peer) heard, at most once per
	// half Interval for the same pair, so each periodic announce of a
	// peer reaches it again (required). It runs on the receiving
	// goroutine: it should not block for long.
	OnPeer func(Peer)
	// Interval is how often each infohash is announced after its burst
	// (default DefaultInterval).
	Interval time.Duration
	// Burst are the times after an infohash is added when it is
	// announced (default DefaultBurst).
	Burst []time.Duration
	// InterfaceRefresh is how often the interfaces are looked at again
	// (default DefaultInterfaceRefresh): ones that came up are joined and
	// every infohash gets a new burst there.
	InterfaceRefresh time.Duration
	// SendRate and ReceiveRate bound datagrams per second (defaults
	// DefaultSendRate, DefaultReceiveRate).
	SendRate, ReceiveRate float64
	Logger                *slog.Logger
}

// Peer is a peer heard on the LAN for an infohash.
type Peer struct {
	Infohash metainfo.Hash
	// Addr is the announce's source address with its Port header; an
	// IPv6 link-local address carries its interface as the zone.
	Addr netip.AddrPort
	// Interface is the name of the interface the announce came in on.
	Interface string
}

// Stats are a Service's counters.
type Stats struct {
	Sent, SendErrors           int64 // datagrams
	Received, Own, Dropped     int64 // datagrams: all, our own, dropped (rate, size, parse, foreign interface)
	PeersReported              int64
	Interfaces, InterfacesIPv6 int
}

// Service announces infohashes on the LAN and reports the peers it hears.
type Service struct {
	cfg     Config
	log     *slog.Logger
	cookie  string
	sendLim *rate.Limiter
	recvLim *rate.Limiter
	wake    chan struct{}
	done    chan struct{}
	started atomic.Bool

	mu     sync.Mutex
	sched  map[metainfo.Hash]*schedule
	peers  *peerTable
	ifaces []lanInterface

	socks sockets
	stats counters
}

// schedule is when an infohash is announced next.
type schedule struct {
	added    time.Time
	next     time.Time
	lastSent time.Time
	stage    int // index into Burst of the next announce; len(Burst) after the burst
}

type counters struct {
	sent, sendErrors, received, own, dropped, peers atomic.Int64
}

// New checks cfg and returns a Service that does nothing until Start.
func New(cfg Config) (*Service, error) {
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("lsd: port %d out of range", cfg.Port)
	}
	if cfg.OnPeer == nil {
		return nil, errors.New("lsd: no OnPeer")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if len(cfg.Burst) == 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.InterfaceRefresh <= 0 {
		cfg.InterfaceRefresh = DefaultInterfaceRefresh
	}
	if cfg.SendRate <= 0 {
		cfg.SendRate = DefaultSendRate
	}
	if cfg.ReceiveRate <= 0 {
		cfg.ReceiveRate = DefaultReceiveRate
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var c [8]byte
	if _, err := rand.Read(c[:]); err != nil {
		return nil, fmt.Errorf("lsd: cookie: %w", err)
	}
	return &Service{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "lsd"),
		cookie:  hex.EncodeToString(c[:]),
		sendLim: rate.NewLimiter(rate.Limit(cfg.SendRate), 2*int(cfg.SendRate)+1),
		recvLim: rate.NewLimiter(rate.Limit(cfg.ReceiveRate), 2*int(cfg.ReceiveRate)+1),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		sched:   map[metainfo.Hash]*schedule{},
		peers:   newPeerTable(cfg.Interval / 2),
	}, nil
}

// Cookie is the cookie of this Service's announces.
func (s *Service) Cookie() string { return s.cookie }

// SetInfohashes makes ihs the set announced: new ones get their burst,
// ones no longer in it are no longer announced.
func (s *Service) SetInfohashes(ihs []metainfo.Hash) {
	now := time.Now()
	s.mu.Lock()
	keep := make(map[metainfo.Hash]bool, len(ihs))
	added := false
	for _, ih := range ihs {
		keep[ih] = true
		if _, ok := s.sched[ih]; !ok {
			s.sched[ih] = &schedule{added: now, next: now}
			added = true
		}
	}
	for ih := range s.sched {
		if !keep[ih] {
			delete(s.sched, ih)
		}
	}
	s.mu.Unlock()
	if added {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// Announce adds ihs to the set announced.
func (s *Service) Announce(ihs ...metainfo.Hash) {
	s.mu.Lock()
	all := make([]metainfo.Hash, 0, len(s.sched)+len(ihs))
	for ih := range s.sched {
		all = append(all, ih)
	}
	s.mu.Unlock()
	s.SetInfohashes(append(all, ihs...))
}

// Stats returns the counters.
func (s *Service) Stats() Stats {
	s.mu.Lock()
	st := Stats{Interfaces: len(s.ifaces)}
	for _, li := range s.ifaces {
		if li.v6 && s.socks.v6 != nil {
			st.InterfacesIPv6++
		}
	}
	s.mu.Unlock()
	st.Sent, st.SendErrors = s.stats.sent.Load(), s.stats.sendErrors.Load()
	st.Received, st.Own, st.Dropped = s.stats.received.Load(), s.stats.own.Load(), s.stats.dropped.Load()
	st.PeersReported = s.stats.peers.Load()
	return st
}

// Start opens the sockets, joins the groups on the interfaces and starts
// announcing and listening until ctx is done (then Done is closed). It
// fails when a named interface is missing or no family could be opened.
func (s *Service) Start(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("lsd: already started")
	}
	ifaces, err := chooseInterfaces(s.cfg.Interfaces)
	if err != nil {
		return err
	}
	if err := s.socks.open(ctx, !s.cfg.NoIPv6, s.log); err != nil {
		return err
	}
	s.mu.Lock()
	s.ifaces = s.socks.join(ifaces, s.log)
	n := len(s.ifaces)
	s.mu.Unlock()
	if n == 0 {
		s.log.Warn("LAN discovery: no suitable interface yet; looking again", "every", s.cfg.InterfaceRefresh)
	}
	s.log.Info("LAN discovery started", "interfaces", n, "ipv6", s.socks.v6 != nil, "port", s.cfg.Port)
	s.run(ctx)
	return nil
}

// Done is closed when a started Service has stopped after its context
// ended (never when Start failed or was not called).
func (s *Service) Done() <-chan struct{} { return s.done }

func (s *Service) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.announceLoop(ctx) }()
	if s.socks.v4 != nil {
		wg.Add(1)
		go func() { defer wg.Done(); s.receiveLoop(ctx, s.socks.readV4) }()
	}
	if s.socks.v6 != nil {
		wg.Add(1)
		go func() { defer wg.Done(); s.receiveLoop(ctx, s.socks.readV6) }()
	}
	go func() {
		<-ctx.Done()
		s.socks.close()
		wg.Wait()
		close(s.done)
	}()
}

// Interfaces are the names of the interfaces in use.
func (s *Service) Interfaces() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.ifaces))
	for _, li := range s.ifaces {
		out = append(out, li.Name)
	}
	return out
}

// Seen returns the peers heard on the LAN (for any infohash, announced by
// this Service or not) within the last half Interval, newest first: the
// collections and machines of the LAN. Bounded like the peer table.
func (s *Service) Seen() []Sighting {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peers.prune(now)
	return s.peers.all()
}
