package swarm

import (
	"strings"
	"testing"
)

// FuzzPadRequest feeds arbitrary webseed URL paths (built from the
// torrent's file paths, so from the torrent's author) and Range headers to
// the pad round-tripper's parsers: they must not panic, and what they
// accept must describe a non-empty pad and a range inside it.
func FuzzPadRequest(f *testing.F) {
	f.Add("/distfiles/.pad/16384", "bytes=0-16383")
	f.Add("/distfiles/.pad/100", "bytes=50-")
	f.Add("/distfiles/.pad/0", "")
	f.Add("/distfiles/.pad/-5", "bytes=-5")
	f.Add("/x/.pad/9223372036854775807", "bytes=9223372036854775806-9223372036854775807")
	f.Add("/../.pad/1", "bytes=0-0,1-1")
	f.Add("/distfiles/ab/x-1.tar.gz", "bytes=1-0")
	f.Fuzz(func(t *testing.T, urlPath, rg string) {
		n, ok := padLength(urlPath)
		if !ok {
			return
		}
		if n <= 0 || !strings.Contains(urlPath, "/.pad/") {
			t.Fatalf("padLength(%q) = %d, true", urlPath, n)
		}
		start, end, err := parseRange(rg, n)
		if err != nil {
			return
		}
		if start < 0 || start > end || end >= n {
			t.Fatalf("parseRange(%q, %d) = %d-%d", rg, n, start, end)
		}
	})
}
