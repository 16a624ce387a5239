#!/usr/bin/env bash
# Verify benchmark: `openssl dgst -sha256` vs kk's verifier on the same bytes (the layout
# directory, and the .tar / .tar.gz / .tar.zst that ArchiveWriter makes of it), plus the
# writer's gzip ratio on ELF binaries against `gzip -6`. Prints a markdown table for
# bench/RESULTS.md.
#
#   [KK_BENCH_OUT=DIR] bench/verify.sh [WORKDIR]   (default /tmp/kk-bench-verify; ~6 GiB)
#
# The layout (~1.4 GiB, deterministic) comes from testdata/gen-images.py and is reused when
# WORKDIR/layout exists. Timings are with a warm page cache. Each row gives wall seconds and
# CPU seconds (user + system, all threads): on a busy machine only the CPU figure is stable.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/kk-bench-verify}
scratch=${KK_BENCH_SCRATCH:-.build-bench}
# Archives go to KK_BENCH_OUT (e.g. a tmpfs, to time the writer without the disk).
out=${KK_BENCH_OUT:-$work/out}
mkdir -p "$out"
rows="$work/rows"
: >"$rows"

if [ ! -f "$work/layout/index.json" ]; then
  python3 testdata/gen-images.py generate --out "$work/layout" --preset bench --unique-mib 1400 >"$work/summary.json"
fi
swift build -c release --scratch-path "$scratch" -Xswiftc -enable-testing --build-tests >"$work/build.log" 2>&1 \
  || { tail -n 30 "$work/build.log" >&2; exit 1; }
kk="$scratch/release/kk"

# measure NAME BYTES CMD...: runs CMD 3 times and appends the fastest run as
# "NAME|BYTES|wall|cpu" to $rows (best of 3 filters out a busy machine's worst moments).
measure() {
  local name=$1 bytes=$2 runs="" t best
  shift 2
  for _ in 1 2 3; do
    t=$( { TIMEFORMAT='%R %U %S'; time "$@" >/dev/null 2>&1; } 2>&1 | tail -n 1)
    runs+="$(echo "$t" | awk '{ print $1, $2 + $3 }')"$'\n'
  done
  best=$(printf '%s' "$runs" | sort -n | head -n 1)
  echo "$name|$bytes|${best% *}|${best#* }" >>"$rows"
}

blobs=("$work"/layout/blobs/sha256/*)
bytes=$(cat "${blobs[@]}" | wc -c)
cat "${blobs[@]}" >/dev/null # warm the page cache
measure "openssl dgst -sha256 (every blob file, 1 core)" "$bytes" openssl dgst -sha256 "${blobs[@]}"
# Writer baseline: the same bytes copied into one file, fsync included (the writer fsyncs
# before its rename, so the disk bounds every write row).
measure "cat blobs > one file + fsync (writer baseline)" "$bytes" \
  sh -c 'cat "$@" | dd of="$0" bs=1M conv=fsync status=none' "$out/copy.bin" "${blobs[@]}"
rm -f "$out/copy.bin"

# Library figures: ArchiveWriter and ArtifactVerifier in-process (VerifyBenchTests).
for f in $(find /usr/bin -maxdepth 1 -type f -size +64k | sort); do
  if [ "$(head -c 4 "$f" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then echo "$f"; fi
done | head -n 60 >"$work/elf.list" || true
log="$work/bench.log"
KK_BENCH_LAYOUT="$work/layout" KK_BENCH_OUT="$out" KK_BENCH_ELF="$work/elf.list" \
  swift test -c release --scratch-path "$scratch" -Xswiftc -enable-testing --skip-build \
  --filter VerifyBenchTests >"$log" 2>&1 || { echo "benchmark run failed, see $log" >&2; exit 1; }
grep '^BENCH' "$log" | while read -r _ what rest; do
  set -- $rest
  if [[ $1 == archive=* ]]; then what="ArchiveWriter $what (${1#archive=} bytes out)"; shift; fi
  [[ $what == verify-* ]] && what="ArtifactVerifier ${what#verify-}"
  echo "$what|$1|$2|$3" >>"$rows"
done
elf_bytes=$(xargs cat <"$work/elf.list" | wc -c)
gzip6=$(xargs cat <"$work/elf.list" | gzip -6 | wc -c)
measure "gzip -6 of the same ELF bytes ($gzip6 bytes out)" "$elf_bytes" \
  sh -c 'xargs cat <"$0" | gzip -6' "$work/elf.list"

# The command users run.
for target in "$work/layout" "$out"/artifact.tar "$out"/artifact.tar.gz "$out"/artifact.tar.zst; do
  measure "kk artifact verify -a ${target##*/}" "$bytes" "$kk" artifact verify -a "$target"
done

openssl_rate=$(head -n 1 "$rows" | awk -F'|' '{ print $2 / $3 }')
openssl_cpu=$(head -n 1 "$rows" | awk -F'|' '{ print $4 / $2 }')
echo "| measurement | bytes | wall s | MiB/s | vs openssl (wall) | CPU s | CPU vs openssl |"
echo "|---|---|---|---|---|---|---|"
while IFS='|' read -r what b wall cpu; do
  awk -v w="$what" -v b="$b" -v s="$wall" -v c="$cpu" -v r="$openssl_rate" -v oc="$openssl_cpu" 'BEGIN {
    hashing = (w ~ /[Vv]erif|openssl/)
    printf "| %s | %d | %.2f | %d | %s | %.2f | %s |\n", w, b, s, b / s / 1048576,
      hashing ? sprintf("%.2fx", (b / s) / r) : "-", c, hashing ? sprintf("%.2fx", (c / b) / oc) : "-"
  }'
done <"$rows"
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; $(date -u +%FT%TZ)"
