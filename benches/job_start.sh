#!/usr/bin/env bash
# Job start to first compile: what the action's build step does on a GitHub-hosted runner before
# cratemill starts building (dist/bootstrap.sh, then dist/run.sh `install_tools`), for a zigbuild
# job of a foreign target (aarch64 on x86_64: bubblewrap and qemu-user-static from apt too), each
# round from an empty tool cache, as on a fresh hosted VM. Two action checkouts run interleaved:
#   BASE: an older commit's dist/ (BASE_REV, default HEAD), this: the working tree's dist/.
# Real: the PyPI wheels (or BASE's pip), apt-get update and apt-get install (a `sudo` shim adds
# --reinstall after `apt-get clean`, so the packages are downloaded and unpacked every round).
# Loopback: the cratemill and cargo-auditable release assets (this checkout's sums made for them).
# Not measured: `rustup target add` (rustup's server is unreachable here; a shim records it).
# TARGET (default aarch64-unknown-linux-musl) is the job's target: x86_64-unknown-linux-musl needs no qemu.
# Usage: benches/job_start.sh ROUNDS [ASSET_FILE]   (ASSET_FILE: the bytes served as each asset,
# default target/release/cratemill or target/debug/cratemill). Needs root (apt).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
rounds="${1:-3}"
asset_file="${2:-}"
[[ -n "$asset_file" ]] || for f in "$root/target/release/cratemill" "$root/target/debug/cratemill"; do
  [[ -x "$f" ]] && { asset_file="$f"; break; }
done
[[ -f "$asset_file" ]] || { echo "error: name the file to serve as the release assets" >&2; exit 2; }
work="$(mktemp -d /tmp/job-start.XXXXXX)"
server=""
trap '[[ -z "$server" ]] || kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
version="$(sed -n 's/^version = "\([^"]*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)"
triple=x86_64-unknown-linux-musl
mkdir -p "$work/www/v$version"
cp "$asset_file" "$work/www/v$version/cratemill-$version-$triple"
cp "$asset_file" "$work/www/v$version/cratemill-$version-cargo-auditable-0.7.7-$triple"
checkout() { # checkout NAME REV|-: an action checkout with sums for the loopback assets
  local dir="$work/$1"
  mkdir -p "$dir"
  if [[ "$2" == - ]]; then cp -r "$root/dist" "$root/Cargo.toml" "$dir/"; else git -C "$root" archive "$2" dist Cargo.toml | tar -x -C "$dir"; fi
  (cd "$work/www/v$version" && sha256sum -- *) | sed 's/ \*/  /' >"$dir/dist/sha256sums.txt"
}
checkout base "${BASE_REV:-HEAD}"
checkout this -
# PATH: every command of /usr/bin and /bin but the tools a fresh runner lacks, plus the shims.
mkdir -p "$work/bin"
for d in /usr/bin /bin; do
  for e in "$d"/*; do
    n="${e##*/}"
    case "$n" in bwrap | qemu-* | cargo* | zig | rustup | sudo) continue ;; esac
    [[ -e "$work/bin/$n" ]] || ln -s "$e" "$work/bin/$n"
  done
done
# shellcheck disable=SC2016 # the shims' own variables
printf '#!/bin/sh\n[ "$1 $2" = "apt-get install" ] && { shift 2; exec apt-get install --reinstall "$@"; }\nexec "$@"\n' >"$work/bin/sudo"
printf '#!/bin/sh\necho "rustup $* (shim: not measured)" >&2\n' >"$work/bin/rustup"
chmod +x "$work/bin/sudo" "$work/bin/rustup"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work/www" >/dev/null 2>&1 &
server=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done

once() { # once CHECKOUT ROUND: seconds from the bootstrap's start to the `cratemill build` exec
  local dir="$work/$1" cache="$work/cache-$1-$2" tmp="$work/tmp-$1-$2" start end exe
  mkdir -p "$cache" "$tmp"
  apt-get clean
  start="$(date +%s.%N)"
  env -i PATH="$work/bin" HOME="$tmp" GITHUB_ACTION_PATH="$dir" RUNNER_TOOL_CACHE="$cache" RUNNER_TEMP="$tmp" \
    GITHUB_OUTPUT=/dev/null CRATEMILL_DIST_BASE_URL="http://127.0.0.1:$port/v$version" \
    bash "$dir/dist/bootstrap.sh" 2>>"$work/log"
  exe="$cache/cratemill/$version/x86_64/cratemill"
  printf '#!/bin/sh\nexit 0\n' >"$tmp/fake-cratemill" && chmod +x "$tmp/fake-cratemill"
  env -i PATH="$work/bin" HOME="$tmp" GITHUB_ACTION_PATH="$dir" RUNNER_TOOL_CACHE="$cache" RUNNER_TEMP="$tmp" \
    RUNNER_ENVIRONMENT=github-hosted CRATEMILL_DIST_BASE_URL="http://127.0.0.1:$port/v$version" \
    CRATEMILL_EXE="$tmp/fake-cratemill" INPUT_MODE=build INPUT_CRATE=hello INPUT_BACKEND=zigbuild \
    INPUT_TARGET="${TARGET:-aarch64-unknown-linux-musl}" bash "$dir/dist/run.sh" run >>"$work/log" 2>&1 ||
    { echo "error: $1 round $2 failed; its log:" >&2; tail -20 "$work/log" >&2; exit 1; }
  end="$(date +%s.%N)"
  [[ -x "$exe" ]] || { echo "error: no cratemill in the tool cache" >&2; exit 1; }
  echo "$end - $start" | bc
  rm -rf "$cache" "$tmp"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
for i in $(seq "$rounds"); do
  b="$(once base "$i")"
  t="$(once this "$i")"
  echo "round $i: base ${b}s this ${t}s" >&2
  echo "$b $t"
done >"$work/times"
mb="$(cut -d' ' -f1 "$work/times" | median)"
mt="$(cut -d' ' -f2 "$work/times" | median)"
echo "job start to first compile, median of $rounds (rustup target add not included): base ${mb}s, this ${mt}s, ratio $(echo "scale=3; $mt / $mb" | bc)"
