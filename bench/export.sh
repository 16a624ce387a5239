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
#
# Binaries set (issue 5; KK_BENCH_BINARIES=0 skips it): real ELF files of this machine, a
# different set per arch (~300 MB each, so nothing dedupes), served by
# testdata/catalog/fileserver.py as kk's --download-mirror and pinned by sha256 in the
# manifest (kubeadm, kubelet, kubectl of kubernetes v1.22.12). Rows: the images plus the
# binaries (KubeKey method: skopeo as above, curl of each file from the same server, one
# `tar czf` of both), and kk on the binaries alone, cold (whose artifact size is compared
# with `gzip -6` of the same files) and warm (the binaries' gzip members copied from the
# cache; the artifact must be byte-identical to the cold one).
#
# KK_BENCH_RUNS (default 3): cold/warm pairs per kk row (each pair starts from an empty
# cache; the median is reported, every run listed). Every measured command starts after a
# `sync`, so no run pays for the writeback of the one before.
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

runs=${KK_BENCH_RUNS:-3}
# measure NAME COMMAND...: wall seconds and peak RSS (KiB) from /usr/bin/time -v.
measure() {
  local name=$1
  shift
  sync
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
# Its scratch layout is not a result: removing it lets kk's first run reuse those page-cache
# pages as later runs reuse the pages of the cache the run before freed (on this VM a fresh
# page costs the writer extra; the first kk run after the KubeKey method was always slowest).
rm -rf "$work/skopeo"

median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# cold_and_warm PREFIX CACHE EXPORT-ARGS...: $runs pairs of kk runs, cold (empty CACHE) then
# warm (same cache, a new output file); prints the cold median, the cold peak RSS, the warm
# median, the warm peak RSS, and every cold and warm time ("a/b/c").
cold_and_warm() {
  local prefix=$1 cache=$2 colds=() warms=() crss=0 wrss=0 s r
  shift 2
  for _ in $(seq "$runs"); do
    rm -rf "$cache" "$work/$prefix-cold.tar.gz" "$work/$prefix-warm.tar.gz"
    read -r s r < <(measure "$prefix-cold" "$kk" artifact export "$@" \
      -o "$work/$prefix-cold.tar.gz" --cache-dir "$cache" --json)
    colds+=("$s")
    ((r > crss)) && crss=$r
    read -r s r < <(measure "$prefix-warm" "$kk" artifact export "$@" \
      -o "$work/$prefix-warm.tar.gz" --cache-dir "$cache" --json)
    warms+=("$s")
    ((r > wrss)) && wrss=$r
  done
  echo "$(median "${colds[@]}") $crss $(median "${warms[@]}") $wrss" \
    "$(IFS=/; echo "${colds[*]}") $(IFS=/; echo "${warms[*]}")"
}

# kk cold (empty cache) and warm, $runs times.
rm -rf "$work/cache" "$work"/kk-*.tar.gz
read -r cold_s cold_rss warm_s warm_rss cold_all warm_all < <(cold_and_warm kk "$work/cache" \
  -m "$work/manifest.yaml")
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

binaries_rows=""
if [ "${KK_BENCH_BINARIES:-1}" != 0 ]; then
  # kube/<v>/<arch>/<binary> in the artifact; sources must be regular ELF files, distinct.
  declare -A elf=(
    [amd64/kubeadm]=/opt/swift/usr/bin/clang-21
    [amd64/kubelet]=/opt/swift/usr/bin/lldb-server
    [amd64/kubectl]=/usr/bin/ctr
    [arm64/kubeadm]=/opt/swift/usr/lib/libclang.so.21.0.0
    [arm64/kubelet]=/usr/lib/x86_64-linux-gnu/libLLVM-14.so.1
    [arm64/kubectl]=/usr/bin/node
  )
  version=v1.22.12
  mirror_root="$work/mirror"
  for key in "${!elf[@]}"; do
    src=$(readlink -f "${elf[$key]}")
    [ "$(head -c4 "$src" | od -An -c | tr -d ' ')" = "177ELF" ] || { echo "not an ELF file: $src" >&2; exit 1; }
    dest="$mirror_root/dl.k8s.io/release/$version/bin/linux/$key"
    mkdir -p "$(dirname "$dest")"
    ln -sf "$src" "$dest"
  done
  # sha256 pins (python hashlib), computed once per work dir.
  [ -f "$work/binaries.json" ] || python3 - "$mirror_root" "$version" >"$work/binaries.json" <<'PY'
import hashlib, json, os, sys
root, version = sys.argv[1], sys.argv[2]
pins, sizes = {}, {}
for arch in ("amd64", "arm64"):
    for binary in ("kubeadm", "kubelet", "kubectl"):
        path = os.path.join(root, "dl.k8s.io/release", version, "bin/linux", arch, binary)
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        pins.setdefault(binary, {})[arch] = h.hexdigest()
        sizes[f"{arch}/{binary}"] = os.path.getsize(path)
print(json.dumps({"pins": pins, "sizes": sizes, "total": sum(sizes.values())}))
PY
  binaries_total=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["total"])' "$work/binaries.json")
  python3 testdata/catalog/fileserver.py "$mirror_root" >"$work/fileserver.log" 2>&1 &
  fileserver_pid=$!
  trap 'kill $registry_pid $fileserver_pid 2>/dev/null || true' EXIT
  for _ in $(seq 50); do grep -q '^PORT ' "$work/fileserver.log" && break; sleep 0.1; done
  mirror="http://127.0.0.1:$(awk '/^PORT /{print $2; exit}' "$work/fileserver.log")/files"

  # components: the three kubernetes binaries, pinned; everything else not bundled.
  components() {
    python3 - "$work/binaries.json" "$version" <<'PY'
import json, sys
pins = json.load(open(sys.argv[1]))["pins"]
print("  kubernetesDistributions:\n  - type: kubernetes\n    version: %s\n    sha256:" % sys.argv[2])
for binary, arches in pins.items():
    print("      %s:" % binary)
    for arch, digest in arches.items():
        print("        %s: %s" % (arch, digest))
print("  components:")
for key in ("helm", "cni", "etcd", "calicoctl", "crictl"):
    print('    %s: {version: ""}' % key)
PY
  }
  # manifest.yaml: apiVersion, kind, metadata, spec:, arches, images...
  head -n 5 "$work/manifest.yaml" >"$work/manifest-binaries.yaml"
  components >>"$work/manifest-binaries.yaml"
  tail -n +6 "$work/manifest.yaml" >>"$work/manifest-binaries.yaml"
  { head -n 5 "$work/manifest.yaml"; components; echo "  images: []"; } >"$work/manifest-binonly.yaml"

  # KubeKey method with the binaries: skopeo as above, curl each file, one tar czf of both.
  rm -rf "$work/skopeo" "$work/kubekey-bin.tar.gz" "$work/kube"
  {
    echo "set -e"
    for r in $refs; do
      echo "skopeo copy --all --quiet --src-tls-verify=false docker://127.0.0.1:$port/$r oci:$work/skopeo:$r"
    done
    for key in "${!elf[@]}"; do
      echo "curl -fsS --create-dirs -o $work/kube/$version/$key $mirror/dl.k8s.io/release/$version/bin/linux/$key"
    done
    echo "tar czf $work/kubekey-bin.tar.gz -C $work skopeo kube"
  } >"$work/kubekey-method-bin.sh"
  read -r basebin_s basebin_rss < <(measure kubekey-bin bash "$work/kubekey-method-bin.sh")
  rm -rf "$work/skopeo" "$work/kube"

  export KKZONE=
  read -r bincold_s bincold_rss binwarm_s binwarm_rss bincold_all binwarm_all < <(
    cold_and_warm kk-bin "$work/cache-bin" -m "$work/manifest-binaries.yaml" \
      --download-mirror "$mirror")
  rm -rf "$work/cache-binonly"
  read -r binonly_s binonly_rss < <(measure kk-binonly "$kk" artifact export \
    -m "$work/manifest-binonly.yaml" -o "$work/kk-binonly.tar.gz" --cache-dir "$work/cache-binonly" \
    --download-mirror "$mirror" --json)
  # Warm: the binaries' gzip members come from the cache (copied, not deflated again).
  read -r binonlywarm_s binonlywarm_rss < <(measure kk-binonly-warm "$kk" artifact export \
    -m "$work/manifest-binonly.yaml" -o "$work/kk-binonly-warm.tar.gz" \
    --cache-dir "$work/cache-binonly" --download-mirror "$mirror" --json)
  binsame=$(cmp -s "$work/kk-binonly.tar.gz" "$work/kk-binonly-warm.tar.gz" && echo yes || echo no)
  rm -rf "$work/cache-bin" "$work/cache-binonly"
  # gzip -6 of the same files, each on its own (what a per-file deflate can reach).
  gzip6=0
  for key in "${!elf[@]}"; do
    gzip6=$((gzip6 + $(gzip -6 -c "$mirror_root/dl.k8s.io/release/$version/bin/linux/$key" | wc -c)))
  done
  binonly_size=$(stat -c %s "$work/kk-binonly.tar.gz")
  binaries_rows=$(
    printf '| KubeKey method, images + binaries (skopeo + curl x6 + tar czf) | %.2f | 1.000x | %d | - | %s |\n' \
      "$basebin_s" $((basebin_rss / 1024)) "$(stat -c %s "$work/kubekey-bin.tar.gz")"
    printf '| kk export, images + binaries, cold cache (median of %s: %s s) | %.2f | %sx | %d | %s | %s |\n' \
      "$runs" "$bincold_all" "$bincold_s" \
      "$(awk "BEGIN { printf \"%.3f\", $bincold_s / $basebin_s }")" $((bincold_rss / 1024)) \
      "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["downloadedBytes"])' "$work/kk-bin-cold.out")" \
      "$(stat -c %s "$work/kk-bin-cold.tar.gz")"
    printf '| kk export, images + binaries, warm cache (median of %s: %s s) | %.2f | %sx | %d | %s | %s |\n' \
      "$runs" "$binwarm_all" "$binwarm_s" \
      "$(awk "BEGIN { printf \"%.3f\", $binwarm_s / $basebin_s }")" $((binwarm_rss / 1024)) \
      "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["downloadedBytes"])' "$work/kk-bin-warm.out")" \
      "$(stat -c %s "$work/kk-bin-warm.tar.gz")"
    printf '| kk export, binaries only, cold cache | %.2f | - | %d | - | %s |\n' "$binonly_s" \
      $((binonly_rss / 1024)) "$binonly_size"
    printf '| kk export, binaries only, warm cache | %.2f | - | %d | - | %s |\n' "$binonlywarm_s" \
      $((binonlywarm_rss / 1024)) "$(stat -c %s "$work/kk-binonly-warm.tar.gz")"
  )
  binaries_note="binaries: $binaries_total bytes of ELF in 6 files; kk binaries-only artifact $binonly_size bytes vs gzip -6 of the same files $gzip6 bytes = $(awk "BEGIN { printf \"%.3f\", $binonly_size / $gzip6 }")x (target <= 1.10x); binaries-only cold and warm artifacts byte-identical: $binsame"
