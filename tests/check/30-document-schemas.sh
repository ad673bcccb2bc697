#!/usr/bin/env bash
# Every golden document (tests/golden/) validates against its published JSON Schema (docs/schema/),
# checked by an independent validator. tests/documents_golden.rs checks the schemas are current.
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 -c 'import check_jsonschema' 2>/dev/null || { echo "check-jsonschema missing: run tests/setup/15-python-tools.sh" >&2; exit 1; }
n=0
for doc in tests/golden/*.json; do
  stem=$(basename "$doc" .json)
  schema=docs/schema/${stem%-failed}.schema.json
  [[ -f "$schema" ]] || { echo "$doc: no schema $schema" >&2; exit 1; }
  python3 -m check_jsonschema --schemafile "$schema" "$doc"
  n=$((n + 1))
done
echo "$n golden documents match their published schemas"
