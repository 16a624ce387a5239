#!/usr/bin/env bash
# The main job end to end on local data, no internet: a local docker-registry seeded with
# generated multi-arch images stands in for the upstream registries.
#   bash scripts/demo.sh            (KEEP=1 keeps the work dir for a look afterwards)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

bash scripts/install-deps.sh
echo "== building kk (release)"
swift build -c release --product kk >/dev/null
kk="$repo/.build/release/kk"

work=$(mktemp -d /tmp/kk-demo-XXXXXX)
registry_pid=""
cleanup() {
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null || true
  [ "${KEEP:-0}" = 1 ] && echo "work dir kept: $work" || rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
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

echo "== copying every image into one OCI layout (skopeo copy --all, as KubeKey does)"
refs=$(python3 -c 'import json,sys; print("\n".join(m["annotations"]["org.opencontainers.image.ref.name"] for m in json.load(open(sys.argv[1]))["manifests"]))' "$work/generated/index.json")
for ref in $refs; do
  skopeo copy -q --all --src-tls-verify=false "docker://127.0.0.1:$port/$ref" "oci:$work/layout:$ref"
done

echo "== kk artifact verify (directory)"
"$kk" artifact verify -a "$work/layout"
echo "== kk artifact inspect"
"$kk" artifact inspect -a "$work/layout"
echo "== kk artifact verify (as .tar.gz, one streaming pass)"
tar -czf "$work/layout.tar.gz" -C "$work/layout" .
"$kk" artifact verify -a "$work/layout.tar.gz"

echo "== a corrupted copy is refused, naming the blob"
cp -r "$work/layout" "$work/corrupt"
victim=$(ls -S "$work/corrupt/blobs/sha256" | head -1)
printf 'X' | dd of="$work/corrupt/blobs/sha256/$victim" bs=1 seek=100 conv=notrunc status=none
if "$kk" artifact verify -a "$work/corrupt" >"$work/corrupt.out"; then
  echo "verify accepted a corrupted layout" >&2
  exit 1
fi
grep "$victim" "$work/corrupt.out"
echo "(exit 1, as expected)"
echo "== demo done"
