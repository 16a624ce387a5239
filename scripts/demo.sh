#!/usr/bin/env bash
# The main job end to end on local data, no internet: a local docker-registry seeded with
# generated multi-arch images stands in for the upstream registries.
#   bash scripts/demo.sh            (KEEP=1 keeps the work dir for a look afterwards)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

bash scripts/install-deps.sh
echo "== building kk (release)"
swift build -c release --product kk 2>&1 | tail -1
kk="$repo/.build/release/kk"

work=$(mktemp -d /tmp/kk-demo-XXXXXX)
registry_pid=""
private_pid=""
cleanup() {
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null || true
  [ -n "$private_pid" ] && kill "$private_pid" 2>/dev/null || true
  [ "${KEEP:-0}" = 1 ] && echo "work dir kept: $work" || rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port=$(free_port)
port2=$(free_port)
mkdir -p "$work/registry"
cat >"$work/registry.yml" <<YAML
version: 0.1
storage:
  filesystem: {rootdirectory: $work/registry}
  delete: {enabled: true}
http: {addr: 127.0.0.1:$port}
log: {level: error}
YAML
echo "== starting docker-registry on 127.0.0.1:$port"
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done

echo "== generating multi-arch images and pushing them with skopeo"
python3 testdata/gen-images.py generate --preset small --images 6 --out "$work/generated" >/dev/null
python3 testdata/gen-images.py push --layout "$work/generated" --registry "127.0.0.1:$port" >/dev/null

refs=$(python3 -c 'import json,sys; print("\n".join(m["annotations"]["org.opencontainers.image.ref.name"] for m in json.load(open(sys.argv[1]))["manifests"]))' "$work/generated/index.json")

echo "== writing a KubeKey manifest that lists them"
{
  cat <<YAML
apiVersion: kubekey.kubesphere.io/v1alpha2
kind: Manifest
metadata:
  name: demo
spec:
  arches: [amd64, arm64]
  images:
YAML
  for ref in $refs; do echo "  - 127.0.0.1:$port/$ref"; done
  cat <<YAML
  registry:
    auths:
      "127.0.0.1:$port":
        plainHTTP: true
YAML
} >"$work/manifest.yaml"
cat "$work/manifest.yaml"

echo "== kk artifact export"
"$kk" artifact export -m "$work/manifest.yaml" -o "$work/kubekey-artifact.tar.gz" --cache-dir "$work/cache"
echo "== kk artifact export again: everything comes from the cache, byte-identical"
"$kk" artifact export -m "$work/manifest.yaml" -o "$work/again.tar.gz" --cache-dir "$work/cache"
cmp "$work/kubekey-artifact.tar.gz" "$work/again.tar.gz" && echo "identical"

echo "== kk artifact verify"
"$kk" artifact verify -a "$work/kubekey-artifact.tar.gz"
echo "== kk artifact inspect"
"$kk" artifact inspect -a "$work/kubekey-artifact.tar.gz"

echo "== starting a second, empty registry (the air-gapped side) on 127.0.0.1:$port2"
mkdir -p "$work/private"
sed -e "s#$work/registry#$work/private#" -e "s#127.0.0.1:$port#127.0.0.1:$port2#" \
  "$work/registry.yml" >"$work/private.yml"
docker-registry serve "$work/private.yml" >"$work/private.log" 2>&1 &
private_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port2/v2/" >/dev/null && break; sleep 0.1; done

echo "== kk artifact images push (streams from the archive, manifests byte-for-byte)"
"$kk" artifact images push -a "$work/kubekey-artifact.tar.gz" \
  --registry "127.0.0.1:$port2" --dest-tls-verify=false
echo "== digests upstream vs pushed (skopeo)"
for ref in $refs; do
  upstream=$(skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$port/$ref" | openssl dgst -sha256 -r | cut -c1-64)
  pushed=$(skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$port2/$ref" | openssl dgst -sha256 -r | cut -c1-64)
  printf '%-28s upstream sha256:%.12s  pushed sha256:%.12s  %s\n' "$ref" "$upstream" "$pushed" \
    "$([ "$upstream" = "$pushed" ] && echo same || echo DIFFERENT)"
  [ "$upstream" = "$pushed" ]
done

echo "== a corrupted copy is refused, naming the blob"
mkdir -p "$work/corrupt"
tar -xzf "$work/kubekey-artifact.tar.gz" -C "$work/corrupt"
victim=$(ls -S "$work/corrupt/blobs/sha256" | head -1)
printf 'X' | dd of="$work/corrupt/blobs/sha256/$victim" bs=1 seek=100 conv=notrunc status=none
if "$kk" artifact verify -a "$work/corrupt" >"$work/corrupt.out"; then
  echo "verify accepted a corrupted layout" >&2
  exit 1
fi
grep "$victim" "$work/corrupt.out"
echo "(exit 1, as expected)"
echo "== demo done"
