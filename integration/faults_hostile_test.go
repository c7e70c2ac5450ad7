package integration

import (
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
)

// Hostile peers get loopback addresses of their own: anacrolix bans a peer
// that sent bad data by IP, which must not hit the honest seeder on
// 127.0.0.1.
const (
	hostileHostA = "127.0.0.3"
	hostileHostB = "127.0.0.4"
)

// hostileSwarm is a collection, its content and an honest distswarm
// seeder's inputs, for the data-fault cases.
type hostileSwarm struct {
	dir, src, tor, mf string
	files             []File
	infoBytes, blob   []byte
}

func newHostileSwarm(t *testing.T, seed int64) *hostileSwarm {
	t.Helper()
	dir := t.TempDir()
	s := &hostileSwarm{dir: dir, src: filepath.Join(dir, "src"), tor: filepath.Join(dir, "c.torrent")}
	s.files = Corpus(t, s.src, seed, []int{0, 1000, 20000, 70000, 300000, 1<<20 + 3, 3 << 20})
	createCollection(t, s.src, s.tor)
	s.mf = WriteManifest(t, dir, s.files)
	s.infoBytes, s.blob = CollectionBlob(t, s.tor, s.src)
	return s
}

// honest starts an honest distswarm seeder of the collection on 127.0.0.1.
func (s *hostileSwarm) honest(t *testing.T) *Proc {
	t.Helper()
	return StartSeeder(t, append(Loopback, "--store", filepath.Join(s.dir, "seedstore"), "--from", s.src, s.tor)...)
}

// fetch runs a fetch of files from peers into a fresh store and returns
// the store, the result and how long it took.
func (s *hostileSwarm) fetch(t *testing.T, label, timeout string, files []File, peers ...string) (string, Result, time.Duration) {
	t.Helper()
	store := filepath.Join(s.dir, "leech-"+label)
	args := FetchArgs(store, "--torrent", s.tor, "--manifest", s.mf, "--timeout", timeout)
	for _, p := range peers {
		args = append(args, "--peer", p)
	}
	start := time.Now()
	r := Run(t, 90*time.Second, append(args, Names(files)...)...)
	return store, r, time.Since(start)
}

// checkNothingBad asserts that the store holds no unverified, partial or
// misplaced file at a layout path (StoreChecker) and returns what is placed.
func checkNothingBad(t *testing.T, store string, files []File) map[string]fileID {
	t.Helper()
	placed, problems := NewStoreChecker(store, files).Check()
	for _, p := range problems {
		t.Errorf("store: %s", p)
	}
	return placed
}

// checkCleanFailure asserts a fetch failed as a fetch may: exit 1, a
// message, no path printed, no non-empty file placed, nothing bad in the
// store (files are all the files the store may know).
func checkCleanFailure(t *testing.T, store string, files []File, r Result, wantMsg string) {
	t.Helper()
	if r.Code != 1 {
		t.Errorf("exit %d, want 1\nstderr:\n%s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stderr, wantMsg) {
		t.Errorf("stderr does not say %q:\n%s", wantMsg, r.Stderr)
	}
	if strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("a failed fetch printed placed paths:\n%s", r.Stdout)
	}
	placed := checkNothingBad(t, store, files)
	for _, f := range files {
		// An empty file needs no data from any peer: the store may place
		// it as soon as the torrent is open (its digests still checked).
		if _, ok := placed[f.Name]; ok && len(f.Data) > 0 {
			t.Errorf("%s placed although its only source is hostile", f.Name)
		}
	}
}

// TestHostileWrongData: a peer that claims every piece and serves every
// block inverted (every piece it serves fails its hash).
func TestHostileWrongData(t *testing.T) {
	s := newHostileSwarm(t, 31)

	// Next to an honest seeder on another IP, listed first: the fetch
	// completes from the honest one; nothing corrupt is placed.
	t.Run("next_to_honest_seeder", func(t *testing.T) {
		bad := StartHostilePeer(t, hostileHostA, s.infoBytes, s.blob, serveWrong)
		honest := s.honest(t)
		store, r, took := s.fetch(t, "wrong-honest", "60s", s.files, bad.Addr(), honest.Addr())
		t.Logf("%s; fetch took %s", bad.Stats(), took.Round(time.Millisecond))
		if r.Code != 0 {
			t.Fatalf("fetch next to a wrong-data peer: exit %d\n%s", r.Code, r.Stderr)
		}
		if bad.Accepted.Load() == 0 {
			t.Errorf("the leecher never connected to the hostile peer: the case proved nothing")
		}
		checkPrinted(t, "leecher", store, r.Stdout, s.files)
		checkStoreExactly(t, "leecher", store, s.files)
		checkNothingBad(t, store, s.files)
	})

	// As the only source: the fetch fails within its timeout with a
	// message per file; nothing is placed.
	t.Run("only_source", func(t *testing.T) {
		bad := StartHostilePeer(t, hostileHostB, s.infoBytes, s.blob, serveWrong)
		store, r, took := s.fetch(t, "wrong-alone", "8s", s.files[1:], bad.Addr())
		t.Logf("%s; fetch took %s", bad.Stats(), took.Round(time.Millisecond))
		if bad.BlocksServed.Load() == 0 {
			t.Errorf("the hostile peer served no block: the case proved nothing")
		}
		// The empty file (files[0]) needs no peer: it is not asked for.
		checkCleanFailure(t, store, s.files, r, "FAILED")
		t.Logf("stderr:\n%s", r.Stderr)
	})
}

