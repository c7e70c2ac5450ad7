package collection

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/manifest"
	"github.com/distswarm/distswarm/storage/layout"
)

// DefaultName is the default torrent name: a webseed URL "https://mirror/"
// then maps to "https://mirror/distfiles/<GLEP 75 path>".
const DefaultName = "distfiles"

// ManifestName is the preferred path of the collection Manifest at the
// torrent root.
const ManifestName = "Manifest"

// CreateOptions configures Create.
type CreateOptions struct {
	// From is a distdir: flat, or nested GLEP 75 (with or without
	// layout.conf). Only regular files are collected. Skipped: dotfiles and
	// dot directories (.partial, .quarantine, .distswarm, ...), layout.conf,
	// *.__download__ and *._checksum_failure_* files.
	From string
	// Name is the torrent name; "" means DefaultName.
	Name string
	// Webseeds are BEP 19 URLs; each gets a trailing "/" if missing.
	Webseeds []string
	// Trackers are announce URLs, one tier each, in order.
	Trackers []string
	// PieceLength forces the piece length of every torrent (a power of two
	// ≥ MinPieceLength); 0 chooses per torrent with PieceLengthFor.
	PieceLength int64
	// MaxFilesPerTorrent bounds the expected files per shard; 0 means
	// DefaultMaxFilesPerTorrent.
	MaxFilesPerTorrent int
	// Progress, if set, is called with the bytes hashed so far and the
	// total, from one goroutine at a time.
	Progress func(doneBytes, totalBytes int64)
	// Attestations (CreateBinpkg only) is the directory holding the
	// attestations/ tree to carry; "" means From. Only the attestations of
	// packages the collection holds are carried, each in the torrent of
	// its package.
	Attestations string
}

// Collection is a set of collection torrents.
type Collection struct {
	// Torrents holds one torrent, or the shards in Index.Shards order.
	Torrents []*metainfo.MetaInfo
	// Index describes the shards; nil when one torrent suffices.
	Index *Index
	// Manifests holds the collection Manifest of each torrent, in Torrents
	// order (a seeder needs its bytes). Write stores each beside its torrent
	// as "<torrent file>.Manifest"; Load reads and verifies it against the
	// torrent's piece hashes when present, else leaves it nil.
	Manifests [][]byte
	// Binpkgs holds, for a collection CreateBinpkg made, the index files of
	// each torrent in Torrents order (a seeder needs their bytes); nil
	// otherwise.
	Binpkgs []BinpkgFiles
}

// srcFile is one distfile found in From.
type srcFile struct {
	name string
	path string // on disk
	rel  string // relative to From, slash-separated
	size int64

	// Filled by hashing.
	digests manifest.Digests
	ph      pieceHashes
	tpath   string // path inside the torrent (below the name)
}

// Create builds a collection from the distfiles in o.From.
func Create(ctx context.Context, o CreateOptions) (*Collection, error) {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if err := checkCreateOptions(&o); err != nil {
		return nil, err
	}
	webseeds, err := normalizeWebseeds(o.Webseeds)
	if err != nil {
		return nil, err
	}
	lay, err := sourceLayout(o.From)
	if err != nil {
		return nil, err
	}
	files, err := scan(ctx, o.From, lay)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("create collection: no distfiles in %s", o.From)
	}

	rule := chooseRule(files, o.PieceLength, o.MaxFilesPerTorrent)
	groups, keys, err := group(files, rule)
	if err != nil {
		return nil, err
	}
	pls := pieceLengths(groups, keys, o.PieceLength, rule)
	if err := hashAll(ctx, groups, keys, pls, o.Progress); err != nil {
		return nil, err
	}

	c := &Collection{}
	if rule != nil {
		c.Index = &Index{
			Format:    IndexFormat,
			Version:   IndexVersion,
			Name:      o.Name,
			Layout:    lay.String(),
			ShardRule: *rule,
		}
	}
	for _, k := range keys {
		mi, mdata, sh, err := buildTorrent(o.Name, lay, groups[k], pls[k], webseeds, o.Trackers)
		if err != nil {
			return nil, err
		}
		c.Torrents = append(c.Torrents, mi)
		c.Manifests = append(c.Manifests, mdata)
		if c.Index != nil {
			sh.Key = k
			c.Index.Shards = append(c.Index.Shards, sh)
		}
	}
	return c, nil
}

