#!/usr/bin/env bash
# cargo-machete (crates.io): finds dependencies declared in Cargo.toml that no code uses
# (tests/check/40-unused-deps.sh).
set -euo pipefail
version=0.9.2
if [[ "$(cargo machete --version 2>/dev/null)" != *"$version"* ]]; then
  cargo install --locked --quiet cargo-machete --version "$version"
fi
