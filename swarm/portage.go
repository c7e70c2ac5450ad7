package swarm

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// PortageSuffix is what Portage appends to ${FILE} while a fetch runs.
const PortageSuffix = ".__download__"

// httpStallTimeout is how long an HTTP download may receive nothing before
// it is abandoned (Portage's default fetcher runs wget -T 60).
const httpStallTimeout = 60 * time.Second

// PortageFetchOptions configures PortageFetch (FETCHCOMMAND mode).
type PortageFetchOptions struct {
	Store *Store
	URI   string // ${URI}
	Out   string // ${DISTDIR}/${FILE}
	// Digests is Portage's ${DIGESTS} ("blake2b:<hex> sha512:<hex>"). Without
	// it nothing can be verified: the swarm is not used and an HTTP download
	// goes to Out only, never into the store.
	Digests      string
	Peers        []string
	Client       ClientOptions
	SwarmTimeout time.Duration // how long the swarm may try before HTTP
	HTTPClient   *http.Client
	// OnHTTPProgress, if set, is called during the HTTP download.
	OnHTTPProgress func(done, total int64)
	OnLockWait     func()
	Logger         *slog.Logger
}

// DistfileName returns the distfile name of a Portage output path
// (".../foo-1.tar.gz.__download__" → "foo-1.tar.gz").
func DistfileName(out string) string {
	return strings.TrimSuffix(filepath.Base(out), PortageSuffix)
}

// PortageRequest turns FETCHCOMMAND arguments into an ObtainRequest. It
// reports false when there are no digests (nothing can be verified).
func PortageRequest(uri, out, digests string) (ObtainRequest, bool, error) {
	name := DistfileName(out)
	if err := layout.ValidName(name); err != nil {
		return ObtainRequest{}, false, fmt.Errorf("--out %s: %w", out, err)
	}
	req := ObtainRequest{Name: name, Authority: NewAuthority(), ResumeFrom: out}
	if uri != "" {
		req.URIs = []string{uri}
	}
	if digests == "" {
		return req, false, nil
	}
	if err := req.Authority.AddDigests(name, digests); err != nil {
		return ObtainRequest{}, false, err
	}
	return req, true, nil
}

// PortageFetch places one distfile at o.Out the way Portage's FETCHCOMMAND
// must, on a node of its own (Node.Obtain): from the store, else the
// swarms of the collections the store knows, else over HTTP from o.URI
// (resuming Portage's own partial file). A verified file also lands in the
// store so it will be seeded. On any failure nothing is left at o.Out.
func PortageFetch(ctx context.Context, o PortageFetchOptions) (Source, error) {
	req, verified, err := PortageRequest(o.URI, o.Out, o.Digests)
	if err != nil {
		return "", err
	}
	req.SwarmTimeout, req.HTTPClient, req.OnHTTPProgress = o.SwarmTimeout, o.HTTPClient, o.OnHTTPProgress
	if !verified {
		return SourceHTTP, unverifiedHTTP(ctx, o)
	}
	// The store needs no node: everything in it was verified when placed
	// (re-checked against these digests: the Manifest may have changed).
	if p, err := o.Store.Find(req.Name); err == nil && req.Authority.VerifyFile(ctx, req.Name, p) == nil {
		return SourceStore, LinkOut(p, o.Out)
	}
	n, err := OpenNode(ctx, NodeOptions{Store: o.Store, Client: o.Client, Peers: o.Peers, OnLockWait: o.OnLockWait, Logger: o.Logger})
	if err != nil {
		return "", err
	}
	defer n.Close()
	res, err := n.Obtain(ctx, req)
	if err != nil {
		return "", err
	}
	return res.Source, LinkOut(res.Path, o.Out)
}

// unverifiedHTTP downloads without digests: to Out only, never the store.
func unverifiedHTTP(ctx context.Context, o PortageFetchOptions) error {
	if o.URI == "" {
		return fmt.Errorf("%s: no --digests and no --uri: nothing to do", DistfileName(o.Out))
	}
	client := o.HTTPClient
	if client == nil {
		client = &http.Client{}
	}
	staged := o.Out + ".distswarm-part"
	if _, err := downloadResumable(ctx, client, o.URI, staged, UnknownSize, httpStallTimeout, o.OnHTTPProgress); err != nil {
		_ = os.Remove(staged)
		return fmt.Errorf("fetch %s from %s: %w", DistfileName(o.Out), o.URI, err)
	}
	return os.Rename(staged, o.Out)
}

// adoptPartial starts an HTTP download from someone else's partial copy
// (Portage's ${DISTDIR}/${FILE} from an interrupted fetch) when it holds
// more than our own staged file. It is copied, never moved: Portage owns it.
func adoptPartial(from, staged string) {
	src, err := os.Stat(from)
	if err != nil || !src.Mode().IsRegular() || src.Size() == 0 {
		return
	}
	if own, err := os.Stat(staged); err == nil && own.Size() >= src.Size() {
		return
	}
	if err := copyFile(from, staged); err != nil {
		_ = os.Remove(staged)
	}
}

