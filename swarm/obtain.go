package swarm

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/storage/layout"
	"github.com/distswarm/distswarm/swarm/collection"
)

// ObtainRequest asks a node for one distfile from wherever it can come.
type ObtainRequest struct {
	Name string
	// Authority must know Name: nothing unverified reaches the store.
	Authority *Authority
	// URIs are tried in order over HTTP when the swarm does not provide
	// the file within SwarmTimeout (default one minute).
	URIs         []string
	SwarmTimeout time.Duration
	// ResumeFrom is a partial download of the file by someone else
	// (Portage's ${DISTDIR}/${FILE}); an HTTP download continues from it.
	ResumeFrom string
	HTTPClient *http.Client
	// OnHTTPProgress, if set, is called during an HTTP download.
	OnHTTPProgress func(done, total int64)
}

// ObtainResult says where a verified file in the store is and where it
// came from.
type ObtainResult struct {
	Path   string
	Source Source
}

// errNotObtainable wraps fs.ErrNotExist: nobody had the file.
var errNotObtainable = fmt.Errorf("not in the store, any known collection or any mirror: %w", fs.ErrNotExist)

// Obtain makes the distfile present in the store, verified: from the store
// itself, else the swarms of the collections the store knows, else each
// URI over HTTP. Concurrent calls for the same name share one download;
// each caller's authority checks the result.
func (n *Node) Obtain(ctx context.Context, req ObtainRequest) (ObtainResult, error) {
	if err := layout.ValidName(req.Name); err != nil {
		return ObtainResult{}, fmt.Errorf("%s: %w", req.Name, err)
	}
	if _, ok := req.Authority.Lookup(req.Name); !ok {
		return ObtainResult{}, fmt.Errorf("%s: no authority knows its digests: %w", req.Name, fs.ErrNotExist)
	}
	start := time.Now()
	res, shared, err := n.obtains.do(ctx, req.Name, func() (ObtainResult, error) {
		return n.obtain(ctx, req)
	})
	if err == nil && shared {
		if verr := n.verified.verify(ctx, req.Authority, req.Name, res.Path); verr != nil {
			err = fmt.Errorf("%s: the copy another request obtained does not match: %w", req.Name, verr)
		}
	}
	if !shared && res.Source != SourceStore {
		n.stats.recordObtain(req.Name, res, err, time.Since(start))
	}
	return res, err
}

func (n *Node) obtain(ctx context.Context, req ObtainRequest) (ObtainResult, error) {
	log := n.log.With("file", req.Name)
	if p, err := n.store.Find(req.Name); err == nil {
		if n.verified.verify(ctx, req.Authority, req.Name, p) == nil {
			return ObtainResult{Path: p, Source: SourceStore}, nil
		}
		log.Warn("store copy does not match the digests", "path", p)
	}
	p, err := n.obtainFromSwarm(ctx, req)
	if err == nil {
		return ObtainResult{Path: p, Source: SourceSwarm}, nil
	}
	if ctx.Err() != nil {
		return ObtainResult{}, err
	}
	log.Info("swarm did not provide the file", "err", err)
	if len(req.URIs) == 0 {
		return ObtainResult{}, fmt.Errorf("%s: %w (and no URI to download from)", req.Name, errNotObtainable)
	}
	var errs []error
	for _, uri := range req.URIs {
		p, err := n.obtainHTTP(ctx, req, uri)
		if err == nil {
			return ObtainResult{Path: p, Source: SourceHTTP}, nil
		}
		log.Info("HTTP download failed", "uri", uri, "err", err)
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return ObtainResult{}, errors.Join(errs...)
}

// obtainFromSwarm fetches the file from the collections the store knows
// that list it, within the swarm timeout.
func (n *Node) obtainFromSwarm(ctx context.Context, req ObtainRequest) (string, error) {
	colls, err := n.collectionsListing(req.Name)
	if err != nil {
		return "", err
	}
	if len(colls) == 0 {
		return "", fmt.Errorf("%s: %w", req.Name, errNotInCollections)
	}
	timeout := req.SwarmTimeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := n.Fetch(sctx, FetchRequest{Collections: colls, Authority: req.Authority, Names: []string{req.Name}})
	if err != nil {
		return "", err
	}
	if res[0].Err != nil {
		return "", res[0].Err
	}
	return res[0].Path, nil
}

// collectionsListing returns the known collections (added to the node,
// remembered by the store or learned from the LAN) whose torrents list
// name.
func (n *Node) collectionsListing(name string) ([]*collection.Collection, error) {
	seen := map[metainfo.Hash]bool{}
	var out []*collection.Collection
	for _, nt := range n.reg.all() {
		seen[nt.ih] = true
		if _, ok := nt.files[name]; ok {
			out = append(out, &collection.Collection{Torrents: []*metainfo.MetaInfo{nt.mi}})
		}
	}
	known, err := n.store.Known()
	if err != nil {
		return nil, err
	}
	for _, mi := range append(known, n.store.Learned()...) {
		ih := mi.HashInfoBytes()
		if seen[ih] {
			continue
		}
		seen[ih] = true
		info, err := collection.ParseInfo(mi.InfoBytes)
		if err != nil {
			continue
		}
		if _, ok := distfilesOf(info)[name]; ok {
			out = append(out, &collection.Collection{Torrents: []*metainfo.MetaInfo{mi}})
		}
	}
	return out, nil
}

// obtainHTTP downloads uri resumably into the store's staging area, then
// verifies and places it (ingest).
func (n *Node) obtainHTTP(ctx context.Context, req ObtainRequest, uri string) (string, error) {
	staged := filepath.Join(n.store.HTTPStagingDir(), req.Name+".part")
	if err := os.MkdirAll(filepath.Dir(staged), 0o777); err != nil {
		return "", fmt.Errorf("fetch %s: %w", req.Name, err)
	}
	if req.ResumeFrom != "" {
		adoptPartial(req.ResumeFrom, staged)
	}
	e, _ := req.Authority.Lookup(req.Name)
	client := req.HTTPClient
	if client == nil {
		client = &http.Client{}
	}
	counted := func(done, total int64) {
		if req.OnHTTPProgress != nil {
			req.OnHTTPProgress(done, total)
		}
	}
	got, err := downloadResumable(ctx, client, uri, staged, e.Size, httpStallTimeout, counted)
	n.stats.addHTTP(got)
	if err != nil {
		return "", fmt.Errorf("fetch %s from %s: %w", req.Name, uri, err)
	}
	p, err := n.ingest(ctx, req.Name, staged, req.Authority)
	if err != nil {
		return "", fmt.Errorf("fetch %s from %s: %w", req.Name, uri, err)
	}
	return p, nil
}

// ingest verifies a file downloaded outside the swarm against auth and
// every authority the node holds for it, then places it in the store the
// way the storage places swarm downloads: fsync, rename to its GLEP 75
// path, fsync the directory. A file that fails is deleted: an HTTP origin
// that serves wrong bytes is not worth keeping them from.
func (n *Node) ingest(ctx context.Context, name, staged string, auth *Authority) (string, error) {
	release := n.verify.claim(auth, []string{name})
	defer release()
	if err := n.verify.verifyName(ctx, name, staged); err != nil {
		_ = os.Remove(staged)
		return "", err
	}
	final := n.store.DistfilePath(name)
	if err := placeFile(staged, final); err != nil {
		return "", fmt.Errorf("place %s: %w", name, err)
	}
	return final, nil
}
