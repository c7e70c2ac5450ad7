package collection

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// manyFilesInfo bencodes a v1 info dict declaring n 1-byte files (one
// piece hash per file at a 1-byte piece length), as issue 12's 34 MB
// .torrent of 1,000,000 files.
func manyFilesInfo(n int) []byte {
	b := make([]byte, 0, n*56)
	b = append(b, "d5:filesl"...)
	for i := range n {
		b = append(b, "d6:lengthi1e4:pathl8:f"...)
		b = append(b, fmt.Appendf(nil, "%07d", i)...)
		b = append(b, "ee"...)
	}
	b = append(b, "e4:name9:distfiles12:piece lengthi1e6:pieces"...)
	b = strconv.AppendInt(b, int64(20*n), 10)
	b = append(b, ':')
	b = append(b, bytes.Repeat([]byte{'a'}, 20*n)...)
	return append(b, 'e')
}

// A 1,000,000-file torrent drove fetch to 3.16 GB RSS for over two minutes
// (and --timeout waited for it). ParseInfo now refuses it from a scan,
// before anything is allocated per file.
func TestMillionFileTorrentRefused(t *testing.T) {
	info := manyFilesInfo(1_000_000)
	torrent := append(append([]byte("d4:info"), info...), 'e')
	path := filepath.Join(t.TempDir(), "million.torrent")
	if err := os.WriteFile(path, torrent, 0o644); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ParseInfo(info)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrBencodeLimit) || !strings.Contains(err.Error(), "more than 262144 file entries") {
		t.Fatalf("ParseInfo: %v, want a file-count error", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("ParseInfo allocated %d bytes refusing it, want < 1 MiB", alloc)
	}
	_, err = Load(path)
	if !errors.Is(err, ErrBencodeLimit) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "file entries") {
		t.Fatalf("Load: %v, want a file-count error naming the file", err)
	}
	t.Logf("%d-byte torrent: %v", len(torrent), err)
}

// The bound counts entries exactly: MaxFileEntries entries pass the scan,
// one more does not (ParseInfo of a small list: see TestParseInfo).
func TestFileEntryBound(t *testing.T) {
	sh, err := checkInfoShape(manyFilesInfo(MaxFileEntries))
	if err != nil || sh.files != MaxFileEntries {
		t.Fatalf("%d files: counted %d, %v", MaxFileEntries, sh.files, err)
	}
	if _, err := checkInfoShape(manyFilesInfo(MaxFileEntries + 1)); !errors.Is(err, ErrBencodeLimit) {
		t.Fatalf("%d files: %v, want ErrBencodeLimit", MaxFileEntries+1, err)
	}
	torrent := append(append([]byte("d8:announce1:x4:info"), manyFilesInfo(3)...), 'e')
	if sh, err := checkTorrentShape(torrent); err != nil || sh.files != 3 {
		t.Fatalf("torrent of 3 files: counted %d, %v", sh.files, err)
	}
}

// Long paths are bounded in total too: 32 files whose names add up to
// more than MaxPathBytes.
func TestPathBytesBound(t *testing.T) {
	name := strings.Repeat("x", MaxPathBytes/32+1)
	var b bytes.Buffer
	b.WriteString("d5:filesl")
	for range 32 {
		fmt.Fprintf(&b, "d6:lengthi0e4:pathl%d:%see", len(name), name)
	}
	b.WriteString("e4:name1:x12:piece lengthi16384e6:pieces0:e")
	_, err := ParseInfo(b.Bytes())
	if !errors.Is(err, ErrBencodeLimit) || !strings.Contains(err.Error(), "bytes of file paths") {
		t.Fatalf("ParseInfo: %v, want a path-bytes error", err)
	}
}

func TestCreateRefusesUnloadableTorrents(t *testing.T) {
	_, err := Create(context.Background(), CreateOptions{From: t.TempDir(), MaxFilesPerTorrent: MaxFileEntries})
	if err == nil || !strings.Contains(err.Error(), "files per torrent") {
		t.Fatalf("Create with %d files per torrent: %v", MaxFileEntries, err)
	}
}
