#!/usr/bin/env bash
# cargo-auditable (crates.io): `cratemill build` embeds the dependency list (`.dep-v0`) in every
# executable with it (--auditable auto, the default, and on; src/builder/backend.rs CARGO_AUDITABLE_VERSION
# pins the same version). rust-audit-info (crates.io) reads the list back (tests/auditable.rs,
# tests/musl_targets.rs).
# Idempotent: `cargo install --list` says what is installed, and nothing is built when both pinned
# versions are there. Needs cargo (rustup) on PATH; installs into cargo's bin folder (~/.cargo/bin).
set -euo pipefail
pins=(cargo-auditable@0.7.7 rust-audit-info@0.5.4)
installed="$(cargo install --list)"
for pin in "${pins[@]}"; do
  name="${pin%@*}" version="${pin#*@}"
  if ! grep -qx "$name v$version:" <<<"$installed"; then
    echo "installing $name $version"
    cargo install --locked --quiet "$name" --version "$version"
  fi
done
