package layout

import "path/filepath"

// The names of a distswarm store's directory tree. They are spelled here
// only; every other package asks a Tree.
const (
	distfilesDir   = "distfiles"   // the GLEP 75 mirror tree, served and seeded
	collectionsDir = "collections" // remembered torrents and their Manifests
	binpkgsDir     = "binpkgs"     // a PKGDIR of fetched binary packages, served as a binhost
	partialDir     = ".partial"    // downloads in progress, per torrent
	quarantineDir  = ".quarantine" // files that failed verification
	stateDir       = ".distswarm"  // the state db, its lock, the control socket
)

// Tree is the directory tree of the store at Root:
//
//	distfiles/    GLEP 75 tree with layout.conf (public: the gateway serves it)
//	collections/  <infohash>.torrent and <infohash>.Manifest (binpkg
//	              collections also <infohash>.Packages and .Packages.digests)
//	binpkgs/      a PKGDIR (category/PN/...), with the Packages index of what
//	              it holds (public: the gateway serves it as a binhost)
//	.partial/     staging of swarm downloads; .partial/http for HTTP ones
//	.quarantine/  files that failed verification
//	.distswarm/   state.db, state.db.lock, control.sock
type Tree struct{ Root string }

// Distfiles is the GLEP 75 tree.
func (t Tree) Distfiles() string { return filepath.Join(t.Root, distfilesDir) }

// Binpkgs is the PKGDIR of fetched binary packages.
func (t Tree) Binpkgs() string { return filepath.Join(t.Root, binpkgsDir) }

// Collections holds the remembered torrents and their collection Manifests.
func (t Tree) Collections() string { return filepath.Join(t.Root, collectionsDir) }

// Partial holds swarm downloads until their files verify.
func (t Tree) Partial() string { return filepath.Join(t.Root, partialDir) }

// HTTPStaging holds HTTP downloads until they verify.
func (t Tree) HTTPStaging() string { return filepath.Join(t.Partial(), "http") }

// Quarantine holds files that failed verification.
func (t Tree) Quarantine() string { return filepath.Join(t.Root, quarantineDir) }

// State is the store's private state directory.
func (t Tree) State() string { return filepath.Join(t.Root, stateDir) }

// StateDB is the state database (bbolt).
func (t Tree) StateDB() string { return filepath.Join(t.State(), "state.db") }

// ControlSocket is where a daemon on the store listens for commands.
func (t Tree) ControlSocket() string { return filepath.Join(t.State(), "control.sock") }

// Private lists the directories nothing may serve, seed or place into.
func (t Tree) Private() []string { return []string{t.Partial(), t.Quarantine(), t.State()} }

// IsPrivateName reports whether a top-level name of a store is one of its
// private directories: a torrent naming one is hostile or broken.
func IsPrivateName(name string) bool {
	return name == partialDir || name == quarantineDir || name == stateDir
}