// chooseRule returns nil when one torrent suffices, else the shard rule.
// Up to maxFiles files, one torrent is used unless splitting the files into
// size classes pays: its best piece length wastes more than
// acceptableWaste and the split moves fewer bytes, or it has more than
// splitAbovePieces pieces and the split cuts that by splitPieceGain or more
// at an acceptable waste (the large files then get large pieces: the
// fetcher's and the seeder's costs per piece fall; a 1 GiB mixed corpus
// went from 16,662 pieces of 64 KiB to 1,045 of 1 MiB and 6,418 of 4 KiB).
func chooseRule(files []*srcFile, forcedPL int64, maxFiles int) *ShardRule {
	sharded := &ShardRule{
		Hash:       ShardHash,
		HexDigits:  hexDigitsFor(len(files), maxFiles),
		SmallBelow: DefaultSmallBelow,
	}
	if len(files) > maxFiles {
		return sharded
	}
	if forcedPL != 0 {
		return nil
	}
	var all, small, large []int64
	for _, f := range files {
		all = append(all, f.size)
		if f.size < DefaultSmallBelow {
			small = append(small, f.size)
		} else {
			large = append(large, f.size)
		}
	}
	if len(small) == 0 || len(large) == 0 {
		return nil
	}
	pl, r := pieceLengthFor(all, MinPieceLength)
	spl, _ := pieceLengthFor(small, MinPieceLength)
	lpl := LargeClassPieceLength(large)
	single, split := Moved(all, pl), Moved(small, spl)+Moved(large, lpl)
	if r > acceptableWaste && split < single {
		return sharded
	}
	singlePieces, splitPieces := single/pl, Moved(small, spl)/spl+Moved(large, lpl)/lpl
	payload := payloadOf(all)
	if singlePieces > splitAbovePieces && splitPieces*splitPieceGain <= singlePieces &&
		float64(split) <= acceptableWaste*float64(payload) {
		return sharded
	}
	return nil
}

// payloadOf sums sizes.
func payloadOf(sizes []int64) int64 {
	var n int64
	for _, s := range sizes {
		n += s
	}
	return n
}

// group splits files by shard key; keys are returned sorted. A nil rule
// gives one group with key "".
func group(files []*srcFile, rule *ShardRule) (map[string][]*srcFile, []string, error) {
	groups := map[string][]*srcFile{}
	for _, f := range files {
		k := ""
		if rule != nil {
			var err error
			if k, err = rule.Key(f.name, f.size); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", f.path, err)
			}
		}
		groups[k] = append(groups[k], f)
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return groups, keys, nil
}

// sourceLayout returns From's layout.conf primary layout, or the default.
func sourceLayout(from string) (layout.Layout, error) {
	cfg, err := layout.LoadConfig(filepath.Join(from, "layout.conf"))
	if err != nil {
		return nil, fmt.Errorf("create collection: %w", err)
	}
	if len(cfg.Layouts) == 0 {
		return layout.Default(), nil
	}
	return cfg.Primary(), nil
}

// skipName reports whether a directory entry is not a distfile.
func skipName(name string) bool {
	return strings.HasPrefix(name, ".") ||
		name == "layout.conf" ||
		strings.HasSuffix(name, ".__download__") ||
		strings.Contains(name, "._checksum_failure_")
}

// scan walks from and returns its distfiles sorted by name. A name found
// twice (e.g. flat and nested during a migration) is kept once: the copy at
// lay's path if there is one, else the first in walk order; copies of
// different sizes are an error.
func scan(ctx context.Context, from string, lay layout.Layout) ([]*srcFile, error) {
	byName := map[string]*srcFile{}
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("scan %s: %w", p, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != from && strings.HasPrefix(name, ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if skipName(name) || !d.Type().IsRegular() {
			return nil
		}
		if err := layout.ValidName(name); err != nil {
			return fmt.Errorf("scan %s: %w", p, err)
		}
		if !utf8.ValidString(name) {
			return fmt.Errorf("scan %s: %w: %q is not valid UTF-8", p, layout.ErrInvalidName, name)
		}
		fi, err := d.Info()
		if err != nil {
			return fmt.Errorf("scan %s: %w", p, err)
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return fmt.Errorf("scan %s: %w", p, err)
		}
		f := &srcFile{name: name, path: p, rel: filepath.ToSlash(rel), size: fi.Size()}
		if old, ok := byName[name]; ok {
			if old.size != f.size {
				return fmt.Errorf("scan: %s (%d bytes) and %s (%d bytes) are the same distfile with different sizes", old.path, old.size, f.path, f.size)
			}
			if want, ok := lay.Path(name, nil); ok && want == f.rel {
				byName[name] = f
			}
			return nil
		}
		byName[name] = f
		return nil
	})
	if err != nil {
		return nil, err
	}
	files := make([]*srcFile, 0, len(byName))
	for _, f := range byName {
		files = append(files, f)
	}
	slices.SortFunc(files, func(a, b *srcFile) int { return strings.Compare(a.name, b.name) })
	return files, nil
}

