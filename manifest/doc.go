// Package manifest owns what files must be: Gentoo Manifest2 / GLEP 74
// parsing, the GLEP 74 hash registry, streaming multi-hash computation and
// verification of files against Manifest entries, and an index of the DIST
// entries of a whole ebuild repository.
//
// It imports no other package of distswarm.
//
// # Parsing
//
// Parse follows gemato (the GLEP 74 reference implementation) rather than
// Portage's lenient regex: tags DIST, EBUILD, AUX, MISC, DATA, MANIFEST,
// IGNORE and TIMESTAMP are known, anything else is a *SyntaxError carrying
// "file:line". CRLF, blank lines and extra whitespace are ignored (GLEP 74);
// hash pairs may come in any order; hex digests of any case are accepted and
// stored lowercase; supported hashes must have their exact length; unknown
// hash names are kept (verification reports them). Paths have GLEP 74
// escapes (\xHH, \uHHHH, \UHHHHHHHH: code points, not bytes) decoded and
// are never Unicode-normalised; "..", absolute paths, empty components,
// NUL, raw control characters and, for DIST, any "/" are rejected. AUX
// paths are returned as "files/<name>". Lines are bounded by MaxLineLength,
// entries by MaxEntries and input by MaxManifestSize.
//
// # OpenPGP clear-signed Manifests
//
// The RFC 4880 cleartext wrapper is handled structurally: armour headers up
// to the blank line, dash-escaped lines ("- ") undone, and, as in gemato's
// ManifestUnsignedData rule, entries before "BEGIN PGP SIGNED MESSAGE" or
// any data after "END PGP SIGNATURE" are errors, as is a wrapper without a
// complete signature block. Parse does not verify the signature:
// Manifest.Signed only says a wrapper was present. With a keyring,
// manifest/openpgp's Verifier.VerifyManifest checks the signature and
// parses the signed text only.
//
// # Duplicate and conflicting entries
//
// GLEP 74 allows several entries for one file if they are equivalent, and
// calls everything else an error; Portage instead merges silently with
// "last one wins". This package implements GLEP 74 like gemato's
// verify_entry_compatibility:
//
//   - Entries are keyed by namespace and path: DIST names form their own
//     namespace (a DIST and an AUX of the same name are independent); all
//     other tags share the file-path namespace (AUX "p" is the path
//     "files/p"); there is at most one TIMESTAMP.
//   - Two entries for the same key are compatible if their tags are in the
//     same class ({DATA, EBUILD, AUX, MANIFEST} are one class; MISC, DIST,
//     IGNORE and TIMESTAMP are each their own), their sizes are equal and
//     every hash both list has the same value. Compatible duplicates are
//     merged into the first entry (its tag and position are kept, hashes
//     are the union).
//   - Anything else is a *SyntaxError at the later line that also names
//     the earlier one ("… conflicts with line N: size 1 vs 2").
//   - An entry for a path equal to or inside an IGNOREd path is an error.
//
// Across packages, the same DIST name may legitimately appear in several
// Manifests; LoadRepo merges compatible ones and reports disagreements as
// Conflicts instead of failing.
//
// # Compressed sub-Manifests
//
// OpenSubManifest verifies the compressed bytes against the parent entry
// (size first, then hashes) before decompressing them, and bounds the
// decompressed size by MaxManifestSize. Supported suffixes: .gz .bz2 .xz
// .lzma .zst; .lz4 .lz .lzo yield ErrUnsupportedCompression.
//
// # Hashing and verification
//
// Fanout/Sum (and collection create) run on a Pipeline: one goroutine
// reads the input once into a ring of 1 MiB buffers, and long-lived lanes
// hash them; PlanLanes gives each hash but the cheapest its own lane, up
// to one more lane than there are CPUs. Hashing BLAKE2B and SHA512
// together thus costs about the time of the slower one (BLAKE2B, ~1.5 CPU
// s/GiB with x/crypto) on two cores. Verification follows GLEP 74: size first, then every
// supported hash listed must match, at least one must be supported
// (ErrNoSupportedHash otherwise); unsupported names are reported in
// Result.Unsupported.
package manifest
