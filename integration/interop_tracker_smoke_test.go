package integration

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestOpentrackerWhitelist: the harness's tracker answers announces for
// whitelisted infohashes and refuses the rest (so interop tests that rely
// on it fail loudly rather than finding no peers).
func TestOpentrackerWhitelist(t *testing.T) {
	ok := strings.Repeat("ab", 20)
	announce := StartOpentracker(t, ok)
	get := func(hexHash string) string {
		raw, err := hex.DecodeString(hexHash)
		if err != nil {
			t.Fatal(err)
		}
		u := announce + "?info_hash=" + url.QueryEscape(string(raw)) + "&peer_id=-DS0001-000000000000&port=6881&uploaded=0&downloaded=0&left=0&compact=1"
		resp, err := http.Get(u)
		if err != nil {
			t.Fatalf("announce: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := get(ok); !strings.Contains(got, "interval") {
		t.Errorf("whitelisted announce answered %q", got)
	}
	if got := get(strings.Repeat("cd", 20)); strings.Contains(got, "interval") || !strings.Contains(got, "failure") {
		t.Errorf("unlisted announce answered %q", got)
	}
}
