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
# /usr/bin/time; warm page cache.
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
  pids+=($!)
  for i in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && return; sleep 0.1; done
  echo "registry $1 did not start" >&2
  exit 1
}
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.2f\", $1 }"; }
skopeo_all() { # PORT
  local ref
  for ref in "${refs[@]}"; do
    skopeo copy --all --quiet --dest-tls-verify=false "oci:$layout:$ref" "docker://127.0.0.1:$1/$ref"
  done
}
kk_push() { # LOG PORT ARGS...: prints "seconds rss_kib"
  local log=$1 port=$2 t0 t1
  shift 2
  t0=$(now)
  /usr/bin/time -f '%M' -o "$work/rss" "$kk" artifact images push --registry "127.0.0.1:$port" \
    --dest-tls-verify=false "$@" >"$work/$log" 2>&1 || { cat "$work/$log" >&2; exit 1; }
  t1=$(now)
  echo "$(calc "$t1 - $t0") $(cat "$work/rss")"
}
# Fastest of $runs for each row; the tools take turns within each run (skopeo, kk
# --images-dir, kk -a), so that whatever the machine does meanwhile (ext4 scanning past the
# inodes the previous run deleted, page-cache pressure) falls on all of them alike.
min() { awk "BEGIN { print ($1 < $2) ? $1 : $2 }"; }
cat "$layout"/blobs/sha256/* "$artifact" >/dev/null
rm -rf "${work:?}/registries"
skopeo_s=999999 skopeo_re=999999
dir_s=999999 redir_s=999999 art_s=999999 reart_s=999999
for i in $(seq "$runs"); do
  registry skopeo
  t0=$(now); skopeo_all "$port"; t1=$(now); skopeo_s=$(min "$(calc "$t1 - $t0")" "$skopeo_s")
  t0=$(now); skopeo_all "$port"; t1=$(now); skopeo_re=$(min "$(calc "$t1 - $t0")" "$skopeo_re")

  registry kkdir
  read -r s rss < <(kk_push kk-dir.log "$port" --images-dir "$layout")
  if awk "BEGIN { exit !($s < $dir_s) }"; then dir_s=$s dir_rss=$rss; fi
  read -r s rss < <(kk_push re-kk-dir.log "$port" --images-dir "$layout")
  if awk "BEGIN { exit !($s < $redir_s) }"; then redir_s=$s redir_rss=$rss; fi

  registry kkart
  read -r s rss < <(kk_push kk-art.log "$port" -a "$artifact")
  if awk "BEGIN { exit !($s < $art_s) }"; then art_s=$s art_rss=$rss; fi
  read -r s rss < <(kk_push re-kk-art.log "$port" -a "$artifact")
  if awk "BEGIN { exit !($s < $reart_s) }"; then reart_s=$s reart_rss=$rss; fi
done
cleanup
pids=()
rm -rf "${work:?}/registries"

ratio() { awk "BEGIN { printf \"%.2fx\", $1 / $2 }"; }
size=$(stat -c %s "$artifact")
echo "| run | seconds | vs skopeo | peak RSS |"
echo "|---|---|---|---|"
echo "| skopeo copy --all, ${#refs[@]} images one by one | $skopeo_s | 1.00x | - |"
echo "| kk push --images-dir (parallel 6) | $dir_s | $(ratio "$dir_s" "$skopeo_s") | $((dir_rss / 1024)) MiB |"
echo "| kk push -a kubekey-artifact.tar.gz ($((size >> 20)) MiB, kk export) | $art_s | $(ratio "$art_s" "$skopeo_s") | $((art_rss / 1024)) MiB |"
echo "| skopeo re-push | $skopeo_re | 1.00x | - |"
echo "| kk re-push --images-dir | $redir_s | $(ratio "$redir_s" "$skopeo_re") | $((redir_rss / 1024)) MiB |"
echo "| kk re-push -a kubekey-artifact.tar.gz | $reart_s | $(ratio "$reart_s" "$skopeo_re") | $((reart_rss / 1024)) MiB |"
echo
echo "kk --images-dir: $(grep -E '^(images|blobs|sent)' "$work/kk-dir.log" | tr '\n' ';')"
echo "kk -a: $(grep -E '^(images|blobs|sent)' "$work/kk-art.log" | tr '\n' ';')"
echo "kk re-push -a: $(grep -E '^(blobs|sent)' "$work/re-kk-art.log" | tr '\n' ';')"
echo "load average at the end of the run: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
