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
# A one-shot run gains nothing from incremental compilation, which would add ~5 GiB to target/.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

# Disk is the resource the suite runs out of first (the four-target test writes four std builds):
# say what there is before and after, so a failure for lack of space is explained by the log.
disk() { df -h --output=avail,size,target "${CARGO_TARGET_DIR:-target}" "${TMPDIR:-/tmp}" 2>/dev/null || df -h; }
mkdir -p "${CARGO_TARGET_DIR:-target}"
step "disk before"
disk
endstep
trap 'step "disk after"; disk; endstep' EXIT

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
