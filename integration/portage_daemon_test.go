package integration

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Real Portage with `distswarm daemon` (see portage_harness_test.go): the
// README's FETCHCOMMAND handing fetches to a daemon on the Portage store,
// unmodified Portage using a daemon's gateway as its mirror, and
// concurrent fetches into one store.

// portageSetup is a private Portage with packages whose distfiles an HTTP
// origin serves (SRC_URI) and a seeder on another store has in a
// collection.
type portageSetup struct {
	p            *Portage
	ebuilds      []Ebuild
	files        []File
	origin       *HTTPLog
	seenRequests int    // the origin's requests before the step under test
	torrent      string // the collection of the seeder's files
	seeder       *Proc
}

// newPortageSetup writes n packages (Manifests by Portage) and starts a
// seeder of the distfiles of the first seeded packages.
func newPortageSetup(t *testing.T, n, seeded int, seed int64) *portageSetup {
	t.Helper()
	p := NewPortage(t)
	s := &portageSetup{p: p, ebuilds: SampleEbuilds(n, seed)}
	s.files = EbuildFiles(s.ebuilds)
	www := filepath.Join(p.Root, "www")
	WriteFlat(t, www, s.files)
	s.origin = ServeDir(t, www)
	p.AddEbuilds(s.origin.URL, s.ebuilds...)
	s.markOrigin()
	if seeded == 0 {
		return s
	}
	src := filepath.Join(p.Root, "seeder-src")
	WriteFlat(t, src, EbuildFiles(s.ebuilds[:seeded]))
	s.torrent = filepath.Join(p.Root, "seeded.torrent")
	if r := Run(t, time.Minute, "collection", "create", "--from", src, "--out", s.torrent); r.Code != 0 {
		t.Fatalf("collection create: exit %d\n%s", r.Code, r.Stderr)
	}
	s.seeder = StartSeeder(t, append(Loopback, "--store", filepath.Join(p.Root, "seeder-store"), "--from", src, s.torrent)...)
	return s
}

// startDaemon starts a daemon on store that knows the seeder and its
// collection, and lets the fetch user (the socket group) talk to it.
func (s *portageSetup) startDaemon(t *testing.T, store string, args ...string) *Daemon {
	t.Helper()
	args = append([]string{"--socket-group", portageFetchGroup}, args...)
	if s.seeder != nil {
		args = append(args, "--peer", s.seeder.Addr())
	}
	d := StartDaemon(t, store, args...)
	if s.torrent != "" {
		if r := Run(t, time.Minute, "collection", "add", "--store", store, s.torrent); r.Code != 0 {
			t.Fatalf("collection add: exit %d\n%s", r.Code, r.Stderr)
		}
	}
	return d
}

// emergeFetchOnly runs `emerge --fetchonly` of every package (plus
// options) and fails the test unless it succeeds.
func (s *portageSetup) emergeFetchOnly(t *testing.T, opts ...string) EmergeResult {
	t.Helper()
	r := s.p.Emerge(nil, append(append([]string{"--fetchonly"}, opts...), Atoms(s.ebuilds)...)...)
	if r.Code != 0 {
		t.Fatalf("emerge --fetchonly: exit %d\n%s", r.Code, r.Output)
	}
	return r
}

// markOrigin starts a new step: originRequests are the origin's requests
// from now on (Portage fetched every distfile from it to write the
// Manifests).
func (s *portageSetup) markOrigin() { s.seenRequests = len(s.origin.Requests()) }

// originRequests are the origin's requests since markOrigin.
func (s *portageSetup) originRequests() []Request { return s.origin.Requests()[s.seenRequests:] }

// checkNoOriginRequests asserts the origin was not asked for any of files
// since markOrigin.
func (s *portageSetup) checkNoOriginRequests(t *testing.T, files []File) {
	t.Helper()
	for _, f := range files {
		if n := countRequests(s.originRequests(), f.Name); n > 0 {
			t.Errorf("the HTTP origin got %d request(s) for %s", n, f.Name)
		}
	}
}

// TestPortageFetchCommandThroughDaemon (issue 8, case a): the README's
// FETCHCOMMAND while a daemon runs on the Portage store and a seeder on
// another store has the files: the fetch goes through the daemon, every
// file comes from the peer, and the HTTP origin in SRC_URI is never asked.
func TestPortageFetchCommandThroughDaemon(t *testing.T) {
	s := newPortageSetup(t, 3, 3, 82)
	store := s.p.NewStore("store")
	s.startDaemon(t, store)
	mirror := EmptyMirror(t, filepath.Join(s.p.Root, "mirror"))
	s.p.WriteMakeConf(ReadmeMakeConf(t, store, mirror.URL)...)

	r := s.emergeFetchOnly(t)
	s.p.CheckDistDir(s.files)
	CheckPlaced(t, store, s.files)
	checkMirrorTried(t, r.Output, mirror, s.files)
	for _, f := range s.files {
		if !strings.Contains(r.Output, f.Name+": from swarm") {
			t.Errorf("%s did not come from the swarm:\n%s", f.Name, r.Output)
		}
		if n := countRequests(mirror.Requests(), f.Name); n > 0 {
			t.Errorf("the mirror got %d request(s) for %s; the swarm has it", n, f.Name)
		}
	}
	s.checkNoOriginRequests(t, s.files)
}