// TestHostileLyingBitfield: a peer whose bitfield claims every piece but
// that never sends one, either silently ignoring requests or rejecting
// them (BEP 6).
func TestHostileLyingBitfield(t *testing.T) {
	s := newHostileSwarm(t, 32)
	for i, mode := range []hostileMode{serveNothing, serveReject} {
		host := []string{hostileHostA, hostileHostB}[i]
		t.Run(mode.String()+"/next_to_honest_seeder", func(t *testing.T) {
			liar := StartHostilePeer(t, host, s.infoBytes, s.blob, mode)
			honest := s.honest(t)
			store, r, took := s.fetch(t, mode.String()+"-honest", "60s", s.files, liar.Addr(), honest.Addr())
			t.Logf("%s; fetch took %s", liar.Stats(), took.Round(time.Millisecond))
			if r.Code != 0 {
				t.Fatalf("fetch next to a lying peer: exit %d\n%s", r.Code, r.Stderr)
			}
			if liar.Accepted.Load() == 0 {
				t.Errorf("the leecher never connected to the lying peer: the case proved nothing")
			}
			checkPrinted(t, "leecher", store, r.Stdout, s.files)
			checkStoreExactly(t, "leecher", store, s.files)
		})
		t.Run(mode.String()+"/only_source", func(t *testing.T) {
			liar := StartHostilePeer(t, host, s.infoBytes, s.blob, mode)
			store, r, took := s.fetch(t, mode.String()+"-alone", "5s", s.files[1:], liar.Addr())
			t.Logf("%s; fetch took %s", liar.Stats(), took.Round(time.Millisecond))
			if liar.Requests.Load() == 0 {
				t.Errorf("the leecher never asked the lying peer for a block: the case proved nothing")
			}
			// Bounded: Run fails the test if the process outlives 90 s;
			// --timeout 5s must end it long before.
			if took > 60*time.Second {
				t.Errorf("fetch with --timeout 5s took %s", took)
			}
			checkCleanFailure(t, store, s.files, r, "FAILED")
			t.Logf("stderr:\n%s", r.Stderr)
		})
	}
}

// maliciousCase is a torrent whose info dict distswarm must refuse.
type maliciousCase struct {
	name string
	// build returns the info dict's files (the content of file i is
	// contentOf(i)); dir is the test's temporary directory.
	build func(dir string) metainfo.Info
	// want is a piece of the refusal message.
	want string
	// target is a path (relative to dir) a traversal would write to.
	target string
	// benign marks the control case: a well-formed torrent built the same
	// way, which the fetch must accept and place (so the refusals are
	// about the names, not about how the torrents are built or served).
	benign bool
}

const evilName = "evil-1.0.tar.gz"

// evilData is the content of every file of a malicious torrent: the
// Manifest given to fetch lists it under evilName, so a fetch that
// accepted the torrent would verify and place it.
var evilData = func() []byte {
	b := make([]byte, 40000)
	rand.New(rand.NewSource(66)).Read(b)
	return b
}()

func evilFile(path ...string) metainfo.FileInfo {
	return metainfo.FileInfo{Path: path, Length: int64(len(evilData))}
}

