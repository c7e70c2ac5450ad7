package collection

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/storage/layout"
)

// hostileInfo returns a one-file info dict (file ab/x-1.tar.gz, 1 byte)
// after mutate, bencoded.
func hostileInfo(t testing.TB, mutate func(*metainfo.Info)) []byte {
	t.Helper()
	info := metainfo.Info{
		Name:        "distfiles",
		PieceLength: 16 << 10,
		Pieces:      bytes.Repeat([]byte{'a'}, 20),
		Files:       []metainfo.FileInfo{{Path: []string{"ab", "x-1.tar.gz"}, Length: 1}},
	}
	mutate(&info)
	b, err := bencode.Marshal(info)
	if err != nil {
		t.Fatalf("encode info: %v", err)
	}
	return b
}

// infoCases are info dicts a collection consumer must refuse (want is a
// piece of the error) or accept (want "").
var infoCases = []struct {
	name   string
	mutate func(*metainfo.Info)
	want   string
}{
	{"plain", func(*metainfo.Info) {}, ""},
	{"executable attr", func(i *metainfo.Info) { i.Files[0].Attr = "x" }, ""},
	{"equal path.utf-8", func(i *metainfo.Info) { i.Files[0].PathUtf8 = []string{"ab", "x-1.tar.gz"} }, ""},
	{"equal name.utf-8", func(i *metainfo.Info) { i.NameUtf8 = "distfiles" }, ""},
	{"255-byte name", func(i *metainfo.Info) { i.Files[0].Path[1] = strings.Repeat("y", 255) }, ""},
	{"dotdot", func(i *metainfo.Info) { i.Files[0].Path = []string{"..", "..", "x-1.tar.gz"} }, `".."`},
	{"dot", func(i *metainfo.Info) { i.Files[0].Path = []string{".", "x-1.tar.gz"} }, `"."`},
	{"empty component (absolute)", func(i *metainfo.Info) { i.Files[0].Path = []string{"", "etc", "x"} }, "empty path component"},
	{"absolute component", func(i *metainfo.Info) { i.Files[0].Path = []string{"/etc/x"} }, "contains '/'"},
	{"backslash", func(i *metainfo.Info) { i.Files[0].Path = []string{`..\x`} }, "contains '/'"},
	{"NUL", func(i *metainfo.Info) { i.Files[0].Path[1] = "x\x00.tar.gz" }, "NUL"},
	{"no path", func(i *metainfo.Info) { i.Files[0].Path = nil }, "empty path"},
	{"symlink attr", func(i *metainfo.Info) { i.Files[0].Attr = "l"; i.Files[0].SymlinkPath = []string{"..", "x"} }, "symlink"},
	{"symlink attr alone", func(i *metainfo.Info) { i.Files[0].Attr = "xl" }, "symlink"},
	{"symlink path alone", func(i *metainfo.Info) { i.Files[0].SymlinkPath = []string{"/etc/passwd"} }, "symlink"},
	{"single-file symlink", func(i *metainfo.Info) {
		i.Files, i.Length, i.Name, i.Attr = nil, 1, "x-1.tar.gz", "l"
	}, "symlink"},
	{"path.utf-8 dotdot", func(i *metainfo.Info) { i.Files[0].PathUtf8 = []string{"..", "..", "x-1.tar.gz"} }, "path.utf-8"},
	{"path.utf-8 other name", func(i *metainfo.Info) { i.Files[0].PathUtf8 = []string{"ab", "y-1.tar.gz"} }, "path.utf-8"},
	{"name.utf-8 dotdot", func(i *metainfo.Info) { i.NameUtf8 = ".." }, "name.utf-8"},
	{"name dotdot", func(i *metainfo.Info) { i.Name = ".." }, `".."`},
	{"name with slash", func(i *metainfo.Info) { i.Name = "../../x" }, "contains '/'"},
	{"private dir .distswarm", func(i *metainfo.Info) { i.Files[0].Path[0] = ".distswarm" }, "private directory"},
	{"private dir .partial", func(i *metainfo.Info) { i.Files[0].Path = []string{".partial", "0"} }, "private directory"},
	{"private dir .quarantine", func(i *metainfo.Info) { i.Files[0].Path[0] = ".quarantine" }, "private directory"},
	{"256-byte name", func(i *metainfo.Info) { i.Files[0].Path[1] = strings.Repeat("y", 256) }, "too long"},
	{"negative length", func(i *metainfo.Info) { i.Files[0].Length = -1 }, "bad length"},
	{"piece count", func(i *metainfo.Info) { i.Pieces = nil }, "piece hashes"},
	{"zero piece length", func(i *metainfo.Info) { i.PieceLength = 0 }, "piece length"},
}

// TestParseInfo: ParseInfo (the check shared by Load and magnet metadata)
// refuses unsafe names, symlinks, diverging UTF-8 variants, the store's
// private directories and overlong names, and accepts plain files.
func TestParseInfo(t *testing.T) {
	for _, c := range infoCases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseInfo(hostileInfo(t, c.mutate))
			switch {
			case c.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.want != "" && err == nil:
				t.Errorf("accepted")
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Errorf("error %q does not say %q", err, c.want)
			}
		})
	}
	if _, err := ParseInfo(append(hostileInfo(t, func(*metainfo.Info) {}), 'x')); err == nil {
		t.Error("trailing data accepted")
	}
}

