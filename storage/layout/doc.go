// Package layout owns GLEP 75 mirror/store layouts: parsing layout.conf,
// the flat, filename-hash and content-hash structures, locating a distfile
// in a directory that may use any of them (Find), and migrating a flat
// distfiles directory to a nested layout (Migrate).
//
// Semantics follow Portage (lib/portage/package/ebuild/fetch.py,
// MirrorLayoutConfig and friends) except where Portage would build garbage
// paths (non-positive or oversized cutoffs, malformed digests, names that
// are not bare file names); those are refused.
//
// The package imports only the hash registry of package manifest.
package layout
