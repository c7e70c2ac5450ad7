package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/distswarm/distswarm/manifest"
	"github.com/distswarm/distswarm/manifest/trust"
	"github.com/distswarm/distswarm/swarm"
	"github.com/distswarm/distswarm/swarm/collection"
)

// Server serves the control API of one node.
type Server struct {
	node *swarm.Node
	log  *slog.Logger
	auth peerAuth
	srv  *http.Server
	ln   net.Listener
}

// Options configure a Server.
type Options struct {
	// Group may use the socket besides root and the daemon's user; -1 for
	// none.
	Group  int
	Logger *slog.Logger
}

// Listen creates the socket (replacing a stale one: the caller owns the
// store) with mode 0660 and group o.Group, and returns a server that is
// not serving yet.
func Listen(node *swarm.Node, path string, o Options) (*Server, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(pathDir(path), 0o777); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if o.Group >= 0 {
		if err := os.Chown(path, -1, o.Group); err != nil {
			ln.Close()
			return nil, fmt.Errorf("control socket %s: group %d: %w", path, o.Group, err)
		}
	}
	s := &Server{node: node, log: logger, auth: peerAuth{uid: os.Getuid(), group: o.Group}, ln: ln}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathPing, func(w http.ResponseWriter, r *http.Request) { reply(w, map[string]int{"pid": os.Getpid()}) })
	mux.HandleFunc("GET "+pathStatus, func(w http.ResponseWriter, r *http.Request) { reply(w, node.Status()) })
	mux.HandleFunc("POST "+pathFetch, s.fetch)
	mux.HandleFunc("POST "+pathObtain, s.obtain)
	mux.HandleFunc("POST "+pathSeed, s.seed)
	mux.HandleFunc("POST "+pathAdd, s.seed)
	mux.HandleFunc("POST "+pathBinpkgs, s.fetchBinpkgs)
	s.srv = &http.Server{
		Handler:           s.auth.wrap(mux),
		ConnContext:       withPeer,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Serve serves until Shutdown; it returns nil after a shutdown.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting, cancels running requests after ctx, and
// removes the socket.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, s.srv.Close())
	}
	_ = os.Remove(s.ln.Addr().String())
	return err
}

func (s *Server) fetch(w http.ResponseWriter, r *http.Request) {
	var req FetchRequest
	if !decode(w, r, &req) {
		return
	}
	colls, err := collections(req.Torrents)
	if err != nil {
		fail(w, http.StatusBadRequest, err)
		return
	}
	auth, err := authority(req.Entries, "client request")
	if err != nil {
		fail(w, http.StatusBadRequest, err)
		return
	}
	fetch := s.node.Fetch
	if len(colls) == 0 {
		// None named: every collection the node knows, LAN ones included.
		fetch = s.node.FetchKnown
	}
	res, err := fetch(r.Context(), swarm.FetchRequest{
		Collections: colls, Authority: auth, TrustCollection: req.TrustCollection, Names: req.Names, All: req.All,
	})
	if err != nil {
		fail(w, http.StatusInternalServerError, err)
		return
	}
	out := FetchResponse{Results: make([]FileResult, len(res))}
	for i, fr := range res {
		out.Results[i] = FileResult{Name: fr.Name, Outcome: fr.Outcome, Path: fr.Path}
		if fr.Err != nil {
			out.Results[i].Error = fr.Err.Error()
		}
	}
	reply(w, out)
}

func (s *Server) fetchBinpkgs(w http.ResponseWriter, r *http.Request) {
	var req BinpkgFetchRequest
	if !decode(w, r, &req) {
		return
	}
	colls, err := collections(req.Torrents)
	if err != nil {
		fail(w, http.StatusBadRequest, err)
		return
	}
	policy, err := req.policy()
	if err != nil {
		fail(w, http.StatusBadRequest, err)
		return
	}
	res, err := s.node.FetchBinpkgs(r.Context(), swarm.BinpkgRequest{
		Collections: colls, Wants: req.Wants, TrustCollection: req.TrustCollection, Match: req.Match, Trust: policy,
	})
	if err != nil {
		fail(w, http.StatusInternalServerError, err)
		return
	}
	out := BinpkgFetchResponse{Results: make([]BinpkgResult, len(res))}
	for i, br := range res {
		out.Results[i] = BinpkgResult{Want: br.Want, Name: br.Name, Package: br.Package, Outcome: br.Outcome, Path: br.Path, Judgement: br.Judgement}
		if br.Err != nil {
			out.Results[i].Error = br.Err.Error()
		}
		if nm, ok := errors.AsType[*swarm.NoMatchError](br.Err); ok {
			out.Results[i].Candidates = nm.Candidates
		}
	}
	reply(w, out)
}

