package collection

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/storage/layout"
)

// Index format identification (see the package doc).
const (
	IndexFormat  = "distswarm-collection-index"
	IndexVersion = 1
)

// Index lists the shards of a sharded collection.
type Index struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// Kind is "" for a distfile collection, BinpkgKind for a binpkg one
	// (whose Layout is "flat" and unused: files sit at their PKGDIR path).
	Kind      string    `json:"kind,omitempty"`
	Name      string    `json:"name"`
	Layout    string    `json:"layout"`
	ShardRule ShardRule `json:"shard_rule"`
	Shards    []Shard   `json:"shards"`
}

// Shard describes one shard torrent.
type Shard struct {
	Key         string `json:"key"`
	InfoHash    string `json:"infohash"`
	Torrent     string `json:"torrent"`  // relative to the index's directory, '/'-separated
	Manifest    string `json:"manifest"` // path of the collection Manifest below the torrent name
	Files       int    `json:"files"`
	Bytes       int64  `json:"bytes"`
	PieceLength int64  `json:"piece_length"`
}

// shardDirSuffix names the directory beside the index that holds shards.
const shardDirSuffix = ".shards"

// Write writes the collection. With one torrent, out is that .torrent file.
// Sharded, out is the index file and the shard torrents are written to
// "<out>.shards/<key>.torrent", referenced relatively from the index, which
// is written last. Every file is written atomically.
func (c *Collection) Write(out string) error {
	if len(c.Torrents) == 0 {
		return errors.New("write collection: no torrents")
	}
	if c.Index == nil {
		if len(c.Torrents) != 1 {
			return fmt.Errorf("write collection %s: %d torrents and no index", out, len(c.Torrents))
		}
		if err := c.writeManifest(0, out); err != nil {
			return err
		}
		return writeTorrent(out, c.Torrents[0])
	}
	if len(c.Index.Shards) != len(c.Torrents) {
		return fmt.Errorf("write collection %s: %d shards, %d torrents", out, len(c.Index.Shards), len(c.Torrents))
	}
	idx := *c.Index
	idx.Shards = make([]Shard, len(c.Index.Shards))
	sdir := filepath.Base(out) + shardDirSuffix
	if err := os.MkdirAll(filepath.Join(filepath.Dir(out), sdir), 0o755); err != nil {
		return fmt.Errorf("write collection: %w", err)
	}
	for i, sh := range c.Index.Shards {
		if err := checkComponent(sh.Key); err != nil {
			return fmt.Errorf("write collection: shard key: %w", err)
		}
		sh.Torrent = path.Join(sdir, sh.Key+".torrent")
		tp := filepath.Join(filepath.Dir(out), filepath.FromSlash(sh.Torrent))
		if err := c.writeManifest(i, tp); err != nil {
			return err
		}
		if err := writeTorrent(tp, c.Torrents[i]); err != nil {
			return err
		}
		idx.Shards[i] = sh
	}
	data, err := json.MarshalIndent(&idx, "", "  ")
	if err != nil {
		return fmt.Errorf("write collection index %s: %w", out, err)
	}
	data = append(data, '\n')
	if err := layout.WriteFileAtomic(out, data); err != nil {
		return err
	}
	c.Index.Shards = idx.Shards
	return nil
}

// ManifestSuffix is appended to a torrent file's name to name the file
// holding that torrent's collection Manifest.
const ManifestSuffix = ".Manifest"

func (c *Collection) writeManifest(i int, torrentPath string) error {
	if i >= len(c.Manifests) || c.Manifests[i] == nil {
		return nil
	}
	return layout.WriteFileAtomic(torrentPath+ManifestSuffix, c.Manifests[i])
}

func writeTorrent(name string, mi *metainfo.MetaInfo) error {
	var b bytes.Buffer
	if err := mi.Write(&b); err != nil {
		return fmt.Errorf("encode torrent %s: %w", name, err)
	}
	return layout.WriteFileAtomic(name, b.Bytes())
}

// TorrentFor returns the torrent that holds the distfile name of the given
// size, computed from the name (and size class) alone. With a single
// torrent it is that torrent. An error means the collection has no shard
// for the file, so it is not in the collection.
func (c *Collection) TorrentFor(name string, size int64) (*metainfo.MetaInfo, error) {
	if c.Index == nil {
		if len(c.Torrents) != 1 {
			return nil, fmt.Errorf("collection has %d torrents and no index", len(c.Torrents))
		}
		return c.Torrents[0], nil
	}
	key, err := c.Index.ShardRule.Key(name, size)
	if err != nil {
		return nil, err
	}
	for i, sh := range c.Index.Shards {
		if sh.Key == key && i < len(c.Torrents) {
			return c.Torrents[i], nil
		}
	}
	return nil, fmt.Errorf("%q: collection has no shard %q", name, key)
}

// Magnets returns a magnet link per torrent (with its trackers, webseeds as
// "ws" and display name), in Torrents order.
func (c *Collection) Magnets() []string {
	out := make([]string, 0, len(c.Torrents))
	for _, mi := range c.Torrents {
		var info *metainfo.Info
		if i, err := mi.UnmarshalInfo(); err == nil {
			info = &i
		}
		m := mi.Magnet(nil, info)
		if len(mi.UrlList) == 0 {
			delete(m.Params, "ws")
		}
		out = append(out, m.String())
	}
	return out
}

// ManifestFile returns the path (below the torrent name) of the collection
// Manifest of a collection torrent: its first file, which must be named
// "Manifest" or "Manifest.distswarm[.N]".
func ManifestFile(info *metainfo.Info) ([]string, bool) {
	if len(info.Files) == 0 || len(info.Files[0].Path) != 1 {
		return nil, false
	}
	p := info.Files[0].Path[0]
	if !isManifestName(p) {
		return nil, false
	}
	return info.Files[0].Path, true
}

func isManifestName(p string) bool {
	if p == ManifestName || p == ManifestName+".distswarm" {
		return true
	}
	rest, ok := strings.CutPrefix(p, ManifestName+".distswarm.")
	if !ok || rest == "" || len(rest) > 9 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] < '0' || rest[i] > '9' {
			return false
		}
	}
	return true
}
