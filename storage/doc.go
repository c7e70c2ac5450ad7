// Package storage owns where bytes live and when they are final: the anacrolix storage (staging →
// verify → GLEP 75 store), the state db, quarantine.
//
// A [Store] is an anacrolix storage.ClientImplCloser in which every torrent file is a real, named
// file. Files that are already at their final path (a store or a flat distdir seeded in place) are
// read where they are and never copied. Missing files download into Dir/.partial/<infohash>/<index>
// (names derived only from the infohash and file index, never from hostile torrent paths). When
// the last piece of a downloaded file is verified by the torrent client, the file is queued once
// for the finalize pipeline: a [Verifier] checks it against the authority (Manifest digests) on a
// worker goroutine (several verify at once), then a single committer places the verified files in
// batches: their data made durable (one syncfs per filesystem, or an fsync each), renamed to their
// [Placement] paths, directory entries made durable, all recorded Final in one synced transaction
// (a rejected file is quarantined instead). BEP 47 pad files are virtual: reads yield zeros, writes are discarded.
//
// Trust policy for pre-placed files: a file found at its final path with no state-db record is
// hashed once by the torrent client (Completion Ok=false → initial check). If every piece of it
// verifies, it is recorded Final without running the Verifier: the SHA-1 piece hashes prove it is
// byte-identical to the torrent, and the store's contents were placed by a verifying process (or
// by the operator, who owns the seed directories). The Verifier runs only for downloaded files.
//
// State (piece bits and per-file records) lives in a bbolt database at Dir/.distswarm/state.db.
// On restart, Final files whose (size, mtime) still match are reported complete without
// rehashing, Verifying files are re-queued, partial downloads resume from persisted piece bits,
// and Rejected files stay rejected. Unverified files are offered to the Verifier again on each
// open (the authority may have learnt them). A file killed between its rename and its Final
// record is verified in place at its final path, not downloaded again.
//
// Durability: piece bits and Verifying records are committed without fsync (bbolt NoSync); the
// other file records are synced.
// A kill -9 loses nothing (page cache); a power cut may lose recent piece bits (re-download) or,
// rarely, leave a bit whose staged bytes were not yet on disk (the Verifier then rejects the file).
//
// Limits: the collections this project builds are pad-aligned (each file owns its pieces). In a
// torrent without pads, a rejected or damaged file that shares a piece with a neighbour makes that
// piece incomplete again; writes into sealed (Verifying/Final/Unverified) files are dropped, so a
// neighbour is never rewritten, but the shared piece is fetched again. Hybrid (v1+v2) torrents are
// handled by the same code (their files are piece-aligned) but are not tested here. If the
// Placement changes a file's final path, its Final record no longer matches and it is fetched again.
package storage