func (s *Server) obtain(w http.ResponseWriter, r *http.Request) {
	var req ObtainRequest
	if !decode(w, r, &req) {
		return
	}
	req.Entry.Name = req.Name
	auth, err := authority([]Entry{req.Entry}, "Portage ${DIGESTS}")
	if err != nil {
		fail(w, http.StatusBadRequest, err)
		return
	}
	var timeout time.Duration
	if req.SwarmTimeout != "" {
		if timeout, err = time.ParseDuration(req.SwarmTimeout); err != nil {
			fail(w, http.StatusBadRequest, fmt.Errorf("swarm_timeout: %w", err))
			return
		}
	}
	res, err := s.node.Obtain(r.Context(), swarm.ObtainRequest{
		Name: req.Name, Authority: auth, URIs: req.URIs, SwarmTimeout: timeout, ResumeFrom: req.ResumeFrom,
	})
	if err != nil {
		fail(w, http.StatusBadGateway, err)
		return
	}
	reply(w, ObtainResponse{Path: res.Path, Source: res.Source})
}

func (s *Server) seed(w http.ResponseWriter, r *http.Request) {
	var req SeedRequest
	if !decode(w, r, &req) {
		return
	}
	colls, err := collections(req.Torrents)
	if err != nil {
		fail(w, http.StatusBadRequest, err)
		return
	}
	if req.From != "" {
		if err := checkDir(req.From); err != nil {
			fail(w, http.StatusBadRequest, err)
			return
		}
		if err := s.node.AddSeedRoot(req.From); err != nil {
			fail(w, http.StatusBadRequest, err)
			return
		}
	}
	ts, err := s.node.Seed(r.Context(), colls)
	if err != nil {
		fail(w, http.StatusInternalServerError, err)
		return
	}
	reply(w, SeedResponse{Torrents: len(ts), Port: s.node.Port()})
}

func collections(ts []Torrent) ([]*collection.Collection, error) {
	var out []*collection.Collection
	for i, t := range ts {
		c, err := collection.FromTorrent(t.MetaInfo, t.Manifest)
		if err != nil {
			return nil, fmt.Errorf("torrent %d: %w", i+1, err)
		}
		out = append(out, c)
	}
	return out, nil
}

func authority(es []Entry, src string) (*swarm.Authority, error) {
	a := swarm.NewAuthority()
	for _, e := range es {
		if e.Name == "" && len(e.Digests) == 0 {
			continue
		}
		if err := a.AddEntry(manifest.Entry{Path: e.Name, Size: e.Size, Digests: e.Digests}, src); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func checkDir(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("seed --from: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("seed --from %s: not a directory", p)
	}
	return nil
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodySize))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		fail(w, http.StatusBadRequest, fmt.Errorf("request: %w", err))
		return false
	}
	return true
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(errorBody{Error: err.Error()})
}

// policy parses the request's trust file, nil when it has none.
func (req BinpkgFetchRequest) policy() (*trust.Policy, error) {
	if req.TrustFile == "" {
		if req.Threshold != 0 {
			return nil, errors.New("threshold without a trust file")
		}
		return nil, nil
	}
	p, err := trust.Parse(strings.NewReader(req.TrustFile), "of the request")
	if err != nil {
		return nil, err
	}
	if req.Threshold != 0 {
		if err := p.SetThreshold(req.Threshold); err != nil {
			return nil, fmt.Errorf("threshold: %w", err)
		}
	}
	return p, nil
}
