package collection

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/anacrolix/torrent/bencode"
)

// nestedLists returns "d4:info" + n×"l" + n×"e" + "e": the .torrent of
// issue 12 that overflowed anacrolix's recursive decoder at n = 2,000,000.
func nestedLists(prefix string, n int) []byte {
	var b bytes.Buffer
	b.WriteString(prefix)
	b.Write(bytes.Repeat([]byte{'l'}, n))
	b.Write(bytes.Repeat([]byte{'e'}, n))
	b.WriteString("e")
	return b.Bytes()
}

func TestScanBencode(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("l", n) + strings.Repeat("e", n) }
	cases := []struct {
		name, data string
		want       string // "" accepts
	}{
		{"integer", "i-42e", ""},
		{"zero", "i0e", ""},
		{"empty string", "0:", ""},
		{"binary string", "3:\x00\xffe", ""},
		{"dict", "d1:ai1e1:bl1:xee", ""},
		{"empty dict and list", "d1:ale1:bdee", ""},
		{"64 deep", deep(MaxBencodeDepth), ""},
		{"65 deep", deep(MaxBencodeDepth + 1), "nested deeper than 64"},
		{"empty", "", "unexpected end"},
		{"truncated list", "l1:a", "unexpected end"},
		{"trailing data", "i1eX", "trailing data"},
		{"two values", "i1ei2e", "trailing data"},
		{"stray end", "e", "unexpected 'e'"},
		{"integer key", "di1ei2ee", "dict key is not a string"},
		{"list key", "dlee1:ae", "dict key is not a string"},
		{"key without value", "d1:ae", "dict key without a value"},
		{"leading zero", "i01e", "bad integer"},
		{"minus zero", "i-0e", "bad integer"},
		{"empty integer", "ie", "bad integer"},
		{"20-digit integer", "i" + strings.Repeat("9", 20) + "e", "bad integer"},
		{"unterminated integer", "i12", "unterminated integer"},
		{"string overrun", "5:abc", "overruns"},
		{"huge string length", "999999999999999999:x", "overruns"},
		{"19-digit string length", "9999999999999999999:x", "bad string length"},
		{"leading-zero length", "01:a", "bad string length"},
		{"bad byte", "x", "unexpected byte"},
	}
	for _, c := range cases {
		err := ScanBencode([]byte(c.data))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
		if c.want == "" {
			var v any
			if err := bencode.Unmarshal([]byte(c.data), &v); err != nil {
				t.Errorf("%s: accepted, but the decoder refuses it: %v", c.name, err)
			}
		}
	}
}

func TestScanBencodeValueLimit(t *testing.T) {
	data := []byte("l" + strings.Repeat("i1e", 10) + "e") // 11 values
	if err := ScanBencodeLimits(data, BencodeLimits{MaxValues: 11}); err != nil {
		t.Fatalf("11 values at a limit of 11: %v", err)
	}
	err := ScanBencodeLimits(data, BencodeLimits{MaxValues: 10})
	if !errors.Is(err, ErrBencodeLimit) || !strings.Contains(err.Error(), "more than 10 values") {
		t.Fatalf("11 values at a limit of 10: %v", err)
	}
}

// The 4 MB .torrent of issue 12 crashed the process in the decoder; every
// entry point now refuses it with a bounded error.
func TestNestedBencodeRefused(t *testing.T) {
	const n = 2_000_000
	torrent := nestedLists("d4:info", n)
	if _, _, err := parseTorrent(torrent); !errors.Is(err, ErrBencodeLimit) {
		t.Errorf("parseTorrent: %v, want ErrBencodeLimit", err)
	}
	if _, err := ParseTorrent(torrent); !errors.Is(err, ErrBencodeLimit) {
		t.Errorf("ParseTorrent: %v, want ErrBencodeLimit", err)
	}
	// An info dict nesting below an unknown key (magnet metadata, or the
	// info of a .torrent).
	info := nestedLists("d1:x", n)
	if _, err := ParseInfo(info); !errors.Is(err, ErrBencodeLimit) {
		t.Errorf("ParseInfo: %v, want ErrBencodeLimit", err)
	}
	path := t.TempDir() + "/nested.torrent"
	if err := os.WriteFile(path, torrent, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if !errors.Is(err, ErrBencodeLimit) || !strings.Contains(err.Error(), "nested deeper than") {
		t.Errorf("Load: %v, want a nesting error", err)
	}
}

// A torrent nested just within the bound still loads: the bound is not
// what refuses ordinary torrents.
func TestParseTorrentNestedWithinBound(t *testing.T) {
	depthInInfo := MaxBencodeDepth - 2 // the .torrent dict and the info dict
	info := "d1:x" + strings.Repeat("l", depthInInfo) + strings.Repeat("e", depthInInfo) +
		"6:lengthi1e4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae"
	if _, _, err := parseTorrent([]byte("d4:info" + info + "e")); err != nil {
		t.Fatalf("nested %d deep: %v", MaxBencodeDepth, err)
	}
	info = "d1:x" + strings.Repeat("l", depthInInfo+1) + strings.Repeat("e", depthInInfo+1) + info[4:]
	if _, _, err := parseTorrent([]byte("d4:info" + info + "e")); !errors.Is(err, ErrBencodeLimit) {
		t.Fatalf("nested %d deep: %v, want ErrBencodeLimit", MaxBencodeDepth+1, err)
	}
}

// FuzzScanBencode checks the scanner against anacrolix's decoder on small
// inputs (where the decoder's recursion is harmless): what the scanner
// accepts, the decoder decodes (unless its dict keys are unsorted, which
// the decoder refuses into a map and the scanner leaves to it); what the decoder decodes, the scanner
// accepts unless a bound or a canonical-form rule refuses it.
func FuzzScanBencode(f *testing.F) {
	for _, s := range []string{"i1e", "0:", "d1:ai1ee", "l" + strings.Repeat("l", 70) + strings.Repeat("e", 71),
		"d4:infod6:lengthi1e4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee", "i01e", "di1ei1ee"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := ScanBencodeLimits(data, BencodeLimits{MaxDepth: 16, MaxValues: 1000})
		var v any
		decErr := bencode.Unmarshal(data, &v)
		if err == nil && decErr != nil && !strings.Contains(decErr.Error(), "dict keys unsorted") {
			t.Fatalf("scanner accepts %q, the decoder refuses it: %v", data, decErr)
		}
		if err != nil && decErr == nil && !errors.Is(err, ErrBencodeLimit) && !nonCanonical(err) {
			t.Fatalf("decoder accepts %q, the scanner refuses it: %v", data, err)
		}
	})
}

// nonCanonical reports a refusal for a form the decoder tolerates but
// bencode forbids (leading zeros, "-0").
func nonCanonical(err error) bool {
	return strings.Contains(err.Error(), "bad integer") || strings.Contains(err.Error(), "bad string length")
}
