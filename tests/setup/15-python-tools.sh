#!/usr/bin/env bash
# check-jsonschema (PyPI): an independent JSON Schema validator for tests/check/30-document-schemas.sh.
set -euo pipefail
if ! python3 -c 'import check_jsonschema' 2>/dev/null || [[ "$(python3 -m pip show check-jsonschema 2>/dev/null | sed -n 's/^Version: //p')" != "0.39.0" ]]; then
  python3 -m pip install -q --disable-pip-version-check check-jsonschema==0.39.0
fi