func maliciousCases() []maliciousCase {
	long := strings.Repeat("x", 300) + ".tar.gz"
	return []maliciousCase{
		{name: "control_benign", benign: true,
			build: func(string) metainfo.Info {
				return metainfo.Info{Files: []metainfo.FileInfo{evilFile("ab", evilName)}}
			}},
		{name: "dotdot_components", want: `".."`, target: "escape/" + evilName,
			build: func(string) metainfo.Info {
				// STORE is dir/a/b/store: from STORE/distfiles/xx, four ".."
				// reach dir.
				return metainfo.Info{Files: []metainfo.FileInfo{evilFile("..", "..", "..", "..", "..", "escape", evilName)}}
			}},
		{name: "dotdot_torrent_name", want: `".."`,
			build: func(string) metainfo.Info {
				return metainfo.Info{Name: "..", Files: []metainfo.FileInfo{evilFile("ab", evilName)}}
			}},
		{name: "dotdot_single_file_name", want: `contains '/'`, target: "escape/" + evilName,
			build: func(string) metainfo.Info {
				return metainfo.Info{Name: "../../../../escape/" + evilName, Length: int64(len(evilData))}
			}},
		{name: "absolute_empty_component", want: "empty path component",
			build: func(string) metainfo.Info {
				return metainfo.Info{Files: []metainfo.FileInfo{evilFile("", "escape", evilName)}}
			}},
		{name: "absolute_path_component", want: `contains '/'`, target: "escape/" + evilName,
			build: func(dir string) metainfo.Info {
				return metainfo.Info{Files: []metainfo.FileInfo{evilFile(filepath.Join(dir, "escape", evilName))}}
			}},
		{name: "nul_in_name", want: "NUL",
			build: func(string) metainfo.Info {
				return metainfo.Info{Files: []metainfo.FileInfo{evilFile("ab", evilName+"\x00.txt")}}
			}},
		{name: "nul_in_directory", want: "NUL",
			build: func(string) metainfo.Info {
				return metainfo.Info{Files: []metainfo.FileInfo{evilFile("ab\x00", evilName)}}
			}},
		{name: "symlink_attr", want: "symlink",
			build: func(string) metainfo.Info {
				f := evilFile("ab", evilName)
				f.Attr = "l"
				f.SymlinkPath = []string{"..", "..", "..", "..", "..", "escape", evilName}
				return metainfo.Info{Files: []metainfo.FileInfo{f}}
			}},
		{name: "symlink_path_without_attr", want: "symlink",
			build: func(string) metainfo.Info {
				f := evilFile("ab", evilName)
				f.SymlinkPath = []string{"/etc/passwd"}
				return metainfo.Info{Files: []metainfo.FileInfo{f}}
			}},
		{name: "utf8_path_dotdot", want: "path.utf-8",
			build: func(string) metainfo.Info {
				f := evilFile("ab", evilName)
				f.PathUtf8 = []string{"..", "..", "..", "..", "..", "escape", evilName}
				return metainfo.Info{Files: []metainfo.FileInfo{f}}
			}},
		{name: "store_private_dir", want: ".distswarm",
			build: func(string) metainfo.Info {
				return metainfo.Info{Files: []metainfo.FileInfo{evilFile(".distswarm", evilName)}}
			}},
		{name: "very_long_name", want: "long",
			build: func(string) metainfo.Info {
				return metainfo.Info{Files: []metainfo.FileInfo{evilFile(long, evilName)}}
			}},
	}
}

// buildMalicious completes a malicious info dict (name, piece length,
// real piece hashes of evilData in every file) and returns its bencoding
// and its content.
func buildMalicious(t *testing.T, c maliciousCase, dir string) (infoBytes, blob []byte) {
	t.Helper()
	info := c.build(dir)
	if info.Name == "" {
		info.Name = "distfiles"
	}
	info.PieceLength = 16 << 10
	n := max(len(info.Files), 1)
	for range n {
		blob = append(blob, evilData...)
	}
	info.Pieces = pieceHashes(blob, info.PieceLength)
	b, err := bencode.Marshal(info)
	if err != nil {
		t.Fatalf("%s: encode info: %v", c.name, err)
	}
	return b, blob
}

// treeSnapshot lists the regular files and symlinks below dir except
// those under skip, with their sizes.
func treeSnapshot(t *testing.T, dir, skip string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == skip {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, strings.TrimPrefix(p, dir)+" "+fi.Mode().String())
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	slices.Sort(out)
	return out
}

