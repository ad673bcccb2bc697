#!/usr/bin/env bash
# No clippy warning in any target.
set -euo pipefail
cargo clippy --all-targets --locked -- -D warnings
