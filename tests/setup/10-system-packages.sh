#!/usr/bin/env bash
# Debian packages the test suite needs. Idempotent: skips apt when everything is installed.
#   docker-registry: a real OCI registry (CNCF distribution) for publish tests, run by the tests with
#     their own loopback config; skopeo: a real OCI client to read pushes back; apache2-utils: htpasswd
#     (bcrypt) for the registry's basic auth; qemu-user-static: runs foreign-architecture executables in
#     smoke tests; zstd: to inspect -srcbuild- archives.
set -euo pipefail
packages=(docker-registry skopeo apache2-utils qemu-user-static zstd ca-certificates)
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
