// Package manifest owns what files must be: Gentoo Manifest2 / GLEP 74
// parsing, the GLEP 74 hash registry, streaming multi-hash computation and
// verification of files against Manifest entries, and an index of the DIST
// entries of a whole ebuild repository.
//
// It imports no other package of distswarm.
package manifest
