#!/usr/bin/env bash
# The synthetic dump generator (`dump::synth`) is test code behind the `testkit` feature: on for
# tests, examples and benches (through the dev-dependency on this crate), never in a normal build
# (`cargo build --release` must not compile it).
set -euo pipefail
if cargo tree --locked -e features -i cratemill --edges normal,build | grep -q 'feature "testkit"'; then
  echo 'error: the `testkit` feature is on in a normal build: only the dev-dependency in Cargo.toml may turn it on' >&2
  exit 1
fi
if ! cargo tree --locked -e features -i cratemill | grep -q 'feature "testkit"'; then
  echo 'error: the tests need the `testkit` feature: add `cratemill = { path = ".", features = ["testkit"] }` to [dev-dependencies]' >&2
  exit 1
fi
echo "testkit: off in normal builds, on for tests"
