package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/user"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/distswarm/distswarm/manifest/trust"
	"github.com/distswarm/distswarm/swarm"
	"github.com/distswarm/distswarm/swarm/control"
	"github.com/distswarm/distswarm/swarm/gateway"
	"github.com/distswarm/distswarm/swarm/lsd"
)

// defaultUpstream is the mirror a gateway miss falls back to (not with --offline).
const defaultUpstream = "https://distfiles.gentoo.org"

// How often the daemon looks for collections added to STORE/collections.
const rescanEvery = 5 * time.Second

func daemonCommand() *cli.Command {
	flags := append(networkFlags(),
		&cli.StringFlag{Name: "gateway", Usage: "HTTP gateway and status page address (a LAN address serves other machines; 'off' disables it)", Value: "127.0.0.1:6880"},
		&cli.StringSliceFlag{Name: "upstream", Usage: "GLEP 75 mirror for gateway misses (repeatable; default " + defaultUpstream + ", none with --offline)"},
		&cli.StringFlag{Name: "socket-group", Usage: "group that may use the control socket besides root and this user", Value: "portage"},
		&cli.StringFlag{Name: "repo", Usage: "ebuild repository whose Manifests the gateway verifies against (e.g. /var/db/repos/gentoo)"},
		&cli.StringSliceFlag{Name: "manifest", Usage: "Manifest file the gateway verifies against (repeatable)"},
		&cli.DurationFlag{Name: "swarm-timeout", Usage: "how long a gateway miss may try the swarm before the upstream mirrors", Value: 20 * time.Second},
		&cli.StringFlag{Name: "upload-rate", Usage: "upload limit in bytes/s (e.g. 2MiB; 0 = none)", Value: "0"},
		&cli.StringFlag{Name: "download-rate", Usage: "download limit in bytes/s (e.g. 10MiB; 0 = none)", Value: "0"},
		&cli.BoolFlag{Name: "lsd", Usage: "LAN discovery (BEP 14): announce the store's collections on the LAN and use the peers heard there, also with --offline (--lsd=false turns it off)", Value: true},
		&cli.StringFlag{Name: "tracker", Usage: "serve an HTTP BitTorrent tracker for a LAN event on this address (e.g. :6969); every collection of the node is announced to it, and its announce URL is on the status page"},
		&cli.StringSliceFlag{Name: "lsd-interface", Usage: "network interface for LAN discovery (repeatable; default every multicast interface that is up, or the one holding --listen's address)"},
	)
	flags = append(flags, trustFlags()...)
	for _, f := range flags {
		if sf, ok := f.(*cli.StringFlag); ok && sf.Name == "listen" {
			sf.Value = ":6881"
		}
	}
	return &cli.Command{
		Name:  "daemon",
		Usage: "run the node of a store: seed it, serve Portage and the LAN, until stopped",
		Description: `Runs one long-lived node on the store:
 - seeds every collection in STORE/collections (picked up without a restart)
   and every verified file the store holds, on --listen (default :6881);
 - serves a control API on STORE/.distswarm/control.sock (mode 0660, group
   --socket-group): 'distswarm fetch', 'seed', 'collection add' and Portage
   mode hand their work to it automatically;
 - finds peers on the LAN (BEP 14 Local Service Discovery, --lsd): machines
   running the daemon share their collections with no --peer, tracker or DHT,
   and learn the collections announced there (info and Manifest, no data):
   'distswarm fetch NAME', Portage mode and the gateway find files in them;
 - with --tracker ADDR, serves an HTTP tracker for a LAN event (announce URL
   on the status page and standard error) and announces to it;
 - serves an HTTP gateway on --gateway: GET /distfiles/layout.conf and GLEP 75
   paths, so GENTOO_MIRRORS="http://HOST:6880" works for unmodified Portage.
   A miss is fetched from the swarm, then from --upstream, and verified
   against --repo/--manifest and the store's collection Manifests before a
   byte is served; the status page is at /, JSON at /api/v1/status,
   Prometheus metrics at /metrics;
 - serves a binhost at /binpkgs (binrepos.conf sync-uri) from the binpkg
   collections it knows. With --trust-file it lists and serves only the
   packages at least k trusted keys attest (others: 403 with the counts),
   and the status page and /api/v1/binpkgs show "k of M agree, j disagree,
   r missing" per package; without one, packages are vouched for by the
   collections' own unsigned digest indexes and shown as UNVERIFIED.

When ready it prints one line on standard output:
   ready gateway=http://ADDR bt-port=PORT control=SOCKET
SIGTERM or SIGINT stops it gracefully (state flushed).

Examples:
   distswarm daemon --store /var/cache/distswarm --repo /var/db/repos/gentoo
   distswarm daemon --gateway 0.0.0.0:6880 --upload-rate 5MiB
   distswarm daemon --offline --lsd-interface eth0     # a LAN event without Internet
   distswarm daemon --offline --tracker :6969          # ... with a tracker for other clients`,
		Flags:  flags,
		Action: runDaemon,
	}
}

