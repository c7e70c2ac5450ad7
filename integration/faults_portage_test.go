package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPortageMode: `fetch --uri --out --digests` (Portage's FETCHCOMMAND)
// takes the file from the store, else from a collection the store knows,
// else over HTTP (resuming a partial download), and leaves nothing at --out
// (nor in the store) when the digests do not match.
func TestPortageMode(t *testing.T) {
	dir := t.TempDir()
	all := Corpus(t, filepath.Join(dir, "www"), 6, []int{300000, 250000, 40000, 120000, 70000})
	httpFile, peerFile, otherFile, wrongFile, notInCollFile := all[0], all[1], all[2], all[3], all[4]
	_ = notInCollFile
	srv := ServeDir(t, filepath.Join(dir, "www"))
	uri := func(f File) string { return srv.URL + "/" + f.Name }

	store := filepath.Join(dir, "store")
	distdir := filepath.Join(dir, "distdir")
	if err := os.MkdirAll(distdir, 0o755); err != nil {
		t.Fatal(err)
	}
	portage := func(t *testing.T, f File, digests string, extra ...string) (Result, string) {
		t.Helper()
		out := filepath.Join(distdir, f.Name+".__download__")
		os.Remove(out)
		args := append([]string{"fetch"}, Loopback...)
		args = append(args, "--store", store, "--swarm-timeout", "60s")
		args = append(args, extra...)
		args = append(args, "--uri", uri(f), "--out", out, "--digests", digests)
		r := Run(t, 2*time.Minute, args...)
		t.Logf("portage fetch %s: exit %d\n%s%s", f.Name, r.Code, r.Stdout, r.Stderr)
		return r, out
	}
	checkOut := func(t *testing.T, out string, f File) {
		t.Helper()
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatalf("--out: %v", err)
		}
		if !bytes.Equal(got, f.Data) {
			t.Fatalf("--out has wrong content (%d bytes, want %d)", len(got), len(f.Data))
		}
		CheckPlaced(t, store, []File{f})
	}
	checkNothing := func(t *testing.T, out string, f File) {
		t.Helper()
		ents, _ := os.ReadDir(distdir)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), f.Name) {
				t.Errorf("left in DISTDIR after a failed fetch: %s", e.Name())
			}
		}
		if _, err := os.Lstat(out); err == nil {
			t.Errorf("%s exists after a failed fetch", out)
		}
	}

	t.Run("http-resume", func(t *testing.T) {
		const have = 100000
		part := filepath.Join(store, ".partial", "http", httpFile.Name+".part")
		if err := os.MkdirAll(filepath.Dir(part), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(part, httpFile.Data[:have], 0o644); err != nil {
			t.Fatal(err)
		}
		r, out := portage(t, httpFile, DigestsArg(httpFile))
		if r.Code != 0 {
			t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
		}
		checkOut(t, out, httpFile)
		reqs := srv.RequestsFor(httpFile.Name)
		want := fmt.Sprintf("bytes=%d-", have)
		resumed := false
		for _, q := range reqs {
			if q.Range == want {
				resumed = true
			} else {
				t.Errorf("request not resuming the partial download: %+v", q)
			}
		}
		if !resumed {
			t.Errorf("no Range %q request; requests: %+v", want, reqs)
		}
		if _, err := os.Stat(part); err == nil {
			t.Errorf("partial download %s left behind", part)
		}
	})

	t.Run("store", func(t *testing.T) {
		before := len(srv.Requests())
		r, out := portage(t, httpFile, DigestsArg(httpFile))
		if r.Code != 0 {
			t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
		}
		checkOut(t, out, httpFile)
		if reqs := srv.Requests(); len(reqs) != before {
			t.Errorf("file in the store, yet the server got requests: %+v", reqs[before:])
		}
	})

	t.Run("known-collection", func(t *testing.T) {
		src := filepath.Join(dir, "seedsrc")
		for _, f := range []File{peerFile, otherFile, wrongFile} {
			if err := os.MkdirAll(src, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(src, f.Name), f.Data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		torrent := filepath.Join(dir, "c.torrent")
		if r := Run(t, time.Minute, "collection", "create", "--from", src, "--out", torrent); r.Code != 0 {
			t.Fatalf("create: %d %s", r.Code, r.Stderr)
		}
		seeder := StartSeeder(t, append(Loopback, "--store", filepath.Join(dir, "seedstore"), "--from", src, torrent)...)
		// A normal fetch of another file makes the store know the collection.
		args := append([]string{"fetch"}, Loopback...)
		args = append(args, "--store", store, "--torrent", torrent, "--digests", DigestsArg(otherFile),
			"--peer", seeder.Addr(), "--timeout", "60s", otherFile.Name)
		if r := Run(t, 90*time.Second, args...); r.Code != 0 {
			t.Fatalf("fetch %s: exit %d\n%s", otherFile.Name, r.Code, r.Stderr)
		}
		colls, _ := filepath.Glob(filepath.Join(store, "collections", "*.torrent"))
		if len(colls) == 0 {
			t.Fatalf("the store does not remember the collection after a fetch")
		}

		r, out := portage(t, peerFile, DigestsArg(peerFile), "--peer", seeder.Addr())
		if r.Code != 0 {
			t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
		}
		checkOut(t, out, peerFile)
		if reqs := srv.RequestsFor(peerFile.Name); len(reqs) != 0 {
			t.Errorf("file in a known collection, yet the server got requests: %+v", reqs)
		}

		// Wrong digests for a file of the known collection: the swarm copy
		// is rejected, so is the HTTP one; nothing is placed anywhere.
		liar := File{Name: wrongFile.Name, Data: append([]byte("not it"), wrongFile.Data...)}
		r, out = portage(t, wrongFile, DigestsArg(liar), "--peer", seeder.Addr())
		if r.Code == 0 {
			t.Fatalf("wrong digests accepted: exit 0\n%s", r.Stderr)
		}
		checkNothing(t, out, wrongFile)
		if _, err := os.Lstat(GLEP75Path(store, wrongFile.Name)); err == nil {
			t.Errorf("a file that does not match the digests was placed in the store")
		}
	})

	t.Run("wrong-digests-http", func(t *testing.T) {
		liar := File{Name: notInCollFile.Name, Data: notInCollFile.Data[1:]}
		r, out := portage(t, notInCollFile, DigestsArg(liar))
		if r.Code == 0 {
			t.Fatalf("wrong digests accepted: exit 0\n%s", r.Stderr)
		}
		if len(srv.RequestsFor(notInCollFile.Name)) == 0 {
			t.Errorf("server got no request: the HTTP path was not exercised")
		}
		checkNothing(t, out, notInCollFile)
		if _, err := os.Lstat(GLEP75Path(store, notInCollFile.Name)); err == nil {
			t.Errorf("a file that does not match the digests was placed in the store")
		}
	})

	t.Run("wrong-digests-store", func(t *testing.T) {
		// The store holds the true file, but Portage's digests say otherwise
		// (the Manifest changed): it must not be handed out.
		liar := File{Name: httpFile.Name, Data: httpFile.Data[:1000]}
		r, out := portage(t, httpFile, DigestsArg(liar))
		if r.Code == 0 {
			t.Fatalf("wrong digests accepted: exit 0\n%s", r.Stderr)
		}
		checkNothing(t, out, httpFile)
	})

	if _, probs := NewStoreChecker(store, all).Check(); len(probs) > 0 {
		t.Errorf("store: %s", strings.Join(probs, "\n"))
	}
}
