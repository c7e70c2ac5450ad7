// Package collection builds and loads distswarm collections: BitTorrent v1
// torrents (with BEP 47 pad files) whose file tree is a GLEP 75 distfiles
// mirror tree, the collection Manifest inside each torrent, sharding of large
// collections and the collection index that lists the shards.
//
// # Torrent structure
//
// A collection torrent is a plain multi-file v1 torrent (never hybrid/v2):
//
//	<name>/Manifest                collection Manifest (always the FIRST file)
//	<name>/.pad/<N>                BEP 47 pad (attr "p") where needed
//	<name>/<GLEP 75 path>          every distfile, sorted by path
//	<name>/.pad/<N>                ...
//
// <name> defaults to "distfiles", so a BEP 19 webseed URL "https://mirror/"
// maps a file to "https://mirror/distfiles/<GLEP 75 path>": any GLEP 75
// mirror is a webseed. Webseed URLs always end in "/" (anacrolix v1.61
// ignores multi-file webseeds without it). The GLEP 75 layout is the
// primary layout of the source directory's layout.conf, else
// "filename-hash BLAKE2B 8".
//
// The collection Manifest lists every distfile of that torrent as
// "DIST <name> <size> BLAKE2B <hex> SHA512 <hex>", sorted by name. Its path
// is "Manifest"; if a distfile already occupies that path (flat layout with
// a distfile named "Manifest") it is "Manifest.distswarm" (then
// "Manifest.distswarm.2", ...). Consumers find it as the first file of the
// torrent (see [ManifestFile]) or in the index's "manifest" field.
//
// Every file starts on a piece boundary: after each file whose length is not
// a multiple of the piece length comes a pad file ".pad/<N>" of N zero bytes
// (attr "p"), except after the last file. The info dict carries no creation
// date, creator or other per-machine data, so the same files give the same
// infohash on any machine, whatever the source directory's structure.
//
// # Piece length policy
//
// anacrolix sends pad bytes like data, so a full fetch of a file of size s
// moves ceil(s/PL)·PL bytes. [PieceLengthFor] picks, per torrent, a power of
// two PL in [MinPieceLength, MaxPieceLength]:
//
//   - feasible PLs keep pieces ≤ 2^18 (info dict ≤ ~5 MiB, under anacrolix's
//     16 MiB metadata limit) and pieces × file entries ≤ 2^27 (anacrolix
//     builds pieces in O(pieces × files) on every add; 2^27 is well under a
//     second);
//   - among feasible PLs, the LARGEST one whose waste ratio
//     ([WasteRatio], moved ÷ payload) is ≤ 1.02 is chosen (fewer pieces,
//     smaller info, cheaper add, and fewer, larger requests: 8 KiB pieces
//     halved loopback throughput); if none reaches 1.02, the smallest feasible
//     one (least waste).
//
// MinPieceLength is 4 KiB, below anacrolix's 16 KiB chunk size. anacrolix
// v1.61.0 numbers requests as piece×ceil(PL/chunk) but bounds them by
// ceil(length/chunk) (torrent.go:3850 maxEndRequest), so with PL < 16 KiB
// and the default chunk size every piece past length/16 KiB would get an
// empty request range. Package swarm therefore adds such torrents with
// ChunkSize = PL (AddTorrentSpec), which makes the two consistent; a loopback
// transfer of 300 files of 1–32 KiB with 4 KiB and 8 KiB pieces completed
// (swarm's small-piece test).
//
// Consequence, by the model above (TestPieceLengthGoals logs the numbers):
// a mixed corpus (200 files, 0 B–8 MiB, 40% under 32 KiB) moves ≤ 1.05× its
// payload; 5,000 files of 1–32 KiB get 8 KiB pieces (4 KiB is ruled out by
// the pieces × entries bound for that corpus) and move ~1.24× instead of
// ~1.46× with 16 KiB pieces.
//
// # Shards
//
// A collection is one torrent when it has at most MaxFilesPerTorrent files,
// unless splitting it into the two size classes below pays: its best piece
// length wastes more than 1.05 and the split moves fewer bytes, or it has
// more than 4,096 pieces and the split at most halves that count with a
// total waste still ≤ 1.05 (the large class gets large pieces: the cost per
// piece of both peers falls; P1's 1 GiB corpus went from 16,662 pieces of
// 64 KiB to 999 of 1 MiB plus 6,225 of 4 KiB). Otherwise it is sharded and
// described by an index (with size classes always on). A large class picks
// the largest piece length that wastes ≤ 1.05 rather than ≤ 1.02. The shard of a
// distfile is computed from its name and size (see [ShardRule]):
//
//   - hex_digits: 0, 1 or 2 leading hex digits of BLAKE2B-512(name) — the
//     GLEP 75 filename-hash bucket, whatever the layout — chosen as the
//     smallest of 1, 16, 256 shards with files/shards ≤ MaxFilesPerTorrent;
//   - size class: files smaller than small_below (1 MiB) go to the small
//     class "s", others to "l". Small files thus get small pieces and a fetch
//     of one patch does not move a 1 MiB piece; large files get large
//     pieces and few pieces overall. The fetcher knows the size from its own
//     Manifest.
//
// A small class's pieces are then raised towards 16 KiB (one request each)
// while the class wastes at most 1.3 and the collection stays within 1.05
// (1.3 when it has no large files): see raiseSmallPieces.
//
// The key is the hex prefix followed by the class letter ("s", "l", "0s",
// "a3l"). Shards without files are not written. Every shard torrent has the
// same name as the collection, so webseeds map identically.
//
// # Binary packages
//
// [CreateBinpkg] builds a binpkg collection from a PKGDIR. Each torrent is
//
//	<name>/Manifest           its Packages.digests, as the collection Manifest
//	<name>/Packages.digests   strong-digest index (manifest/binpkg DigestIndex)
//	<name>/Packages           Portage's Packages index of the torrent's packages
//	<name>/<PKGDIR path>      every package (category/PN/PF-BUILD_ID.gpkg.tar, …), by path
//	<name>/attestations/<key>/<PKGDIR path>.attestation   signed attestations of those packages, by path
//
// with pads as above; <name> defaults to "binpkgs", so a binhost URL is a
// webseed. [IsBinpkgInfo] recognises such a torrent by Packages.digests
// coming right after the Manifest and before Packages, an order a distfile
// collection (sorted by path) cannot have. Packages entries are those of
// the PKGDIR's own Packages when they match their file (PATH, SIZE, MD5,
// SHA1), else built from the package's metadata; the header is the
// PKGDIR's without URI, with its TIMESTAMP (else the newest BUILD_TIME), so
// the infohash depends on the PKGDIR only. Sharding uses the rule above
// with the package's base name as the name: every shard is a small PKGDIR
// with its own Packages and Packages.digests, and a sharded index carries
// "kind": "binpkgs" (its "layout" is "flat" and unused). Collection.Write
// does not write the index files: a seeder keeps them in its store (see
// Collection.Binpkgs).
//
// # Collection index (format "distswarm-collection-index", version 1)
//
// A UTF-8 JSON object of at most 1 MiB:
//
//	{
//	  "format": "distswarm-collection-index",
//	  "version": 1,
//	  "name": "distfiles",                   // torrent name of every shard
//	  "layout": "filename-hash BLAKE2B 8",   // GLEP 75 layout of the file tree
//	  "shard_rule": {"hash": "BLAKE2B", "hex_digits": 1, "small_below": 1048576},
//	  "shards": [
//	    {"key": "0l", "infohash": "<40 hex>", "torrent": "coll.json.shards/0l.torrent",
//	     "manifest": "Manifest", "files": 12, "bytes": 123456, "piece_length": 1048576},
//	    ...
//	  ]
//	}
//
// Shards are sorted by key and keys are unique. "torrent" is a slash-separated
// path relative to the directory holding the index and must stay inside it;
// "infohash" is the v1 infohash of that torrent, checked on load. "files" and
// "bytes" count distfiles (not the Manifest or pads). Readers reject any other
// format or version; unknown fields are ignored. [Collection.Write] writes the
// shard torrents to "<index file name>.shards/<key>.torrent" and the index
// last, each atomically.
package collection