// daemonConfig is what runDaemon needs from the flags.
type daemonConfig struct {
	gateway      string
	upstreams    []string
	socketGroup  int
	swarmTimeout time.Duration
	trust        *trust.Policy // nil: the binhost is UNVERIFIED
}

func daemonConfigOf(c *cli.Context) (daemonConfig, error) {
	d := daemonConfig{gateway: c.String("gateway"), upstreams: c.StringSlice("upstream"), swarmTimeout: c.Duration("swarm-timeout"), socketGroup: -1}
	policy, _, err := trustPolicy(c, "daemon")
	if err != nil {
		return d, err
	}
	d.trust = policy
	if len(d.upstreams) == 0 && !c.Bool("offline") {
		d.upstreams = []string{defaultUpstream}
	}
	if g := c.String("socket-group"); g != "" {
		gid, err := lookupGroup(g)
		if err != nil && c.IsSet("socket-group") {
			return d, usageErr("daemon --socket-group %s: %v", g, err)
		}
		if err == nil {
			d.socketGroup = gid
		}
	}
	return d, nil
}

func lookupGroup(g string) (int, error) {
	if gid, err := strconv.Atoi(g); err == nil {
		return gid, nil
	}
	grp, err := user.LookupGroup(g)
	if err != nil {
		return -1, err
	}
	return strconv.Atoi(grp.Gid)
}

func runDaemon(c *cli.Context) error {
	ctx, stop := signalContext(c.Context)
	defer stop()
	defer followLiveHeap()() // a node seeds: the seeder's memory policy, see memlimit.go
	cfg, err := daemonConfigOf(c)
	if err != nil {
		return err
	}
	store, err := openStoreFlag(c)
	if err != nil {
		return err
	}
	copts, err := daemonClientOptions(c)
	if err != nil {
		return err
	}
	auth, err := buildAuthority(ctx, c)
	if err != nil {
		return err
	}
	log := logger(c)
	tr, err := startTrackerFlag(c, &copts, log)
	if err != nil {
		return err
	}
	if tr != nil {
		defer tr.ln.Close()
	}
	node, err := swarm.OpenNode(ctx, swarm.NodeOptions{
		Store: store, Client: copts, Peers: c.StringSlice("peer"), Authority: auth, Logger: log,
		OnLockWait: func() {
			fmt.Fprintf(c.App.ErrWriter, "store %s is in use by another distswarm process; waiting\n", store.Root)
		},
	})
	if err != nil {
		return failedErr("daemon: %v", err)
	}
	defer node.Close()
	if tr != nil {
		node.UseTracker(tr.url, c.Bool("offline"))
	}
	if _, err := node.TrustKnownManifests(); err != nil {
		return failedErr("daemon: %v", err)
	}
	if _, err := node.SeedKnown(ctx); err != nil {
		return failedErr("daemon: %v", err)
	}
	stopLAN, err := startLAN(ctx, c, node, log)
	if err != nil {
		return err
	}
	defer stopLAN()
	ctl, err := control.Listen(node, store.ControlSocket(), control.Options{Group: cfg.socketGroup, Logger: log})
	if err != nil {
		return failedErr("daemon: %v", err)
	}
	gw, gwURL, err := startGateway(cfg, node, log)
	if err != nil {
		return failedErr("daemon: %v", err)
	}
	errc := make(chan error, 3)
	go func() { errc <- ctl.Serve() }()
	if gw != nil {
		go func() { errc <- serveHTTP(gw) }()
	}
	if tr != nil {
		go func() { errc <- tr.serve() }()
		fmt.Fprintf(c.App.ErrWriter, "tracker: announce URL %s\n", tr.url)
	}
	fmt.Fprintf(c.App.Writer, "ready gateway=%s bt-port=%d control=%s\n", gwURL, node.Port(), store.ControlSocket())
	err = daemonLoop(ctx, node, log, errc)
	shutdown(ctl, gw, tr)
	if err != nil {
		return failedErr("daemon: %v", err)
	}
	return nil
}

// daemonLoop picks up new collections until ctx ends or a server fails.
func daemonLoop(ctx context.Context, node *swarm.Node, log *slog.Logger, errc <-chan error) error {
	tick := time.NewTicker(rescanEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return err
		case <-tick.C:
			if n, err := node.SeedKnown(ctx); err != nil {
				log.Warn("seed new collections", "err", err)
			} else if n > 0 {
				log.Info("seeding new collections", "count", n)
			}
			if _, err := node.TrustKnownManifests(); err != nil {
				log.Warn("collection Manifests", "err", err)
			}
		}
	}
}

type gatewayServer struct {
	srv *http.Server
	ln  net.Listener
}

