#!/usr/bin/env bash
# distswarm demo: a seeder and a leecher as two processes on 127.0.0.1 over a
# generated collection. Shows files verified and landing at their GLEP 75
# paths. Needs only the built binary (make demo builds it). Bounded in time;
# everything lives in a temporary directory that is removed at the end.
set -euo pipefail
bin="${DISTSWARM:-$(cd "$(dirname "$0")/.." && pwd)/bin/distswarm}"
work=$(mktemp -d /tmp/distswarm-demo.XXXXXX)
seeder_pid=""
cleanup() {
  [ -n "$seeder_pid" ] && kill "$seeder_pid" 2>/dev/null && wait "$seeder_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

echo "== 1. a distdir with 40 distfiles (0 B .. 4 MiB), deterministic content"
mkdir -p "$work/src"
for i in $(seq 1 40); do
  size=$(( (i * i * 2731) % (4 << 20) ))
  [ "$i" -le 10 ] && size=$(( i * 997 ))
  [ "$i" -eq 1 ] && size=0
  head -c "$size" /dev/urandom > "$work/src/demo-pkg$i-1.0.tar.gz"
done
du -sh "$work/src" | awk '{print "   " $1 " in 40 files"}'

echo "== 2. collection create (one read per file: SHA-1 pieces + BLAKE2B + SHA512)"
"$bin" collection create --from "$work/src" --out "$work/demo.torrent" 2>&1 | sed 's/^/   /'

echo "== 3. the leecher's authority: a Manifest of 12 of the files (distswarm hash)"
(cd "$work/src" && "$bin" hash $(ls | sort | head -12)) > "$work/Manifest"
sed 's/\(BLAKE2B [0-9a-f]\{16\}\)[0-9a-f]*/\1…/; s/\(SHA512 [0-9a-f]\{16\}\)[0-9a-f]*/\1…/' "$work/Manifest" | head -3 | sed 's/^/   /'
echo "   ..."

echo "== 4. seeder: seeds the distdir in place on 127.0.0.1"
"$bin" seed --store "$work/seed-store" --from "$work/src" --listen 127.0.0.1:0 --offline \
  "$work/demo.torrent" > "$work/seeder.out" 2> "$work/seeder.err" &
seeder_pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/^seeding on port \([0-9]*\).*/\1/p' "$work/seeder.out")
  [ -n "$port" ] && break
  kill -0 "$seeder_pid" 2>/dev/null || { cat "$work/seeder.err"; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "seeder did not start"; cat "$work/seeder.err"; exit 1; }
echo "   $(cat "$work/seeder.out")"

echo "== 5. leecher: fetch the 12 files from the seeder, verify, place"
names=$(awk '{print $2}' "$work/Manifest")
"$bin" fetch --store "$work/leech-store" --torrent "$work/demo.torrent" --offline \
  --listen 127.0.0.1:0 --peer "127.0.0.1:$port" --manifest "$work/Manifest" --timeout 60s $names 2>&1 \
  | sed "s#$work/##; s#^leech-store/#placed leech-store/#; s/^/   /"

echo "== 6. the leecher's store is a GLEP 75 mirror (GENTOO_MIRRORS=$work/leech-store/distfiles)"
cat "$work/leech-store/distfiles/layout.conf" | sed 's/^/   /'
(cd "$work/leech-store/distfiles" && find . -type f ! -name layout.conf | sort | head -5 | sed 's/^/   /')
echo "   ..."
echo "== 7. independent check with coreutils b2sum against the Manifest"
ok=0
while read -r _ name size _ b2 _; do
  p=$("$bin" layout find --distdir "$work/leech-store/distfiles" "$name")
  [ "$(b2sum "$p" | cut -d' ' -f1)" = "$b2" ] && ok=$((ok+1))
done < "$work/Manifest"
echo "   $ok of $(wc -l < "$work/Manifest") files match their BLAKE2B"
[ "$ok" -eq "$(wc -l < "$work/Manifest")" ]
echo "== demo OK"
