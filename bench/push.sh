#!/usr/bin/env bash
# Push benchmark: `kk artifact images push` vs `skopeo copy --all` per image (KubeKey 3.x's
# method) into empty docker-registry instances, in the same run, then the re-push of both.
# Prints a markdown table for bench/RESULTS.md.
#
#   bench/push.sh [WORKDIR]   (default /tmp/kk-bench-push; needs ~4 GiB free)
#
# Images: testdata/gen-images.py --preset bench (15 images x amd64/arm64, ~750 MiB), made
# once into WORKDIR/cache by bench/common.sh (layout + a registry storage holding them). The
# artifact is the real format: `kk artifact export` of those images from that registry into
# WORKDIR/kubekey-artifact.tar.gz (SPEC order: index and manifests first), made once.
# kk pushes it with `-a` and the layout with `--images-dir`; skopeo copies each image from the
# layout (what KubeKey 3.x does after unpacking its artifact). Wall time and peak RSS from
# /usr/bin/time; warm page cache. Each push also reports the CPU seconds the registry spent
# serving it (its /proc stat) and the tool's own (user + sys): on a 2-core machine the sum
# over 2 is a floor no client can go below, since docker-registry hashes every byte it takes.
#
# A further row times KubeKey 3.x's `artifact image push -a` as a whole: it checks the
# artifact's md5 against the last unpack, unpacks it into its work dir, then copies image by
# image (md5sum + tar -xzf + the same skopeo loop from the unpacked layout).
#
# Environment: KK_BENCH_SCRATCH (release build path, default .build-bench), KK_BENCH_NO_BUILD=1
# (reuse the binary there), KK_BENCH_RUNS (runs per row, fastest kept; default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
work=${1:-/tmp/kk-bench-push}
scratch=${KK_BENCH_SCRATCH:-.build-bench}
runs=${KK_BENCH_RUNS:-1}
mkdir -p "$work"
[ -n "${KK_BENCH_NO_BUILD:-}" ] || swift build -c release --scratch-path "$scratch" --product kk >/dev/null
kk="$scratch/release/kk"

bench_seed "$work/cache"
layout="$work/cache/layout"
mapfile -t refs <"$work/cache/refs"
artifact="$work/kubekey-artifact.tar.gz"
if [ ! -f "$artifact" ]; then
  bench_registry_start "$work/cache/storage"
  {
    printf 'apiVersion: kubekey.kubesphere.io/v1alpha2\nkind: Manifest\nmetadata: {name: bench}\n'
    printf 'spec:\n  arches: [amd64, arm64]\n  images:\n'
    for r in "${refs[@]}"; do printf '  - %s/%s\n' "$BENCH_REGISTRY" "$r"; done
    printf '  registry:\n    auths:\n      "%s": {plainHTTP: true}\n' "$BENCH_REGISTRY"
  } >"$work/manifest.yaml"
  rm -rf "$work/export-cache"
  "$kk" artifact export -m "$work/manifest.yaml" -o "$artifact" --cache-dir "$work/export-cache" \
    >"$work/export.log" 2>&1 || { tail -n 20 "$work/export.log" >&2; exit 1; }
  rm -rf "$work/export-cache"
  bench_registry_stop
fi

