package storage

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
)

// flatPlacement places files flat in Root (a distdir seeded in place).
type flatPlacement struct{ Root string }

func (p flatPlacement) FinalPath(_ *metainfo.Info, f FileRef) (string, bool) {
	return filepath.Join(p.Root, f.Path), !strings.Contains(f.Path, "/")
}

// TestSeedRootInPlace seeds a flat distdir outside Dir: files are hashed once where they are,
// adopted as Final, never copied, and nothing is staged.
func TestSeedRootInPlace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	files := testFiles(testPieceLen)
	distdir := t.TempDir()
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(distdir, f.name), f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	info, mi := buildInfo(t, "distfiles", files, testPieceLen)
	dir := t.TempDir()
	v := newDigestVerifier(files)
	st := openStore(t, Options{Dir: dir, Placement: flatPlacement{distdir}, SeedRoots: []string{distdir}, Verifier: v})
	defer st.Close()
	cl := newClient(t, st, t.TempDir(), nil)
	defer cl.Close()
	tor := addAndWaitInfo(ctx, t, cl, st, mi)
	waitComplete(ctx, t, tor)
	if err := st.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	for i, f := range info.UpvertedFiles() {
		if strings.Contains(f.Attr, "p") {
			continue
		}
		s := st.State(tor.InfoHash(), i)
		if s.Phase != PhaseFinal || s.FinalPath != filepath.Join(distdir, f.Path[0]) {
			t.Errorf("%v: %+v", f.Path, s)
		}
	}
	if c := v.totalCalls(); c != 0 {
		t.Errorf("verifier called %d times for files seeded in place", c)
	}
	for _, rel := range listFiles(t, dir) {
		t.Errorf("file written in the store: %s", rel)
	}

	// Without SeedRoots the same placement is refused: nothing is adopted from outside Dir.
	dir2 := t.TempDir()
	st2 := openStore(t, Options{Dir: dir2, Placement: flatPlacement{distdir}})
	defer st2.Close()
	var ih metainfo.Hash
	ih[0] = 9
	ti, err := st2.OpenTorrent(ctx, info, ih)
	if err != nil {
		t.Fatal(err)
	}
	defer ti.Close()
	if c := ti.PieceWithHash(info.Piece(0), nilHash()).Completion(); c.Complete {
		t.Errorf("piece of a file outside the roots reported complete")
	}
	buf := make([]byte, 16)
	if _, err := ti.PieceWithHash(info.Piece(0), nilHash()).ReadAt(buf, 0); err == nil {
		t.Errorf("read a file outside the roots")
	}
}
