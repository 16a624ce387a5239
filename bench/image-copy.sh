#!/usr/bin/env bash
# Image copy benchmark (issue 3): `kk image copy --all` vs `skopeo copy --all` of the bench
# image set (~15 images x {amd64, arm64}, ~750 MiB unique) from a local docker-registry into
# ONE OCI layout, one image per invocation for both tools (the same loop shape). Wall time
# and peak RSS (largest single process) come from /usr/bin/time -v around each loop.
# Prints a markdown table for bench/RESULTS.md.
#
#   bench/image-copy.sh [WORKDIR]        (default /tmp/kk-bench-copy; ~3 GiB)
#
# Environment: KK_BENCH_SCRATCH (release build path, default .build-rel), KK_BENCH_RUNS
# (runs per row, fastest kept; default 1), KK_BENCH_PARALLEL (extra kk rows, default "8").
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
work=${1:-/tmp/kk-bench-copy}
scratch=${KK_BENCH_SCRATCH:-.build-rel}
runs=${KK_BENCH_RUNS:-1}
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

# row NAME CMD-PREFIX...: best wall of $runs runs of `loop`; prints NAME|wall|cpu|rssKiB|blobs.
row() {
  local name=$1 best="" t
  shift
  for _ in $(seq 1 "$runs"); do
    : >"$work/$name.log"
    bench_time "$work/$name.time" bash -c "$(declare -p refs work BENCH_REGISTRY); $(declare -f loop); loop $(printf '%q ' "$name" "$@")"
    t="$(bench_wall "$work/$name.time")|$(bench_cpu "$work/$name.time")|$(bench_rss_kib "$work/$name.time")"
    if [ -z "$best" ] || awk -v a="${t%%|*}" -v b="${best%%|*}" 'BEGIN { exit !(a < b) }'; then best=$t; fi
  done
  echo "$name|$best|$(find "$work/out-$name/layout/blobs" -type f | wc -l)"
}

rows="$work/rows"
: >"$rows"
row skopeo skopeo copy --all --quiet --src-tls-verify=false >>"$rows"
row kk "$kk" image copy --all --src-tls-verify=false >>"$rows"
for p in ${KK_BENCH_PARALLEL-8}; do
  row "kk-parallel-$p" "$kk" image copy --all --src-tls-verify=false --parallel "$p" >>"$rows"
done
# Both layouts must hold the same blobs: a faster copy that dropped one is no result.
diff <(cd "$work/out-skopeo/layout/blobs/sha256" && ls) <(cd "$work/out-kk/layout/blobs/sha256" && ls) >"$work/blobs.diff" \
  || echo "note: skopeo and kk layouts differ in blobs, see $work/blobs.diff" >&2

skopeo_wall=$(awk -F'|' '$1 == "skopeo" { print $2 }' "$rows")
echo "| loop (${#refs[@]} images, one invocation each) | wall s | CPU s | peak RSS MiB | blobs | wall / skopeo |"
echo "|---|---|---|---|---|---|"
awk -F'|' -v s="$skopeo_wall" '{ printf "| %s | %.2f | %.2f | %.1f | %d | %.2fx |\n", $1, $2, $3, $4 / 1024, $5, $2 / s }' "$rows"
