package main

import (
	"slices"
	"testing"
)

// TestMatchPairs checks that --match values split at commas by the flag
// are rejoined, and that each KEY=VALUE starts a new pair.
func TestMatchPairs(t *testing.T) {
	got := matchPairs([]string{"LDFLAGS=-Wl", "-O1", "--as-needed", "CHOST=x86_64-pc-linux-gnu", "CFLAGS=-O2", "X=1"})
	want := []string{"LDFLAGS=-Wl,-O1,--as-needed", "CHOST=x86_64-pc-linux-gnu", "CFLAGS=-O2,X=1"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := matchPairs([]string{"bogus", "CHOST=a"}); !slices.Equal(got, []string{"bogus", "CHOST=a"}) {
		t.Fatalf("a first piece without a field stays for the error: %q", got)
	}
}