func startGateway(cfg daemonConfig, node *swarm.Node, log *slog.Logger) (*gatewayServer, string, error) {
	if cfg.gateway == "" || cfg.gateway == "off" {
		return nil, "off", nil
	}
	ln, err := net.Listen("tcp", cfg.gateway)
	if err != nil {
		return nil, "", fmt.Errorf("gateway: %w", err)
	}
	src := swarm.GatewaySource{Node: node, Upstreams: cfg.upstreams, SwarmTimeout: cfg.swarmTimeout, Trust: cfg.trust}
	if cfg.trust == nil {
		log.Warn("gateway: no --trust-file: the /binpkgs binhost serves what the collections' own unsigned digest indexes vouch for (UNVERIFIED)")
	} else {
		log.Info("gateway: the /binpkgs binhost applies the trust file", "keys", len(cfg.trust.Keys), "threshold", cfg.trust.Threshold)
	}
	srv := &http.Server{
		Handler:           gateway.New(src, gateway.Options{Logger: log}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return &gatewayServer{srv: srv, ln: ln}, "http://" + ln.Addr().String(), nil
}

func serveHTTP(g *gatewayServer) error {
	if err := g.srv.Serve(g.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("gateway: %w", err)
	}
	return nil
}

// shutdown stops the servers, giving running requests a few seconds.
func shutdown(ctl *control.Server, gw *gatewayServer, tr *trackerServer) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = ctl.Shutdown(ctx)
	for _, srv := range []*http.Server{httpOf(gw), trackerHTTP(tr)} {
		if srv != nil && srv.Shutdown(ctx) != nil {
			srv.Close()
		}
	}
}

func httpOf(gw *gatewayServer) *http.Server {
	if gw == nil {
		return nil
	}
	return gw.srv
}

func trackerHTTP(tr *trackerServer) *http.Server {
	if tr == nil {
		return nil
	}
	return tr.srv
}

// startTrackerFlag starts the embedded tracker of --tracker, if given. The
// client then announces to trackers even with --offline (to this one
// only: the node leaves the collections' own out).
func startTrackerFlag(c *cli.Context, copts *swarm.ClientOptions, log *slog.Logger) (*trackerServer, error) {
	addr := c.String("tracker")
	if addr == "" || addr == "off" {
		return nil, nil
	}
	tr, err := startTracker(addr, log)
	if err != nil {
		return nil, usageErr("daemon --tracker %s: %v", addr, err)
	}
	copts.NoTrackers = false
	return tr, nil
}

func daemonClientOptions(c *cli.Context) (swarm.ClientOptions, error) {
	o := clientOptions(c)
	var err error
	if o.UploadRate, err = parseRate(c.String("upload-rate")); err != nil {
		return o, usageErr("daemon --upload-rate: %v", err)
	}
	if o.DownloadRate, err = parseRate(c.String("download-rate")); err != nil {
		return o, usageErr("daemon --download-rate: %v", err)
	}
	return o, nil
}

// startLAN starts LAN discovery unless --lsd=false, and returns what
// stops it (waiting until no more peers reach the node, which may then
// close). Interfaces: those of --lsd-interface, else the one holding
// --listen's address when it names one, else every suitable one. A
// failure without --lsd-interface is logged, not fatal: the daemon works
// without it.
func startLAN(ctx context.Context, c *cli.Context, node *swarm.Node, log *slog.Logger) (func(), error) {
	nothing := func() {}
	if !c.Bool("lsd") {
		return nothing, nil
	}
	ifaces := c.StringSlice("lsd-interface")
	if len(ifaces) == 0 {
		name, specific, err := listenInterface(c.String("listen"))
		if err != nil {
			log.Warn("LAN discovery off", "listen", c.String("listen"), "err", err)
			return nothing, nil
		}
		if specific {
			ifaces = []string{name}
		}
	}
	lanCtx, cancel := context.WithCancel(ctx)
	svc, err := node.StartLAN(lanCtx, swarm.LANOptions{Interfaces: ifaces})
	if err != nil {
		cancel()
		if c.IsSet("lsd-interface") {
			return nothing, usageErr("daemon --lsd-interface: %v", err)
		}
		log.Warn("LAN discovery off", "err", err)
		return nothing, nil
	}
	return func() {
		cancel()
		<-svc.Done()
		node.WaitLAN()
		st := svc.Stats()
		log.Info("LAN discovery stopped", "sent", st.Sent, "received", st.Received, "peers", st.PeersReported, "dropped", st.Dropped)
	}, nil
}

// listenInterface is the interface holding the address of --listen, when
// it names one (specific); ":6881" and "0.0.0.0:6881" name none.
func listenInterface(listen string) (name string, specific bool, err error) {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return "", false, nil // the client reports a bad --listen
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() {
		return "", false, nil
	}
	name, err = lsd.InterfaceWithAddr(ip)
	return name, err == nil, err
}
