#!/usr/bin/env bash
# How long the action takes to get its binary (dist/bootstrap.sh), median of N runs each:
#   cold: verified download of a release asset from a loopback HTTP server into an empty tool cache;
#   warm: the same with the tool cache filled (a second job on the runner, or the next step).
# The asset is this checkout's cratemill (release build, or BENCH_EXE). Usage: benches/bootstrap.sh [N]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
n="${1:-5}"
target="${CARGO_TARGET_DIR:-$root/target}"
exe="${BENCH_EXE:-$target/release/cratemill}"
[[ -n "${BENCH_EXE:-}" ]] || (cd "$root" && cargo build --release --bin cratemill >&2)
work="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
version="$(sed -n 's/^version = "\([^"]*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)"
asset="cratemill-$version-x86_64-unknown-linux-musl"
mkdir -p "$work/www/v$version" "$work/action/dist"
cp "$exe" "$work/www/v$version/$asset"
cp "$root/Cargo.toml" "$work/action/"
printf '%s  %s\n' "$(sha256sum "$work/www/v$version/$asset" | cut -d' ' -f1)" "$asset" >"$work/action/dist/sha256sums.txt"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work/www" >/dev/null 2>&1 &
server=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done

once() { # once CACHE: seconds of one bootstrap run
  local start end
  start="$(date +%s.%N)"
  GITHUB_ACTION_PATH="$work/action" RUNNER_TOOL_CACHE="$1" RUNNER_TEMP="$work" GITHUB_OUTPUT=/dev/null \
    CRATEMILL_DIST_BASE_URL="http://127.0.0.1:$port/v$version" bash "$root/dist/bootstrap.sh" 2>/dev/null
  end="$(date +%s.%N)"
  echo "$end - $start" | bc
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
cold="$(for i in $(seq "$n"); do once "$work/cache-$i"; done | median)"
warm="$(for _ in $(seq "$n"); do once "$work/cache-1"; done | median)"
size="$(stat -c %s "$work/www/v$version/$asset")"
echo "asset $((size / 1024 / 1024)) MiB; median of $n: cold (download + sha256 + cache) ${cold}s, warm (cache hit + sha256) ${warm}s"