// TestPortageGatewayMirror (issue 8, case b): unmodified Portage (its own
// wget, no FETCHCOMMAND) with GENTOO_MIRRORS at a daemon's gateway whose
// swarm has the files, and no HTTP origin at all: Portage downloads every
// file through the gateway, which verified it against the repository's
// Manifests.
func TestPortageGatewayMirror(t *testing.T) {
	s := newPortageSetup(t, 3, 3, 83)
	s.origin.Close() // SRC_URI now points at nothing
	d := s.startDaemon(t, filepath.Join(s.p.Root, "daemon-store"), "--repo", s.p.Repo)
	s.p.WriteMakeConf(fmt.Sprintf("GENTOO_MIRRORS=%q", d.Gateway))

	r := s.emergeFetchOnly(t)
	s.p.CheckDistDir(s.files)
	CheckPlaced(t, d.Store, s.files)
	for _, f := range s.files {
		if !strings.Contains(r.Output, ">>> Downloading '"+d.GatewayPath(f.Name)+"'") {
			t.Errorf("Portage did not download %s from the gateway:\n%s", f.Name, r.Output)
		}
	}
	if st := d.Status(t); st.Totals.FromPeers == 0 || st.Totals.FromHTTP != 0 {
		t.Errorf("the daemon reports %d bytes from peers and %d over HTTP; want all from peers", st.Totals.FromPeers, st.Totals.FromHTTP)
	}
}

// TestPortageGatewayUpstream (issue 8, case c): the same with a daemon
// whose swarm has nothing: each gateway miss falls back to the daemon's
// --upstream mirror, and Portage gets verified files.
func TestPortageGatewayUpstream(t *testing.T) {
	s := newPortageSetup(t, 2, 0, 84)
	s.origin.Close()
	upTree := filepath.Join(s.p.Root, "upstream")
	WriteGLEP75Tree(t, upTree, s.files)
	up := ServeDir(t, upTree)
	d := s.startDaemon(t, filepath.Join(s.p.Root, "daemon-store"), "--repo", s.p.Repo, "--upstream", up.URL)
	s.p.WriteMakeConf(fmt.Sprintf("GENTOO_MIRRORS=%q", d.Gateway))

	r := s.emergeFetchOnly(t)
	s.p.CheckDistDir(s.files)
	CheckPlaced(t, d.Store, s.files)
	for _, f := range s.files {
		if !strings.Contains(r.Output, ">>> Downloading '"+d.GatewayPath(f.Name)+"'") {
			t.Errorf("Portage did not download %s from the gateway:\n%s", f.Name, r.Output)
		}
		if countRequests(up.Requests(), f.Name) == 0 {
			t.Errorf("the upstream mirror was never asked for %s", f.Name)
		}
	}
}

// emergeConcurrently runs `emerge --fetchonly` in jobs processes at once,
// the packages dealt out among them, and fails the test unless all succeed.
// That is what `emerge --jobs N` does when it builds: Portage runs
// --fetchonly one package at a time whatever --jobs says
// (Scheduler._opts_no_background).
func (s *portageSetup) emergeConcurrently(t *testing.T, jobs int) {
	t.Helper()
	atoms := make([][]string, jobs)
	for i, a := range Atoms(s.ebuilds) {
		atoms[i%jobs] = append(atoms[i%jobs], a)
	}
	results := make([]EmergeResult, jobs)
	var wg sync.WaitGroup
	for i := range atoms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.p.Emerge(nil, append([]string{"--fetchonly"}, atoms[i]...)...)
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.Code != 0 {
			t.Errorf("emerge --fetchonly %s: exit %d\n%s", strings.Join(atoms[i], " "), r.Code, r.Output)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// TestPortageParallelJobs (issue 8, case d): 8 packages fetched by 4
// emerges at once with the README's make.conf into one store, first with
// no daemon (the fetches wait for each other's hold on the store, all
// over HTTP), then with a daemon on a new store (files a peer has come
// from the swarm, the others over HTTP). Every file is verified and placed
// once; nothing is left half-done.
func TestPortageParallelJobs(t *testing.T) {
	s := newPortageSetup(t, 8, 4, 85)
	check := func(t *testing.T, store string) {
		t.Helper()
		s.p.CheckDistDir(s.files)
		CheckPlaced(t, store, s.files)
		if _, probs := NewStoreChecker(store, s.files).Check(); len(probs) > 0 {
			t.Errorf("store: %s", strings.Join(probs, "\n"))
		}
	}
	t.Run("in-process", func(t *testing.T) {
		store := s.p.NewStore("store-solo")
		s.p.WriteMakeConf(ReadmeMakeConf(t, store, "")...)
		s.markOrigin()
		s.emergeConcurrently(t, 4)
		check(t, store)
		for _, f := range s.files {
			if countRequests(s.originRequests(), f.Name) == 0 {
				t.Errorf("%s: the store knows no collection, yet the HTTP origin was never asked", f.Name)
			}
		}
	})
	t.Run("daemon", func(t *testing.T) {
		s.p.ClearDistDir()
		store := s.p.NewStore("store-daemon")
		s.startDaemon(t, store)
		mirror := EmptyMirror(t, filepath.Join(s.p.Root, "mirror"))
		s.p.WriteMakeConf(ReadmeMakeConf(t, store, mirror.URL)...)
		s.markOrigin()
		s.emergeConcurrently(t, 4)
		check(t, store)
		s.checkNoOriginRequests(t, EbuildFiles(s.ebuilds[:4]))
		for _, f := range EbuildFiles(s.ebuilds[4:]) {
			if countRequests(s.originRequests(), f.Name) == 0 {
				t.Errorf("%s: no peer has it, yet the HTTP origin was never asked", f.Name)
			}
		}
	})
}
