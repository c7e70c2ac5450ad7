// Package binpkg reads and writes Gentoo binary package formats: the
// binhost Packages index, GPKG (GLEP 78) containers and XPAK/tbz2
// trailers, plus the identity (PKGDIR path) and build configuration of a
// binary package. It does no networking and imports only manifest.
package binpkg
