#!/usr/bin/env bash
# Get the cratemill executable for the action in seconds instead of compiling it in every job.
#
# 1. The version: input `cratemill-version`, else the action's own (its Cargo.toml).
# 2. The asset `cratemill-<version>-<arch>-unknown-linux-musl` for this runner (x86_64, aarch64)
#    must have a sha256 line in dist/sha256sums.txt (committed with the action: the release
#    workflow's pull request adds it, and the version's tag is put on its merge commit). The tool cache ($RUNNER_TOOL_CACHE/cratemill/<version>/<arch>) is used
#    when it holds a copy that still matches; else the asset is downloaded from the release
#    (CRATEMILL_DIST_BASE_URL overrides https://github.com/<action repo>/releases/download/v<version>;
#    the action repository is read from GITHUB_ACTION_PATH, see action_repository)
#    and verified before it is cached. A mismatch is fatal (exit 3): never run unverified bytes.
# 3. No sums line or no asset to download: `cargo install --locked --path "$GITHUB_ACTION_PATH"`,
#    cached in the tool cache under a digest of the action's source (a second step reuses it).
#
# `bootstrap.sh tool NAME X.Y.Z` does steps 1-2 for a helper the action runs beside cratemill
# (cargo-auditable): the asset cratemill-<version>-NAME-X.Y.Z-<triple> of the same release, verified against the same
# sums; prints its path, or exits 1 when there is none (dist/run.sh then builds it).
#
# `bootstrap.sh wheel NAME` brings a PyPI wheel pinned in dist/wheels.txt (zig, cargo-zigbuild):
# verified, unpacked into the tool cache; prints its executable's path, or exits 1 when there is none.
#
# CRATEMILL_BOOTSTRAP_EXE (tests, local runs) names an already-built cratemill to use as is.
# Writes the step output `exe` (the executable's path) and adds its folder to GITHUB_PATH.
# Messages quote names in `backticks` (Markdown, as cratemill's own errors), not expansions:
# shellcheck disable=SC2016
set -euo pipefail

# fail CODE TEXT: one line naming the problem and the fix; an annotation too under Actions, its
# data escaped as GitHub's workflow commands need (`%`, CR, LF), so no value starts a command.
fail() {
  local s="${2//"%"/%25}"
  s="${s//$'\r'/%0D}"
  [[ "${GITHUB_ACTIONS:-}" == "true" ]] && printf '::error title=cratemill bootstrap::%s\n' "${s//$'\n'/%0A}"
  s="${2//$'\r'/\\r}"
  printf 'error: %s\n' "${s//$'\n'/\\n}" >&2
  exit "$1"
}

note() { printf 'cratemill bootstrap: %s\n' "$1" >&2; }

publish_exe() {
  note "using $1"
  [[ -n "${GITHUB_OUTPUT:-}" ]] && printf 'exe=%s\n' "$1" >>"$GITHUB_OUTPUT"
  [[ -n "${GITHUB_PATH:-}" ]] && dirname "$1" >>"$GITHUB_PATH"
  return 0
}

action_dir() {
  [[ -n "${GITHUB_ACTION_PATH:-}" ]] || fail 3 'GITHUB_ACTION_PATH is not set: run this script as a step of the cratemill action'
  printf '%s' "$GITHUB_ACTION_PATH"
}

own_version() {
  local v
  v="$(sed -n 's/^version = "\([^"]*\)"$/\1/p' "$(action_dir)/Cargo.toml" | head -n 1)"
  [[ -n "$v" ]] || fail 3 "no version in $(action_dir)/Cargo.toml: the action's checkout is incomplete"
  printf '%s' "$v"
}

runner_triple() {
  [[ "$(uname -s)" == "Linux" ]] || fail 3 "cratemill runs on Linux runners, not $(uname -s): use runs-on: ubuntu-latest"
  case "$(uname -m)" in
    x86_64 | amd64) printf 'x86_64-unknown-linux-musl' ;;
    aarch64 | arm64) printf 'aarch64-unknown-linux-musl' ;;
    *) printf '' ;;
  esac
}

# expected_sum ASSET: the committed sha256 of ASSET, empty when there is none.
expected_sum() {
  local sums
  sums="$(action_dir)/dist/sha256sums.txt"
  [[ -f "$sums" ]] || return 0
  awk -v asset="$1" '$1 !~ /^#/ && $2 == asset { print $1; exit }' "$sums"
}

sha256_of() { sha256sum "$1" | awk '{ print $1 }'; }

# action_repository: OWNER/REPO of this action. GITHUB_ACTION_REPOSITORY is empty inside a
# composite action's `run:` steps (actions/runner#2473), so it comes from GITHUB_ACTION_PATH, which
# the runner sets to `.../_actions/OWNER/REPO/REF` (REF a tag, branch or commit SHA). Empty when
# neither says (a local `uses: ./`).
action_repository() {
  local repo="${GITHUB_ACTION_REPOSITORY:-}"
  if [[ -z "$repo" && "$(action_dir)" =~ /_actions/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)/[^/]+/?$ ]]; then
    repo="${BASH_REMATCH[1]}/${BASH_REMATCH[2]}"
  fi
  [[ "$repo" =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] && printf '%s' "$repo"
  return 0
}

