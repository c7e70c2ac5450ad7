package swarm

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/distswarm/distswarm/swarm/collection"
)

// nestedBencode returns prefix + n×"l" + n×"e" + "e" (issue 12: 2,000,000
// levels overflowed anacrolix's recursive decoder).
func nestedBencode(prefix string, n int) []byte {
	var b bytes.Buffer
	b.WriteString(prefix)
	b.Write(bytes.Repeat([]byte{'l'}, n))
	b.Write(bytes.Repeat([]byte{'e'}, n))
	b.WriteString("e")
	return b.Bytes()
}

func TestDecodeInfoHeadRefusesNestedBencode(t *testing.T) {
	_, err := decodeInfoHead(nestedBencode("d1:x", 2_000_000))
	if !errors.Is(err, collection.ErrBencodeLimit) {
		t.Fatalf("decodeInfoHead: %v, want ErrBencodeLimit", err)
	}
	if _, err := decodeInfoHead([]byte("d12:piece lengthi16384ee")); err != nil {
		t.Fatalf("decodeInfoHead of a flat info dict: %v", err)
	}
}

// A store's remembered collections are files too: a nested one is skipped
// (not decoded, not a crash) and the good one is still known.
func TestKnownSkipsNestedTorrent(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	nested := filepath.Join(s.collectionsDir(), "0000000000000000000000000000000000000000.torrent")
	if err := os.WriteFile(nested, nestedBencode("d4:info", 2_000_000), 0o644); err != nil {
		t.Fatal(err)
	}
	good := []byte("d4:infod6:lengthi1e4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee")
	if err := os.WriteFile(filepath.Join(s.collectionsDir(), "1111111111111111111111111111111111111111.torrent"), good, 0o644); err != nil {
		t.Fatal(err)
	}
	known, err := s.Known()
	if err != nil {
		t.Fatal(err)
	}
	if len(known) != 1 || !bytes.Equal(known[0].InfoBytes, good[7:len(good)-1]) {
		t.Fatalf("Known: %d torrents, want only the well-formed one", len(known))
	}
}
