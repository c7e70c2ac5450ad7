package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/distswarm/distswarm/storage/layout"
)

// distfileHandler serves /distfiles/: layout.conf and verified distfiles.
type distfileHandler struct {
	backend  Backend
	log      *slog.Logger
	misses   chan struct{} // one token per miss in progress
	missWait time.Duration
}

func newDistfileHandler(b Backend, o Options) *distfileHandler {
	return &distfileHandler{
		backend:  b,
		log:      o.Logger,
		misses:   make(chan struct{}, o.MaxMisses),
		missWait: o.MissWait,
	}
}

// requestPath returns the request path as the client sent it (still
// percent-encoded). url.URL keeps the original in RawPath whenever it differs
// from the default encoding of the decoded Path; when RawPath is empty, Path
// has no byte that needs escaping, so it is the original too.
func requestPath(u *url.URL) string {
	if u.RawPath != "" {
		return u.RawPath
	}
	return u.Path
}

// splitRel decodes a percent-encoded path relative to /distfiles/ one
// component at a time, so an encoded '/' ("%2F") stays inside a component and
// is refused there instead of becoming a separator. Every component must be a
// valid distfile name (non-empty, not "." or "..", no '/', no NUL), must not
// be a dotfile and must not contain a backslash. It returns the decoded path
// and its last component, or ok=false.
func splitRel(raw string) (rel, name string, ok bool) {
	parts := strings.Split(raw, "/")
	for i, p := range parts {
		d, err := url.PathUnescape(p)
		if err != nil || !validComponent(d) {
			return "", "", false
		}
		parts[i] = d
	}
	return strings.Join(parts, "/"), parts[len(parts)-1], true
}

func validComponent(c string) bool {
	return layout.ValidName(c) == nil && !strings.HasPrefix(c, ".") && !strings.ContainsRune(c, '\\')
}

func (h *distfileHandler) serve(w http.ResponseWriter, r *http.Request, raw string) {
	rel, name, ok := splitRel(raw)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if rel == layout.ConfigName {
		h.serveFile(w, r, filepath.Join(h.backend.DistfilesDir(), layout.ConfigName), "text/plain; charset=utf-8")
		return
	}
	storeRel := h.backend.DistfileRelPath(name)
	if rel != name && rel != storeRel {
		http.NotFound(w, r) // not where the store's layout (or flat) puts this name
		return
	}
	path, err := h.obtain(r.Context(), name, storeRel)
	if err != nil {
		h.fail(w, r, name, err)
		return
	}
	h.serveFile(w, r, path, contentTypeDefault)
}

// errBusy is returned when every miss slot stayed taken for missWait.
var errBusy = errors.New("too many distfiles being obtained at once")

// obtain asks the backend for the file. When the store does not hold it yet,
// the request first takes one of the bounded miss slots.
func (h *distfileHandler) obtain(ctx context.Context, name, storeRel string) (string, error) {
	if storeRel == "" {
		storeRel = name
	}
	fi, err := os.Stat(filepath.Join(h.backend.DistfilesDir(), filepath.FromSlash(storeRel)))
	if err == nil && fi.Mode().IsRegular() {
		return h.backend.Distfile(ctx, name)
	}
	release, err := h.acquireMiss(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	start := time.Now()
	path, err := h.backend.Distfile(ctx, name)
	h.log.Info("gateway miss", "name", name, "took", time.Since(start).Round(time.Millisecond), "err", err)
	return path, err
}

func (h *distfileHandler) acquireMiss(ctx context.Context) (release func(), err error) {
	timer := time.NewTimer(h.missWait)
	defer timer.Stop()
	select {
	case h.misses <- struct{}{}:
		return func() { <-h.misses }, nil
	case <-timer.C:
		return nil, errBusy
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for a miss slot: %w", ctx.Err())
	}
}

// fail answers a request the backend could not satisfy: 404 when nobody has
// or can verify the file (Portage then tries its next mirror), 503 when the
// gateway is busy, 502 otherwise. Internal details stay in the log.
func (h *distfileHandler) fail(w http.ResponseWriter, r *http.Request, name string, err error) {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		h.log.Debug("gateway: not available", "name", name, "err", err)
		http.NotFound(w, r)
	case errors.Is(err, errBusy):
		h.log.Warn("gateway: miss refused, all slots busy", "name", name)
		w.Header().Set("Retry-After", strconv.Itoa(int(h.missWait.Seconds())+1))
		http.Error(w, "busy: too many distfiles being fetched, try another mirror", http.StatusServiceUnavailable)
	case r.Context().Err() != nil:
		h.log.Debug("gateway: client went away", "name", name, "err", err)
	default:
		h.log.Warn("gateway: cannot obtain distfile", "name", name, "err", err)
		http.Error(w, "bad gateway: could not obtain "+name, http.StatusBadGateway)
	}
}

// serveFile serves one regular file with Range, conditional requests and
// HEAD (http.ServeContent), counting the bytes written.
func (h *distfileHandler) serveFile(w http.ResponseWriter, r *http.Request, path, contentType string) {
	f, err := os.Open(path)
	if err != nil {
		h.fail(w, r, filepath.Base(path), fmt.Errorf("open served file: %w", err))
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	cw := &countingWriter{ResponseWriter: w}
	http.ServeContent(cw, r, fi.Name(), fi.ModTime(), f)
	if cw.n > 0 {
		h.backend.CountServed(cw.n)
	}
}

// countingWriter counts body bytes written. It forwards ReadFrom so that
// ServeContent's copy of an *os.File still uses sendfile(2).
type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.ResponseWriter.(io.ReaderFrom); ok {
		n, err := rf.ReadFrom(r)
		c.n += n
		return n, err
	}
	return io.Copy(writerOnly{c}, r)
}

// Unwrap lets http.ResponseController reach the real writer.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// writerOnly hides ReadFrom so io.Copy does not recurse into it.
type writerOnly struct{ io.Writer }
