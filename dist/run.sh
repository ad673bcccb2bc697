#!/usr/bin/env bash
# The action's steps (action.yml): `run.sh validate` checks every input up front; `run.sh run`
# runs the mode's cratemill subcommand. Inputs arrive only as INPUT_* environment variables (never
# spliced into the script), are validated here, and reach cratemill as separate arguments.
# The registry token is read once (publish/attest), moved to the variable cratemill reads, and the
# INPUT_ copy dropped. `build` refuses to start when a token is in its environment unless
# `trusted: true`: crate build scripts are hostile code.
# Exit codes as cratemill's: 2 for bad input, 3 for an environment failure.
# Messages quote names in `backticks` (Markdown, as cratemill's own errors), not expansions:
# shellcheck disable=SC2016
set -euo pipefail

fail() {
  # One line naming the problem and the fix; an annotation too under Actions.
  if [[ "${GITHUB_ACTIONS:-}" == "true" ]]; then
    printf '::error title=cratemill::%s\n' "$2"
  fi
  printf 'error: %s\n' "$2" >&2
  exit "$1"
}

# input NAME: the value of INPUT_NAME (empty when unset).
input() {
  local var="INPUT_$1"
  printf '%s' "${!var:-}"
}

# check NAME REGEX HINT: fail unless the input matches (empty values are checked by the caller).
check() {
  local value
  value="$(input "$1")"
  if [[ -n "$value" && ! "$value" =~ $2 ]]; then
    local name="${1,,}"
    fail 2 "input \`${name//_/-}\` is \`$value\`: $3"
  fi
}

validate() {
  case "$(input MODE)" in
    build | publish | attest | matrix | report) ;;
    "") fail 2 "input \`mode\` is required: one of build, publish, attest, matrix, report" ;;
    *) fail 2 "input \`mode\` is \`$(input MODE)\`: use one of build, publish, attest, matrix, report" ;;
  esac
  check CRATE '^[A-Za-z][A-Za-z0-9_-]{0,63}$' 'a crates.io name (letters, digits, - and _, at most 64)'
  check VERSION '^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$' 'an exact semver version like 1.2.3, or empty for the newest'
  check TARGET '^[a-z0-9_]+(-[a-z0-9_.]+){1,3}$' 'a Rust target triple like x86_64-unknown-linux-musl'
  check BACKEND '^(auto|cargo|cross|zigbuild)$' 'use auto, cargo, cross or zigbuild'
  check FEATURES '^[A-Za-z0-9_/+.,-]+$' 'use all, default, or a comma-separated list of feature names'
  check TRUSTED '^(true|false)$' 'use true or false'
  check REGISTRY '^[A-Za-z0-9._:/-]+$' 'use ghcr.io/<owner> or <host>[:<port>]/<path>'
  check LAYOUT '^(per-crate|single)$' 'use per-crate or single'
  check INSECURE_HTTP '^(true|false)$' 'use true or false'
  check SIGN '^(keyless|key|none)$' 'use keyless, key or none'
  check SINCE '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' 'a date like 2025-01-01, or empty'
  check TARGETS '^[a-z0-9_.,-]+$' 'a comma-separated list of target triples'
  check CHUNK_SIZE '^([1-9][0-9]?|1[0-9][0-9]|2[0-4][0-9]|25[0-6])$' 'a number of jobs from 1 to 256 (one GitHub matrix)'
  if [[ "$(input MODE)" == "build" && -z "$(input CRATE)" ]]; then
    fail 2 'mode build needs the input `crate` (and optionally `version`, `target`)'
  fi
  if [[ "$(input MODE)" == "matrix" && -z "$(input DUMP)" ]]; then
    fail 2 'mode matrix needs the input `dump` (a path or URL of the crates.io db-dump)'
  fi
}

# Variables whose presence means the job holds a credential.
TOKEN_VARS=(GITHUB_TOKEN GH_TOKEN INPUT_TOKEN ACTIONS_ID_TOKEN_REQUEST_TOKEN ACTIONS_RUNTIME_TOKEN
  CRATEMILL_REGISTRY_TOKEN SIGSTORE_ID_TOKEN)