# fetch_checked URL SUM PINS: download URL to a new temporary file, FETCHED, once its sha256 is
# SUM (the value the file PINS lists). 1 = nothing to download; a mismatch is fatal (exit 3).
fetch_checked() {
  local tmp got
  tmp="$(mktemp "${RUNNER_TEMP:-/tmp}/cratemill-download.XXXXXX")"
  note "downloading $1"
  if ! curl --fail --silent --show-error --location --retry 3 --connect-timeout 10 --max-time 300 \
    --output "$tmp" "$1"; then
    rm -f "$tmp"
    return 1
  fi
  got="$(sha256_of "$tmp")"
  if [[ "$got" != "$2" ]]; then
    rm -f "$tmp"
    fail 3 "${1##*/} has sha256 $got but $3 says $2: refusing to run it (a tampered or re-uploaded file; report it)"
  fi
  FETCHED="$tmp"
}

# download ASSET SUM DEST: fetch the release asset, verify it, install it at DEST. 1 = no asset.
download() {
  local base="${CRATEMILL_DIST_BASE_URL:-}"
  if [[ -z "$base" ]]; then
    local repo
    repo="$(action_repository)"
    [[ -n "$repo" ]] || return 1
    base="https://github.com/$repo/releases/download/v$VERSION"
  fi
  fetch_checked "$base/$1" "$2" dist/sha256sums.txt || return 1
  mkdir -p "$(dirname "$3")"
  chmod 0755 "$FETCHED"
  mv -f "$FETCHED" "$3"
}

# verified ASSET DIR NAME: the release asset ASSET, checked against dist/sha256sums.txt, kept in
# the tool cache as DIR/NAME (used again while it still matches); sets EXE. 1 = no sums line for
# ASSET or no asset to download (the caller falls back); a mismatch is fatal (exit 3).
verified() {
  local asset="$1" dir="$2" exe="$2/$3" sum
  sum="$(expected_sum "$asset")"
  [[ -n "$sum" ]] || { note "dist/sha256sums.txt has no $asset"; return 1; }
  if [[ -f "$dir.complete" && -x "$exe" && "$(sha256_of "$exe")" == "$sum" ]]; then
    note "tool cache hit: $asset"
  else
    rm -f "$dir.complete"
    download "$asset" "$sum" "$exe" || { note "no downloadable $asset"; return 1; }
    touch "$dir.complete"
  fi
  EXE="$exe"
}

tool_cache() { printf '%s' "${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-/tmp}}"; }

from_release() {
  local triple
  triple="$(runner_triple)"
  [[ -n "$triple" ]] || { note "no release asset for $(uname -m)"; return 1; }
  verified "cratemill-$VERSION-$triple" "$(tool_cache)/cratemill/$VERSION/${triple%%-*}" cratemill
}

# tool NAME TOOL_VERSION: a helper the action runs beside cratemill (cargo-auditable), built by the
# same release workflow as the asset cratemill-<version>-NAME-TOOL_VERSION-<triple> of cratemill's
# release (every release rebuilds it, so the name says which release's bytes the sums line is
# for), listed in the same dist/sha256sums.txt. 1 = none for this version or runner.
tool() {
  local triple
  triple="$(runner_triple)"
  [[ -n "$triple" ]] || { note "no release asset for $(uname -m)"; return 1; }
  verified "cratemill-$VERSION-$1-$2-$triple" "$(tool_cache)/$1/$2-cratemill-$VERSION/${triple%%-*}" "$1"
}

