package gateway

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/distswarm/distswarm/storage/layout"
)

func payload(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// rawRequest sends target exactly as given on the request line (no client
// normalization) and returns the response with its body read.
func rawRequest(t *testing.T, addr, method, target string, header ...string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n%s\r\n",
		method, target, strings.Join(append(header, ""), "\r\n"))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: read response: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, target, err)
	}
	return resp, body
}

func get(t *testing.T, srv string, target string, header ...string) (*http.Response, []byte) {
	t.Helper()
	return rawRequest(t, strings.TrimPrefix(srv, "http://"), http.MethodGet, target, header...)
}

func TestServeDistfileGETHEADRangeAndConditional(t *testing.T) {
	b := newFakeBackend(t)
	data := payload(1, 300_000)
	b.put(t, "foo-1.0.tar.gz", data)
	srv := serve(t, b, Options{})
	rel := "/distfiles/" + b.DistfileRelPath("foo-1.0.tar.gz")

	resp, body := get(t, srv.URL, rel)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("GET %s: %s, %d bytes; want 200 and the file (%d bytes)", rel, resp.Status, len(body), len(data))
	}
	if got := resp.Header.Get("Content-Type"); got != "application/octet-stream" {
		t.Errorf("Content-Type %q", got)
	}
	if got := waitServed(b, int64(len(data))); got != int64(len(data)) {
		t.Errorf("served %d after one GET, want %d", got, len(data))
	}

	resp, body = rawRequest(t, srv.Listener.Addr().String(), http.MethodHead, rel)
	if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.ContentLength != int64(len(data)) {
		t.Fatalf("HEAD: %s, body %d, length %d", resp.Status, len(body), resp.ContentLength)
	}
	if got := b.served.Load(); got != int64(len(data)) {
		t.Errorf("HEAD counted bytes: served %d", got)
	}

	resp, body = get(t, srv.URL, rel, "Range: bytes=1000-1999")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, data[1000:2000]) {
		t.Fatalf("Range: %s, %d bytes", resp.Status, len(body))
	}
	if got := waitServed(b, int64(len(data))+1000); got != int64(len(data))+1000 {
		t.Errorf("served %d after GET + 1000-byte range", got)
	}

	resp, _ = get(t, srv.URL, rel, "Range: bytes=999999999-")
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("range past the end: %s", resp.Status)
	}

	resp, _ = get(t, srv.URL, rel)
	lastMod := resp.Header.Get("Last-Modified")
	resp, body = get(t, srv.URL, rel, "If-Modified-Since: "+lastMod)
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Fatalf("If-Modified-Since %q: %s with %d bytes", lastMod, resp.Status, len(body))
	}
}

func TestServeFlatNameAndLayoutConf(t *testing.T) {
	b := newFakeBackend(t)
	data := payload(2, 5000)
	b.put(t, "bar_2.3.tar.xz", data)
	srv := serve(t, b, Options{})

	resp, body := get(t, srv.URL, "/distfiles/bar_2.3.tar.xz")
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("flat GET: %s, %d bytes", resp.Status, len(body))
	}
	resp, body = get(t, srv.URL, "/distfiles/layout.conf")
	if resp.StatusCode != http.StatusOK || string(body) != "[structure]\n0="+layout.DefaultSpec+"\n" {
		t.Fatalf("layout.conf: %s %q", resp.Status, body)
	}
	// A name Portage percent-encodes (QuotePath) is decoded once.
	odd := "odd name+%.tar.gz"
	b.put(t, odd, data)
	resp, body = get(t, srv.URL, layout.MirrorURL("", b.DistfileRelPath(odd)))
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("encoded name: %s, %d bytes", resp.Status, len(body))
	}
}

func TestMissIsObtainedThenServed(t *testing.T) {
	b := newFakeBackend(t)
	data := payload(3, 70_000)
	b.setUpstream("late-1.tar.gz", data)
	srv := serve(t, b, Options{})
	resp, body := get(t, srv.URL, "/distfiles/"+b.DistfileRelPath("late-1.tar.gz"))
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("miss: %s, %d bytes", resp.Status, len(body))
	}
	if b.misses.Load() != 1 {
		t.Errorf("backend saw %d misses, want 1", b.misses.Load())
	}
}

func TestUnknownIs404AndBackendErrorIs502(t *testing.T) {
	b := newFakeBackend(t)
	b.setFailure("broken-1.tar.gz", errDisk)
	srv := serve(t, b, Options{})

	resp, _ := get(t, srv.URL, "/distfiles/"+b.DistfileRelPath("nobody-has-1.tar.gz"))
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown file: %s, want 404", resp.Status)
	}
	resp, body := get(t, srv.URL, "/distfiles/"+b.DistfileRelPath("broken-1.tar.gz"))
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("backend error: %s, want 502", resp.Status)
	}
	if strings.Contains(string(body), "/var/cache") || len(body) > 200 {
		t.Errorf("502 body leaks internals or is long: %q", body)
	}
	if b.served.Load() != 0 {
		t.Errorf("served %d bytes of errors", b.served.Load())
	}
}

func TestMissesAreBounded(t *testing.T) {
	b := newFakeBackend(t)
	b.gate = make(chan struct{})
	b.setUpstream("slow-1.tar.gz", []byte("slow"))
	b.setUpstream("slow-2.tar.gz", []byte("also slow"))
	srv := serve(t, b, Options{MaxMisses: 1, MissWait: 200 * time.Millisecond})

	first := make(chan int, 1)
	go func() {
		resp, err := http.Get(srv.URL + "/distfiles/" + b.DistfileRelPath("slow-1.tar.gz"))
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	deadline := time.Now().Add(30 * time.Second)
	for b.misses.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	resp, _ := get(t, srv.URL, "/distfiles/"+b.DistfileRelPath("slow-2.tar.gz"))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("second miss while the only slot is taken: %s, want 503 with Retry-After", resp.Status)
	}
	close(b.gate)
	if code := <-first; code != http.StatusOK {
		t.Errorf("first miss: %d, want 200", code)
	}
	// The slot is free again.
	resp, body := get(t, srv.URL, "/distfiles/"+b.DistfileRelPath("slow-2.tar.gz"))
	if resp.StatusCode != http.StatusOK || string(body) != "also slow" {
		t.Errorf("miss after the slot freed: %s %q", resp.Status, body)
	}
}

func TestOnlyGETAndHEAD(t *testing.T) {
	b := newFakeBackend(t)
	srv := serve(t, b, Options{})
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, "PROPFIND"} {
		resp, _ := rawRequest(t, srv.Listener.Addr().String(), m, "/distfiles/layout.conf", "Content-Length: 0")
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s: %s, want 405", m, resp.Status)
		}
	}
}

// waitServed returns b's count of served bytes once it reaches want, or
// after 5 s: the handler counts a response after its last byte is
// written, which the client may have read before that.
func waitServed(b *fakeBackend, want int64) int64 {
	deadline := time.Now().Add(5 * time.Second)
	for b.served.Load() < want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return b.served.Load()
}
