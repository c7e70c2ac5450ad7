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
	"strings"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/distswarm/distswarm/storage/layout"
	"github.com/distswarm/distswarm/swarm/collection"
)

// PortageSuffix is what Portage appends to ${FILE} while a fetch runs.
const PortageSuffix = ".__download__"

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
	Logger         *slog.Logger
}

// DistfileName returns the distfile name of a Portage output path
// (".../foo-1.tar.gz.__download__" → "foo-1.tar.gz").
func DistfileName(out string) string {
	return strings.TrimSuffix(filepath.Base(out), PortageSuffix)
}

// PortageFetch places one distfile at o.Out the way Portage's FETCHCOMMAND
// must: from the store if it is there, else from the swarms of the
// collections the store knows, else over HTTP from o.URI (resumable). A
// verified file also lands in the store so it will be seeded. It returns
// where the file came from ("store", "swarm" or "http"). On any failure
// nothing is left at o.Out.
func PortageFetch(ctx context.Context, o PortageFetchOptions) (string, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	name := DistfileName(o.Out)
	if err := layout.ValidName(name); err != nil {
		return "", fmt.Errorf("--out %s: %w", o.Out, err)
	}
	auth := NewAuthority()
	verified := o.Digests != ""
	if verified {
		if err := auth.AddDigests(name, o.Digests); err != nil {
			return "", err
		}
	}

	// 1. The store (everything in it was verified when placed; re-check
	// against these digests anyway: the Manifest may have changed).
	if p, err := o.Store.Find(name); err == nil {
		if !verified || auth.VerifyFile(ctx, name, p) == nil {
			return "store", linkOut(p, o.Out)
		}
		logger.Warn("store copy does not match the digests", "file", name, "path", p)
	}

	// 2. Collections the store knows.
	if verified {
		if src, err := fetchFromKnown(ctx, o, auth, name, logger); err == nil {
			return src, nil
		} else if ctx.Err() != nil {
			return "", err
		} else {
			logger.Info("swarm did not provide the file", "file", name, "err", err)
		}
	}

	// 3. Plain HTTP.
	if o.URI == "" {
		return "", fmt.Errorf("%s: not in the store or any known collection, and no --uri", name)
	}
	return "http", httpFetch(ctx, o, auth, name, verified)
}

func fetchFromKnown(ctx context.Context, o PortageFetchOptions, auth *Authority, name string, logger *slog.Logger) (string, error) {
	known, err := o.Store.Known()
	if err != nil {
		return "", err
	}
	var colls []*collection.Collection
	for _, mi := range known {
		info, err := mi.UnmarshalInfo()
		if err != nil {
			continue
		}
		if _, ok := distfilesOf(&info)[name]; ok {
			colls = append(colls, &collection.Collection{Torrents: []*metainfo.MetaInfo{mi}})
		}
	}
	if len(colls) == 0 {
		return "", fmt.Errorf("%s: %w", name, errNotInCollections)
	}
	timeout := o.SwarmTimeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := Fetch(sctx, FetchOptions{
		Store: o.Store, Collections: colls, Authority: auth, Names: []string{name},
		Peers: o.Peers, Client: o.Client, Logger: logger,
	})
	if err != nil {
		return "", err
	}
	if res[0].Err != nil {
		return "", res[0].Err
	}
	return "swarm", linkOut(res[0].Path, o.Out)
}

// httpFetch downloads uri resumably into the store's staging area, verifies
// it and places it in the store; then links it to out. Unverified downloads
// (no digests) go to out alone.
func httpFetch(ctx context.Context, o PortageFetchOptions, auth *Authority, name string, verified bool) error {
	u, err := url.Parse(o.URI)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("--uri %q: only http and https URIs can be fetched", o.URI)
	}
	stageDir := filepath.Join(o.Store.Root, ".partial", "http")
	if !verified {
		stageDir = filepath.Dir(o.Out)
	}
	if err := os.MkdirAll(stageDir, 0o755); err != nil {
		return fmt.Errorf("fetch %s: %w", name, err)
	}
	staged := filepath.Join(stageDir, name+".part")
	if !verified {
		staged = o.Out + ".distswarm-part"
	}
	client := o.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 0}
	}
	if err := downloadResumable(ctx, client, o.URI, staged, o.OnHTTPProgress); err != nil {
		return fmt.Errorf("fetch %s from %s: %w", name, o.URI, err)
	}
	if !verified {
		return os.Rename(staged, o.Out)
	}
	if err := auth.VerifyFile(ctx, name, staged); err != nil {
		q := filepath.Join(o.Store.Root, ".quarantine", name+".http")
		if mkErr := os.MkdirAll(filepath.Dir(q), 0o755); mkErr == nil {
			_ = os.Rename(staged, q)
		} else {
			_ = os.Remove(staged)
		}
		return fmt.Errorf("fetch %s from %s: %w", name, o.URI, err)
	}
	final := o.Store.DistfilePath(name)
	if err := placeFile(staged, final); err != nil {
		return fmt.Errorf("place %s: %w", name, err)
	}
	return linkOut(final, o.Out)
}

// downloadResumable GETs uri into path, continuing a previous partial
// download with a Range request when the server supports it.
func downloadResumable(ctx context.Context, client *http.Client, uri, path string, progress func(done, total int64)) error {
	var have int64
	if st, err := os.Stat(path); err == nil {
		have = st.Size()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "distswarm (Gentoo distfile fetch)")
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	flags := os.O_WRONLY | os.O_CREATE
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		flags |= os.O_APPEND
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0:
		return nil // already complete; verification decides
	case resp.StatusCode == http.StatusOK:
		flags |= os.O_TRUNC
		have = 0
	default:
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return err
	}
	total := int64(-1)
	if resp.ContentLength >= 0 {
		total = have + resp.ContentLength
	}
	var w io.Writer = f
	if progress != nil {
		w = &progressWriter{w: f, done: have, total: total, fn: progress}
	}
	_, copyErr := io.Copy(w, resp.Body)
	syncErr := f.Sync()
	closeErr := f.Close()
	return errors.Join(copyErr, syncErr, closeErr)
}

type progressWriter struct {
	w           io.Writer
	done, total int64
	fn          func(done, total int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	p.fn(p.done, p.total)
	return n, err
}

// placeFile moves a verified file to its final store path durably.
func placeFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.Rename(src, dst); err != nil {
		return err
	}
	return layout.SyncDir(filepath.Dir(dst))
}

// linkOut makes out a hard link to src, or a copy where links are not
// possible (another filesystem). out appears atomically, complete or not at
// all.
func linkOut(src, out string) error {
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
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Sync(), out.Close())
}