fi

r() { awk "BEGIN { printf \"%.3f\", $1 / $2 }"; }
echo
echo "| run | wall s | vs KubeKey method | peak RSS MiB | blob bytes fetched | artifact bytes |"
echo "|---|---|---|---|---|---|"
printf '| KubeKey method (skopeo copy --all x%s + tar czf) | %.2f | 1.000x | %d | - | %s |\n' \
  "$(echo "$refs" | wc -l)" "$base_s" $((base_rss / 1024)) "$size_base"
printf '| kk export, cold cache (median of %s: %s s) | %.2f | %sx | %d | %s | %s |\n' "$runs" "$cold_all" "$cold_s" "$(r "$cold_s" "$base_s")" $((cold_rss / 1024)) "$fetched_cold" "$size_kk"
printf '| kk export, cold cache, --skip-verify | %.2f | %sx | %d | - | - |\n' "$noverify_s" "$(r "$noverify_s" "$base_s")" $((noverify_rss / 1024))
printf '| kk export, warm cache (median of %s: %s s) | %.2f | %sx | %d | %s | %s |\n' "$runs" "$warm_all" "$warm_s" "$(r "$warm_s" "$base_s")" $((warm_rss / 1024)) "$fetched_warm" "$(stat -c %s "$work/kk-warm.tar.gz")"
[ -z "$binaries_rows" ] || echo "$binaries_rows"
echo
[ -z "$binaries_rows" ] || echo "$binaries_note"
echo "unique blob bytes (generator): $unique; kk artifact / unique = $(r "$size_kk" "$unique"); cold and warm artifacts byte-identical: $same"
echo "naive durable copy (dd conv=fsync of the artifact's bytes): ${floor_s} s = $(r "$floor_s" "$base_s")x of the KubeKey method"
python3 -c 'import json,sys
for f in sys.argv[1:]:
    d = json.load(open(f)); print(f.rsplit("/", 1)[-1], "phases s:", {k: round(v, 2) for k, v in d["seconds"].items()})' \
  "$work/kk-cold.out" "$work/kk-warm.out" $([ -z "$binaries_rows" ] || echo "$work/kk-bin-cold.out $work/kk-bin-warm.out $work/kk-binonly.out $work/kk-binonly-warm.out")
echo "load average at the end of the run: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
