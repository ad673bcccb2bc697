#!/usr/bin/env bash
# Test-only Sigstore tools for the attest/verify tests (tests/attest*.rs, tests/verify*.rs):
#   npm @actions/attest 3.2.0: GitHub's own provenance library, to compare predicates field for field;
#   npm @sigstore/mock 0.12.1: CA, CT log, Rekor and TSA building blocks for the local stand-ins;
#   npm @sigstore/verify 3.1.1 (Node 20): an independent verifier of our bundles.
# Installed into /opt/cratemill-test/node (override with CRATEMILL_TEST_NODE); idempotent: skips npm
# when the pinned versions are already there.
set -euo pipefail
dir="${CRATEMILL_TEST_NODE:-/opt/cratemill-test/node}"
want='{"private":true,"dependencies":{"@actions/attest":"3.2.0","@sigstore/mock":"0.12.1","@sigstore/verify":"3.1.1"}}'
mkdir -p "$dir"
if [[ -f "$dir/.installed" && "$(cat "$dir/.installed")" == "$want" ]]; then
  exit 0
fi
command -v npm >/dev/null || { echo "npm is missing: install Node.js 20 (apt-get install nodejs npm)" >&2; exit 1; }
printf '%s\n' "$want" >"$dir/package.json"
(cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
printf '%s' "$want" >"$dir/.installed"
echo "sigstore test tools installed in $dir"
