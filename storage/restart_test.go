package storage

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anacrolix/torrent"
	"golang.org/x/time/rate"
)

func bytesHashed(tor *torrent.Torrent) int64 {
	s := tor.Stats()
	return s.BytesHashed.Int64()
}

func bytesRead(tor *torrent.Torrent) int64 {
	s := tor.Stats()
	return s.BytesReadUsefulData.Int64()
}

func TestRestartNoRehash(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	files := testFiles(testPieceLen)
	info, mi := buildInfo(t, "distfiles", files, testPieceLen)
	seedCl, _, _ := seed(ctx, t, files, testPieceLen)

	dir := t.TempDir()
	v := newDigestVerifier(files)
	st := openStore(t, Options{Dir: dir, Placement: glepPlacement{dir}, Verifier: v})
	cl := newClient(t, st, t.TempDir(), nil)
	tor := addAndWaitInfo(ctx, t, cl, st, mi)
	tor.AddPeers([]torrent.PeerInfo{peerOf(seedCl)})
	tor.DownloadAll()
	waitComplete(ctx, t, tor)
	if err := st.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	calls := v.totalCalls()

	st = openStore(t, Options{Dir: dir, Placement: glepPlacement{dir}, Verifier: v})
	defer st.Close()
	cl = newClient(t, st, t.TempDir(), nil)
	defer cl.Close()
	tor = addAndWaitInfo(ctx, t, cl, st, mi)
	waitComplete(ctx, t, tor) // no peers: only the persisted state can complete it
	if err := st.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	ts := st.torrents[tor.InfoHash()]
	st.mu.Unlock()
	ts.jobs.Wait() // the reconcile scan
	if h := bytesHashed(tor); h != 0 {
		t.Errorf("restart rehashed %d bytes", h)
	}
	if c := v.totalCalls(); c != calls {
		t.Errorf("verifier called %d more times after restart", c-calls)
	}
	if got := tor.Stats().PiecesComplete; got != info.NumPieces() {
		t.Errorf("pieces complete %d/%d", got, info.NumPieces())
	}
	checkFinalTree(t, dir, files)
}

// TestDamagedFinalRefetched deletes and edits final files while the store is closed: on reopen
// they are demoted (Damaged, the edited one quarantined) and fetched again.
func TestDamagedFinalRefetched(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	files := testFiles(testPieceLen)
	info, mi := buildInfo(t, "distfiles", files, testPieceLen)
	seedCl, _, seedTor := seed(ctx, t, files, testPieceLen)
	ih := seedTor.InfoHash()

	dir := t.TempDir()
	v := newDigestVerifier(files)
	st := openStore(t, Options{Dir: dir, Placement: glepPlacement{dir}, Verifier: v})
	cl := newClient(t, st, t.TempDir(), nil)
	tor := addAndWaitInfo(ctx, t, cl, st, mi)
	tor.AddPeers([]torrent.PeerInfo{peerOf(seedCl)})
	tor.DownloadAll()
	waitComplete(ctx, t, tor)
	if err := st.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	st.Close()

	if err := os.Remove(glepPath(dir, "d.zip")); err != nil {
		t.Fatal(err)
	}
	edited := glepPath(dir, "g.tar.bz2")
	if err := os.WriteFile(edited, []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}

	var evs eventLog
	st = openStore(t, Options{Dir: dir, Placement: glepPlacement{dir}, Verifier: v, OnEvent: evs.add})
	defer st.Close()
	cl = newClient(t, st, t.TempDir(), nil)
	defer cl.Close()
	tor = addAndWaitInfo(ctx, t, cl, st, mi)
	tor.AddPeers([]torrent.PeerInfo{peerOf(seedCl)})
	tor.DownloadAll()
	waitFor(ctx, t, "damage detected", func() bool { return len(evs.of(EventDamaged)) == 2 })
	// Both sides looked like seeds, so the connection may have been dropped (maybe only after
	// a first redial): dial again whenever no peer is connected.
	waitFor(ctx, t, "damaged files re-placed", func() bool {
		if tor.Stats().ActivePeers == 0 {
			tor.AddPeers([]torrent.PeerInfo{peerOf(seedCl)})
		}
		return len(evs.of(EventFinal)) == 2
	})
	waitComplete(ctx, t, tor)
	if q := evs.of(EventDamaged)["g.tar.bz2"].Path; !strings.Contains(q, ".quarantine") {
		t.Errorf("edited file not quarantined: %q", q)
	}
	for _, name := range []string{"d.zip", "g.tar.bz2"} {
		if s := st.State(ih, fileIndex(t, info, name)); s.Phase != PhaseFinal {
			t.Errorf("%s: %v", name, s.Phase)
		}
	}
	checkFinalTree(t, dir, files)
}

const crashChildEnv = "DISTSWARM_STORAGE_CRASH_CHILD"