pids=()
registry_pid=
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
port=
serial=0
last_dir=
registry() { # NAME: an empty plain-HTTP docker-registry in a directory of its own; sets $port
  # The previous registry and its data go first (its pages are reused: on this VM pages the
  # page cache has not held for a while cost extra to touch, and keeping every run's 750 MiB
  # made later runs slower), then a sync, so no run pays for the writeback of the one before.
  local i dir
  cleanup
  pids=()
  [ -z "$last_dir" ] || rm -rf "$last_dir"
  sync
  serial=$((serial + 1))
  dir="$work/registries/$1-$serial"
  last_dir=$dir
  mkdir -p "$dir"
  port=$(bench_free_port)
  cat >"$dir/config.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
YML
  docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  registry_pid=$!
  pids+=($!)
  for i in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && return; sleep 0.1; done
  echo "registry $1 did not start" >&2
  exit 1
}
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.2f\", $1 }"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
skopeo_all() { # PORT [LAYOUT [PREFIX]]: prints "seconds tool_cpu registry_cpu"
  local from=${2:-$layout} prefix=${3:-} r0 r1
  r0=$(cpu_ticks "$registry_pid")
  /usr/bin/time -f '%e %U %S' -o "$work/skopeo.time" bash -c '
    port=$1 from=$2 prefix=$3; shift 3
    for ref; do
      skopeo copy --all --quiet --dest-tls-verify=false "oci:$from:$prefix$ref" "docker://127.0.0.1:$port/$ref" || exit 1
    done' _ "$1" "$from" "$prefix" "${refs[@]}" || exit 1
  r1=$(cpu_ticks "$registry_pid")
  read -r e u s <"$work/skopeo.time"
  echo "$e $(calc "$u + $s") $(calc "($r1 - $r0) / 100")"
}
kubekey_a() { # PORT: KubeKey 3.x's `artifact image push -a`: md5, unpack, copy image by image
  local t0 t1 e c r
  t0=$(now)
  rm -rf "$work/unpacked"
  mkdir -p "$work/unpacked"
  md5sum "$artifact" >"$work/unpacked.md5"
  tar -xzf "$artifact" -C "$work/unpacked"
  read -r e c r < <(skopeo_all "$1" "$work/unpacked" "$art_prefix")
  t1=$(now)
  rm -rf "$work/unpacked"
  echo "$(calc "$t1 - $t0") $r"
}
kk_push() { # LOG PORT ARGS...: prints "seconds rss_kib tool_cpu registry_cpu"
  local log=$1 port=$2 t0 t1 r0 r1
  shift 2
  r0=$(cpu_ticks "$registry_pid")
  t0=$(now)
  /usr/bin/time -f '%M %U %S' -o "$work/rss" "$kk" artifact images push --registry "127.0.0.1:$port" \
    --dest-tls-verify=false "$@" >"$work/$log" 2>&1 || { cat "$work/$log" >&2; exit 1; }
  t1=$(now)
  r1=$(cpu_ticks "$registry_pid")
  read -r m u s <"$work/rss"
  echo "$(calc "$t1 - $t0") $m $(calc "$u + $s") $(calc "($r1 - $r0) / 100")"
}
# Fastest of $runs for each row; the tools take turns within each run (skopeo, kk
# --images-dir, kk -a), so that whatever the machine does meanwhile (ext4 scanning past the
# inodes the previous run deleted, page-cache pressure) falls on all of them alike.
# keep ROW SECONDS RSS_KIB TOOL_CPU REGISTRY_CPU: the row's fastest run so far.
declare -A best_s best_rss best_cpu best_reg
keep() {
  if [ -z "${best_s[$1]:-}" ] || awk "BEGIN { exit !($2 < ${best_s[$1]}) }"; then
    best_s[$1]=$2 best_rss[$1]=$3 best_cpu[$1]=$4 best_reg[$1]=$5
  fi
}
art_prefix=$(tar -xzOf "$artifact" index.json | python3 -c '
import json, sys
names = [m["annotations"]["org.opencontainers.image.ref.name"]
         for m in json.load(sys.stdin)["manifests"] if m.get("annotations", {}).get("io.containerd.image.name")]
print(names[0].split("/")[0] + "/")')
cat "$layout"/blobs/sha256/* "$artifact" >/dev/null
rm -rf "${work:?}/registries"
for i in $(seq "$runs"); do
  registry skopeo
  read -r s c r < <(skopeo_all "$port"); keep skopeo "$s" 0 "$c" "$r"
  read -r s c r < <(skopeo_all "$port"); keep skopeo_re "$s" 0 "$c" "$r"

  registry kkdir
  read -r s m c r < <(kk_push kk-dir.log "$port" --images-dir "$layout"); keep dir "$s" "$m" "$c" "$r"
  read -r s m c r < <(kk_push re-kk-dir.log "$port" --images-dir "$layout"); keep redir "$s" "$m" "$c" "$r"

  registry kkart
  read -r s m c r < <(kk_push kk-art.log "$port" -a "$artifact"); keep art "$s" "$m" "$c" "$r"
  read -r s m c r < <(kk_push re-kk-art.log "$port" -a "$artifact"); keep reart "$s" "$m" "$c" "$r"

  registry kubekey
  read -r s r < <(kubekey_a "$port"); keep kubekey "$s" 0 - "$r"
done
cleanup
pids=()
rm -rf "${work:?}/registries"

ratio() { awk "BEGIN { printf \"%.2fx\", $1 / $2 }"; }
rss() { [ "${best_rss[$1]}" = 0 ] && echo - || echo "$((best_rss[$1] / 1024)) MiB"; }
# The floor on this machine: (registry CPU + tool CPU) / cores, as if both were never idle.
floor() { awk "BEGIN { printf \"%.2f\", (${best_reg[$1]} + ${best_cpu[$1]}) / $(nproc) }"; }
row() { # ROW LABEL BASE
  echo "| $2 | ${best_s[$1]} | $(ratio "${best_s[$1]}" "${best_s[$3]}") | $(rss "$1") | ${best_cpu[$1]} | ${best_reg[$1]} | $(floor "$1") |"
}
size=$(stat -c %s "$artifact")
echo "| run | seconds | vs skopeo | peak RSS | tool CPU s | registry CPU s | CPU floor s |"
echo "|---|---|---|---|---|---|---|"
row skopeo "skopeo copy --all, ${#refs[@]} images one by one" skopeo
row dir "kk push --images-dir (parallel 6)" skopeo
row art "kk push -a kubekey-artifact.tar.gz ($((size >> 20)) MiB, kk export)" skopeo
row skopeo_re "skopeo re-push" skopeo_re
row redir "kk re-push --images-dir" skopeo_re
row reart "kk re-push -a kubekey-artifact.tar.gz" skopeo_re
echo
echo "KubeKey 3.x's whole \`artifact image push -a\` (md5sum + tar -xzf + the skopeo loop from the"
echo "unpacked layout): ${best_s[kubekey]} s (registry CPU ${best_reg[kubekey]} s); kk push -a:"
echo "$(ratio "${best_s[art]}" "${best_s[kubekey]}") of it."
echo
echo "kk --images-dir: $(grep -E '^(images|blobs|sent)' "$work/kk-dir.log" | tr '\n' ';')"
echo "kk -a: $(grep -E '^(images|blobs|sent)' "$work/kk-art.log" | tr '\n' ';')"
echo "kk re-push -a: $(grep -E '^(blobs|sent)' "$work/re-kk-art.log" | tr '\n' ';')"
echo "load average at the end of the run: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
