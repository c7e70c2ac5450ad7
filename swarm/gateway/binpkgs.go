package gateway

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/distswarm/distswarm/manifest/binpkg"
	"github.com/distswarm/distswarm/swarm"
)

// BinpkgBackend is implemented by a Backend that also serves a binhost
// (swarm.GatewaySource does). Without it /binpkgs/ answers 404.
type BinpkgBackend interface {
	// BinpkgIndex returns the Packages index served at /binpkgs/Packages
	// and its modification time, which equals its TIMESTAMP.
	BinpkgIndex(ctx context.Context) ([]byte, time.Time, error)
	// Binpkg returns the absolute path of the verified package at PKGDIR
	// path rel, obtaining it first when missing; an error wrapping
	// fs.ErrNotExist when nobody lists it.
	Binpkg(ctx context.Context, rel string) (string, error)
	// HasBinpkg reports whether the store holds a file at PKGDIR path rel
	// (unverified: a hit skips the bounded miss slots, Binpkg verifies).
	HasBinpkg(rel string) bool
}

const binpkgsPrefix = "/binpkgs/"

// binpkgHandler serves /binpkgs/: a binhost for Portage's binrepos.conf
// (sync-uri = http://HOST:PORT/binpkgs). Packages.gz is 404, so clients
// fall back to Packages; the index carries no URI.
type binpkgHandler struct {
	backend BinpkgBackend // nil: no binhost
	files   *distfileHandler
}

func (h *binpkgHandler) serve(w http.ResponseWriter, r *http.Request, raw string) {
	if h.backend == nil {
		http.NotFound(w, r)
		return
	}
	rel, _, ok := splitRel(raw)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if rel == "Packages" {
		h.serveIndex(w, r)
		return
	}
	bp, err := binpkg.ParsePath(rel)
	if err != nil || bp.String() != rel {
		http.NotFound(w, r)
		return
	}
	if !h.backend.HasBinpkg(rel) {
		release, err := h.files.acquireMiss(r.Context())
		if err != nil {
			h.files.fail(w, r, rel, err)
			return
		}
		defer release()
	}
	path, err := h.backend.Binpkg(r.Context(), rel)
	if errors.Is(err, swarm.ErrUntrusted) {
		// The reason is the trust counts: no secret, and what the user
		// needs to see in Portage's output.
		h.files.log.Warn("gateway: binpkg refused by the trust file", "name", rel, "err", err)
		http.Error(w, "forbidden: "+err.Error(), http.StatusForbidden)
		return
	}
	if err != nil {
		h.files.fail(w, r, rel, err)
		return
	}
	h.files.serveFile(w, r, path, contentTypeDefault)
}

// serveIndex serves Packages with Last-Modified = TIMESTAMP, honouring
// If-Modified-Since (http.ServeContent).
func (h *binpkgHandler) serveIndex(w http.ResponseWriter, r *http.Request) {
	data, mod, err := h.backend.BinpkgIndex(r.Context())
	if err != nil {
		h.files.fail(w, r, "Packages", err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	cw := &countingWriter{ResponseWriter: w}
	http.ServeContent(cw, r, "Packages", mod, bytes.NewReader(data))
	h.files.backend.CountServed(cw.n)
}
