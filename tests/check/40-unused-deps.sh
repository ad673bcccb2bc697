#!/usr/bin/env bash
# No dependency in Cargo.toml that nothing uses.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo machete --version >/dev/null 2>&1 || { echo "cargo-machete missing: run tests/setup/40-cargo-machete.sh" >&2; exit 1; }
cargo machete