refuse_tokens() {
  [[ "$(input TRUSTED)" == "true" ]] && return 0
  local name
  for name in "${TOKEN_VARS[@]}"; do
    if [[ -n "${!name:-}" ]]; then
      fail 2 "mode build runs the crate's untrusted build scripts, but \`$name\` is set in this job: build in a job with \`permissions: {}\` and no token in \`env:\` (see workflows-templates/build-chunk.yml), or set \`trusted: true\`"
    fi
  done
}

# Move the token to where cratemill reads it and drop the INPUT_ copy.
take_token() {
  local token="${INPUT_TOKEN:-}"
  unset INPUT_TOKEN
  if [[ -n "$token" ]]; then
    [[ "${GITHUB_ACTIONS:-}" == "true" ]] && printf '::add-mask::%s\n' "$token"
    export "$1=$token"
  fi
}

# packages DIR: every package folder (with CHECKSUMS: failed builds have none) at or below DIR, one level deep.
packages() {
  if [[ -f "$1/result.json" ]]; then
    [[ -f "$1/CHECKSUMS" ]] && printf '%s\n' "$1"
    return 0
  fi
  local dir
  for dir in "$1"/*/; do
    dir="${dir%/}"
    if [[ -f "$dir/result.json" && -f "$dir/CHECKSUMS" ]]; then
      printf '%s\n' "$dir"
    elif [[ -f "$dir/result.json" ]]; then
      echo "skipping $dir: no CHECKSUMS (the build failed; its result.json still goes to the report)" >&2
    fi
  done
}

# On GitHub-hosted runners (RUNNER_ENVIRONMENT=github-hosted), install what the build needs and
# the image lacks (docs/builder-environment.md): the target's std, cargo-zigbuild + zig for the
# zigbuild backend, qemu-user-static to smoke-run foreign executables, bubblewrap for the build
# sandbox (and, where AppArmor restricts unprivileged user namespaces, as on Ubuntu 24.04 images,
# the sysctl that lets bwrap create them). Pinned versions. Elsewhere
# the machine is the user's: nothing is installed (cratemill names a missing tool itself).
install_tools() {
  [[ "${RUNNER_ENVIRONMENT:-}" == "github-hosted" ]] || return 0
  local target backend
  target="$(input TARGET)"
  backend="$(input BACKEND)"
  if [[ -n "$target" ]] && command -v rustup >/dev/null; then
    rustup target add "$target" >&2 || fail 3 "rustup target add $target failed"
  fi
  if [[ "$backend" == "zigbuild" ]] && ! command -v cargo-zigbuild >/dev/null; then
    python3 -m pip install --user --quiet --disable-pip-version-check cargo-zigbuild==0.24.0 ziglang==0.17.0 >&2 ||
      fail 3 "pip install cargo-zigbuild ziglang failed"
    export PATH="$HOME/.local/bin:$PATH"
  fi
  if ! command -v bwrap >/dev/null; then
    sudo apt-get install -y -qq --no-install-recommends bubblewrap >&2 ||
      fail 3 "apt-get install bubblewrap failed (the build sandbox needs it)"
  fi
  if [[ "$(cat /proc/sys/kernel/apparmor_restrict_unprivileged_userns 2>/dev/null || echo 0)" == "1" ]]; then
    sudo sysctl -q -w kernel.apparmor_restrict_unprivileged_userns=0 >&2 ||
      fail 3 "cannot allow unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns), which the build sandbox needs"
  fi
  if [[ -n "$target" && "${target%%-*}" != "$(uname -m)" ]] && ! command -v qemu-aarch64-static >/dev/null; then
    sudo apt-get install -y -qq --no-install-recommends qemu-user-static >&2 ||
      fail 3 "apt-get install qemu-user-static failed (needed to smoke-run $target executables)"
  fi
}

run_build() {
  refuse_tokens
  install_tools
  local spec args
  spec="$(input CRATE)"
  [[ -n "$(input VERSION)" ]] && spec="$spec@$(input VERSION)"
  args=(build "$spec" --backend "$(input BACKEND)" --features "$(input FEATURES)")
  [[ -n "$(input TARGET)" ]] && args+=(--target "$(input TARGET)")
  [[ -n "$(input PATH)" ]] && args+=(--out "$(input PATH)")
  exec "$CRATEMILL_EXE" "${args[@]}"
}

run_publish() {
  take_token CRATEMILL_REGISTRY_TOKEN
  local registry root
  registry="$(input REGISTRY)"
  root="$(input PATH)"
  root="${root:-cratemill-out}"
  if [[ -z "$registry" ]]; then
    [[ -n "${GITHUB_REPOSITORY_OWNER:-}" ]] || fail 2 'input `registry` is empty and GITHUB_REPOSITORY_OWNER is not set: name the registry, e.g. ghcr.io/<owner>'
    registry="ghcr.io/${GITHUB_REPOSITORY_OWNER,,}"
  fi
  local args=(--registry "$registry" --layout "$(input LAYOUT)")
  [[ "$(input INSECURE_HTTP)" == "true" ]] && args+=(--insecure-http)
  local found=() dir
  mapfile -t found < <(packages "$root")
  [[ ${#found[@]} -gt 0 ]] || fail 2 "no built package (result.json with CHECKSUMS) at or below \`$root\`: set \`path\` to a package folder or the folder the build artifacts were downloaded to"
  for dir in "${found[@]}"; do
    "$CRATEMILL_EXE" publish "$dir" "${args[@]}"
  done
}

run_attest() {
  take_token GITHUB_TOKEN
  local root
  root="$(input PATH)"
  root="${root:-cratemill-out}"
  "$CRATEMILL_EXE" attest --help >/dev/null 2>&1 ||
    fail 3 "this cratemill ($("$CRATEMILL_EXE" --version)) has no \`attest\` subcommand: set \`cratemill-version\` to a release that has it"
  local found=()
  mapfile -t found < <(packages "$root")
  [[ ${#found[@]} -gt 0 ]] || fail 2 "no built package (result.json with CHECKSUMS) at or below \`$root\`: set \`path\`"
  exec "$CRATEMILL_EXE" attest --sign "$(input SIGN)" --batch "${found[@]}"
}

run_matrix() {
  local args=(matrix --dump "$(input DUMP)" --chunk-size "$(input CHUNK_SIZE)")
  [[ -n "$(input SINCE)" ]] && args+=(--since "$(input SINCE)")
  [[ -n "$(input TARGETS)" ]] && args+=(--targets "$(input TARGETS)")
  [[ -n "$(input PATH)" ]] && args+=(--out "$(input PATH)")
  local built
  built="$(input BUILT_INDEX)"
  if [[ -n "$built" && -f "$built" ]]; then
    args+=(--built "$built")
  elif [[ -n "$built" ]]; then
    echo "::warning title=cratemill::no built index at $built (first run?): planning every selected crate"
  fi
  exec "$CRATEMILL_EXE" "${args[@]}"
}

run_report() {
  local root built
  root="$(input PATH)"
  built="$(input BUILT_INDEX)"
  local args=(report "${root:-.}")
  if [[ -n "$built" && -f "$built" ]]; then
    args+=(--previous "$built" --out "$built")
  elif [[ -n "$built" ]]; then
    echo "::warning title=cratemill::no built index at $built (first run?): starting a new one there"
    args+=(--out "$built")
  fi
  exec "$CRATEMILL_EXE" "${args[@]}"
}

main() {
  validate
  [[ "${1:-}" == "validate" ]] && return 0
  [[ "${1:-}" == "run" ]] || fail 3 "dist/run.sh takes \`validate\` or \`run\`, not \`${1:-}\`"
  [[ -n "${CRATEMILL_EXE:-}" && -x "$CRATEMILL_EXE" ]] ||
    fail 3 "no cratemill executable at \`${CRATEMILL_EXE:-}\`: the bootstrap step (dist/bootstrap.sh) did not run or failed"
  case "$(input MODE)" in
    build) run_build ;;
    publish) run_publish ;;
    attest) run_attest ;;
    matrix) run_matrix ;;
    report) run_report ;;
  esac
}

main "$@"