// normalizeWebseeds checks the URLs and gives each a trailing "/".
func normalizeWebseeds(in []string) ([]string, error) {
	var out []string
	for _, s := range in {
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("webseed %q: %w", s, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("webseed %q: want an http or https URL", s)
		}
		if !strings.HasSuffix(s, "/") {
			s += "/"
		}
		out = append(out, s)
	}
	return out, nil
}

// MaxComponentLen bounds one path component of a torrent (NAME_MAX on
// Linux: a longer distfile name cannot exist on disk).
const MaxComponentLen = 255

// checkComponent validates one path component inside a torrent.
func checkComponent(c string) error {
	switch {
	case c == "":
		return errors.New("empty path component")
	case c == "." || c == "..":
		return fmt.Errorf("path component %q", c)
	case len(c) > MaxComponentLen:
		return fmt.Errorf("path component %q of %d bytes is too long (at most %d)", trunc(c), len(c), MaxComponentLen)
	case strings.ContainsAny(c, "/\\\x00"):
		return fmt.Errorf("path component %q contains '/', '\\' or NUL", c)
	case layout.IsPrivateName(c):
		return fmt.Errorf("path component %q names a private directory of the distswarm store", c)
	}
	return nil
}

// pieceHashes are the SHA-1 piece hashes of one piece-aligned file.
type pieceHashes struct {
	full      []byte   // hashes of the complete pieces
	tailRaw   [20]byte // last partial piece as is (file last in the torrent)
	tailPad   [20]byte // last partial piece zero-padded to the piece length
	hasTail   bool
	pieceSize int64
}

// pieceHasher is an io.Writer computing pieceHashes for one file that
// starts on a piece boundary.
type pieceHasher struct {
	pl  int64
	h   hash.Hash
	n   int64
	out pieceHashes
}

func newPieceHasher(pl int64) *pieceHasher {
	return &pieceHasher{pl: pl, h: sha1.New(), out: pieceHashes{pieceSize: pl}}
}

func (p *pieceHasher) Write(b []byte) (int, error) {
	total := len(b)
	for len(b) > 0 {
		k := min(int64(len(b)), p.pl-p.n)
		p.h.Write(b[:k])
		p.n += k
		b = b[k:]
		if p.n == p.pl {
			p.out.full = p.h.Sum(p.out.full)
			p.h.Reset()
			p.n = 0
		}
	}
	return total, nil
}

var zeroBlock [32 << 10]byte

// finish completes the tail piece both ways and returns the hashes.
func (p *pieceHasher) finish() pieceHashes {
	if p.n > 0 {
		p.out.hasTail = true
		p.h.Sum(p.out.tailRaw[:0])
		for left := p.pl - p.n; left > 0; {
			k := min(left, int64(len(zeroBlock)))
			p.h.Write(zeroBlock[:k])
			left -= k
		}
		p.h.Sum(p.out.tailPad[:0])
	}
	return p.out
}

// progress serializes Progress calls.
type progress struct {
	mu          sync.Mutex
	fn          func(int64, int64)
	done, total int64
	reported    int64
}

func (p *progress) add(n int64) {
	if p == nil || p.fn == nil || n == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if p.done-p.reported >= 1<<20 || p.done == p.total {
		p.reported = p.done
		p.fn(p.done, p.total)
	}
}

// countingReader reports progress as it reads.
type countingReader struct {
	r  io.Reader
	pr *progress
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.pr.add(int64(n))
	return n, err
}

