package swarm

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDownloadResumesFromPortagePartial: RESUMECOMMAND with Portage's own
// partial ${DISTDIR}/${FILE}: the download asks only for the rest (Range)
// and the result is whole.
func TestDownloadResumesFromPortagePartial(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 40000)
	srv, ranges := rangeServer(t, data, nil)
	dir := t.TempDir()
	partial := filepath.Join(dir, "f-1.tar.gz.__download__")
	if err := os.WriteFile(partial, data[:100000], 0o644); err != nil {
		t.Fatal(err)
	}
	staged := filepath.Join(dir, "staged")
	adoptPartial(partial, staged)
	got, err := downloadResumable(context.Background(), srv.Client(), srv.URL+"/f", staged, int64(len(data)), httpStallTimeout, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got != int64(len(data)-100000) {
		t.Errorf("received %d bytes, want only the missing %d", got, len(data)-100000)
	}
	b, _ := os.ReadFile(staged)
	if !bytes.Equal(b, data) {
		t.Fatalf("resumed file differs (%d bytes)", len(b))
	}
	if r := ranges(); len(r) != 1 || r[0] != "bytes=100000-" {
		t.Errorf("requests %q, want one Range bytes=100000-", r)
	}
	if b, _ := os.ReadFile(partial); len(b) != 100000 {
		t.Errorf("Portage's partial file was changed")
	}
}

// TestDownloadBoundedBySize: a server that streams more than the digests'
// size is cut off at size+1 bytes, and nothing is kept.
func TestDownloadBoundedBySize(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 64<<10)
		for i := 0; i < 16384; i++ { // up to 1 GiB, unannounced
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	staged := filepath.Join(t.TempDir(), "staged")
	got, err := downloadResumable(context.Background(), srv.Client(), srv.URL+"/f", staged, 300000, httpStallTimeout, nil)
	if err == nil || !strings.Contains(err.Error(), "more than the 300000 bytes") {
		t.Fatalf("err = %v, want the size bound", err)
	}
	if got > 300001 {
		t.Errorf("wrote %d bytes for a 300000-byte file", got)
	}
	if _, err := os.Stat(staged); !os.IsNotExist(err) {
		t.Errorf("oversized download kept (%v)", err)
	}
}

// TestDownloadAbandonsStall: a server that sends part of the file and then
// nothing is abandoned after the stall timeout, with an error that says so;
// the bytes received stay for a resume.
func TestDownloadAbandonsStall(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "300000")
		w.Write(make([]byte, 1000))
		w.(http.Flusher).Flush()
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hang)
	staged := filepath.Join(t.TempDir(), "staged")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := downloadResumable(ctx, srv.Client(), srv.URL+"/f", staged, 300000, time.Second, nil)
	if err == nil || !strings.Contains(err.Error(), "no data for 1s") {
		t.Fatalf("stalled download: %v, want 'no data for 1s'", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the stall was not detected before the test's own deadline")
	}
	if b, _ := os.ReadFile(staged); got != 1000 || len(b) != 1000 {
		t.Errorf("received %d, kept %d bytes, want 1000 and 1000", got, len(b))
	}
}

// TestDownloadAbandonsSilentServer: a server that accepts the connection and
// never answers is abandoned after the stall timeout (Portage's own wget
// gives up after 60 s; before, the fetch waited for its 30-minute --timeout).
func TestDownloadAbandonsSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered, until the test ends
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = downloadResumable(ctx, http.DefaultClient, "http://"+ln.Addr().String()+"/f", filepath.Join(t.TempDir(), "staged"), 300000, time.Second, nil)
	if err == nil || !strings.Contains(err.Error(), "no data for 1s") || ctx.Err() != nil {
		t.Fatalf("silent server: %v, want 'no data for 1s' before the test's deadline", err)
	}
}

// rangeServer serves data (ServeContent: Range, 206, 416) unless answer
// handles the request first, and records each request's Range header.
func rangeServer(t *testing.T, data []byte, answer func(w http.ResponseWriter, r *http.Request) bool) (*httptest.Server, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var ranges []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges = append(ranges, r.Header.Get("Range"))
		mu.Unlock()
		if answer != nil && answer(w, r) {
			return
		}
		http.ServeContent(w, r, "f", time.Time{}, bytes.NewReader(data))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), ranges...)
	}
}

