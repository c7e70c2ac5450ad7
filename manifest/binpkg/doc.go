// Package binpkg reads and writes Gentoo's binary package formats: the
// binhost Packages index, GPKG (GLEP 78) containers, XPAK/tbz2 trailers,
// the identity of a binary package (its PKGDIR path), its build
// configuration, and distswarm's strong-digest index. It does no
// networking and imports only manifest. References: GENTOO-FORMATS.md §3
// and §6 in ../shared/docs, Portage 3.0.82 (getbinpkg.py, bintree.py,
// gpkg.py, xpak.py).
//
// # Identity: Path and CPV
//
// A binary package is identified by its PKGDIR-relative Path, never by
// its base name (acct-group/portage and acct-user/portage both build
// portage-0-r3-1.gpkg.tar). ParsePath accepts category/PN/PF-BUILD_ID
// with .gpkg.tar, .xpak or .tbz2 (binpkg-multi-instance) and
// category/PF.gpkg.tar|.tbz2 (classic), ASCII [A-Za-z0-9+_.-] only, no
// "..", ".", empty or absolute components, PN directory equal to the
// package's PN, BUILD_ID canonical decimal. NewPath formats the path
// Portage would allocate. ParseCPV/ParsePF split names as Portage's
// _pkgsplit does (shortest name whose rest is a version; a name ending in
// "-<version>" is invalid).
//
// # The Packages index
//
// ReadIndex and Index.Write have the semantics of Portage's PackageIndex
// as binarytree configures it (checked in tests against Portage itself):
// UTF-8 with universal newlines; blocks of "KEY: VALUE" lines ended by an
// empty line; exactly one character after the colon is dropped; lines
// without a colon are skipped; DESC, MTIME and REPO are stored under their
// internal names DESCRIPTION, _mtime_ and repository; package blocks drop
// keys outside Portage's allowed set, a block without CPV is skipped and a
// block left empty ends the index. Packages are kept as Portage sees them
// after reading: SLOT and EAPI default to "0", CHOST and repository are
// inherited from the header; empty values are not kept. Write is
// deterministic and byte-identical to Portage's writer: header and block
// keys sorted by internal name, blocks stably sorted by CPV, defaults and
// inherited values omitted, PACKAGES set, VERSION "0" when absent;
// TIMESTAMP must be set by the caller. It refuses what would not read
// back identically (multi-line values, odd keys, keys Portage drops) and
// packages without a valid CPV and a PATH naming it. MergeIndexes joins
// indexes (e.g. several collections) under a new header. Use PATH as given
// (§6 trap 18): Package.Path parses it. PackageFromFile builds the entry
// Portage would write for a binpkg from its metadata and file digests
// (identical to the real binhosts' entries for the samples); its
// dependency keys are USE-reduced by ReduceDeps, a port of Portage's
// use_reduce + paren_enclose checked against Portage on 3,000 random
// dependency strings.
//
// # GPKG
//
// OpenGPKG reads a container's outer tar with Portage's verifier rules
// (ustar/GNU magic; regular files exactly one directory deep under one
// prefix; unique names; gpkg-1 and Manifest present; Manifest all DATA
// entries) and locates members without reading them. Verify checks every
// member but the Manifest against its DATA entry (size, then BLAKE2B and
// SHA512, both required as Portage requires them) and that no entry lacks
// its member; errors name the member and wrap *manifest.MismatchError.
// Metadata verifies metadata.tar[.gz|.bz2|.xz|.lzma|.zst] before
// decompressing it, then returns the files of its metadata/ directory.
// OpenPGP signatures are reported (GPKG.Signed) and carried, never checked
// or rewritten. ReadMetadata reads the metadata of either format.
//
// # XPAK
//
// ReadXPAK follows Portage's tbz2.scan: the last 16 bytes are XPAKSTOP,
// a big-endian infosize and STOP; the XPAKPACK blob before them holds an
// index of (name, offset, length) into a data block. ParseXPAK and
// EncodeXPAK handle the blob alone (man 5 xpak's example is a test).
// XPAK has no integrity data: only the Packages index's SIZE/MD5/SHA1 or a
// digest index protect it. Sniff tells GPKG from XPAK as Portage does.
//
// # Build configuration
//
// BuildConfig is how a package was built: CPV, USE (a sorted set),
// CHOST, CFLAGS, CXXFLAGS, LDFLAGS, ARCH and PROFILE, each known or
// unknown. BuildConfigFromPackage takes CPV/USE/CHOST from a Packages
// entry and ARCH/PROFILE from its header; BuildConfigFromMetadata takes
// CPV/USE/CHOST and the flags from XPAK or GPKG metadata. Canonical is a
// stable text form ("distswarm-buildconfig 1" then FIELD=value lines in
// BuildConfigFields order), Digest its SHA-256, ParseBuildConfig its
// inverse. Diff lists differing fields (USE as added/removed flags);
// Matches checks a package against a wanted configuration, ignoring what
// the wanted one leaves unknown.
//
// BuildWant is what a client asks for (binpkg fetch --match-use, --match,
// --match-make-conf): USE flags on or off, USE_EXPAND variables and exact
// CHOST/CFLAGS/CXXFLAGS/LDFLAGS/ARCH/PROFILE. Check compares it with a
// Packages entry the way emerge --binpkg-respect-use does (only flags the
// package has count) and returns each BuildDiff, plus the fields the entry
// does not record (Packages carries no compiler flags). ReadMakeConf reads
// a make.conf file or directory with the shell subset Portage's getconfig
// accepts (quotes, ${VAR} expansion, continuation, comments, source),
// bounded, with file:line errors; a test checks it against getconfig.
//
// # Strong-digest index
//
// A Packages index carries only MD5, SHA1 and SIZE. DigestIndex adds
// BLAKE2B and SHA512: its text form (conventionally Packages.digests) is a
// GLEP 74 Manifest of DATA lines, one per Path, sorted, each with
// BLAKE2B, MD5, SHA1 and SHA512, read with the manifest package's parser
// and bounds. DigestEntry.ManifestEntry feeds manifest.VerifyFile or
// VerifyReader; DigestEntry.CheckPackage checks a Packages entry against
// it.
//
// # Bounds
//
// Every input is bounded and exceeding a bound wraps ErrLimit: Packages
// size, line length, package count and key length (MaxIndex*,
// MaxKeyLength); XPAK blob and metadata size and key count
// (MaxMetadataSize, MaxMetadataKeys); GPKG member count and Manifest size
// (MaxGPKGMembers, MaxGPKGManifestSize) and decompressed metadata;
// paths (MaxPathLength) and names (MaxNameLength); dependency strings
// (MaxDepTokens). Fuzz targets cover ReadIndex, ReadXPAK, OpenGPKG,
// ParsePath and ReduceDeps.
package binpkg
