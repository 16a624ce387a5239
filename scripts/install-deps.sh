#!/usr/bin/env bash
# Installs the Debian packages kk builds and tests with. Idempotent; needs root (or sudo).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(
  # build: system libraries reached through pkg-config
  pkg-config libcurl4-openssl-dev libssl-dev libarchive-dev zlib1g-dev libdeflate-dev
  # test fixtures and demo: registry, image tools, containerd, htpasswd (bcrypt), TLS/JWT keys
  docker-registry skopeo containerd apache2-utils curl openssl python3 python3-cryptography
  # compressors the artifact tests and benchmarks compare against
  zstd pigz
  # peak RSS in the benchmarks (/usr/bin/time -v)
  time
  # a pseudo-terminal (script) and a child's pid (pgrep) for the push progress test
  bsdutils procps
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq </dev/null
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
fi