// stagedWith writes a partial staged file holding b.
func stagedWith(t *testing.T, b []byte) string {
	t.Helper()
	staged := filepath.Join(t.TempDir(), "staged")
	if err := os.WriteFile(staged, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return staged
}

// The resumable download against servers that answer a Range request in
// each of the ways HTTP allows, and some it does not.
func TestDownloadRangeAnswers(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 10000)
	size := int64(len(data))
	ctx := context.Background()

	t.Run("200 to a Range request starts over", func(t *testing.T) {
		srv, ranges := rangeServer(t, data, func(w http.ResponseWriter, r *http.Request) bool {
			w.Write(data) // Range ignored: 200 with the whole file
			return true
		})
		staged := stagedWith(t, []byte("garbage that is not the file's start"))
		got, err := downloadResumable(ctx, srv.Client(), srv.URL+"/f", staged, size, httpStallTimeout, nil)
		if err != nil || got != size {
			t.Fatalf("got %d, %v; want the whole %d bytes", got, err, size)
		}
		if b, _ := os.ReadFile(staged); !bytes.Equal(b, data) {
			t.Fatalf("file after a 200: %d bytes, not the file", len(b))
		}
		if r := ranges(); len(r) != 1 || r[0] != "bytes=36-" {
			t.Errorf("requests %q, want one Range bytes=36-", r)
		}
	})

	t.Run("206 with the wrong Content-Range is refused", func(t *testing.T) {
		srv, _ := rangeServer(t, data, func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", size-1, size))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data)
			return true
		})
		staged := stagedWith(t, data[:1000])
		_, err := downloadResumable(ctx, srv.Client(), srv.URL+"/f", staged, size, httpStallTimeout, nil)
		if err == nil || !strings.Contains(err.Error(), `asked for bytes 1000- and the server sent Content-Range "bytes 0-`) {
			t.Fatalf("err = %v, want the Content-Range refused", err)
		}
		if b, _ := os.ReadFile(staged); !bytes.Equal(b, data[:1000]) {
			t.Fatalf("partial file changed to %d bytes", len(b))
		}
	})

	t.Run("206 with the right Content-Range resumes", func(t *testing.T) {
		srv, _ := rangeServer(t, data, nil)
		staged := stagedWith(t, data[:1000])
		got, err := downloadResumable(ctx, srv.Client(), srv.URL+"/f", staged, size, httpStallTimeout, nil)
		if err != nil || got != size-1000 {
			t.Fatalf("got %d, %v; want %d", got, err, size-1000)
		}
		if b, _ := os.ReadFile(staged); !bytes.Equal(b, data) {
			t.Fatal("resumed file differs")
		}
	})

	t.Run("416 for a complete file", func(t *testing.T) {
		srv, _ := rangeServer(t, data, nil)
		staged := stagedWith(t, data)
		got, err := downloadResumable(ctx, srv.Client(), srv.URL+"/f", staged, size, httpStallTimeout, nil)
		if err != nil || got != 0 {
			t.Fatalf("got %d, %v; want 0 bytes and no error", got, err)
		}
		if b, _ := os.ReadFile(staged); !bytes.Equal(b, data) {
			t.Fatal("complete file changed")
		}
	})

	t.Run("416 from a server whose copy is shorter", func(t *testing.T) {
		srv, _ := rangeServer(t, data[:500], nil)
		staged := stagedWith(t, data[:1000])
		_, err := downloadResumable(ctx, srv.Client(), srv.URL+"/f", staged, size, httpStallTimeout, nil)
		if err == nil || !strings.Contains(err.Error(), "HTTP 416") {
			t.Fatalf("err = %v, want the 416 reported", err)
		}
		if b, _ := os.ReadFile(staged); !bytes.Equal(b, data[:1000]) {
			t.Fatal("partial file changed")
		}
	})

	t.Run("404", func(t *testing.T) {
		srv, _ := rangeServer(t, data, func(w http.ResponseWriter, r *http.Request) bool {
			http.NotFound(w, r)
			return true
		})
		staged := filepath.Join(t.TempDir(), "staged")
		_, err := downloadResumable(ctx, srv.Client(), srv.URL+"/f", staged, size, httpStallTimeout, nil)
		if err == nil || !strings.Contains(err.Error(), "HTTP 404") {
			t.Fatalf("err = %v, want HTTP 404", err)
		}
		if _, err := os.Stat(staged); !os.IsNotExist(err) {
			t.Errorf("a 404 left a staged file (%v)", err)
		}
	})
}

func TestContentRangeStart(t *testing.T) {
	for cr, want := range map[string]int64{
		"bytes 100-199/200": 100, "bytes 0-0/*": 0, "bytes 5-9": -1, "bytes -5-9/10": -1,
		"bytes x-9/10": -1, "items 1-2/3": -1, "": -1, "bytes 9223372036854775808-1/2": -1,
	} {
		if got := contentRangeStart(cr); got != want {
			t.Errorf("contentRangeStart(%q) = %d, want %d", cr, got, want)
		}
	}
}

// LinkOut hard-links a store file to Portage's output path; across
// filesystems (EXDEV) it copies instead, and replaces an older file there
// in one rename, leaving no temporary file.
func TestLinkOutCopiesAcrossFilesystems(t *testing.T) {
	data := bytes.Repeat([]byte("distfile "), 5000)
	src := filepath.Join(t.TempDir(), "f-1.tar.gz")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, dir string }{
		{"same filesystem: linked", filepath.Dir(src)},
		{"other filesystem: copied", mountTmpfs(t, "1m")},
	} {
		out := filepath.Join(tc.dir, "out.tar.gz")
		if err := os.WriteFile(out, []byte("an older, partial copy"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := LinkOut(src, out); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if b, _ := os.ReadFile(out); !bytes.Equal(b, data) {
			t.Errorf("%s: output differs (%d bytes)", tc.name, len(b))
		}
		so, _ := os.Stat(src)
		oo, _ := os.Stat(out)
		if linked := os.SameFile(so, oo); linked != (tc.dir == filepath.Dir(src)) {
			t.Errorf("%s: hard link %v", tc.name, linked)
		}
		if _, err := os.Stat(out + ".distswarm-tmp"); !os.IsNotExist(err) {
			t.Errorf("%s: temporary file left (%v)", tc.name, err)
		}
	}
}
