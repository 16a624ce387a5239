#!/usr/bin/env bash
# Export benchmark: `kk artifact export` against the KubeKey method (`skopeo copy --all` of
# each image into one OCI layout, then `tar czf`), same images, same local registry, same run.
#
#   bench/export.sh [WORKDIR]     (default /tmp/kk-bench-export; needs ~4 GiB free)
#   KK_BENCH_SCRATCH=.build-rel KK_BENCH_NO_BUILD=1 bench/export.sh
#
# Images: testdata/gen-images.py --preset bench (15 images x {amd64, arm64}, ~750 MiB of
# unique, incompressible layers) pushed into a local docker-registry on 127.0.0.1. Each tool
# runs under /usr/bin/time -v (wall time and peak RSS). kk runs cold (empty cache) and warm
# (same cache, new output). Prints a markdown table for bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/kk-bench-export}
scratch=${KK_BENCH_SCRATCH:-.build-rel}
port=${KK_BENCH_PORT:-45999}
mkdir -p "$work"

# KK_BENCH_NO_BUILD=1 reuses an existing release binary (the build takes minutes on 2 cores).
[ -n "${KK_BENCH_NO_BUILD:-}" ] || swift build -c release --scratch-path "$scratch" --product kk >/dev/null
kk="$scratch/release/kk"

if [ ! -f "$work/layout/index.json" ]; then
  python3 testdata/gen-images.py generate --out "$work/layout" --preset bench >"$work/gen.json"
fi

cat >"$work/registry.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/storage}}
http: {addr: 127.0.0.1:$port}
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
trap 'kill $registry_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
if [ ! -f "$work/pushed" ]; then
  python3 testdata/gen-images.py push --layout "$work/layout" --registry "127.0.0.1:$port" >/dev/null
  touch "$work/pushed"
fi

refs=$(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["refs"]))' "$work/gen.json")
unique=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["uniqueBytes"])' "$work/gen.json")
{
  printf 'apiVersion: kubekey.kubesphere.io/v1alpha2\nkind: Manifest\nmetadata: {name: bench}\n'
  printf 'spec:\n  arches: [amd64, arm64]\n  images:\n'
  for r in $refs; do printf '  - 127.0.0.1:%s/%s\n' "$port" "$r"; done
  printf '  registry:\n    auths:\n      "127.0.0.1:%s": {plainHTTP: true}\n' "$port"
} >"$work/manifest.yaml"

# measure NAME COMMAND...: wall seconds and peak RSS (KiB) from /usr/bin/time -v.
measure() {
  local name=$1
  shift
  /usr/bin/time -v "$@" >"$work/$name.out" 2>"$work/$name.time" || {
    cat "$work/$name.time" >&2
    exit 1
  }
  wall=$(grep 'Elapsed (wall clock)' "$work/$name.time" | awk '{print $NF}' |
    awk -F: '{ if (NF == 3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(grep 'Maximum resident set size' "$work/$name.time" | awk '{print $NF}')
  echo "$wall $rss"
}

# KubeKey's method.
rm -rf "$work/skopeo" "$work/kubekey.tar.gz"
cat >"$work/kubekey-method.sh" <<SH
set -e
for r in $(echo $refs); do
  skopeo copy --all --quiet --src-tls-verify=false "docker://127.0.0.1:$port/\$r" "oci:$work/skopeo:\$r"
done
tar czf "$work/kubekey.tar.gz" -C "$work/skopeo" .
SH
read -r base_s base_rss < <(measure kubekey bash "$work/kubekey-method.sh")

# kk cold: empty cache.
rm -rf "$work/cache" "$work"/kk-*.tar.gz
read -r cold_s cold_rss < <(measure kk-cold "$kk" artifact export -m "$work/manifest.yaml" \
  -o "$work/kk-cold.tar.gz" --cache-dir "$work/cache" --json)
read -r warm_s warm_rss < <(measure kk-warm "$kk" artifact export -m "$work/manifest.yaml" \
  -o "$work/kk-warm.tar.gz" --cache-dir "$work/cache" --json)
rm -rf "$work/cache"
read -r noverify_s noverify_rss < <(measure kk-cold-noverify "$kk" artifact export \
  -m "$work/manifest.yaml" -o "$work/kk-noverify.tar.gz" --cache-dir "$work/cache" --json --skip-verify)

fetched_warm=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["downloadedBytes"])' "$work/kk-warm.out")
fetched_cold=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["downloadedBytes"])' "$work/kk-cold.out")
size_kk=$(stat -c %s "$work/kk-cold.tar.gz")
size_base=$(stat -c %s "$work/kubekey.tar.gz")
same=$(cmp -s "$work/kk-cold.tar.gz" "$work/kk-warm.tar.gz" && echo yes || echo no)

# Reference: a durable copy of the artifact's bytes written the naive way (page cache hot, all
# writes first, one fsync at the end, no writeback overlap), to compare kk's pack phase with.
cat "$work/kk-warm.tar.gz" >/dev/null
read -r floor_s _ < <(measure disk-floor dd if="$work/kk-warm.tar.gz" of="$work/dd-floor" bs=1M conv=fsync)
rm -f "$work/dd-floor"

r() { awk "BEGIN { printf \"%.3f\", $1 / $2 }"; }
echo
echo "| run | wall s | vs KubeKey method | peak RSS MiB | blob bytes fetched | artifact bytes |"
echo "|---|---|---|---|---|---|"
printf '| KubeKey method (skopeo copy --all x%s + tar czf) | %.2f | 1.000x | %d | - | %s |\n' \
  "$(echo "$refs" | wc -l)" "$base_s" $((base_rss / 1024)) "$size_base"
printf '| kk export, cold cache | %.2f | %sx | %d | %s | %s |\n' "$cold_s" "$(r "$cold_s" "$base_s")" $((cold_rss / 1024)) "$fetched_cold" "$size_kk"
printf '| kk export, cold cache, --skip-verify | %.2f | %sx | %d | - | - |\n' "$noverify_s" "$(r "$noverify_s" "$base_s")" $((noverify_rss / 1024))
printf '| kk export, warm cache | %.2f | %sx | %d | %s | %s |\n' "$warm_s" "$(r "$warm_s" "$base_s")" $((warm_rss / 1024)) "$fetched_warm" "$(stat -c %s "$work/kk-warm.tar.gz")"
echo
echo "unique blob bytes (generator): $unique; kk artifact / unique = $(r "$size_kk" "$unique"); cold and warm artifacts byte-identical: $same"
echo "naive durable copy (dd conv=fsync of the artifact's bytes): ${floor_s} s = $(r "$floor_s" "$base_s")x of the KubeKey method"
python3 -c 'import json,sys
for f in sys.argv[1:]:
    d = json.load(open(f)); print(f.rsplit("/", 1)[-1], "phases s:", {k: round(v, 2) for k, v in d["seconds"].items()})' \
  "$work/kk-cold.out" "$work/kk-warm.out"
echo "load average at the end of the run: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
