#!/usr/bin/env bash
# Verify benchmark: openssl dgst vs `ArtifactVerifier` on the same bytes (directory, .tar,
# .tar.gz, .tar.zst written by ArchiveWriter), plus the writer's gzip ratio on ELF binaries
# against `gzip -6`. Prints a markdown table for bench/RESULTS.md.
#
#   bench/verify.sh [WORKDIR]     (default /tmp/kk-bench-verify; needs ~6 GiB free)
#
# The layout (~1.4 GiB, deterministic) comes from testdata/gen-images.py; it is reused
# when WORKDIR/layout exists. All timings are with a warm page cache.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/kk-bench-verify}
mkdir -p "$work/out"
scratch=${KK_BENCH_SCRATCH:-.build-bench}

if [ ! -f "$work/layout/index.json" ]; then
  python3 testdata/gen-images.py generate --out "$work/layout" --preset bench --unique-mib 1400 >"$work/summary.json"
fi

swift build -c release --scratch-path "$scratch" -Xswiftc -enable-testing --build-tests >/dev/null

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.4f\", $1 }"; }
blobs=("$work"/layout/blobs/sha256/*)
bytes=$(cat "${blobs[@]}" | wc -c)
cat "${blobs[@]}" >/dev/null # warm the page cache

t0=$(now)
openssl dgst -sha256 "${blobs[@]}" >/dev/null
t1=$(now)
openssl_s=$(calc "$t1 - $t0")

# ELF binaries for the compression-ratio check: regular files > 64 KiB starting with \x7fELF.
for f in $(find /usr/bin -maxdepth 1 -type f -size +64k | sort); do
  if [ "$(head -c 4 "$f" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then echo "$f"; fi
done >"$work/elf.all"
head -n 60 "$work/elf.all" >"$work/elf.list"
elf_bytes=$(xargs cat <"$work/elf.list" | wc -c)
gzip6=$(xargs cat <"$work/elf.list" | gzip -6 | wc -c)
t0=$(now)
xargs cat <"$work/elf.list" | gzip -6 >/dev/null
t1=$(now)
gzip6_s=$(calc "$t1 - $t0")

# Baseline for the writer: copying the same bytes into one file, fsync included (the
# writer fsyncs before its rename, so the disk's write speed bounds every write-* row).
t0=$(now)
cat "${blobs[@]}" | dd of="$work/out/copy.bin" bs=1M conv=fsync status=none
t1=$(now)
copy_s=$(calc "$t1 - $t0")
rm -f "$work/out/copy.bin"

log="$work/bench.log"
KK_BENCH_LAYOUT="$work/layout" KK_BENCH_OUT="$work/out" KK_BENCH_ELF="$work/elf.list" \
  swift test -c release --scratch-path "$scratch" -Xswiftc -enable-testing --skip-build \
  --filter VerifyBenchTests 2>&1 | tee "$log" | grep -E '^BENCH|✘' || true
grep -q '✘' "$log" && { echo "benchmark run failed, see $log" >&2; exit 1; }

mbs() { awk "BEGIN { printf \"%d\", $1 / $2 / 1048576 }"; }
echo
echo "| measurement | bytes | seconds | MiB/s | vs openssl |"
echo "|---|---|---|---|---|"
printf '| openssl dgst -sha256 (blob files, 1 core) | %s | %.2f | %s | 1.00x |\n' "$bytes" "$openssl_s" "$(mbs "$bytes" "$openssl_s")"
printf '| cat blobs > file + fsync (writer baseline) | %s | %.2f | %s | - |\n' "$bytes" "$copy_s" "$(mbs "$bytes" "$copy_s")"
grep '^BENCH' "$log" | while read -r _ what rest; do
  set -- $rest
  if [[ $1 == archive=* ]]; then what="$what (${1#archive=} bytes out)"; shift; fi
  b=$1 s=$2
  ratio=$(awk "BEGIN { printf \"%.2fx\", ($b / $s) / ($bytes / $openssl_s) }")
  [[ $what == verify* ]] || ratio="-"
  printf '| %s | %s | %.2f | %s | %s |\n' "$what" "$b" "$s" "$(mbs "$b" "$s")" "$ratio"
done
printf '| gzip -6 of the same ELF bytes (%s bytes out) | %s | %.2f | %s | - |\n' "$gzip6" "$elf_bytes" "$gzip6_s" "$(mbs "$elf_bytes" "$gzip6_s")"
echo
echo "load average at the end of the run: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
