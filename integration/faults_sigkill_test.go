package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fetchProc is a fetch run as a subprocess so it can be SIGKILLed.
type fetchProc struct {
	cmd      *exec.Cmd
	out, err bytes.Buffer
	done     chan struct{}
	code     int
}

func startFetch(t *testing.T, ctx context.Context, args ...string) *fetchProc {
	t.Helper()
	p := &fetchProc{done: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, binary, append([]string{"fetch"}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.err
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := p.cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			p.code = ee.ExitCode()
		default:
			p.code = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *fetchProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill SIGKILLs the process (if it still runs) and waits for it. It
// reports whether the kill happened before the process exited by itself.
func (p *fetchProc) kill() bool {
	if p.exited() {
		return false
	}
	p.cmd.Process.Kill()
	<-p.done
	return true
}

// partialBytes is the space taken by staged downloads in STORE/.partial.
func partialBytes(store string) int64 {
	var n int64
	filepath.WalkDir(filepath.Join(store, ".partial"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// countNames counts the regular files under STORE/distfiles without
// reading them.
func countNames(store string) int {
	n := 0
	filepath.WalkDir(filepath.Join(store, "distfiles"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && d.Name() != "layout.conf" && !strings.HasPrefix(d.Name(), ".") {
			n++
		}
		return nil
	})
	return n
}

var uploadedRe = regexp.MustCompile(`uploaded ([0-9.]+) ([KMGT]i)?B`)

// lastUploaded parses the last "uploaded X" status line of a seeder.
func lastUploaded(stderr string) (int64, bool) {
	m := uploadedRe.FindAllStringSubmatch(stderr, -1)
	if len(m) == 0 {
		return 0, false
	}
	last := m[len(m)-1]
	v, err := strconv.ParseFloat(last[1], 64)
	if err != nil {
		return 0, false
	}
	mult := map[string]float64{"": 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}[last[2]]
	return int64(v * mult), true
}

// TestFetchSurvivesSIGKILL: a fetch subprocess is SIGKILLed mid-download
// (after its first file is placed) and then repeatedly at random short
// delays (landing in downloads, verification and placement). At every
// moment — sampled while it runs and checked after every kill — each file
// under STORE/distfiles is at its own layout path with exactly its true
// content. A restarted fetch completes, and files placed before a kill are
// never downloaded or placed again (same inode and mtime; the seeder's
// upload does not cover the corpus twice).
func TestFetchSurvivesSIGKILL(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	var sizes []int
	for i := 0; i < 6; i++ {
		sizes = append(sizes, 14<<20+i*4099) // the bulk: 84 MiB
	}
	for i := 0; i < 24; i++ {
		sizes = append(sizes, 64<<10+i*37001) // many small files: frequent placements
	}
	files := Corpus(t, src, 4, sizes)
	var total int64
	for _, f := range files {
		total += int64(len(f.Data))
	}
	torrent := filepath.Join(dir, "c.torrent")
	if r := Run(t, time.Minute, "collection", "create", "--from", src, "--out", torrent); r.Code != 0 {
		t.Fatalf("create: %d %s", r.Code, r.Stderr)
	}
	seeder := StartSeeder(t, append(Loopback, "--store", filepath.Join(dir, "seedstore"), "--from", src, torrent)...)
	// Through a proxy that carries at most 16 MiB/s to the fetch: unpaced,
	// a fetch on a fast machine placed its first files and finished
	// between two samples of the store, and could not be killed mid-way.
	proxy := NewGatedProxy(t)
	proxy.Throttle(16 << 20)
	proxy.Open(seeder.Addr())
	mf := WriteManifest(t, dir, files)
	store := filepath.Join(dir, "leech")
	args := append([]string{}, Loopback...)
	args = append(args, "--store", store, "--torrent", torrent, "--manifest", mf, "--peer", proxy.Addr(), "--timeout", "90s")
	args = append(args, Names(files)...)

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	checker := NewStoreChecker(store, files)
	placed := map[string]fileID{} // everything ever seen placed, with its identity
	samples := 0
	check := func(when string) {
		t.Helper()
		now, probs := checker.Check()
		samples++
		if len(probs) > 0 {
			t.Fatalf("%s: invariant broken:\n%s", when, strings.Join(probs, "\n"))
		}
		for name, id := range placed {
			got, ok := now[name]
			switch {
			case !ok:
				t.Fatalf("%s: %s was placed and then vanished from the store", when, name)
			case got != id:
				t.Fatalf("%s: %s was placed again (inode/mtime %v -> %v): finished files must not be re-downloaded", when, name, id, got)
			}
		}
		for name, id := range now {
			placed[name] = id
		}
	}

	// 1. Kill mid-download: once the first file is placed and more is
	// being staged.
	p := startFetch(t, ctx, args...)
	deadline := time.Now().Add(60 * time.Second)
	for !p.exited() {
		check("while fetching")
		// Not "fewer than half": the small files are placed together in
		// one commit batch, often more than half of them at once.
		if len(placed) > 0 && len(placed) < len(files) && partialBytes(store) > 0 {
			break
		}
		if time.Now().After(deadline) {
			p.kill() // before reading its output
			t.Fatalf("no file placed within 60s\nstderr:\n%s", p.err.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	if !p.kill() {
		t.Fatalf("fetch finished (exit %d) before it could be killed mid-download: corpus too small for this machine", p.code)
	}
	check("after the mid-download kill")
	t.Logf("mid-download kill: %d/%d files placed, %d bytes staged", len(placed), len(files), partialBytes(store))

	// 2. Kill again and again at random short delays: some land while
	// pieces are verified, files hashed, fsynced and renamed.
	// The schedule comes from a seed that is logged; DISTSWARM_KILL_SEED
	// replays a run's.
	rng := rand.New(rand.NewSource(killSeed(t)))
	kills, finished := 0, false
	for attempt := 0; attempt < 12 && !finished; attempt++ {
		before := len(placed)
		p := startFetch(t, ctx, args...)
		delay := time.Duration(50+rng.Intn(400)) * time.Millisecond
		onPlace := attempt%2 == 1
		if onPlace {
			// Kill the moment a new file shows up at its final path: the
			// rename is done, the directory fsync and the state record
			// may not be.
			delay = 3 * time.Second
		}
		until := time.Now().Add(delay)
		for time.Now().Before(until) && !p.exited() {
			if onPlace && countNames(store) > before {
				break
			}
			check("while fetching")
			time.Sleep(time.Millisecond)
		}
		if p.kill() {
			kills++
		} else {
			finished = true
			if p.code != 0 {
				t.Fatalf("restarted fetch failed: exit %d\n%s", p.code, p.err.String())
			}
		}
		check(fmt.Sprintf("after kill %d (at %s)", attempt+1, delay))
		if onPlace {
			delay = 0
		}
		t.Logf("attempt %d: killed=%v (on placement: %v) after %s, placed %d -> %d, %d bytes staged", attempt+1, !finished, onPlace, delay, before, len(placed), partialBytes(store))
	}

	// 3. The fetch completes without re-downloading finished files.
	r := Run(t, 2*time.Minute, append([]string{"fetch"}, args...)...)
	if r.Code != 0 {
		t.Fatalf("final fetch: exit %d\n%s", r.Code, r.Stderr)
	}
	check("after the final fetch")
	CheckPlaced(t, store, files)
	if got := strings.Count(r.Stdout, "\n"); got != len(files) {
		t.Errorf("final fetch printed %d paths, want %d", got, len(files))
	}
	if n := partialBytes(store); n != 0 {
		t.Errorf("%d bytes left in STORE/.partial after a complete fetch", n)
	}

	// The seeder prints a last status line, with its upload total, when it
	// is stopped (its periodic lines come only when something changed).
	seeder.Stop()
	up, ok := lastUploaded(seeder.Stderr())
	if !ok || !strings.Contains(seeder.Stderr(), "stopped: ") {
		t.Fatalf("seeder printed no final upload status:\n%s", seeder.Stderr())
	}
	t.Logf("%d kills, %d invariant samples; corpus %d bytes, seeder uploaded %d bytes (%.2fx)", 1+kills, samples, total, up, float64(up)/float64(total))
	if up >= 2*total {
		t.Errorf("seeder uploaded %d bytes for a %d-byte corpus: finished data was downloaded again", up, total)
	}
	if up < total/2 {
		t.Errorf("seeder uploaded only %d bytes of %d: the data did not come from it?", up, total)
	}
}

// killSeed returns the seed of the kill schedule: DISTSWARM_KILL_SEED if
// set (to replay a failed run), else the clock; it is logged either way.
func killSeed(t *testing.T) int64 {
	t.Helper()
	seed := time.Now().UnixNano()
	if v := os.Getenv("DISTSWARM_KILL_SEED"); v != "" {
		if _, err := fmt.Sscan(v, &seed); err != nil {
			t.Fatalf("DISTSWARM_KILL_SEED=%q: %v", v, err)
		}
	}
	t.Logf("kill schedule seed %d (DISTSWARM_KILL_SEED=%d replays it)", seed, seed)
	return seed
}
