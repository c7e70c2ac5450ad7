# Copyright 2026 Gentoo Authors
# Distributed under the terms of the GNU General Public License v2

EAPI=8

inherit git-r3 go-module systemd

DESCRIPTION="Fetch and seed Gentoo distfiles over BitTorrent, verified against Manifests"
HOMEPAGE="https://github.com/distswarm/distswarm"
EGIT_REPO_URI="https://github.com/distswarm/distswarm.git"

LICENSE="GPL-2"
# The Go modules vendored at unpack time carry their own licenses.
LICENSE+=" Apache-2.0 BSD BSD-2 ISC MIT MPL-2.0"
SLOT="0"

# The daemon runs as portage:portage so that Portage (FEATURES=userfetch)
# reaches its control socket (mode 0660, the daemon's group).
RDEPEND="
	acct-group/portage
	acct-user/portage
"
BDEPEND=">=dev-lang/go-1.26"

src_unpack() {
	git-r3_src_unpack
	go-module_live_vendor
}

# The Makefile runs go with the GOFLAGS go-module.eclass exports (vendor/).
src_compile() {
	# VERSION is what distswarm --version prints.
	emake VERSION="${PV}-${EGIT_VERSION:0:12}" build man
}

src_test() {
	emake test-short
}

src_install() {
	dobin bin/distswarm
	doman bin/distswarm.1

	local f
	for f in openrc/distswarm.initd systemd/distswarm.service; do
		sed -e "s|@BINDIR@|${EPREFIX}/usr/bin|g" "packaging/${f}" > "${T}/${f##*/}" || die
	done
	newinitd "${T}"/distswarm.initd distswarm
	newconfd packaging/openrc/distswarm.confd distswarm
	systemd_dounit "${T}"/distswarm.service

	# Every key at its default, commented out; CONFIG_PROTECT keeps edits.
	insinto /etc/distswarm
	doins packaging/distswarm.toml
	dodoc README.md

	keepdir /var/cache/distswarm /var/log/distswarm
	fowners portage:portage /var/cache/distswarm /var/log/distswarm
	fperms 2775 /var/cache/distswarm
	fperms 0750 /var/log/distswarm
}

pkg_postinst() {
	elog "Start the node: rc-update add distswarm default && rc-service distswarm start"
	elog "            or: systemctl enable --now distswarm"
	elog "Settings: /etc/distswarm/distswarm.toml; Portage integration (make.conf"
	elog "FETCHCOMMAND, GENTOO_MIRRORS through the gateway): see"
	elog "${EROOT}/usr/share/doc/${PF}/README.md* and distswarm(1)."
}
