#!/usr/bin/env bash
# The tree has one format (rustfmt.toml).
set -euo pipefail
cargo fmt --check
