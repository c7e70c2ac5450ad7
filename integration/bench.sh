#!/usr/bin/env bash
# distswarm benchmarks: make bench (not part of make test).
#
# Builds bin/distswarm and the helpers in integration/bench/, then runs the
# driver integration/bench/bench.py with /usr/bin/python3 (the interpreter
# that has python3-libtorrent). Every figure is a ratio against a reference
# measured in the same run on the same data, with wall and CPU seconds:
#
#   P1  1 GiB mixed collection, seeder -> leecher: distswarm vs libtorrent, HTTP ceiling
#   P2  5,000 files of 1-32 KiB: distswarm vs libtorrent vs HTTP keep-alive
#   P3  1 origin + 8 leechers, 256 MiB: origin upload ratio, time to last completion
#   P4  collection create vs sha512sum (mktorrent, libtorrent create_torrent for context)
#   P5  distswarm hash vs sha512sum and b2sum
#   P6  seeding 100,000 files: peak RSS and restart-to-seeding time
#   G1  curl of a 1 GiB file through the HTTP gateway vs a plain Go file server
#   G2  200 Portage-mode fetches from a peer: through the daemon vs in-process
#   B1  binpkg publish of 2,000 binpkgs (half under 32 KiB) vs collection create
#   B2  200 binpkgs through the daemon's /binpkgs gateway from a peer vs a plain
#       file server, and wire bytes / payload
#   N1  P3 in network namespaces: 1 origin + 8 leechers on one bridge, every link
#       100 Mbit/s (tc tbf), 256 MiB: last completion and origin upload vs libtorrent
#   N2  one fetch over a 10 Mbit/s link taken down for 20 s every 60 s (3 % loss via
#       nftables; 150 ms delay only where the kernel has sch_netem): distswarm from a
#       seeder vs aria2c over HTTP, completion time and bytes on the wire
#   N1 and N2 need root, iproute2 (ip, tc), and for N2 aria2c (nft optional); without
#   root or ip netns they print a SKIP row. Their namespaces, veths and bridge are
#   deleted on exit, also when the driver is killed (the EXIT trap below).
#
# Environment:
#   BENCH=P1,P2   run only these (default: all)
#   SIZE=1/16     scale every corpus (bytes and file counts) for a quick run
#   REPS=3        best-of count for P4, P5, G1 and P2 (P2's contenders in turns)
#   BENCH_MD=F    also write the table as Markdown to F
#   PROFILE=DIR   pprof CPU profiles of the distswarm processes of P1-P3, P6
#   BENCH_KEEP=1  keep the work directory (corpora, logs)
#   DISTSWARM_BIN=PATH  benchmark this binary instead of building bin/distswarm
# Writes nothing into the repository except bin/distswarm.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$PATH:/usr/local/go/bin"
go=${GO:-go}

for tool in curl sha512sum b2sum mktorrent timeout; do
  command -v "$tool" > /dev/null || { echo "bench: $tool is not installed" >&2; exit 2; }
done
/usr/bin/python3 -c 'import libtorrent' 2> /dev/null ||
  { echo "bench: /usr/bin/python3 cannot import libtorrent (apt-get install python3-libtorrent)" >&2; exit 2; }

tools=$(mktemp -d /tmp/distswarm-bench-tools.XXXXXX)
# N1/N2 name every namespace they create with this prefix
export BENCH_NETNS_TAG="dsb$$-"
netns_cleanup() {
  command -v ip > /dev/null || return 0
  ip netns list 2> /dev/null | awk -v t="$BENCH_NETNS_TAG" 'index($1, t) == 1 { print $1 }' |
    while read -r ns; do ip netns del "$ns" || true; done
}
trap 'rm -rf "$tools"; netns_cleanup' EXIT
if [ -z "${DISTSWARM_BIN:-}" ]; then
  "$go" build -o bin/distswarm ./cmd/distswarm
  export DISTSWARM_BIN="$root/bin/distswarm"
fi
"$go" build -o "$tools/gencorpus" ./integration/bench/gencorpus
"$go" build -o "$tools/httpserve" ./integration/bench/httpserve
"$go" build -o "$tools/gatewayserve" ./integration/bench/gatewayserve
"$go" build -o "$tools/genbinpkgs" ./integration/bench/genbinpkgs
"$go" build -o "$tools/tcpcount" ./integration/bench/tcpcount
"$go" build -o "$tools/linkemu" ./integration/bench/linkemu

# no __pycache__ in the repository for the imported netns.py
PYTHONDONTWRITEBYTECODE=1 BENCH_TOOLS="$tools" /usr/bin/python3 integration/bench/bench.py
