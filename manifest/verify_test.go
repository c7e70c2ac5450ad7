package manifest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// entryFor builds a DIST entry for data with the given hashes.
func entryFor(t *testing.T, name string, data []byte, names ...string) Entry {
	t.Helper()
	d, n, err := Sum(context.Background(), bytes.NewReader(data), names)
	if err != nil || n != int64(len(data)) {
		t.Fatalf("Sum: %v %d", err, n)
	}
	return Entry{Tag: TagDIST, Path: name, Size: n, Digests: d}
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func randBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSumKnownVectors(t *testing.T) {
	ctx := context.Background()
	// Sizes around the sequential/fanout threshold and buffer boundaries.
	for _, size := range []int{0, 1, 1000, smallInput, smallInput + 1, fanoutBufSize - 1, fanoutBufSize, 3*fanoutBufSize + 17, 7 * fanoutBufSize} {
		data := randBytes(t, size)
		names := SupportedNames()
		if size > 1000 {
			names = []string{BLAKE2B, SHA512, SHA256, MD5} // WHIRLPOOL etc. are slow in pure Go
		}
		got, n, err := Sum(ctx, bytes.NewReader(data), names)
		if err != nil || n != int64(size) {
			t.Fatalf("size %d: %v %d", size, err, n)
		}
		// Compare against sequential hashing; also exercise a reader
		// returning one byte at a time for small inputs.
		for _, name := range names {
			h, _ := NewHash(name)
			h.Write(data)
			if want := hexOf(h.Sum(nil)); got[name] != want {
				t.Errorf("size %d %s: %s want %s", size, name, got[name], want)
			}
		}
		if size <= 1000 {
			got2, _, err := Sum(ctx, iotest.OneByteReader(bytes.NewReader(data)), []string{BLAKE2B})
			if err != nil || got2[BLAKE2B] != got[BLAKE2B] {
				t.Errorf("OneByteReader: %v", err)
			}
		}
		p := writeTemp(t, "f", data)
		got3, n3, err := SumFile(ctx, p, []string{SHA512, BLAKE2B, SHA512})
		if err != nil || n3 != int64(size) || got3[SHA512] != got[SHA512] || got3[BLAKE2B] != got[BLAKE2B] || len(got3) != 2 {
			t.Errorf("SumFile size %d: %v %v", size, err, got3)
		}
	}
	if _, _, err := Sum(ctx, strings.NewReader(""), []string{"STREEBOG256"}); err == nil {
		t.Error("unsupported name accepted")
	}
	if _, _, err := Sum(ctx, strings.NewReader(""), nil); err == nil {
		t.Error("no names accepted")
	}
	d, _, err := Sum(ctx, strings.NewReader(""), StrongHashes)
	if err != nil || d[BLAKE2B] != b2Empty || d[SHA512] != s512Emp {
		t.Errorf("empty: %v %v", d, err)
	}
}

func hexOf(b []byte) string {
	const h = "0123456789abcdef"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = h[c>>4], h[c&15]
	}
	return string(out)
}

type failWriter struct{ after int }

func (f *failWriter) Write(b []byte) (int, error) {
	if f.after <= 0 {
		return 0, errors.New("disk full")
	}
	f.after--
	return len(b), nil
}

func TestFanoutErrors(t *testing.T) {
	ctx := context.Background()
	data := randBytes(t, 10*fanoutBufSize)
	var a, b bytes.Buffer
	n, err := Fanout(ctx, bytes.NewReader(data), &a, &b)
	if err != nil || n != int64(len(data)) || !bytes.Equal(a.Bytes(), data) || !bytes.Equal(b.Bytes(), data) {
		t.Fatalf("copy: %v %d", err, n)
	}
	if _, err := Fanout(ctx, bytes.NewReader(data), io.Discard, &failWriter{after: 2}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("sink error: %v", err)
	}
	boom := errors.New("boom")
	r := io.MultiReader(bytes.NewReader(data[:3*fanoutBufSize]), iotest.ErrReader(boom))
	if _, err := Fanout(ctx, r, io.Discard); !errors.Is(err, boom) {
		t.Errorf("read error: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Fanout(cctx, bytes.NewReader(data), io.Discard); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if _, _, err := Sum(cctx, bytes.NewReader(data[:10]), StrongHashes); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled small Sum: %v", err)
	}
}

