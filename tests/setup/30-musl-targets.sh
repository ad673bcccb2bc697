#!/usr/bin/env bash
# The pieces that build and run the four seed musl targets offline (docs/builder-environment.md,
# "musl targets"; tests/musl_targets.rs uses them). Idempotent: each step is skipped when done.
#   - Debian rustc-web, cargo-web, rust-web-src (bookworm, 1.96): a compiler whose std source matches
#     it, linked as the rustup toolchain `debian-web` so `-Zbuild-std` can build any target's std.
#   - zig + cargo-zigbuild from PyPI (pinned) in a venv, linked into ~/.local/bin.
#   - qemu-user-static from bookworm-backports (10.x): bookworm's 7.2 kills loongarch64 binaries
#     with SIGILL (no LSX before qemu 8.1).
set -euo pipefail

ZIGLANG_VERSION=0.17.1
CARGO_ZIGBUILD_VERSION=0.24.1
QEMU_MIN_MAJOR=8
VENV="$HOME/.local/share/cratemill/zig-venv"
BIN="$HOME/.local/bin"

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
export DEBIAN_FRONTEND=noninteractive

# 1. bookworm-backports in the existing Debian source (deb822), once.
sources=/etc/apt/sources.list.d/debian.sources
if [[ -f "$sources" ]] && ! grep -q "bookworm-backports" "$sources"; then
  echo "adding bookworm-backports to $sources"
  sed -i '0,/^Suites: bookworm bookworm-updates$/s//Suites: bookworm bookworm-updates bookworm-backports/' "$sources"
  grep -q "bookworm-backports" "$sources" || { echo "error: could not add bookworm-backports to $sources: add it to the Suites line by hand" >&2; exit 1; }
  apt_updated=
fi

apt_update_once() { if [[ -z "${apt_updated:-}" ]]; then apt-get update -qq; apt_updated=1; fi; }

# 2. Debian's rustc-web toolchain with its std source.
missing=()
for p in rustc-web cargo-web rust-web-src; do installed "$p" || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  apt_update_once
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 3. qemu-user-static >= 8 (backports).
qemu_major() { dpkg-query -W -f='${Version}' qemu-user-static 2>/dev/null | sed -E 's/^[0-9]+://; s/[^0-9].*//'; }
if [[ "$(qemu_major || echo 0)" -lt "$QEMU_MIN_MAJOR" ]] 2>/dev/null || ! installed qemu-user-static; then
  echo "installing qemu-user-static from bookworm-backports"
  apt_update_once
  apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-user-static >/dev/null
fi

# 4. The rustup toolchain `debian-web` -> /usr (rustc-web installs /usr/bin/rustc and its std source
#    under /usr/lib/rustlib/src/rust, where -Zbuild-std looks for it).
if command -v rustup >/dev/null; then
  if ! rustup toolchain list | grep -q '^debian-web'; then
    rustup toolchain link debian-web /usr
  fi
  [[ -d /usr/lib/rustlib/src/rust/library ]] || { echo "error: rust-web-src did not install /usr/lib/rustlib/src/rust/library" >&2; exit 1; }
fi

# 5. zig + cargo-zigbuild (PyPI, pinned) in their own venv.
want="ziglang==$ZIGLANG_VERSION cargo-zigbuild==$CARGO_ZIGBUILD_VERSION"
if [[ ! -x "$VENV/bin/cargo-zigbuild" ]] || [[ "$(cat "$VENV/.cratemill-pins" 2>/dev/null)" != "$want" ]]; then
  echo "installing $want"
  python3 -m venv "$VENV"
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install -q $want
  echo "$want" >"$VENV/.cratemill-pins"
fi
mkdir -p "$BIN"
ln -sf "$VENV/bin/cargo-zigbuild" "$BIN/cargo-zigbuild"
# The `ziglang` package runs as `python -m ziglang`; cargo-zigbuild finds it that way, and `zig` on
# PATH is a small wrapper for people.
if [[ ! -x "$BIN/zig" ]]; then
  printf '#!/bin/sh\nexec "%s/bin/python" -m ziglang "$@"\n' "$VENV" >"$BIN/zig"
  chmod +x "$BIN/zig"
fi
