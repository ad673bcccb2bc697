#!/usr/bin/env bash
# The action and the workflows, linted offline (tools from tests/setup/40-actionlint.sh):
# - actionlint on every workflow, with shellcheck on PATH so `run:` scripts are checked too (it reads
#   ./action.yml through `uses: ./` and `$/.`; given action.yml itself it reports false errors);
# - zizmor --offline on action.yml and every workflow, named one by one (a bare folder collects
#   nothing): no finding at the default severity (suppressions carry a comment saying why);
# - check-jsonschema against GitHub's vendored schemas;
# - shellcheck on dist/*.sh;
# - .github/workflows/ holds byte-identical copies of the reusable templates (GitHub only calls
#   reusable workflows from there).
set -euo pipefail
cd "$(dirname "$0")/../.."
venv="${CRATEMILL_LINT_VENV:-/opt/cratemill-lint}"
for tool in actionlint shellcheck zizmor check-jsonschema; do
  [[ -x "$venv/bin/$tool" ]] || {
    echo "error: $tool is missing from $venv: run tests/setup/40-actionlint.sh" >&2
    exit 1
  }
done
export PATH="$venv/bin:$PATH"

shopt -s nullglob
workflows=(.github/workflows/*.yml)
templates=(workflows-templates/*.yml)
((${#workflows[@]} && ${#templates[@]})) || { echo "error: no workflows found" >&2; exit 1; }

for t in "${templates[@]}"; do
  name="$(basename "$t")"
  [[ "$name" == example-caller.yml ]] && continue
  cmp -s "$t" ".github/workflows/$name" ||
    { echo "error: .github/workflows/$name differs from $t: copy the template over" >&2; exit 1; }
done

actionlint "${workflows[@]}" "${templates[@]}"
zizmor --offline --quiet action.yml "${workflows[@]}" "${templates[@]}"
check-jsonschema --builtin-schema vendor.github-actions action.yml
check-jsonschema --builtin-schema vendor.github-workflows "${workflows[@]}" "${templates[@]}"
shellcheck dist/*.sh tests/setup/40-actionlint.sh tests/check/50-workflows.sh
echo "workflows: actionlint, zizmor, check-jsonschema, shellcheck clean"
