package swarm

import (
	"bytes"
	"context"
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
	var mu sync.Mutex
	var ranges []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges = append(ranges, r.Header.Get("Range"))
		mu.Unlock()
		http.ServeContent(w, r, "f", time.Time{}, bytes.NewReader(data))
	}))
	defer srv.Close()
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
	if len(ranges) != 1 || ranges[0] != "bytes=100000-" {
		t.Errorf("requests %q, want one Range bytes=100000-", ranges)
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
