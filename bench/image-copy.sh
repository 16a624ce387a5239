#!/usr/bin/env bash
# Image copy benchmark (issue 3): `kk image copy --all` vs `skopeo copy --all` of the bench
# image set (~15 images x {amd64, arm64}, ~750 MiB unique) from a local docker-registry into
# ONE OCI layout, one image per invocation for both tools (the same loop shape). Wall time
# and peak RSS (largest single process) come from /usr/bin/time -v around each loop.
# Rows are interleaved (skopeo, kk, kk --parallel N, then again) so that load from other
# work on the machine hits every row alike; each row reports the median of its runs.
# Prints a markdown table for bench/RESULTS.md.
#
#   bench/image-copy.sh [WORKDIR]        (default /tmp/kk-bench-copy; ~3 GiB)
#
# Environment: KK_BENCH_SCRATCH (release build path, default .build-rel), KK_BENCH_RUNS
# (runs per row, median reported; default 3), KK_BENCH_PARALLEL (extra kk rows, default "8").
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
work=${1:-/tmp/kk-bench-copy}
scratch=${KK_BENCH_SCRATCH:-.build-rel}
runs=${KK_BENCH_RUNS:-3}
mkdir -p "$work"

swift build -c release --product kk --scratch-path "$scratch" >"$work/build.log" 2>&1 \
  || { tail -n 30 "$work/build.log" >&2; exit 1; }
kk="$scratch/release/kk"

bench_seed "$work/cache"
bench_registry_start "$work/cache/storage"
mapfile -t refs <"$work/cache/refs"
find "$work/cache/storage" -type f -exec cat {} + >/dev/null # warm the page cache

# loop NAME CMD-PREFIX...: copies every ref into a fresh layout $work/out-NAME, one
# invocation per image; CMD-PREFIX gets "docker://REG/REF oci:LAYOUT:REF" appended.
loop() {
  local name=$1
  shift
  local out="$work/out-$name"
  rm -rf "$out"
  mkdir -p "$out"
  for ref in "${refs[@]}"; do
    "$@" "docker://$BENCH_REGISTRY/$ref" "oci:$out/layout:$ref" >>"$work/$name.log" 2>&1 \
      || { echo "$name failed on $ref, see $work/$name.log" >&2; return 1; }
  done
}

# sample NAME CMD-PREFIX...: one timed `loop`; appends NAME|wall|cpu|rssKiB to $samples.
sample() {
  local name=$1
  shift
  : >"$work/$name.log"
  bench_time "$work/$name.time" bash -c "$(declare -p refs work BENCH_REGISTRY); $(declare -f loop); loop $(printf '%q ' "$name" "$@")"
  echo "$name|$(bench_wall "$work/$name.time")|$(bench_cpu "$work/$name.time")|$(bench_rss_kib "$work/$name.time")" >>"$samples"
}

samples="$work/samples"
: >"$samples"
names=(skopeo kk)
for p in ${KK_BENCH_PARALLEL-8}; do names+=("kk-parallel-$p"); done
for run in $(seq 1 "$runs"); do
  echo "run $run/$runs (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  sample skopeo skopeo copy --all --quiet --src-tls-verify=false
  sample kk "$kk" image copy --all --src-tls-verify=false
  for p in ${KK_BENCH_PARALLEL-8}; do
    sample "kk-parallel-$p" "$kk" image copy --all --src-tls-verify=false --parallel "$p"
  done
done

# One row per name: median wall, median CPU, largest peak RSS, blobs in its layout.
rows="$work/rows"
: >"$rows"
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for name in "${names[@]}"; do
  wall=$(awk -F'|' -v n="$name" '$1 == n { print $2 }' "$samples" | median)
  cpu=$(awk -F'|' -v n="$name" '$1 == n { print $3 }' "$samples" | median)
  rss=$(awk -F'|' -v n="$name" '$1 == n && $4 > m { m = $4 } END { print m }' "$samples")
  echo "$name|$wall|$cpu|$rss|$(find "$work/out-$name/layout/blobs" -type f | wc -l)" >>"$rows"
done
# Both layouts must hold the same blobs: a faster copy that dropped one is no result.
diff <(cd "$work/out-skopeo/layout/blobs/sha256" && ls) <(cd "$work/out-kk/layout/blobs/sha256" && ls) >"$work/blobs.diff" \
  || echo "note: skopeo and kk layouts differ in blobs, see $work/blobs.diff" >&2

skopeo_wall=$(awk -F'|' '$1 == "skopeo" { print $2 }' "$rows")
echo "| loop (${#refs[@]} images, one invocation each; median of $runs interleaved runs) | wall s | CPU s | peak RSS MiB | blobs | wall / skopeo |"
echo "|---|---|---|---|---|---|"
awk -F'|' -v s="$skopeo_wall" '{ printf "| %s | %.2f | %.2f | %.1f | %d | %.2fx |\n", $1, $2, $3, $4 / 1024, $5, $2 / s }' "$rows"
{
  echo "samples (name|wall s|CPU s|peak RSS KiB), in run order:"
  cat "$samples"
} >&2
