#!/usr/bin/env bash
# Push benchmark: `kk artifact images push` vs `skopeo copy --all` per image (KubeKey 3.x's
# method) into empty docker-registry instances, in the same run, then the re-push of both.
# Prints a markdown table for bench/RESULTS.md.
#
#   bench/push.sh [WORKDIR]   (default /tmp/kk-bench-push; needs ~3 GiB free)
#
# Images: testdata/gen-images.py --preset bench (15 images x amd64/arm64, ~750 MiB),
# reused when WORKDIR/layout exists. kk pushes from the layout directory (--images-dir) and
# from a tar of it (-a); peak RSS from /usr/bin/time. Warm page cache.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/kk-bench-push}
scratch=${KK_BENCH_SCRATCH:-.build-bench}
mkdir -p "$work"
if [ ! -f "$work/layout/index.json" ]; then
  python3 testdata/gen-images.py generate --out "$work/layout" --preset bench >"$work/summary.json"
fi
[ -f "$work/layout.tar" ] || tar cf "$work/layout.tar" -C "$work/layout" --exclude .ingest .
swift build -c release --scratch-path "$scratch" --product kk >/dev/null
kk="$scratch/release/kk"
refs=$(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["refs"]))' "$work/summary.json")

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
registry() { # NAME PORT: an empty plain-HTTP docker-registry
  rm -rf "$work/$1" && mkdir -p "$work/$1"
  cat >"$work/$1/config.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/$1/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$2}
YML
  docker-registry serve "$work/$1/config.yml" >"$work/$1/log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$2/v2/" >/dev/null && return; sleep 0.1; done
  echo "registry $1 did not start" >&2; exit 1
}
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.2f\", $1 }"; }
skopeo_all() { # PORT
  for ref in $refs; do
    skopeo copy --all --quiet --dest-tls-verify=false "oci:$work/layout:$ref" "docker://127.0.0.1:$1/$ref"
  done
}
kk_push() { # PORT ARGS...: prints "seconds rss_kib"
  local port=$1; shift
  local t0 t1
  t0=$(now)
  /usr/bin/time -f '%M' -o "$work/rss" "$kk" artifact images push --registry "127.0.0.1:$port" \
    --dest-tls-verify=false "$@" >"$work/kk.log" 2>&1 || { cat "$work/kk.log" >&2; exit 1; }
  t1=$(now)
  echo "$(calc "$t1 - $t0") $(cat "$work/rss")"
}
cat "$work"/layout/blobs/sha256/* >/dev/null

registry skopeo 15101
t0=$(now); skopeo_all 15101; t1=$(now); skopeo_s=$(calc "$t1 - $t0")
t0=$(now); skopeo_all 15101; t1=$(now); skopeo_re=$(calc "$t1 - $t0")

registry kkdir 15102
read -r dir_s dir_rss < <(kk_push 15102 --images-dir "$work/layout")
grep -E '^(images|blobs|sent)' "$work/kk.log" >"$work/kk-dir.summary"
read -r redir_s redir_rss < <(kk_push 15102 --images-dir "$work/layout")
grep '^sent' "$work/kk.log" >"$work/kk-redir.summary"

registry kktar 15103
read -r tar_s tar_rss < <(kk_push 15103 -a "$work/layout.tar")
read -r retar_s retar_rss < <(kk_push 15103 -a "$work/layout.tar")

ratio() { awk "BEGIN { printf \"%.2fx\", $1 / $2 }"; }
echo "| run | seconds | vs skopeo | peak RSS |"
echo "|---|---|---|---|"
echo "| skopeo copy --all, 15 images one by one | $skopeo_s | 1.00x | - |"
echo "| kk push --images-dir (parallel 6) | $dir_s | $(ratio "$dir_s" "$skopeo_s") | $((dir_rss / 1024)) MiB |"
echo "| kk push -a layout.tar (tar order: second pass) | $tar_s | $(ratio "$tar_s" "$skopeo_s") | $((tar_rss / 1024)) MiB |"
echo "| skopeo re-push | $skopeo_re | 1.00x | - |"
echo "| kk re-push --images-dir | $redir_s | $(ratio "$redir_s" "$skopeo_re") | $((redir_rss / 1024)) MiB |"
echo "| kk re-push -a layout.tar | $retar_s | $(ratio "$retar_s" "$skopeo_re") | $((retar_rss / 1024)) MiB |"
echo
echo "kk --images-dir: $(tr '\n' ';' <"$work/kk-dir.summary")"
echo "kk re-push: $(cat "$work/kk-redir.summary")"
echo "load average at the end of the run: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