// hashAll hashes every file once (SHA-1 pieces, BLAKE2B, SHA512) with a
// single manifest.Pipeline: this goroutine reads the files one after
// another, so reading the next file overlaps with hashing the previous
// one and small files share buffers, and the hashes are spread over the
// reader and long-lived lane goroutines by manifest.PlanLanes (on two or
// more cores: the SHA-1 pieces, BLAKE2B and SHA512 in a lane each, this
// goroutine only reading). extra names whole-file hashes wanted besides
// BLAKE2B and SHA512 (a binpkg collection's MD5 and SHA1), in the same read.
// Results are stored in the files, so they do not depend on scheduling.
func hashAll(ctx context.Context, groups map[string][]*srcFile, keys []string, pls map[string]int64, fn func(int64, int64), extra ...string) error {
	type job struct {
		f  *srcFile
		pl int64
	}
	pr := &progress{fn: fn}
	var jobs []job
	for _, k := range keys {
		for _, f := range groups[k] {
			jobs = append(jobs, job{f, pls[k]})
			pr.total += f.size
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		errMu    sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
		cancel()
	}
	names := append([]string{manifest.SHA1, manifest.BLAKE2B, manifest.SHA512}, extra...)
	ws := make([]io.Writer, len(names))
	for i := range ws {
		ws[i] = io.Discard
	}
	_, lanes := manifest.PlanLanes(names, ws, runtime.GOMAXPROCS(0))
	p := manifest.NewPipeline(len(lanes))
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		if err := hashFile(ctx, p, j.f, j.pl, pr, ws, names, fail); err != nil {
			fail(err)
			break
		}
	}
	p.Close()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// hashFile reads f once into p, feeding the piece hasher and the strong
// hashes (names[3:] are extra whole-file hashes); the results are stored in
// f when the pipeline is done with it, and a failure is reported to fail.
// ws is scratch space of len(names).
func hashFile(ctx context.Context, p *manifest.Pipeline, f *srcFile, pl int64, pr *progress, ws []io.Writer, names []string, fail func(error)) error {
	fh, err := os.Open(f.path)
	if err != nil {
		return fmt.Errorf("hash %s: %w", f.path, err)
	}
	defer fh.Close()
	ph := newPieceHasher(pl)
	b2, _ := manifest.NewHash(manifest.BLAKE2B)
	s5, _ := manifest.NewHash(manifest.SHA512)
	ws[0], ws[1], ws[2] = ph, b2, s5
	extra := make([]hash.Hash, len(names)-3)
	for i, name := range names[3:] {
		h, ok := manifest.NewHash(name)
		if !ok {
			return fmt.Errorf("hash %s: unknown hash %s", f.path, name)
		}
		extra[i], ws[3+i] = h, h
	}
	inline, lanes := manifest.PlanLanes(names, ws, runtime.GOMAXPROCS(0))
	// Read one byte more than expected to notice growth.
	r := countingReader{io.LimitReader(fh, f.size+1), pr}
	p.Add(ctx, manifest.Input{R: r, Inline: inline, Lanes: lanes, Done: func(n int64, err error) {
		switch {
		case err != nil:
			fail(fmt.Errorf("hash %s: %w", f.path, err))
		case n != f.size:
			fail(fmt.Errorf("hash %s: size changed while hashing (%d bytes, now %d)", f.path, f.size, n))
		default:
			f.ph = ph.finish()
			f.digests = manifest.Digests{
				manifest.BLAKE2B: hex.EncodeToString(b2.Sum(nil)),
				manifest.SHA512:  hex.EncodeToString(s5.Sum(nil)),
			}
			for i, name := range names[3:] {
				f.digests[name] = hex.EncodeToString(extra[i].Sum(nil))
			}
		}
	}})
	return nil
}

// buildTorrent assembles one collection torrent from hashed files.
func buildTorrent(name string, lay layout.Layout, files []*srcFile, pl int64, webseeds, trackers []string) (*metainfo.MetaInfo, []byte, Shard, error) {
	// Layout paths (content-hash layouts need the digests).
	byPath := make(map[string]*srcFile, len(files))
	for _, f := range files {
		p, ok := lay.Path(f.name, f.digests)
		if !ok {
			return nil, nil, Shard{}, fmt.Errorf("%s: layout %q cannot place %q", f.path, lay, f.name)
		}
		for c := range strings.SplitSeq(p, "/") {
			if err := checkComponent(c); err != nil {
				return nil, nil, Shard{}, fmt.Errorf("%s: layout path %q: %w", f.path, p, err)
			}
		}
		if strings.HasPrefix(p, ".pad/") {
			return nil, nil, Shard{}, fmt.Errorf("%s: layout path %q is reserved for pad files", f.path, p)
		}
		if old, ok := byPath[p]; ok {
			return nil, nil, Shard{}, fmt.Errorf("%s and %s both map to %q", old.path, f.path, p)
		}
		byPath[p] = f
		f.tpath = p
	}
	mname := ManifestName
	for i := 1; byPath[mname] != nil; i++ {
		mname = ManifestName + ".distswarm"
		if i > 1 {
			mname += "." + strconv.Itoa(i)
		}
	}

	// The collection Manifest, sorted by name (files are).
	var mb strings.Builder
	var payload int64
	for _, f := range files {
		e := manifest.Entry{Tag: manifest.TagDIST, Path: f.name, Size: f.size, Digests: f.digests}
		mb.WriteString(e.String())
		mb.WriteByte('\n')
		payload += f.size
	}
	mdata := mb.String()
	mh := newPieceHasher(pl)
	io.WriteString(mh, mdata)

	ordered := slices.Clone(files)
	slices.SortFunc(ordered, func(a, b *srcFile) int { return strings.Compare(a.tpath, b.tpath) })

	entries := make([]torrentEntry, 0, len(ordered)+1)
	entries = append(entries, torrentEntry{[]string{mname}, int64(len(mdata)), mh.finish()})
	for _, f := range ordered {
		entries = append(entries, torrentEntry{strings.Split(f.tpath, "/"), f.size, f.ph})
	}
	mi, err := assembleTorrent(name, entries, pl, webseeds, trackers)
	if err != nil {
		return nil, nil, Shard{}, err
	}
	sh := Shard{
		InfoHash:    mi.HashInfoBytes().HexString(),
		Manifest:    mname,
		Files:       len(files),
		Bytes:       payload,
		PieceLength: pl,
	}
	return mi, []byte(mdata), sh, nil
}

// torrentEntry is one file of a torrent being assembled, hashed.
type torrentEntry struct {
	path []string
	size int64
	ph   pieceHashes
}

// assembleTorrent lays the entries out in order, each on a piece boundary
// (a BEP 47 pad after every file but the last whose length is not a
// multiple of pl), and encodes the info dict.
func assembleTorrent(name string, entries []torrentEntry, pl int64, webseeds, trackers []string) (*metainfo.MetaInfo, error) {
	info := metainfo.Info{Name: name, PieceLength: pl}
	var pieces []byte
	for i, e := range entries {
		last := i == len(entries)-1
		info.Files = append(info.Files, metainfo.FileInfo{Length: e.size, Path: e.path})
		pieces = append(pieces, e.ph.full...)
		if e.ph.hasTail {
			if last {
				pieces = append(pieces, e.ph.tailRaw[:]...)
			} else {
				pieces = append(pieces, e.ph.tailPad[:]...)
			}
		}
		if r := e.size % pl; r != 0 && !last {
			n := pl - r
			info.Files = append(info.Files, metainfo.FileInfo{
				Length:            n,
				Path:              []string{".pad", strconv.FormatInt(n, 10)},
				ExtendedFileAttrs: metainfo.ExtendedFileAttrs{Attr: "p"},
			})
		}
	}
	info.Pieces = pieces
	if len(info.Files) > MaxFileEntries {
		return nil, fmt.Errorf("%d file entries in one torrent, at most %d load: lower the files per torrent", len(info.Files), MaxFileEntries)
	}
	if info.NumPieces()*20 != len(pieces) || info.NumPieces() != int((info.TotalLength()+pl-1)/pl) {
		return nil, fmt.Errorf("internal error: %d piece hashes for %d bytes at piece length %d", len(pieces)/20, info.TotalLength(), pl)
	}
	ib, err := bencode.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("encode info: %w", err)
	}
	mi := &metainfo.MetaInfo{InfoBytes: ib, CreatedBy: "distswarm", UrlList: webseeds}
	if len(trackers) > 0 {
		mi.Announce = trackers[0]
		if len(trackers) > 1 {
			for _, t := range trackers {
				mi.AnnounceList = append(mi.AnnounceList, []string{t})
			}
		}
	}
	return mi, nil
}