// crashChild runs in a re-executed test binary: it leeches slowly until it is killed.
func crashChild(t *testing.T) {
	dir, peer := os.Getenv(crashChildEnv), os.Getenv(crashChildEnv+"_PEER")
	files := testFiles(testPieceLen)
	_, mi := buildInfo(t, "distfiles", files, testPieceLen)
	st := openStore(t, Options{Dir: dir, Placement: glepPlacement{dir}, Verifier: newDigestVerifier(files)})
	// Not t.TempDir: the child is killed and would leave it in /tmp. Beside
	// dir it is inside the parent's temporary directory, removed with it.
	clientDir := filepath.Join(filepath.Dir(dir), "crash-child-client")
	if err := os.MkdirAll(clientDir, 0o700); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, st, clientDir, func(c *torrent.ClientConfig) {
		c.DownloadRateLimiter = rate.NewLimiter(150<<10, 16<<10)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tor := addAndWaitInfo(ctx, t, cl, st, mi)
	addr, err := netResolve(peer)
	if err != nil {
		t.Fatal(err)
	}
	tor.AddPeers([]torrent.PeerInfo{{Addr: addr, Trusted: true}})
	tor.DownloadAll()
	<-ctx.Done() // killed long before
}

// TestCrashResume kills (SIGKILL) a leeching process mid-download, checks that the final tree
// never held a partial or wrong file, then resumes in-process without re-downloading finished
// pieces or re-verifying placed files.
func TestCrashResume(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		crashChild(t)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	files := testFiles(testPieceLen)
	info, mi := buildInfo(t, "distfiles", files, testPieceLen)
	seedCl, _, seedTor := seed(ctx, t, files, testPieceLen)
	ih := seedTor.InfoHash()

	dir := t.TempDir()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashResume$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashChildEnv+"_PEER="+seedCl.ListenAddrs()[0].String())
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Watch the final tree while the child downloads: every file there must be complete and right.
	var bad atomic.Int32
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if checkFinalTreeQuiet(dir, files) != nil {
				bad.Add(1)
			}
		}
	}()
	waitFor(ctx, t, "some files final in the child", func() bool {
		n := 0
		for _, f := range files {
			if _, err := os.Stat(glepPath(dir, f.name)); err == nil {
				n++
			}
		}
		return n >= 3
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	close(stop)
	<-watched
	if n := bad.Load(); n > 0 {
		t.Errorf("final tree held a partial or wrong file %d times during the download", n)
	}
	var finalBefore []string
	for _, f := range files {
		if _, err := os.Stat(glepPath(dir, f.name)); err == nil {
			finalBefore = append(finalBefore, f.name)
		}
	}
	if len(finalBefore) == len(files) {
		t.Skip("child finished before it was killed")
	}
	t.Logf("killed with %d/%d files final", len(finalBefore), len(files))

	v := newDigestVerifier(files)
	st := openStore(t, Options{Dir: dir, Placement: glepPlacement{dir}, Verifier: v})
	defer st.Close()
	cl := newClient(t, st, t.TempDir(), nil)
	defer cl.Close()
	tor := addAndWaitInfo(ctx, t, cl, st, mi)
	tor.AddPeers([]torrent.PeerInfo{peerOf(seedCl)})
	tor.DownloadAll()
	waitComplete(ctx, t, tor)
	if err := st.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	got := bytesRead(tor)
	t.Logf("resume downloaded %d of %d bytes", got, info.TotalLength())
	if got >= info.TotalLength() {
		t.Errorf("resume re-downloaded everything (%d bytes)", got)
	}
	// Files placed before the kill are not downloaded again (a file killed between its rename
	// and its Final record is verified in place, which reads it but downloads nothing).
	limit := info.TotalLength()
	for _, name := range finalBefore {
		limit -= int64(len(files[fileIndexOf(files, name)].data))
		if c := v.calls[name]; c > 1 {
			t.Errorf("%s was final before the crash but verified %d times", name, c)
		}
	}
	if got > limit {
		t.Errorf("resume downloaded %d bytes, more than the %d not yet placed", got, limit)
	}
	for i, f := range info.UpvertedFiles() {
		if !strings.Contains(f.Attr, "p") {
			if s := st.State(ih, i); s.Phase != PhaseFinal {
				t.Errorf("%v: %v (%v)", f.Path, s.Phase, s.Err)
			}
		}
	}
	checkFinalTree(t, dir, files)
	for _, rel := range listFiles(t, dir) {
		if strings.HasPrefix(rel, ".partial/") {
			t.Errorf("staging not empty: %s", rel)
		}
	}
}

// checkFinalTreeQuiet is checkFinalTree without testing.T, for a watcher goroutine.
func checkFinalTreeQuiet(root string, files []tfile) error {
	for _, f := range files {
		b, err := os.ReadFile(glepPath(root, f.name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if string(b) != string(f.data) {
			return errors.New("wrong content at " + f.name)
		}
	}
	return nil
}
