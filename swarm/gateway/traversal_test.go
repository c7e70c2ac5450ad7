package gateway

import (
	"net/http"
	"strings"
	"testing"
)

// TestTraversalAndPrivateDirectoriesAre404 requests, byte for byte on the
// request line, every way out of the distfiles tree or into the store's
// private directories we could think of; each must be a 404 that shows none
// of the private files' contents, and must not reach the backend.
func TestTraversalAndPrivateDirectoriesAre404(t *testing.T) {
	b := newFakeBackend(t)
	secrets := map[string]string{
		".distswarm/state.db":          "SECRET-STATE",
		".partial/foo-1.0.tar.gz":      "SECRET-PARTIAL",
		".quarantine/bad-1.0.tar.gz":   "SECRET-QUARANTINE",
		"collections/abcd.torrent":     "SECRET-TORRENT",
		"distfiles/.hidden":            "SECRET-DOTFILE",
		"distfiles/.distswarm-tmp-123": "SECRET-TEMP",
		"distfiles/collections/x":      "SECRET-NESTED",
	}
	for rel, content := range secrets {
		b.writeStoreFile(t, rel, content)
	}
	b.put(t, "foo-1.0.tar.gz", []byte("public distfile"))
	srv := serve(t, b, Options{})
	good := b.DistfileRelPath("foo-1.0.tar.gz") // e.g. "7e/foo-1.0.tar.gz"
	dir := good[:strings.IndexByte(good, '/')]

	cases := []string{
		"/distfiles/../.distswarm/state.db",
		"/distfiles/../../../../etc/passwd",
		"/distfiles/%2e%2e/.distswarm/state.db",
		"/distfiles/%2E%2E/%2E%2E/etc/passwd",
		"/distfiles/..%2f.distswarm%2fstate.db",
		"/distfiles/%2e%2e%2f.partial%2ffoo-1.0.tar.gz",
		"/distfiles/%252e%252e/.distswarm/state.db",
		"/distfiles/" + dir + "%2ffoo-1.0.tar.gz",
		"/distfiles//etc/passwd",
		"/distfiles/%2fetc%2fpasswd",
		"/distfiles/..\\.distswarm\\state.db",
		"/distfiles/%5c..%5c.distswarm%5cstate.db",
		"/distfiles/foo-1.0.tar.gz%00",
		"/distfiles/foo-1.0.tar.gz%00.jpg",
		"/distfiles/%00",
		"/distfiles/%",
		"/distfiles/%zz",
		"/distfiles/.partial/foo-1.0.tar.gz",
		"/distfiles/.quarantine/bad-1.0.tar.gz",
		"/distfiles/.distswarm/state.db",
		"/distfiles/collections/abcd.torrent",
		"/distfiles/collections/x",
		"/distfiles/.hidden",
		"/distfiles/%2ehidden",
		"/distfiles/.distswarm-tmp-123",
		"/distfiles/./" + good,
		"/distfiles/" + dir + "/./foo-1.0.tar.gz",
		"/distfiles/" + dir + "/../" + good,
		"/distfiles/" + good + "/",
		"/distfiles/" + good + "/..",
		"/distfiles/zz/foo-1.0.tar.gz", // wrong hash directory
		"/distfiles/a/b/foo-1.0.tar.gz",
		"/distfiles/",
		"/distfiles",
		"/distfiles/" + dir + "/",
		"/.distswarm/state.db",
		"/.partial/foo-1.0.tar.gz",
		"/collections/abcd.torrent",
		"/../etc/passwd",
		"//etc/passwd",
		"/%2e%2e/etc/passwd",
		"/api/v1/../../.distswarm/state.db",
		"http://gateway/distfiles/../.distswarm/state.db",
	}
	for _, target := range cases {
		before := b.misses.Load()
		resp, body := get(t, srv.URL, target)
		if b.misses.Load() != before {
			t.Errorf("GET %s reached the backend as a miss", target)
		}
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s: %s, want 404", target, resp.Status)
		}
		if resp.StatusCode == http.StatusBadRequest {
			t.Logf("GET %s: net/http refused the request line (400)", target)
		}
		for _, secret := range secrets {
			if strings.Contains(string(body), secret) {
				t.Errorf("GET %s leaked %q", target, secret)
			}
		}
		if strings.Contains(string(body), "public distfile") || strings.Contains(string(body), "root:") {
			t.Errorf("GET %s served a file: %q", target, body)
		}
	}
	// Decoded once, a double-encoded path is one opaque name like any
	// other, and so is the name of a hash directory: the backend is asked
	// for it and knows no such file. No directory is ever listed.
	for _, target := range []string{"/distfiles/" + dir, "/distfiles/%252e%252e%252f.distswarm%252fstate.db", "/distfiles/..%252f..%252fetc%252fpasswd"} {
		if resp, body := get(t, srv.URL, target); resp.StatusCode != http.StatusNotFound || strings.Contains(string(body), "SECRET") {
			t.Errorf("GET %s: %s %q, want 404", target, resp.Status, body)
		}
	}
	if resp, body := get(t, srv.URL, "/distfiles/"+good); resp.StatusCode != http.StatusOK || string(body) != "public distfile" {
		t.Fatalf("control request: %s %q", resp.Status, body)
	}
}
