#!/usr/bin/env bash
# Benchmark: `cratemill publish` of a package with a 50 MiB executable to a loopback registry
# (docker-registry with basic auth, plain HTTP), against `skopeo copy` of the same content from an
# OCI image layout to the same kind of registry. Runs alternate (cratemill first on odd runs, skopeo
# first on even ones), each against a fresh registry with empty storage, so neither side finds blobs
# already there. Prints every run, the medians and the ratio cratemill/skopeo.
#
#   benches/publish.sh                 # 7 runs, release binary (built if missing)
#   RUNS=11 SIZE_MIB=50 CRATEMILL_BIN=target/debug/cratemill benches/publish.sh
#   CRATEMILL_ARGS="--chunk-mib 4" benches/publish.sh   # GHCR's chunk size
#
# Needs: docker-registry skopeo apache2-utils (htpasswd) b3sum zstd (apt-get install -y ...).
set -euo pipefail

RUNS=${RUNS:-7}
SIZE_MIB=${SIZE_MIB:-50}
BIN=${CRATEMILL_BIN:-target/release/cratemill}
read -r -a EXTRA <<< "${CRATEMILL_ARGS:-}"
TARGET=x86_64-unknown-linux-musl

for tool in docker-registry skopeo htpasswd b3sum sha256sum zstd; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing: apt-get install -y docker-registry skopeo apache2-utils b3sum zstd" >&2; exit 3; }
done
if [ ! -x "$BIN" ]; then
  cargo build --release --bin cratemill
fi
BIN=$(realpath "$BIN")

work=$(mktemp -d)
reg_pid=""
cleanup() {
  if [ -n "$reg_pid" ]; then kill "$reg_pid" 2>/dev/null || true; wait "$reg_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- the package: what `cratemill build` writes (see src/package.rs) ---------------------------
pkg=$work/pkg
mkdir -p "$pkg/bin" "$pkg/licenses" "$pkg/srcbuild"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$pkg/bin/bigtool"
printf 'MIT License\n' > "$pkg/licenses/LICENSE-MIT"
printf '[0.000] bench package\n' > "$pkg/build.log"
mkdir -p "$work/src/bigtool-1.0.0" && printf '[package]\nname = "bigtool"\n' > "$work/src/bigtool-1.0.0/Cargo.toml"
tar --sort=name --mtime=@0 --owner=0 --group=0 -C "$work/src" -c bigtool-1.0.0 | zstd -q -3 > "$pkg/srcbuild/bigtool-1.0.0-srcbuild.tar.zst"
exe_sha=$(sha256sum "$pkg/bin/bigtool" | cut -c1-64)
exe_b3=$(b3sum --no-names "$pkg/bin/bigtool")
exe_size=$(stat -c %s "$pkg/bin/bigtool")
cat > "$pkg/result.json" <<EOF
{
  "schema_version": 1, "kind": "cratemill.build-result", "cratemill_version": "0.1.0",
  "crate": "bigtool", "version": "1.0.0", "target": "$TARGET", "status": "built", "backend": "cargo",
  "started_at": "2026-11-23T00:00:00Z", "finished_at": "2026-11-23T00:00:01Z",
  "source": null, "package": {"description": "benchmark package", "license": "MIT"},
  "prepare": [], "toolchain": null, "rustflags": "", "build_env": {}, "attempts": [],
  "features_used": null, "timings_ms": {},
  "executables": [{"name": "bigtool", "path": "bin/bigtool", "size": $exe_size, "sha256": "$exe_sha", "blake3": "$exe_b3",
    "arch": "x86_64", "static": true, "interpreter": null, "needed": [],
    "smoke": {"status": "passed", "args": ["--version"], "runner": null, "exit_code": 0, "signal": null, "first_line": null, "note": null}}],
  "licenses": {"declared": "MIT", "files": []}, "failure": null,
  "files": ["CHECKSUMS", "bin/bigtool", "build.log", "licenses/LICENSE-MIT", "result.json", "srcbuild/bigtool-1.0.0-srcbuild.tar.zst"]
}
EOF
{
  echo "# cratemill CHECKSUMS v1: sha256 and blake3 of every file of this package, paths relative to it"
  (cd "$pkg" && for f in bin/bigtool build.log licenses/LICENSE-MIT result.json srcbuild/bigtool-1.0.0-srcbuild.tar.zst; do echo "SHA256 ($f) = $(sha256sum "$f" | cut -c1-64)"; done)
  (cd "$pkg" && for f in bin/bigtool build.log licenses/LICENSE-MIT result.json srcbuild/bigtool-1.0.0-srcbuild.tar.zst; do echo "BLAKE3 ($f) = $(b3sum --no-names "$f")"; done)
} > "$pkg/CHECKSUMS.tmp"
mv "$pkg/CHECKSUMS.tmp" "$pkg/CHECKSUMS"

# The same content as an OCI image layout, written by cratemill (not timed).
"$BIN" publish "$pkg" --oci-layout "$work/layout" >/dev/null 2>&1
rm -f "$pkg/publish.json"
layout_ref="oci:$work/layout/bigtool:1.0.0-$TARGET"
skopeo inspect --raw "$layout_ref" >/dev/null

# --- a fresh registry per run ---------------------------------------------------------------
htpasswd -Bbn bench benchpass > "$work/htpasswd"
start_registry() {
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  rm -rf "$work/data"
  cat > "$work/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/data
http:
  addr: 127.0.0.1:$port
  secret: bench
auth:
  htpasswd:
    realm: bench
    path: $work/htpasswd
EOF
  docker-registry serve "$work/config.yml" >"$work/registry.log" 2>&1 &
  reg_pid=$!
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then REG="127.0.0.1:$port"; return; fi
    sleep 0.05
  done
  echo "error: docker-registry did not start: $(cat "$work/registry.log")" >&2
  exit 3
}
stop_registry() {
  kill "$reg_pid"; wait "$reg_pid" 2>/dev/null || true; reg_pid=""
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

run_cratemill() {
  start_registry
  local t0 t1
  t0=$(now_ms)
  CRATEMILL_REGISTRY_USER=bench CRATEMILL_REGISTRY_TOKEN=benchpass "$BIN" publish "$pkg" --registry "$REG" --insecure-http "${EXTRA[@]}" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  t1=$(now_ms)
  rm -f "$pkg/publish.json"
  stop_registry
  echo $((t1 - t0))
}

run_skopeo() {
  start_registry
  local t0 t1
  t0=$(now_ms)
  skopeo copy --quiet --dest-tls-verify=false --dest-creds bench:benchpass "$layout_ref" "docker://$REG/bigtool:1.0.0-$TARGET" >/dev/null
  t1=$(now_ms)
  stop_registry
  echo $((t1 - t0))
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

echo "package: ${SIZE_MIB} MiB executable; binary: $BIN ${EXTRA[*]}; runs: $RUNS; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
c_times=(); s_times=()
for i in $(seq 1 "$RUNS"); do
  if [ $((i % 2)) -eq 1 ]; then c=$(run_cratemill); s=$(run_skopeo); else s=$(run_skopeo); c=$(run_cratemill); fi
  c_times+=("$c"); s_times+=("$s")
  echo "run $i: cratemill ${c} ms, skopeo ${s} ms"
done
cm=$(printf '%s\n' "${c_times[@]}" | median)
sm=$(printf '%s\n' "${s_times[@]}" | median)
echo "median: cratemill ${cm} ms, skopeo ${sm} ms, ratio cratemill/skopeo $(awk -v a="$cm" -v b="$sm" 'BEGIN {printf "%.2f", a/b}')"
