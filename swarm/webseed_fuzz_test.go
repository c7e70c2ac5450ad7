package swarm

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// passedOn is the answer of the next round-tripper: the request was not a
// pad request.
type passedOn struct{ called bool }

func (p *passedOn) RoundTrip(r *http.Request) (*http.Response, error) {
	p.called = true
	return &http.Response{StatusCode: 599, Body: http.NoBody, Request: r}, nil
}

// FuzzPadRequest sends arbitrary webseed URL paths (built from the
// torrent's file paths, so from the torrent's author) and Range headers
// through padRoundTripper.RoundTrip. It must not panic. A request it
// answers itself must be for ".../.pad/N" with N > 0, and its answer must
// hold together: 200 (no Range) with N zeros, 206 with a Content-Range
// "bytes S-E/N" inside the pad and E-S+1 zeros, or 416 to a Range header.
func FuzzPadRequest(f *testing.F) {
	f.Add("/distfiles/.pad/16384", "bytes=0-16383")
	f.Add("/distfiles/.pad/100", "bytes=50-")
	f.Add("/distfiles/.pad/0", "")
	f.Add("/distfiles/.pad/-5", "bytes=-5")
	f.Add("/x/.pad/9223372036854775807", "bytes=9223372036854775806-9223372036854775807")
	f.Add("/../.pad/1", "bytes=0-0,1-1")
	f.Add("/distfiles/ab/x-1.tar.gz", "bytes=1-0")
	f.Fuzz(func(t *testing.T, urlPath, rg string) {
		req := &http.Request{Method: http.MethodGet, URL: &url.URL{Scheme: "http", Host: "127.0.0.1", Path: urlPath}, Header: http.Header{}}
		if rg != "" {
			req.Header.Set("Range", rg)
		}
		next := &passedOn{}
		resp, err := padRoundTripper{next: next}.RoundTrip(req)
		if err != nil {
			t.Fatalf("RoundTrip(%q, %q): %v", urlPath, rg, err)
		}
		defer resp.Body.Close()
		if next.called {
			return
		}
		i := strings.LastIndex(urlPath, "/.pad/")
		if i < 0 {
			t.Fatalf("answered %q itself, which is no pad", urlPath)
		}
		// N is decimal (fmt.Sscan would read "020" as octal 16).
		n, err := strconv.ParseInt(urlPath[i+len("/.pad/"):], 10, 64)
		if err != nil || n <= 0 {
			t.Fatalf("answered %q itself, which is no pad of a positive length", urlPath)
		}
		checkPadAnswer(t, resp, rg, n)
	})
}

// checkPadAnswer checks a pad answer to a request with Range header rg
// (maybe "") for a pad of n bytes.
func checkPadAnswer(t *testing.T, resp *http.Response, rg string, n int64) {
	t.Helper()
	var start, end int64
	switch resp.StatusCode {
	case http.StatusOK:
		if rg != "" {
			t.Fatalf("200 to Range %q", rg)
		}
		start, end = 0, n-1
	case http.StatusPartialContent:
		var total int64
		cr := resp.Header.Get("Content-Range")
		if _, err := fmt.Sscanf(cr, "bytes %d-%d/%d", &start, &end, &total); err != nil || total != n || start < 0 || start > end || end >= n {
			t.Fatalf("206 to Range %q with Content-Range %q for a pad of %d bytes", rg, cr, n)
		}
	case http.StatusRequestedRangeNotSatisfiable:
		if rg == "" {
			t.Fatal("416 without a Range header")
		}
		return
	default:
		t.Fatalf("status %d", resp.StatusCode)
	}
	if l := end - start + 1; resp.ContentLength != l || resp.Header.Get("Content-Length") != fmt.Sprint(l) {
		t.Fatalf("length %d (header %q), want %d", resp.ContentLength, resp.Header.Get("Content-Length"), l)
	}
	const most = 1 << 16 // pads may claim up to 2^63 bytes: read a bounded prefix
	b, err := io.ReadAll(io.LimitReader(resp.Body, most))
	if err != nil || int64(len(b)) != min(end-start+1, most) || strings.Trim(string(b), "\x00") != "" {
		t.Fatalf("body: %d bytes (%v), not %d zeros", len(b), err, min(end-start+1, most))
	}
}
