package swarm

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// padRoundTripper in front of a real webseed (httptest): pad requests are
// answered locally with zeros (200, 206 with the right Content-Range, 416),
// and never reach the webseed; every other request goes to the webseed,
// whose answer (206 to a Range, 404 for a file it lacks) comes back as is.
func TestPadRoundTripperAgainstWebseed(t *testing.T) {
	file := []byte("0123456789")
	var reached []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = append(reached, r.URL.Path)
		if r.URL.Path != "/distfiles/ab/f.tar.gz" {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "f", time.Time{}, bytes.NewReader(file))
	}))
	defer srv.Close()
	client := &http.Client{Transport: padRoundTripper{next: http.DefaultTransport}}
	for _, tc := range []struct {
		path, rg     string
		status       int
		body, crange string
	}{
		{"/distfiles/.pad/5", "", 200, "\x00\x00\x00\x00\x00", ""},
		{"/distfiles/.pad/5", "bytes=1-2", 206, "\x00\x00", "bytes 1-2/5"},
		{"/distfiles/.pad/5", "bytes=3-", 206, "\x00\x00", "bytes 3-4/5"},
		{"/distfiles/.pad/5", "bytes=5-9", 416, "", ""},
		{"/distfiles/.pad/5", "bytes=0-1,3-4", 416, "", ""},
		{"/distfiles/ab/f.tar.gz", "bytes=2-4", 206, "234", "bytes 2-4/10"},
		{"/distfiles/ab/f.tar.gz", "", 200, "0123456789", ""},
		{"/distfiles/ab/missing.tar.gz", "bytes=0-1", 404, "404 page not found\n", ""},
		{"/distfiles/.pad/0", "", 404, "404 page not found\n", ""}, // no pad: passed on
	} {
		req, err := http.NewRequest(http.MethodGet, srv.URL+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.rg != "" {
			req.Header.Set("Range", tc.rg)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.path, tc.rg, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || string(body) != tc.body || resp.Header.Get("Content-Range") != tc.crange {
			t.Errorf("%s Range %q: %d %q Content-Range %q, want %d %q %q", tc.path, tc.rg,
				resp.StatusCode, body, resp.Header.Get("Content-Range"), tc.status, tc.body, tc.crange)
		}
	}
	for _, p := range reached {
		if strings.Contains(p, "/.pad/") && !strings.HasSuffix(p, "/.pad/0") {
			t.Errorf("pad request %s reached the webseed", p)
		}
	}
	if len(reached) != 4 {
		t.Errorf("webseed saw %d requests %q, want the 4 non-pad ones", len(reached), reached)
	}
}
