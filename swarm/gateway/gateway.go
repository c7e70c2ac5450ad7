package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/distswarm/distswarm/swarm"
)

// Backend is what the gateway needs from a node.
type Backend interface {
	// DistfilesDir is STORE/distfiles (GLEP 75 tree with layout.conf).
	DistfilesDir() string
	// DistfileRelPath is the path of distfile name under DistfilesDir per the store's layout.conf.
	DistfileRelPath(name string) string
	// Distfile returns the absolute path of the verified distfile in the store, obtaining it first
	// when missing (swarm with a short deadline, then upstream mirrors), verified before it returns.
	// It returns an error wrapping fs.ErrNotExist when nobody has the file or nothing can verify it.
	Distfile(ctx context.Context, name string) (string, error)
	// Status is a snapshot for the status page, /api/v1/status and /metrics.
	Status() swarm.NodeStatus
	// CountServed adds n to the bytes the gateway served (NodeStatus.Totals.Served).
	CountServed(n int64)
}

// Defaults of Options.
const (
	DefaultMaxMisses   = 8
	DefaultMissWait    = 10 * time.Second
	DefaultRefresh     = 5 * time.Second
	distfilesPrefix    = "/distfiles/"
	apiPrefix          = "/api/v1/"
	contentTypeHTML    = "text/html; charset=utf-8"
	contentTypeJSON    = "application/json"
	contentTypeDefault = "application/octet-stream"
)

// Options configure a gateway. The zero value is usable.
type Options struct {
	// Logger receives the gateway's decisions (misses, backend errors);
	// nil discards them.
	Logger *slog.Logger
	// MaxMisses bounds how many requests for files not yet in the store
	// may ask the Backend to obtain them at once (DefaultMaxMisses if 0).
	MaxMisses int
	// MissWait is how long a miss waits for one of those slots before it
	// is answered 503, so a client moves on to its next mirror
	// (DefaultMissWait if 0).
	MissWait time.Duration
	// Refresh is the status page's meta refresh interval (DefaultRefresh
	// if 0; negative disables it).
	Refresh time.Duration
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxMisses <= 0 {
		o.MaxMisses = DefaultMaxMisses
	}
	if o.MissWait <= 0 {
		o.MissWait = DefaultMissWait
	}
	if o.Refresh == 0 {
		o.Refresh = DefaultRefresh
	}
	return o
}

// gateway routes requests by their exact, undecoded path. It does not use
// http.ServeMux, which would answer unclean paths ("/distfiles/../x") with a
// redirect instead of a 404.
type gateway struct {
	distfiles *distfileHandler
	binpkgs   *binpkgHandler
	page      *statusPage
	api       *apiHandler
	metrics   http.Handler
	log       *slog.Logger
}

// New returns the gateway's handler: /distfiles/, /binpkgs/ (when b is a
// BinpkgBackend), /, /api/v1/… and /metrics. Only GET and HEAD are allowed.
func New(b Backend, o Options) http.Handler {
	o = o.withDefaults()
	files := newDistfileHandler(b, o)
	bb, _ := b.(BinpkgBackend)
	return &gateway{
		distfiles: files,
		binpkgs:   &binpkgHandler{backend: bb, files: files},
		page:      newStatusPage(b, o),
		api:       &apiHandler{backend: b},
		metrics:   newMetricsHandler(b, o.Logger),
		log:       o.Logger,
	}
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	raw := requestPath(r.URL)
	switch {
	case strings.HasPrefix(raw, distfilesPrefix):
		g.distfiles.serve(w, r, raw[len(distfilesPrefix):])
	case strings.HasPrefix(raw, binpkgsPrefix):
		g.binpkgs.serve(w, r, raw[len(binpkgsPrefix):])
	case raw == "/":
		g.page.ServeHTTP(w, r)
	case strings.HasPrefix(raw, apiPrefix):
		g.api.serve(w, r, raw[len(apiPrefix):])
	case raw == "/metrics":
		g.metrics.ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}
