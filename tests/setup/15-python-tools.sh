#!/usr/bin/env bash
# check-jsonschema (PyPI): an independent JSON Schema validator for tests/check/30-document-schemas.sh;
# cyclonedx-python-lib for the SBOM (below).
set -euo pipefail
if ! python3 -c 'import check_jsonschema' 2>/dev/null || [[ "$(python3 -m pip show check-jsonschema 2>/dev/null | sed -n 's/^Version: //p')" != "0.39.0" ]]; then
  python3 -m pip install -q --disable-pip-version-check check-jsonschema==0.39.0
fi
# cyclonedx-python-lib (PyPI) with its JSON validation extra: CycloneDX's own schemas, bundled, for
# tests/licenses.rs (an independent check of the SBOM every built package carries).
if ! python3 -c 'import cyclonedx.validation.json' 2>/dev/null || [[ "$(python3 -m pip show cyclonedx-python-lib 2>/dev/null | sed -n 's/^Version: //p')" != "9.1.0" ]]; then
  python3 -m pip install -q --disable-pip-version-check 'cyclonedx-python-lib[json-validation]==9.1.0'
fi