// downloadResumable GETs uri into path, continuing a previous partial
// download with a Range request when the server supports it. With a known
// size it never writes more than size bytes; a server that sends nothing
// for stallAfter (httpStallTimeout in use) is abandoned. It returns the
// bytes received.
func downloadResumable(ctx context.Context, client *http.Client, uri, path string, size int64, stallAfter time.Duration, progress func(done, total int64)) (int64, error) {
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return 0, fmt.Errorf("URI %q: only http and https URIs can be fetched", uri)
	}
	var have int64
	if st, err := os.Stat(path); err == nil {
		have = st.Size()
	}
	if size >= 0 && have > size {
		_ = os.Remove(path)
		have = 0
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("User-Agent", "distswarm (Gentoo distfile fetch)")
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	stall := &stallTimer{t: time.AfterFunc(stallAfter, cancel), after: stallAfter}
	defer stall.t.Stop()
	resp, err := client.Do(req)
	if err != nil {
		return 0, stallError(err, stall)
	}
	defer resp.Body.Close()
	flags := os.O_WRONLY | os.O_CREATE
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		// Appending any other range than the one asked for would corrupt the file.
		if cr := resp.Header.Get("Content-Range"); contentRangeStart(cr) != have {
			return 0, fmt.Errorf("asked for bytes %d- and the server sent Content-Range %q", have, cr)
		}
		flags |= os.O_APPEND
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0:
		if size >= 0 && have < size {
			return 0, fmt.Errorf("the server refuses bytes %d- (HTTP 416) of a %d-byte file: its copy is shorter", have, size)
		}
		return 0, nil // already complete; verification decides
	case resp.StatusCode == http.StatusOK:
		flags |= os.O_TRUNC
		have = 0
	default:
		return 0, fmt.Errorf("HTTP %s", resp.Status)
	}
	total := int64(UnknownSize)
	if resp.ContentLength >= 0 {
		total = have + resp.ContentLength
	}
	if size >= 0 && total > size {
		return 0, fmt.Errorf("server announces %d bytes, the digests say %d", total, size)
	}
	f, err := os.OpenFile(path, flags, 0o666)
	if err != nil {
		return 0, err
	}
	w := &progressWriter{w: f, done: have, total: total, fn: progress, stall: stall}
	var body io.Reader = resp.Body
	if size >= 0 {
		body = io.LimitReader(resp.Body, size-have+1)
	}
	_, copyErr := io.Copy(w, body)
	if copyErr == nil && size >= 0 && w.done > size {
		copyErr = fmt.Errorf("server sent more than the %d bytes the digests describe", size)
	}
	err = errors.Join(stallError(copyErr, stall), f.Sync(), f.Close())
	if err != nil && copyErr != nil && size >= 0 && w.done > size {
		_ = os.Remove(path)
	}
	return w.done - have, err
}

// contentRangeStart returns the first byte of a Content-Range header
// "bytes S-E/T" (T may be "*"), or -1 when it is not one.
func contentRangeStart(cr string) int64 {
	spec, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return -1
	}
	first, rest, ok := strings.Cut(spec, "-")
	if !ok || !strings.Contains(rest, "/") {
		return -1
	}
	n, err := strconv.ParseInt(first, 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// stallTimer cancels a download that receives nothing for after.
type stallTimer struct {
	t     *time.Timer
	after time.Duration
}

func (s *stallTimer) reset() { s.t.Reset(s.after) }

// stallError names a stall for what it is.
func stallError(err error, stall *stallTimer) error {
	if err != nil && !stall.t.Stop() {
		return fmt.Errorf("no data for %s: %w", stall.after, err)
	}
	stall.reset()
	return err
}

type progressWriter struct {
	w           io.Writer
	done, total int64
	fn          func(done, total int64)
	stall       *stallTimer
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	p.stall.reset()
	if p.fn != nil {
		p.fn(p.done, p.total)
	}
	return n, err
}

// placeFile moves a verified file to its final store path durably.
func placeFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o777); err != nil {
		return err
	}
	if err := fsyncPath(src); err != nil {
		return err
	}
	if err := os.Rename(src, dst); err != nil {
		return err
	}
	return layout.SyncDir(filepath.Dir(dst))
}

func fsyncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// LinkOut makes out a hard link to src, or a copy where links are not
// possible (another filesystem, or a store the caller may not link from).
// out appears atomically, complete or not at all.
func LinkOut(src, out string) error {
	tmp := out + ".distswarm-tmp"
	_ = os.Remove(tmp)
	if err := os.Link(src, tmp); err != nil {
		if err := copyFile(src, tmp); err != nil {
			_ = os.Remove(tmp)
			return fmt.Errorf("copy %s to %s: %w", src, out, err)
		}
	}
	if err := os.Rename(tmp, out); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("place %s: %w", out, err)
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Sync(), out.Close())
}
