package binpkg

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// dirBombTar is a metadata.tar with one key followed by n directory entries
// "metadata/", which carry no key and so pass the key and size checks: only
// the bound on the decompressed size stops a long run of them.
func dirBombTar(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "metadata/SLOT", Typeflag: tar.TypeReg, Size: 2, Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte("0\n"))
	for range n {
		if err := tw.WriteHeader(&tar.Header{Name: "metadata/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// compressAs compresses b for a metadata.tar suffix.
func compressAs(t *testing.T, suffix string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	var err error
	switch suffix {
	case "":
		return b
	case ".gz":
		w = gzip.NewWriter(&buf)
	case ".xz":
		w, err = xz.NewWriter(&buf)
	case ".zst":
		w, err = zstd.NewWriter(&buf, zstd.WithWindowSize(1<<19)) // the decoder allows limit+1 MiB
	}
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestMetadataTarDecompressionBound: a metadata.tar that decompresses past
// the bound fails with ErrLimit (it used to be cut short silently and
// reported as a truncated tar), whatever its compression; the same archive
// under a bound it fits in is read.
func TestMetadataTarDecompressionBound(t *testing.T) {
	raw := dirBombTar(t, 300) // about 150 KiB
	const limit = 64 << 10
	for _, suffix := range []string{"", ".gz", ".xz", ".zst"} {
		data := compressAs(t, suffix, raw)
		md, err := readMetadataTarLimited(bytes.NewReader(data), suffix, int64(len(raw)))
		if err != nil || string(md["SLOT"]) != "0\n" {
			t.Errorf("%q within the bound: %v %q", suffix, err, md)
		}
		if _, err := readMetadataTarLimited(bytes.NewReader(data), suffix, limit); !errors.Is(err, ErrLimit) {
			t.Errorf("%q past a bound of %d bytes: %v, want ErrLimit", suffix, limit, err)
		}
	}
}