// TestHostileMaliciousInfo: torrents whose file names would escape the
// store or are not plain files, offered by a hostile peer as the metadata
// of a magnet (BEP 9) and given as a .torrent file. The peer serves the
// files' true content and the Manifest lists them, so a fetch that
// accepted the torrent would place them. distswarm must refuse: non-zero
// exit, a message naming the problem, no panic, nothing written outside
// the store, nothing placed.
func TestHostileMaliciousInfo(t *testing.T) {
	for i, c := range maliciousCases() {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			infoBytes, blob := buildMalicious(t, c, dir)
			host := []string{hostileHostA, hostileHostB}[i%2]
			peer := StartHostilePeer(t, host, infoBytes, blob, serveCorrect)
			mf := WriteManifest(t, dir, []File{{Name: evilName, Data: evilData}})
			tor := filepath.Join(dir, "evil.torrent")
			var buf bytes.Buffer
			if err := (&metainfo.MetaInfo{InfoBytes: infoBytes}).Write(&buf); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(tor, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, via := range []string{"magnet", "torrent_file"} {
				t.Run(via, func(t *testing.T) {
					if c.benign {
						checkBenignAccepted(t, dir, via, tor, mf, peer)
						return
					}
					store := filepath.Join(dir, via, "a", "b", "store")
					if err := os.MkdirAll(store, 0o755); err != nil {
						t.Fatal(err)
					}
					before := treeSnapshot(t, dir, store)
					src := []string{"--magnet", peer.Magnet()}
					wantCode := 1
					if via == "torrent_file" {
						src = []string{"--torrent", tor}
						wantCode = 2 // a collection that does not load is a usage error
					}
					args := FetchArgs(store, append(src, "--manifest", mf, "--peer", peer.Addr(), "--timeout", "10s")...)
					start := time.Now()
					r := Run(t, 60*time.Second, append(args, evilName)...)
					t.Logf("exit %d in %s; %s; stderr: %s", r.Code, time.Since(start).Round(time.Millisecond), peer.Stats(), strings.TrimSpace(r.Stderr))
					if r.Code != wantCode {
						t.Errorf("exit %d, want %d (refused)", r.Code, wantCode)
					}
					if !strings.Contains(r.Stderr, c.want) {
						t.Errorf("the refusal does not name the problem (%q):\n%s", c.want, r.Stderr)
					}
					if via == "magnet" && peer.MetaServed.Load() == 0 {
						t.Errorf("the hostile peer never served the metadata: the case proved nothing")
					}
					if after := treeSnapshot(t, dir, store); !slices.Equal(before, after) {
						t.Errorf("files outside the store changed:\nbefore %v\nafter  %v", before, after)
					}
					if c.target != "" {
						if _, err := os.Lstat(filepath.Join(dir, c.target)); err == nil {
							t.Errorf("the traversal target %s exists", c.target)
						}
					}
					if placed := checkNothingBad(t, store, nil); len(placed) != 0 {
						t.Errorf("placed: %v", placed)
					}
					if got := RegularFiles(t, filepath.Join(store, "distfiles")); len(got) > 1 || (len(got) == 1 && got[0] != "layout.conf") {
						t.Errorf("files in STORE/distfiles after a refusal: %v", got)
					}
				})
			}
		})
	}
}

// checkBenignAccepted fetches the control torrent from the hostile peer
// (serving correct data) and expects it placed.
func checkBenignAccepted(t *testing.T, dir, via, tor, mf string, peer *HostilePeer) {
	t.Helper()
	store := filepath.Join(dir, via, "store")
	src := []string{"--magnet", peer.Magnet()}
	if via == "torrent_file" {
		src = []string{"--torrent", tor}
	}
	args := FetchArgs(store, append(src, "--manifest", mf, "--peer", peer.Addr(), "--timeout", "30s")...)
	r := Run(t, 60*time.Second, append(args, evilName)...)
	t.Logf("exit %d; %s", r.Code, peer.Stats())
	if r.Code != 0 {
		t.Fatalf("the control torrent was not fetched: exit %d\n%s", r.Code, r.Stderr)
	}
	files := []File{{Name: evilName, Data: evilData}}
	checkPrinted(t, "control", store, r.Stdout, files)
	checkStoreExactly(t, "control", store, files)
}

// TestIdleAfterRejectResumes: a seed that rejects the first request of
// each connection (BEP 6) and then serves every block. anacrolix v1.61
// adds no requests on a reject ("the peer will unchoke if it can take
// more"); when that reject was the connection's only outstanding request,
// the connection stays unchoked, interested and idle until some other
// event. A recycled connection meets the same reject, so only a nudge to
// the library's request update brings the fetch to an end.
func TestIdleAfterRejectResumes(t *testing.T) {
	s := newHostileSwarm(t, 33)
	seed := StartHostilePeer(t, hostileHostA, s.infoBytes, s.blob, rejectFirst)
	store, r, took := s.fetch(t, "reject-first", "60s", s.files, seed.Addr())
	t.Logf("%s; fetch took %s", seed.Stats(), took.Round(time.Millisecond))
	if r.Code != 0 {
		t.Fatalf("fetch from a seed that rejected one request: exit %d\n%s", r.Code, r.Stderr)
	}
	if seed.Rejected.Load() == 0 || seed.BlocksServed.Load() == 0 {
		t.Errorf("the seed rejected %d and served %d blocks: the case proved nothing",
			seed.Rejected.Load(), seed.BlocksServed.Load())
	}
	checkPrinted(t, "leecher", store, r.Stdout, s.files)
	checkStoreExactly(t, "leecher", store, s.files)
}
