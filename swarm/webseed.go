package swarm

import (
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// padRoundTripper answers BEP 19 webseed requests for BEP 47 pad files
// (".../.pad/N") locally with zeros. GLEP 75 mirrors have no pad files, and
// anacrolix requests them like any file; without this a pad-aligned
// collection stalls on a plain mirror.
type padRoundTripper struct{ next http.RoundTripper }

type zeroReader struct{}

func (zeroReader) Read(b []byte) (int, error) { clear(b); return len(b), nil }

// padLength returns N for a URL path ending in "/.pad/N".
func padLength(urlPath string) (int64, bool) {
	dir, base := path.Split(urlPath)
	if !strings.HasSuffix(dir, "/.pad/") {
		return 0, false
	}
	n, err := strconv.ParseInt(base, 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// parseRange parses a single "bytes=a-b" range within a resource of length n.
func parseRange(h string, n int64) (start, end int64, err error) {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, 0, fmt.Errorf("unsupported range %q", h)
	}
	a, b, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, 0, fmt.Errorf("bad range %q", h)
	}
	start, err = strconv.ParseInt(a, 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("bad range %q", h)
	}
	end = n - 1
	if b != "" {
		if end, err = strconv.ParseInt(b, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("bad range %q", h)
		}
	}
	if start < 0 || start > end || end >= n {
		return 0, 0, fmt.Errorf("range %q outside pad of %d bytes", h, n)
	}
	return start, end, nil
}

func (p padRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	n, ok := padLength(r.URL.Path)
	if !ok {
		return p.next.RoundTrip(r)
	}
	start, end, status := int64(0), n-1, http.StatusOK
	if rg := r.Header.Get("Range"); rg != "" {
		var err error
		if start, end, err = parseRange(rg, n); err != nil {
			return &http.Response{
				StatusCode: http.StatusRequestedRangeNotSatisfiable, Status: "416 Requested Range Not Satisfiable",
				Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{},
				Body: http.NoBody, Request: r,
			}, nil
		}
		status = http.StatusPartialContent
	}
	l := end - start + 1
	h := http.Header{}
	h.Set("Content-Length", strconv.FormatInt(l, 10))
	if status == http.StatusPartialContent {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, n))
	}
	return &http.Response{
		StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, ContentLength: l, Request: r,
		Body: io.NopCloser(io.LimitReader(zeroReader{}, l)),
	}, nil
}
