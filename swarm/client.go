package swarm

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/anacrolix/dht/v2"
	"github.com/anacrolix/torrent"
	tstorage "github.com/anacrolix/torrent/storage"
	"golang.org/x/time/rate"
)

// ClientOptions configures the BitTorrent client.
type ClientOptions struct {
	// ListenAddr is host:port for TCP and uTP; ":0" picks a free port.
	ListenAddr string
	// DHT enables the mainline DHT. Tests leave it off: they must never
	// bootstrap to public nodes.
	DHT bool
	// DHTNodes are bootstrap nodes (host:port); empty means the library's
	// public defaults. Only used with DHT.
	DHTNodes []string
	// NoTrackers disables announcing to the torrents' trackers.
	NoTrackers bool
	// UTP enables uTP (BEP 29) next to TCP. It is off by default: the
	// library dials TCP and uTP at once and keeps whichever connects
	// first, and its uTP moved 2–5 MiB/s on loopback where TCP moved
	// hundreds (docs/benchmarks.md), so a lost race made a fetch 20× slower.
	UTP bool
	// NoUpload makes the client leech only.
	NoUpload bool
	// SeedRequestCap, when positive, limits the requests kept outstanding
	// to a peer that has every piece while other peers that are still
	// downloading are connected (see seedCap).
	SeedRequestCap int
	// UploadRate and DownloadRate limit piece data in bytes per second
	// (0: unlimited).
	UploadRate, DownloadRate int64
	// Storage holds the torrents' data (a *storage.Store in distswarm).
	Storage tstorage.ClientImpl
	// Logger receives the library's errors; nil discards them.
	Logger *slog.Logger
}

// The DHT node's send rate: enough for a burst of lookups at start-up,
// far below what would flood a LAN or an uplink.
const (
	dhtSendRate  = 200
	dhtSendBurst = 50
)

// Outgoing peer dials per second and their burst (see NewClient).
const (
	dialsPerSecond = 30
	dialBurst      = 32
)

// writerWakeEvery is the library's KeepAliveTimeout: how long a
// connection's message writer may sit idle before it wakes by itself (and
// sends a 4-byte keep-alive if the connection is still useful).
//
// It bounds a lost wake-up in anacrolix v1.61's writer. The writer fills its
// buffer under the client lock (that is where it turns a pending request
// update into requests), releases the lock, and only then takes the
// condition it sleeps on (peerConnMsgWriter.run: fillWriteBuffer, then
// writeCond.Signaled()). A request update asked for in that gap (a block
// arrived and the connection had no requests left) broadcasts to nobody;
// the update stays pending, and every later one is dropped because one is
// pending (PeerConn.onNeedUpdateRequests). The connection then requests
// nothing until the writer wakes for another reason, at the latest after
// KeepAliveTimeout, a minute by default. Seen in P1 (one seeder, one
// leecher, 1 GiB): in about one run in four both of the fetch's
// connections sat unchoked, interested and with nothing requested for
// 8-16 s (until recycleIfStuck redialled), their update reason pending and
// their write buffers empty.
const writerWakeEvery = 2 * time.Second

// NewClient returns an anacrolix client configured the way distswarm needs:
// no UPnP, no WebTorrent, quiet logs, pad-aware webseeds, and a DHT only
// when asked for.
func NewClient(o ClientOptions) (*torrent.Client, error) {
	cfg := torrent.NewDefaultClientConfig()
	addr := o.ListenAddr
	if addr == "" {
		addr = ":0"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return nil, fmt.Errorf("listen address %q: bad port", addr)
	}
	cfg.ListenPort = p
	if host != "" {
		cfg.SetListenAddr(addr)
		if ip := net.ParseIP(host); ip != nil && ip.To4() != nil {
			// Listening on an IPv4 address with IPv6 enabled fails in
			// NewClient (ANACROLIX.md trap 15).
			cfg.DisableIPv6 = true
		}
	}
	cfg.NoDefaultPortForwarding = true
	cfg.DisableUTP = !o.UTP
	cfg.DisableWebtorrent = true
	cfg.DisableTrackers = o.NoTrackers
	cfg.Seed = true
	// Two peers that dial each other at once (leechers started together;
	// redialMissing, which cannot tell a given peer's incoming connection
	// from a stranger's) would otherwise keep both connections, each with
	// its own requests and Have messages. The library keeps the one dialled
	// by the peer with the higher peer ID, so both ends keep the same one.
	cfg.DropDuplicatePeerIds = true
	cfg.KeepAliveTimeout = writerWakeEvery
	// The library dials at most 10 peers a second (burst 10). A sharded
	// collection is one torrent per shard, each dialling the same peers,
	// so a 16-shard fetch waited 0.6 s before its last shards had a
	// connection. libtorrent dials 30 a second (connection_speed); so does
	// distswarm, with a burst that covers every shard of a collection.
	cfg.DialRateLimiter = rate.NewLimiter(dialsPerSecond, dialBurst)
	cfg.NoUpload = o.NoUpload
	cfg.DefaultStorage = o.Storage
	if o.UploadRate > 0 {
		cfg.UploadRateLimiter = byteLimiter(o.UploadRate)
	}
	if o.DownloadRate > 0 {
		cfg.DownloadRateLimiter = byteLimiter(o.DownloadRate)
	}
	var sc *seedCap
	if o.SeedRequestCap > 0 {
		sc = newSeedCap(o.SeedRequestCap)
		sc.install(cfg)
	}
	var balance *uploadBalance
	if o.SeedRequestCap > 0 {
		balance = &uploadBalance{}
		balance.install(cfg)
	}
	installV2HashGuard(&cfg.Callbacks)
	started := newStartedFiles()
	if sc != nil {
		started.swarming = sc.isActive
	}
	started.install(cfg)
	cfg.WebTransport = padRoundTripper{next: http.DefaultTransport}
	cfg.NoDHT = !o.DHT
	if o.DHT && len(o.DHTNodes) > 0 {
		nodes := append([]string(nil), o.DHTNodes...)
		cfg.DhtStartingNodes = func(network string) dht.StartingNodesGetter {
			return func() ([]dht.Addr, error) { return dht.ResolveHostPorts(nodes) }
		}
	}
	if o.DHT {
		cfg.ConfigureAnacrolixDhtServer = func(sc *dht.ServerConfig) {
			// Store announces so other distswarm nodes can find peers
			// through us (a LAN DHT); the library stores none by default.
			sc.PeerStore = newDHTPeerStore(time.Now)
			// The library's default limiter (25 packets/s) is shared by
			// every server in the process.
			sc.SendLimiter = rate.NewLimiter(dhtSendRate, dhtSendBurst)
		}
	}
	if !o.DHT {
		// Never reach for public bootstrap nodes when the DHT is off.
		cfg.DhtStartingNodes = func(string) dht.StartingNodesGetter {
			return func() ([]dht.Addr, error) { return nil, nil }
		}
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// The library's old-style logger writes to the same slog handler, which
	// filters by level (cmd/distswarm: -v, -vv, --log-level).
	cfg.Slogger = logger
	cl, err := torrent.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("start BitTorrent client on %s: %w", addr, err)
	}
	if balance != nil {
		balance.start(cl)
	}
	go started.run(cl.Closed())
	return cl, nil
}

// byteLimiter allows perSecond bytes a second, in bursts of at least one
// 16 KiB block (the library waits for a whole block's tokens at once).
func byteLimiter(perSecond int64) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(perSecond), max(int(perSecond), 1<<17))
}
