#!/usr/bin/env bash
# distswarm benchmarks (make bench; not part of make test). Each figure is a
# ratio against a reference run on the same data in the same run, with wall
# and CPU seconds. Prints a table; writes nothing into the repository.
#
#   P5  distswarm hash (BLAKE2B+SHA512, one read) vs sha512sum and b2sum
#   P4  collection create (SHA-1 pieces + BLAKE2B + SHA512) vs sha512sum, mktorrent if installed
#
# SIZE_MIB (default 1024) sets the corpus size. Files live in a temp dir
# (removed at the end); the page cache is warmed before every timing so all
# commands read from memory alike.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin/distswarm"
size_mib="${SIZE_MIB:-1024}"
work=$(mktemp -d /tmp/distswarm-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
[ -x "$bin" ] || (cd "$root" && go build -o bin/distswarm ./cmd/distswarm)

# timeit CMD... → prints "wall cpu" seconds (best of 3, bash time builtin)
timeit() {
  local best_wall="" best_cpu="" out wall cpu
  local TIMEFORMAT='%R %U %S'
  for _ in 1 2 3; do
    out=$( { time "$@" > /dev/null 2>&1; } 2>&1 | tail -1)
    wall=$(echo "$out" | awk '{print $1}')
    cpu=$(echo "$out" | awk '{printf "%.2f", $2 + $3}')
    if [ -z "$best_wall" ] || awk "BEGIN{exit !($wall < $best_wall)}"; then
      best_wall=$wall best_cpu=$cpu
    fi
  done
  echo "$best_wall $best_cpu"
}

ratio() { awk "BEGIN{printf \"%.2f\", $1 / $2}"; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), $(date -u +%F)"
echo "corpus: ${size_mib} MiB"
head -c "$((size_mib << 20))" /dev/urandom > "$work/big.tar.gz"
cat "$work/big.tar.gz" > /dev/null

read -r sha_w sha_c < <(timeit sha512sum "$work/big.tar.gz")
read -r b2_w b2_c < <(timeit b2sum "$work/big.tar.gz")
read -r ds_w ds_c < <(timeit "$bin" hash "$work/big.tar.gz")
printf '\n%-44s %8s %8s %s\n' "benchmark" "wall s" "cpu s" "ratio (wall)"
printf '%-44s %8s %8s %s\n' "P5 sha512sum (reference)" "$sha_w" "$sha_c" "1.00"
printf '%-44s %8s %8s %s\n' "P5 b2sum" "$b2_w" "$b2_c" "$(ratio "$b2_w" "$sha_w")"
printf '%-44s %8s %8s %s\n' "P5 distswarm hash (BLAKE2B+SHA512)" "$ds_w" "$ds_c" "$(ratio "$ds_w" "$sha_w") of sha512sum, $(ratio "$ds_w" "$b2_w") of b2sum"

mkdir -p "$work/src"
mv "$work/big.tar.gz" "$work/src/"
read -r cr_w cr_c < <(timeit "$bin" collection create --from "$work/src" --out "$work/c.torrent")
printf '%-44s %8s %8s %s\n' "P4 collection create (SHA-1+BLAKE2B+SHA512)" "$cr_w" "$cr_c" "$(ratio "$cr_w" "$sha_w") of sha512sum"
if command -v mktorrent > /dev/null; then
  read -r mk_w mk_c < <(timeit sh -c "rm -f '$work/m.torrent'; mktorrent -l 20 -o '$work/m.torrent' '$work/src'")
  printf '%-44s %8s %8s %s\n' "P4 mktorrent (SHA-1 only, context)" "$mk_w" "$mk_c" "$(ratio "$mk_w" "$sha_w") of sha512sum"
fi