func TestVerifyFile(t *testing.T) {
	ctx := context.Background()
	data := randBytes(t, 3*fanoutBufSize+123)
	good := entryFor(t, "foo.tar.gz", data, BLAKE2B, SHA512)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("correct", func(t *testing.T) {
		res, err := VerifyFile(ctx, write("ok", data), good)
		if err != nil || strings.Join(res.Checked, ",") != "BLAKE2B,SHA512" || len(res.Unsupported) != 0 {
			t.Fatalf("%v %+v", err, res)
		}
		// Uppercase digests in a hand-made entry still match.
		up := good
		up.Digests = Digests{SHA512: strings.ToUpper(good.Digests[SHA512])}
		if _, err := VerifyFile(ctx, write("ok", data), up); err != nil {
			t.Errorf("uppercase: %v", err)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		_, err := VerifyFile(ctx, write("trunc", data[:len(data)-1]), good)
		var me *MismatchError
		if !errors.As(err, &me) || me.What != "size" {
			t.Fatalf("%v", err)
		}
		want := "foo.tar.gz: size 3145850, want 3145851"
		if err.Error() != want {
			t.Errorf("%q, want %q", err, want)
		}
	})
	t.Run("corrupted", func(t *testing.T) {
		bad := bytes.Clone(data)
		bad[len(bad)/2] ^= 1
		_, err := VerifyFile(ctx, write("bad", bad), good)
		var me *MismatchError
		if !errors.As(err, &me) || me.What != BLAKE2B || me.Want != good.Digests[BLAKE2B] || me.Got == me.Want {
			t.Fatalf("%v", err)
		}
		if !strings.HasPrefix(err.Error(), "foo.tar.gz: BLAKE2B mismatch: want "+good.Digests[BLAKE2B][:16]+"…, got ") {
			t.Errorf("message %q", err)
		}
		// Only SHA512 listed: the message names SHA512.
		only := Entry{Path: "foo.tar.gz", Size: good.Size, Digests: Digests{SHA512: good.Digests[SHA512]}}
		if _, err := VerifyFile(ctx, write("bad", bad), only); err == nil || !strings.Contains(err.Error(), "SHA512 mismatch") {
			t.Errorf("%v", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, err := VerifyFile(ctx, filepath.Join(dir, "nope"), good)
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "foo.tar.gz") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("only unknown hash", func(t *testing.T) {
		e := Entry{Path: "foo.tar.gz", Size: good.Size, Digests: Digests{"STREEBOG512": strings.Repeat("ab", 64)}}
		res, err := VerifyFile(ctx, write("ok", data), e)
		if !errors.Is(err, ErrNoSupportedHash) || !strings.Contains(err.Error(), "foo.tar.gz") {
			t.Fatalf("%v", err)
		}
		if len(res.Unsupported) != 1 || res.Unsupported[0] != "STREEBOG512" {
			t.Errorf("%+v", res)
		}
		if _, err := VerifyReader(ctx, bytes.NewReader(data), e); !errors.Is(err, ErrNoSupportedHash) {
			t.Errorf("reader: %v", err)
		}
	})
	t.Run("unknown plus known", func(t *testing.T) {
		e := Entry{Path: "foo.tar.gz", Size: good.Size, Digests: Digests{"STREEBOG512": "00", SHA512: good.Digests[SHA512]}}
		res, err := VerifyFile(ctx, write("ok", data), e)
		if err != nil || strings.Join(res.Checked, ",") != "SHA512" || strings.Join(res.Unsupported, ",") != "STREEBOG512" {
			t.Fatalf("%v %+v", err, res)
		}
	})
	t.Run("reader", func(t *testing.T) {
		if _, err := VerifyReader(ctx, bytes.NewReader(data), good); err != nil {
			t.Errorf("good: %v", err)
		}
		long := append(bytes.Clone(data), 'x')
		var me *MismatchError
		if _, err := VerifyReader(ctx, bytes.NewReader(long), good); !errors.As(err, &me) || me.What != "size" {
			t.Errorf("long: %v", err)
		}
		if _, err := VerifyReader(ctx, bytes.NewReader(data[:10]), good); !errors.As(err, &me) || me.What != "size" || me.Got != "10" {
			t.Errorf("short: %v", err)
		}
	})
	t.Run("small file", func(t *testing.T) {
		small := []byte("hello\n")
		e := entryFor(t, "hello", small, SHA256, MD5, WHIRLPOOL)
		if _, err := VerifyFile(ctx, write("hello", small), e); err != nil {
			t.Error(err)
		}
	})
}

func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// spaceBomb returns a gzip stream that expands to just over
// MaxManifestSize bytes of whitespace-only lines (valid, so only the size
// bound stops it).
func spaceBomb(t *testing.T) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	line := append(bytes.Repeat([]byte(" "), 60000), '\n')
	chunk := bytes.Repeat(line, 16)
	for n := 0; n <= MaxManifestSize; n += len(chunk) {
		w.Write(chunk)
	}
	w.Close()
	return buf.Bytes()
}

func TestOpenSubManifest(t *testing.T) {
	plain, err := os.ReadFile("testdata/gemato-tests__SIGNED_MANIFEST.txt")
	if err != nil {
		t.Fatal(err)
	}
	comp := gz(t, plain)
	dir := t.TempDir()
	p := filepath.Join(dir, "Manifest.gz")
	os.WriteFile(p, comp, 0o644)
	e := entryFor(t, "eclass/Manifest.gz", comp, BLAKE2B, SHA512)
	e.Tag = TagMANIFEST
	m, err := OpenSubManifest(p, e)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Entries) != 6 || !m.Signed {
		t.Errorf("%+v", m)
	}
	// Hash over the decompressed bytes is wrong: must fail before decompression.
	bad := entryFor(t, "eclass/Manifest.gz", plain, BLAKE2B)
	bad.Size = e.Size
	var me *MismatchError
	if _, err := OpenSubManifest(p, bad); !errors.As(err, &me) || me.What != BLAKE2B {
		t.Errorf("wrong hash: %v", err)
	}
	// Wrong size is caught from stat.
	bad = e
	bad.Size++
	if _, err := OpenSubManifest(p, bad); !errors.As(err, &me) || me.What != "size" {
		t.Errorf("wrong size: %v", err)
	}
	// Zip bombs: TestDecompressionBombs, TestManifestSizeBombFullSize.
	// Unsupported compression suffix.
	lz := filepath.Join(dir, "Manifest.lz4")
	os.WriteFile(lz, comp, 0o644)
	if _, err := OpenSubManifest(lz, e); !errors.Is(err, ErrUnsupportedCompression) {
		t.Errorf("lz4: %v", err)
	}
}

func TestParseFileCompressed(t *testing.T) {
	plain, _ := os.ReadFile("testdata/gentoo__dev-libs__openssl__Manifest")
	p := writeTemp(t, "Manifest.gz", gz(t, plain))
	m, err := ParseFile(p)
	if err != nil || len(m.Entries) != 22 {
		t.Fatalf("%v", err)
	}
}

// TestDecompressionBombs: a compressed Manifest that expands past the size
// limit is "too large", in every compression GLEP 74 allows, through both
// ParseFile's path and OpenSubManifest's (after its hash check). Each bomb
// in testdata/bombs expands to 64 MiB of valid whitespace-only lines, made
// by:
//
//	python3 -c "import sys; sys.stdout.buffer.write((b' '*60000+b'\n')*1119)" >spaces
//	gzip -9 -n -c spaces >spaces.gz; bzip2 -9 -c spaces >spaces.bz2
//	xz --lzma2=preset=9,dict=1MiB -c spaces >spaces.xz; zstd -19 --zstd=wlog=20 -c spaces >spaces.zst
//	xz --format=lzma --lzma1=preset=9,dict=1MiB -c spaces >spaces.lzma
//
// The limit is 1 MiB here, a parameter of the same code that bounds real
// Manifests by MaxManifestSize, so the test is quick under -race; the
// decoders stream, so only about the limit is ever decompressed.
func TestDecompressionBombs(t *testing.T) {
	const limit = 1 << 20
	for _, ext := range []string{".gz", ".bz2", ".xz", ".lzma", ".zst"} {
		t.Run(ext, func(t *testing.T) {
			path := filepath.Join("testdata", "bombs", "spaces"+ext)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = parseMaybeCompressed(bytes.NewReader(data), "Manifest"+ext, limit)
			if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "limit 1048576 bytes") {
				t.Errorf("parse: %v, want ErrTooLarge at the 1 MiB limit", err)
			}
			e := entryFor(t, "Manifest"+ext, data, BLAKE2B)
			e.Tag = TagMANIFEST
			if _, err := openSubManifest(path, e, limit); !errors.Is(err, ErrTooLarge) {
				t.Errorf("sub-Manifest: %v, want ErrTooLarge", err)
			}
		})
	}
}

// TestManifestSizeBombFullSize is TestDecompressionBombs at the real
// MaxManifestSize (256 MiB through the parser). It takes about 50 s under
// -race, where TestDecompressionBombs covers the same code at a 1 MiB limit.
func TestManifestSizeBombFullSize(t *testing.T) {
	if raceEnabled {
		t.Skip("256 MiB through the parser takes about 50 s under -race; TestDecompressionBombs runs the bound at 1 MiB")
	}
	bombData := spaceBomb(t)
	if _, err := ParseFile(writeTemp(t, "Manifest.gz", bombData)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ParseFile: %v", err)
	}
	bomb := writeTemp(t, "bomb.gz", bombData)
	if _, err := OpenSubManifest(bomb, entryFor(t, "bomb.gz", bombData, BLAKE2B)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("OpenSubManifest: %v", err)
	}
}

// TestLZMAHugeDictionaryRefused: a .lzma header asking for a 2 GiB
// dictionary (which the decoder would allocate before reading any data)
// is refused up front; one at MaxLZMADict is accepted.
func TestLZMAHugeDictionaryRefused(t *testing.T) {
	header := func(dict uint32) []byte {
		h := []byte{0x5d, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff} // lc=3 lp=0 pb=2, unknown size
		binary.LittleEndian.PutUint32(h[1:], dict)
		return append(h, make([]byte, 64)...)
	}
	_, err := ParseFile(writeTemp(t, "Manifest.lzma", header(1<<31-1)))
	if err == nil || !strings.Contains(err.Error(), "dictionary capacity") {
		t.Errorf("2 GiB dictionary: %v, want it refused for its dictionary size", err)
	}
	_, err = ParseFile(writeTemp(t, "Manifest.lzma", header(MaxLZMADict)))
	if err != nil && strings.Contains(err.Error(), "dictionary capacity") {
		t.Errorf("dictionary of MaxLZMADict refused: %v", err)
	}
}
