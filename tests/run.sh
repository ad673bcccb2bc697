#!/usr/bin/env bash
# The test command (README.md, "Quick start"; CI runs exactly this from .ci/run).
#
# 1. tests/setup/*.sh install what the tests need (system packages, tools from PyPI/npm); each is
#    idempotent, so a second run installs nothing.
# 2. tests/check/*.sh run the static checks (format, clippy, schemas, workflow linters).
# 3. cargo test runs every test; the tests start their own servers on 127.0.0.1.
#
# CRATEMILL_TEST_SKIP_SETUP=1 skips step 1, CRATEMILL_TEST_SKIP_CHECKS=1 step 2. Extra arguments go
# to `cargo test` (e.g. `bash tests/run.sh --test build_e2e`).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { if [[ -n "${GITHUB_ACTIONS:-}${CI:-}" ]]; then echo "::group::$1"; else echo "== $1"; fi; }
endstep() { if [[ -n "${GITHUB_ACTIONS:-}${CI:-}" ]]; then echo "::endgroup::"; fi; }

if [[ -z "${CRATEMILL_TEST_SKIP_SETUP:-}" ]]; then
  for f in tests/setup/*.sh; do
    step "setup: $(basename "$f")"
    bash "$f"
    endstep
  done
fi
# Tools installed by the setup scripts into user locations.
export PATH="$HOME/.local/bin:$HOME/.cargo/bin:$PATH"

step "toolchain"
cargo --version
rustc --version
rustc +nightly --version 2>/dev/null || echo "no nightly toolchain: builds use stable and collect from target/"
endstep

if [[ -z "${CRATEMILL_TEST_SKIP_CHECKS:-}" ]]; then
  for f in tests/check/*.sh; do
    step "check: $(basename "$f")"
    bash "$f"
    endstep
  done
fi

step "cargo test"
cargo test --locked "$@"
endstep
