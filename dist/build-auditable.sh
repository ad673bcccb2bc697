#!/usr/bin/env bash
# Build the cargo-auditable that the action runs beside cratemill (dist/run.sh
# install_cargo_auditable, CARGO_AUDITABLE_VERSION) as a static release asset, from its crates.io
# source: the .crate is checked against the sha256 that the crates.io index gives for it, and built
# with its own Cargo.lock (`--locked`) by cargo-zigbuild, as cratemill itself is built.
# Used by .github/workflows/release.yml; needs cargo, cargo-zigbuild, curl, jq and TARGET's std.
#   usage: dist/build-auditable.sh TARGET OUT_DIR [PREFIX]
#   writes OUT_DIR/PREFIXcargo-auditable-<version>-TARGET; the release passes PREFIX=cratemill-<its
#   version>- so that every asset of a release, and its line in dist/sha256sums.txt, names the
#   release (the same cargo-auditable version is rebuilt, with other bytes, by every release).
set -euo pipefail
target=${1:?usage: dist/build-auditable.sh TARGET OUT_DIR}
out=${2:?usage: dist/build-auditable.sh TARGET OUT_DIR [PREFIX]}
prefix=${3:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=$(sed -n 's/^CARGO_AUDITABLE_VERSION=//p' "$here/run.sh")
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "error: no CARGO_AUDITABLE_VERSION in dist/run.sh" >&2; exit 2; }
index=${CRATES_INDEX_URL:-https://index.crates.io}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
want=$(curl -fsS --retry 3 "$index/ca/rg/cargo-auditable" | jq -r --arg v "$version" 'select(.vers == $v) | .cksum')
[[ "$want" =~ ^[0-9a-f]{64}$ ]] || { echo "error: the crates.io index has no cargo-auditable $version" >&2; exit 1; }
curl -fsSL --retry 3 -o "$work/src.crate" "https://static.crates.io/crates/cargo-auditable/cargo-auditable-$version.crate"
echo "$want  $work/src.crate" | sha256sum -c --quiet - ||
  { echo "error: cargo-auditable-$version.crate does not match the index's sha256" >&2; exit 1; }
tar -xzf "$work/src.crate" -C "$work"
(cd "$work/cargo-auditable-$version" && cargo zigbuild --release --locked --quiet --target "$target")
mkdir -p "$out"
asset="$out/${prefix}cargo-auditable-$version-$target"
cp "$work/cargo-auditable-$version/target/$target/release/cargo-auditable" "$asset"
file "$asset" | grep -q 'statically linked' || { echo "error: $asset is not static" >&2; exit 1; }
"$asset" auditable --version >/dev/null 2>&1 || [[ "${target%%-*}" != "$(uname -m)" ]] ||
  { echo "error: $asset does not run" >&2; exit 1; }
echo "$asset"