// TestParseTorrentUsesParseInfo: a .torrent is refused exactly when its
// info dict is.
func TestParseTorrentUsesParseInfo(t *testing.T) {
	for _, c := range infoCases {
		infoBytes := hostileInfo(t, c.mutate)
		var buf bytes.Buffer
		if err := (&metainfo.MetaInfo{InfoBytes: infoBytes}).Write(&buf); err != nil {
			t.Fatal(err)
		}
		_, _, errT := parseTorrent(buf.Bytes())
		_, errI := ParseInfo(infoBytes)
		if (errT == nil) != (errI == nil) {
			t.Errorf("%s: parseTorrent %v, ParseInfo %v", c.name, errT, errI)
		}
	}
}

// checkAccepted is the property every accepted info dict must have: each
// name and path the library may use (plain or UTF-8) is a local relative
// path of safe components, and no file is a symlink.
func checkAccepted(t *testing.T, info *metainfo.Info) {
	t.Helper()
	safe := func(what string, comps []string) {
		for _, c := range comps {
			if c == "" || c == "." || c == ".." || strings.ContainsAny(c, "/\\\x00") || len(c) > MaxComponentLen || layout.IsPrivateName(c) {
				t.Fatalf("accepted unsafe %s component %q", what, c)
			}
		}
		if len(comps) > 0 && !filepath.IsLocal(filepath.Join(comps...)) {
			t.Fatalf("accepted non-local %s %q", what, comps)
		}
	}
	safe("name", []string{info.Name})
	safe("name", []string{info.BestName()})
	if strings.Contains(info.Attr, "l") || len(info.SymlinkPath) > 0 {
		t.Fatal("accepted a symlink torrent")
	}
	for _, f := range info.UpvertedFiles() {
		if len(info.Files) > 0 {
			safe("path", f.Path)
			safe("best path", f.BestPath())
		}
		if strings.Contains(f.Attr, "l") || len(f.SymlinkPath) > 0 {
			t.Fatalf("accepted a symlink %q", f.Path)
		}
		if f.Length < 0 {
			t.Fatalf("accepted length %d", f.Length)
		}
	}
	if info.PieceLength <= 0 || int64(info.NumPieces()) != (info.TotalLength()+info.PieceLength-1)/info.PieceLength {
		t.Fatalf("accepted %d pieces for %d bytes at piece length %d", info.NumPieces(), info.TotalLength(), info.PieceLength)
	}
}

func addInfoSeeds(f *testing.F) {
	for _, c := range infoCases {
		f.Add(hostileInfo(f, c.mutate))
	}
	f.Add([]byte("d6:lengthi1e4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae"))
	f.Add([]byte("d5:filesld6:lengthi1e4:pathl2:..1:xeee4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae"))
	f.Add([]byte("d5:filesld4:attr1:l6:lengthi0e4:pathl1:x12:symlink pathl2:..3:etceee4:name1:x12:piece lengthi16384e6:pieces0:e"))
	f.Add([]byte("d5:filesld6:lengthi1e4:pathl1:xe10:path.utf-8l2:..1:xeee4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae"))
	f.Add([]byte("d5:filesld6:lengthi1e4:pathl3:a\x00be" + "ee4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae"))
	f.Add([]byte("d9:file treed1:xd0:d6:lengthi1eeee12:meta versioni2e4:name1:x12:piece lengthi16384ee"))
}

// FuzzParseInfo feeds arbitrary bytes to ParseInfo, the check both Load
// and magnet metadata (BEP 9, from peers) go through. It must not panic,
// and whatever it accepts must be safe to map to paths.
func FuzzParseInfo(f *testing.F) {
	addInfoSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := ParseInfo(data)
		if err != nil {
			return
		}
		checkAccepted(t, info)
	})
}

// FuzzParseTorrent feeds arbitrary bytes to Load as a .torrent file (the
// bencode pre-scan, the decoder, the validation). It must not panic, and
// every torrent it accepts must pass checkAccepted's own checks of names
// and paths (not a second run of the validation).
func FuzzParseTorrent(f *testing.F) {
	for _, c := range infoCases {
		var buf bytes.Buffer
		if err := (&metainfo.MetaInfo{InfoBytes: hostileInfo(f, c.mutate), Announce: "http://127.0.0.1/announce"}).Write(&buf); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add([]byte("d4:infod6:lengthi1e4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee"))
	f.Add([]byte("d4:infod6:lengthi1e4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaeeXX"))
	f.Add([]byte("d8:url-listl3:..e4:infod6:lengthi1e4:name2:..12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee"))
	p := filepath.Join(f.TempDir(), "fuzz.torrent")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Load(p)
		if err != nil {
			return
		}
		for _, mi := range c.Torrents {
			info, err := mi.UnmarshalInfo()
			if err != nil {
				t.Fatalf("Load accepted a torrent whose info does not decode: %v", err)
			}
			checkAccepted(t, &info)
		}
	})
}

// FuzzLoadManifest feeds arbitrary bytes as the collection Manifest sidecar
// of a real collection torrent: loadManifest must not panic and must accept
// only the true Manifest (it is checked against the piece hashes).
func FuzzLoadManifest(f *testing.F) {
	dir := f.TempDir()
	for name, data := range testFiles(7, 5, 40000) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			f.Fatal(err)
		}
	}
	c, err := Create(context.Background(), CreateOptions{From: dir})
	if err != nil {
		f.Fatal(err)
	}
	info, err := c.Torrents[0].UnmarshalInfo()
	if err != nil {
		f.Fatal(err)
	}
	want := c.Manifests[0]
	f.Add(want)
	f.Add(want[:len(want)-1])
	f.Add(append(append([]byte(nil), want...), '\n'))
	f.Add([]byte{})
	f.Add([]byte("DIST ../../etc/passwd 1 BLAKE2B 00 SHA512 00\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := loadManifest(&info, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		if err != nil {
			return
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("accepted a Manifest that is not the collection's (%d bytes)", len(data))
		}
	})
}
