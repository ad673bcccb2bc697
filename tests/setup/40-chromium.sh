#!/usr/bin/env bash
# Headless Chromium (Debian's `chromium`) for tests/report_html.rs: it loads the `report --html`
# page offline and checks it has no console errors and that its charts render. Idempotent: skips
# apt when installed. fonts-dejavu-core gives the page's text a font in screenshots.
set -euo pipefail
packages=(chromium fonts-dejavu-core)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