# wheel NAME: a PyPI wheel that dist/wheels.txt pins for this runner's architecture (zig and
# cargo-zigbuild, for the zigbuild backend), instead of a venv and `pip install` in every job:
# downloaded (CRATEMILL_WHEEL_BASE_URL replaces https://files.pythonhosted.org, for tests), checked
# against the pinned sha256 (a mismatch is fatal, exit 3) and unpacked into the tool cache as
# <tool cache>/NAME/<version>/<arch>, complete when `.complete` holds that sha256. Sets EXE to the
# executable the line names. The line's optional last column names entries not to unpack.
# 1 = no line for this runner, or nothing to download.
wheel() {
  local arch line name version sum exe url skip
  arch="$(runner_triple)"
  arch="${arch%%-*}"
  [[ -n "$arch" ]] || { note "no pinned wheel for $(uname -m)"; return 1; }
  line="$(awk -v n="$1" -v a="$arch" '$1 !~ /^#/ && $1 == n && $3 == a { print; exit }' "$(action_dir)/dist/wheels.txt" 2>/dev/null || true)"
  [[ -n "$line" ]] || { note "dist/wheels.txt has no $1 for $arch"; return 1; }
  read -r name version _ sum exe url skip <<<"$line"
  [[ "$sum" =~ ^[0-9a-f]{64}$ && "$url" == https://files.pythonhosted.org/* && "$exe" != *..* && "$exe" != /* ]] ||
    fail 3 "dist/wheels.txt's line for $name $arch is malformed: want \`name version arch sha256 executable https://files.pythonhosted.org/...\`"
  local dir
  dir="$(tool_cache)/$name/$version/$arch"
  if [[ -f "$dir.complete" && "$(cat "$dir.complete")" == "$sum" && -x "$dir/$exe" ]]; then
    note "tool cache hit: $name $version"
  else
    rm -f "$dir.complete"
    rm -rf "$dir"
    [[ -n "${CRATEMILL_WHEEL_BASE_URL:-}" ]] && url="$CRATEMILL_WHEEL_BASE_URL${url#https://files.pythonhosted.org}"
    fetch_checked "$url" "$sum" dist/wheels.txt || { note "no downloadable $name wheel"; return 1; }
    mkdir -p "$dir"
    unpack "$FETCHED" "$dir" "$skip" || { rm -f "$FETCHED"; fail 3 "cannot unpack the $name wheel into $dir"; }
    rm -f "$FETCHED"
    [[ -f "$dir/$exe" ]] || fail 3 "the $name wheel has no $exe: fix its line in dist/wheels.txt"
    chmod 0755 "$dir/$exe"
    printf '%s' "$sum" >"$dir.complete"
  fi
  EXE="$dir/$exe"
}

# unpack ZIP DIR [SKIP]: with unzip (it keeps the executable bits, and leaves out the entries the
# comma-separated globs SKIP match), else Python's zipfile (all entries).
unpack() {
  if command -v unzip >/dev/null; then
    local skip=()
    [[ -z "${3:-}" ]] || IFS=',' read -r -a skip <<<"$3"
    unzip -q -o "$1" -d "$2" ${skip[@]+-x "${skip[@]}"} >&2
  else
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$1" "$2" >&2
  fi
}

# A digest of the action's source (Cargo.toml, Cargo.lock, src/): the cache key of a source build.
source_key() {
  (
    cd "$(action_dir)"
    { find Cargo.toml Cargo.lock src -type f 2>/dev/null || true; } | LC_ALL=C sort | xargs -r sha256sum | sha256sum | cut -c1-16
  )
}

from_source() {
  command -v cargo >/dev/null || fail 3 'no release asset matches and cargo is not installed: set up Rust (dtolnay/rust-toolchain) before this action, or pin `cratemill-version` to a release'
  local key root
  key="$(source_key)"
  root="${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-/tmp}}/cratemill/source-$key/$(uname -m)"
  if [[ -f "$root.complete" && -x "$root/bin/cratemill" ]]; then
    note "tool cache hit: cratemill built from this source before"
  else
    rm -f "$root.complete"
    note "building cratemill $VERSION from $(action_dir) (cargo install --locked)"
    cargo install --locked --path "$(action_dir)" --root "$root" --force >&2 ||
      fail 3 "cargo install --locked --path $(action_dir) failed (see the log above)"
    [[ -x "$root/bin/cratemill" ]] || fail 3 "cargo install did not produce $root/bin/cratemill"
    touch "$root.complete"
  fi
  EXE="$root/bin/cratemill"
}

# VERSION: input `cratemill-version`, else the action's own.
resolve_version() {
  VERSION="${INPUT_CRATEMILL_VERSION:-}"
  VERSION="${VERSION#v}"
  [[ -n "$VERSION" ]] || VERSION="$(own_version)"
  [[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]] ||
    fail 2 "input \`cratemill-version\` is \`$VERSION\`: use a release version like 0.1.0, or empty for the action's own"
}

main() {
  if [[ "${1:-}" == "wheel" ]]; then
    [[ "${2:-}" =~ ^[a-z0-9-]+$ && $# -eq 2 ]] || fail 2 "usage: bootstrap.sh wheel NAME"
    wheel "$2" || exit 1
    printf '%s\n' "$EXE"
    return 0
  fi
  if [[ "${1:-}" == "tool" ]]; then
    [[ "${2:-}" =~ ^[a-z0-9-]+$ && "${3:-}" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
      fail 2 "usage: bootstrap.sh tool NAME X.Y.Z"
    resolve_version
    tool "$2" "$3" || exit 1
    printf '%s\n' "$EXE"
    return 0
  fi
  if [[ -n "${CRATEMILL_BOOTSTRAP_EXE:-}" ]]; then
    [[ -x "$CRATEMILL_BOOTSTRAP_EXE" ]] || fail 3 "CRATEMILL_BOOTSTRAP_EXE=$CRATEMILL_BOOTSTRAP_EXE is not an executable file"
    publish_exe "$CRATEMILL_BOOTSTRAP_EXE"
    return 0
  fi
  resolve_version
  EXE=""
  if ! from_release; then
    [[ "$VERSION" == "$(own_version)" ]] ||
      fail 2 "cratemill $VERSION has no verified release asset for this runner, and the action's own source is $(own_version): pin \`cratemill-version\` to a released version (dist/sha256sums.txt) or leave it empty"
    from_source
  fi
  publish_exe "$EXE"
}

main "$@"
