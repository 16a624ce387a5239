# Shared helpers for the bench scripts (source it: `. bench/common.sh`).
#
# Why: every benchmark needs the same multi-arch image set in a local docker-registry, and
# generating + pushing ~750 MiB takes minutes on the 2-core bench machine. The set is made
# once into a cache directory (layout + registry storage) and every later run only starts a
# registry on that storage.
#
#   bench_seed CACHE                 generate (once) CACHE/layout, push it (once) into
#                                    CACHE/storage; CACHE/refs lists repo:tag, one a line
#   bench_registry_start STORAGE     docker-registry on 127.0.0.1:<free port> over STORAGE;
#                                    sets BENCH_REGISTRY (HOST:PORT) and BENCH_REGISTRY_PID
#   bench_registry_stop              stops it (also run on EXIT once started)
#   bench_time OUT CMD...            runs CMD under /usr/bin/time -v, stats in OUT
#   bench_wall OUT / bench_rss_kib OUT   wall seconds / peak RSS (KiB) from such a file
#
# Environment: KK_BENCH_UNIQUE_MIB (default: the bench preset's size).

bench_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

bench_registry_start() {
  local storage=$1 port config log i
  mkdir -p "$storage"
  for _ in 1 2 3; do
    port=$(bench_free_port)
    config="$storage.registry-$port.yml"
    log="$storage.registry.log"
    printf 'version: 0.1\nlog: {level: info}\nstorage: {filesystem: {rootdirectory: %s}, delete: {enabled: true}}\nhttp: {addr: 127.0.0.1:%s}\n' \
      "$storage" "$port" >"$config"
    docker-registry serve "$config" >"$log" 2>&1 &
    BENCH_REGISTRY_PID=$!
    trap bench_registry_stop EXIT
    # The log line proves our process bound the port (another could have taken it).
    for i in $(seq 1 600); do
      if grep -q "listening on 127.0.0.1:$port" "$log" 2>/dev/null; then
        BENCH_REGISTRY="127.0.0.1:$port"
        return 0
      fi
      kill -0 "$BENCH_REGISTRY_PID" 2>/dev/null || break
      sleep 0.1
    done
    bench_registry_stop
    grep -q "address already in use" "$log" || { tail -n 20 "$log" >&2; return 1; }
  done
  echo "docker-registry did not start, see $log" >&2
  return 1
}

bench_registry_stop() {
  if [ -n "${BENCH_REGISTRY_PID:-}" ]; then
    kill "$BENCH_REGISTRY_PID" 2>/dev/null || true
    wait "$BENCH_REGISTRY_PID" 2>/dev/null || true
    BENCH_REGISTRY_PID=
  fi
}

bench_seed() {
  local cache=$1
  mkdir -p "$cache"
  if [ ! -f "$cache/layout/index.json" ]; then
    rm -rf "$cache/layout" "$cache/storage" "$cache/pushed"
    python3 testdata/gen-images.py generate --preset bench --out "$cache/layout" \
      ${KK_BENCH_UNIQUE_MIB:+--unique-mib "$KK_BENCH_UNIQUE_MIB"} >"$cache/gen.json"
  fi
  python3 -c 'import json,sys; [print(i["ref"]) for i in json.load(open(sys.argv[1]))["images"]]' \
    "$cache/gen.json" >"$cache/refs"
  if [ ! -f "$cache/pushed" ]; then
    rm -rf "$cache/storage"
    bench_registry_start "$cache/storage"
    python3 testdata/gen-images.py push --layout "$cache/layout" --registry "$BENCH_REGISTRY" \
      >"$cache/push.log" 2>&1 || { tail -n 20 "$cache/push.log" >&2; return 1; }
    bench_registry_stop
    touch "$cache/pushed"
  fi
}

bench_time() {
  local out=$1
  shift
  /usr/bin/time -v -o "$out" "$@"
}

bench_wall() {
  awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f\n", s }' "$1"
}

bench_rss_kib() {
  awk -F': ' '/Maximum resident set size/ { print $2 }' "$1"
}

bench_cpu() {
  awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "%.2f\n", u + s }' "$1"
}
