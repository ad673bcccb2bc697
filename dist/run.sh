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

# escape TEXT: TEXT as the data of a workflow command (GitHub's escaping: `%`, CR, LF), so that
# no value (an input, a folder name) can end the command's line and start another command.
escape() {
  local s="${1//"%"/%25}"
  s="${s//$'\r'/%0D}"
  printf '%s' "${s//$'\n'/%0A}"
}

# annotate LEVEL TEXT: an annotation (error, warning, notice) under Actions, escaped.
annotate() {
  [[ "${GITHUB_ACTIONS:-}" == "true" ]] || return 0
  printf '::%s title=cratemill::%s\n' "$1" "$(escape "$2")"
}

# line TEXT: TEXT on stderr as one line (CR and LF shown as \r and \n).
line() {
  local s="${1//$'\r'/\\r}"
  printf '%s\n' "${s//$'\n'/\\n}" >&2
}

fail() {
  # One line naming the problem and the fix; an annotation too under Actions.
  annotate error "$2"
  line "error: $2"
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
  check SIGSTORE_INSTANCE '^(auto|public-good|github)$' 'use auto, public-good or github'
  check REPOSITORY_VISIBILITY '^(public|private|internal)$' 'use public, private or internal (GitHub sets it from the event)'
  check GITHUB_API '^(auto|true|false)$' 'use auto, true or false'
  check OPEN_ISSUES '^(false|dry-run|true)$' 'use false, dry-run or true'
  check PUSH_INDEX '^[A-Za-z0-9._:/-]+:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$' 'use host/repository:tag, e.g. ghcr.io/<owner>/cratemill-built-index:mirror'
  if [[ "$(input MODE)" == "matrix" && -z "$(input DUMP)" ]]; then
    fail 2 'mode matrix needs the input `dump` (a path or URL of the crates.io db-dump)'
  fi
}

# Signing is decided before anything is built or pushed: in the validate step for attest, and for
# matrix and publish when `sign` is given (the templates give it, so a plan that could not be
# attested stops at the plan job); again in attest's own step, which signs.
signing() {
  local key_set=false
  [[ -n "${INPUT_SIGNING_KEY:-}" || "${INPUT_SIGNING_KEY_SET:-}" == "true" ]] && key_set=true
  # The plan job holds no key: matrix mode leaves that check to publish and attest.
  [[ "$(input MODE)" == "matrix" ]] && key_set=true
  decide_signing "$(input SIGN)" "$(input SIGSTORE_INSTANCE)" "$(input REPOSITORY_VISIBILITY)" "$key_set"
}

# decide_signing SIGN INSTANCE VISIBILITY KEY_SET: set SIGNING_INSTANCE (keyless: public-good or
# github; empty for key and none) and GITHUB_API_DEFAULT (true when GitHub's attestations API
# takes the bundles: keyless signing of a public repository or on GitHub's instance), or fail
# naming the choice to make. Pure: inputs in, two variables out.
# GitHub's private Sigstore instance exists only on GitHub Enterprise Cloud, which a job cannot
# see, so `auto` on a private or internal repository is refused rather than guessed.
decide_signing() {
  local sign="${1:-keyless}" instance="${2:-auto}" visibility="$3" key_set="$4"
  SIGNING_INSTANCE="" GITHUB_API_DEFAULT=false
  case "$sign" in
    none) return 0 ;;
    key)
      [[ "$key_set" == "true" ]] ||
        fail 2 '`sign: key` needs the input `signing-key` (a PEM PKCS#8 P-256 private key, passed from a secret)'
      return 0
      ;;
  esac
  if [[ "$instance" == "auto" ]]; then
    case "$visibility" in
      public) instance=public-good ;;
      private | internal)
        fail 2 "this repository is $visibility, and keyless signing of a $visibility repository needs GitHub's private Sigstore instance, which only GitHub Enterprise Cloud has: set \`sigstore-instance: github\` on Enterprise Cloud, \`sigstore-instance: public-good\` to sign in the public transparency log (the repository, workflow and crate names become public), or \`sign: none\`"
        ;;
      *) fail 2 'the repository visibility is unknown (no github.event.repository.visibility in this event): set `repository-visibility` to public, private or internal, or set `sigstore-instance`' ;;
    esac
  fi
  SIGNING_INSTANCE="$instance"
  if [[ "$visibility" == "public" || "$instance" == "github" ]]; then
    GITHUB_API_DEFAULT=true
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
    [[ "${GITHUB_ACTIONS:-}" == "true" ]] && printf '::add-mask::%s\n' "$(escape "$token")"
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
      line "skipping $dir: no CHECKSUMS (the build failed; its result.json still goes to the report)"
    fi
  done
}

# backend TARGET CHOICE: the backend the action builds with. The action's `auto` is zigbuild with
# rustup's std for *-musl targets and cargo for the runner's own target; cross (a container engine
# and images this project does not run) only when asked for. Pure.
backend() {
  local target="$1" choice="$2"
  if [[ "$choice" != "auto" ]]; then
    printf '%s' "$choice"
  elif [[ "$target" == *-musl* ]]; then
    printf 'zigbuild'
  else
    printf 'cargo'
  fi
}

# apt_install WHY PACKAGE...: install packages, refreshing the indexes first (stale indexes on
# runner images give intermittent 404s). One call per job, so the indexes are fetched once.
apt_install() {
  local why="$1"
  shift
  sudo apt-get update -qq >&2 || fail 3 "apt-get update failed (needed before installing $*)"
  sudo apt-get install -y -qq --no-install-recommends "$@" >&2 || fail 3 "apt-get install $* failed ($why)"
}

# add_path DIR: put DIR first on PATH, here and for the step that started the background jobs
# (each job runs in a subshell: it writes DIR to PATH_FILE, and await_tools reads it back).
PATH_FILE=""
add_path() {
  PATH="$1:$PATH"
  export PATH
  [[ -z "$PATH_FILE" ]] || printf '%s\n' "$1" >>"$PATH_FILE"
}

# cargo-auditable, with which cratemill embeds the dependency list in every executable (`build
# --auditable on`, the default; src/builder/backend.rs CARGO_AUDITABLE_VERSION pins the same
# version). First the static executable that cratemill's own release builds beside cratemill and
# lists in dist/sha256sums.txt (`bootstrap.sh tool`: downloaded and verified in about a second);
# a cratemill version without that asset builds it once per runner into the tool cache, as
# dist/bootstrap.sh keeps a source-built cratemill: `<tool cache>/cargo-auditable/<version>/<arch>`,
# complete when `.complete` is there (about a minute of the job's cores).
CARGO_AUDITABLE_VERSION=0.7.7
install_cargo_auditable() {
  command -v cargo-auditable >/dev/null && return 0
  local got rc=0
  got="$(bash "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh" tool cargo-auditable "$CARGO_AUDITABLE_VERSION")" || rc=$?
  if [[ $rc -eq 0 && -x "$got" ]]; then
    add_path "$(dirname "$got")"
    return 0
  fi
  [[ $rc -le 1 ]] || fail 3 "the cargo-auditable $CARGO_AUDITABLE_VERSION release asset was refused (see the line above): not building with it"
  annotate warning "no verified cargo-auditable $CARGO_AUDITABLE_VERSION asset in this cratemill release: building it here (about a minute per job; pin \`cratemill-version\` to a release that has it)"
  local root
  root="${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-/tmp}}/cargo-auditable/$CARGO_AUDITABLE_VERSION/$(uname -m)"
  if [[ ! -f "$root.complete" || ! -x "$root/bin/cargo-auditable" ]]; then
    rm -f "$root.complete"
    cargo install --locked --quiet cargo-auditable --version "$CARGO_AUDITABLE_VERSION" --root "$root" >&2 ||
      fail 3 "cargo install cargo-auditable $CARGO_AUDITABLE_VERSION failed (see the log above)"
    [[ -x "$root/bin/cargo-auditable" ]] || fail 3 "cargo install did not produce $root/bin/cargo-auditable"
    touch "$root.complete"
  fi
  add_path "$root/bin"
}

# zig and cargo-zigbuild for the zigbuild backend: the PyPI wheels pinned in dist/wheels.txt,
# verified and unpacked by `bootstrap.sh wheel` (about 4 s); a runner without a pinned wheel for
# its architecture gets them from pip in a venv, as before (about 30 s).
install_zigbuild() {
  local name got rc
  for name in ziglang cargo-zigbuild; do
    rc=0
    got="$(bash "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh" wheel "$name")" || rc=$?
    [[ $rc -le 1 ]] || fail 3 "the pinned $name wheel was refused (see the line above): not building with it"
    if [[ $rc -eq 1 ]]; then
      local venv="${RUNNER_TEMP:-/tmp}/cratemill-zigbuild" pins
      pins="$(awk '$1 !~ /^#/ && !seen[$1]++ { printf "%s==%s ", $1, $2 }' "$(dirname "${BASH_SOURCE[0]}")/wheels.txt")"
      # shellcheck disable=SC2086 # one argument per pin
      { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet --disable-pip-version-check $pins; } >&2 ||
        fail 3 "pip install $pins failed"
      add_path "$venv/bin"
      return 0
    fi
    add_path "$(dirname "$got")"
  done
}

# The tools a hosted build job installs run side by side (each a download and an unpack, or apt),
# so the job waits for the slowest instead of their sum: docs/benchmarks.md, "Job start to first
# compile". start_tool FUNCTION ARGS... starts one; await_tools waits for all of them, takes
# their PATH additions and fails with the first failure's code (its error line is already out).
TOOL_PIDS=()
start_tool() {
  "$@" &
  TOOL_PIDS+=("$!")
}
await_tools() {
  local pid rc first=0
  for pid in "${TOOL_PIDS[@]}"; do
    rc=0
    wait "$pid" || rc=$?
    [[ $first -ne 0 || $rc -eq 0 ]] || first=$rc
  done
  TOOL_PIDS=()
  local dir
  while IFS= read -r dir; do
    PATH="$dir:$PATH"
  done <"$PATH_FILE"
  export PATH
  rm -f "$PATH_FILE"
  PATH_FILE=""
  [[ $first -eq 0 ]] || exit "$first"
}

# On GitHub-hosted runners (RUNNER_ENVIRONMENT=github-hosted), install what the build needs and
# the image lacks (docs/builder-environment.md), side by side: the target's std, zig and
# cargo-zigbuild for the zigbuild backend (the wheels dist/wheels.txt pins), cargo-auditable for
# the cargo and zigbuild backends (cross cannot embed the dependency list), and from apt
# qemu-user-static to smoke-run foreign executables and bubblewrap for the build sandbox (first,
# where AppArmor restricts unprivileged user namespaces, as on Ubuntu 24.04 images, the sysctl that
# lets bwrap create them). Pinned versions. Elsewhere the machine is the user's: nothing is
# installed (cratemill names a missing tool itself).
install_tools() {
  [[ "${RUNNER_ENVIRONMENT:-}" == "github-hosted" ]] || return 0
  local target="$1" backend="$2" packages=() why=()
  if [[ "$(cat /proc/sys/kernel/apparmor_restrict_unprivileged_userns 2>/dev/null || echo 0)" == "1" ]]; then
    sudo sysctl -q -w kernel.apparmor_restrict_unprivileged_userns=0 >&2 ||
      fail 3 "cannot allow unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns), which the build sandbox needs"
  fi
  PATH_FILE="$(mktemp "${RUNNER_TEMP:-/tmp}/cratemill-path.XXXXXX")"
  if [[ -n "$target" ]] && command -v rustup >/dev/null; then
    start_tool rustup_target_add "$target"
  fi
  if [[ "$backend" == "zigbuild" ]] && ! command -v cargo-zigbuild >/dev/null; then
    start_tool install_zigbuild
  fi
  [[ "$backend" == "cross" ]] || start_tool install_cargo_auditable
  if ! command -v bwrap >/dev/null; then
    packages+=(bubblewrap)
    why+=("the build sandbox needs bubblewrap")
  fi
  if [[ -n "$target" && "${target%%-*}" != "$(uname -m)" ]] && ! command -v qemu-aarch64-static >/dev/null; then
    packages+=(qemu-user-static)
    why+=("qemu-user-static smoke-runs $target executables")
  fi
  [[ ${#packages[@]} -eq 0 ]] || start_tool apt_install "$(IFS=';' && printf '%s' "${why[*]}")" "${packages[@]}"
  await_tools
}

rustup_target_add() {
  rustup target add "$1" >&2 || fail 3 "rustup target add $1 failed"
}

run_build() {
  refuse_tokens
  local spec args backend
  backend="$(backend "$(input TARGET)" "$(input BACKEND)")"
  install_tools "$(input TARGET)" "$backend"
  spec="$(input CRATE)"
  [[ -n "$(input VERSION)" ]] && spec="$spec@$(input VERSION)"
  # --auditable on: cargo-auditable was installed above, and a mirror's binaries must all carry the list.
  args=(build "$spec" --backend "$backend" --features "$(input FEATURES)" --auditable on)
  [[ -n "$(input TARGET)" ]] && args+=(--target "$(input TARGET)")
  [[ -n "$(input PATH)" ]] && args+=(--out "$(input PATH)")
  if [[ "${RUNNER_ENVIRONMENT:-}" != "github-hosted" ]] || ! command -v rustup >/dev/null; then
    exec "$CRATEMILL_EXE" "${args[@]}"
  fi
  local marker code=0
  marker="$(mktemp "${RUNNER_TEMP:-/tmp}/cratemill-build.XXXXXX")"
  "$CRATEMILL_EXE" "${args[@]}" || code=$?
  if [[ $code -eq 0 ]] || ! rust_version_failed "$(input PATH)" "$marker"; then
    rm -f "$marker"
    return "$code"
  fi
  rm -f "$marker"
  newer_stable "$(input TARGET)" || return "$code"
  exec "$CRATEMILL_EXE" "${args[@]}"
}

# rust_version_failed OUT MARKER: a result.json that the build wrote at or below OUT (default
# ./cratemill-out) since MARKER was made says `rust-version` (the crate or a dependency needs a newer
# rustc than the toolchain's).
rust_version_failed() {
  local root="${1:-cratemill-out}"
  if [[ ! -d "$root" ]] || ! command -v jq >/dev/null; then
    return 1
  fi
  # Regular files only (find never follows a link), under result.json's cap of 16 MiB; cratemill
  # wrote them into the package folder, which no sandbox mounts.
  find "$root" -name result.json -type f -size -16384k -newer "$2" -print0 |
    xargs -0 -r jq -r '.failure.class? // empty' 2>/dev/null | grep -qx rust-version
}

# newer_stable TARGET: on a hosted runner, whose image may trail the newest Rust release, update
# rustup's stable toolchain (and TARGET's std); 0 when that brought a newer rustc, so that the
# build can run again; 1, saying why, when it did not (the failure then stands as it is).
newer_stable() {
  local before after
  before="$(rustc --version 2>/dev/null || true)"
  line "cratemill: the build needs a newer rustc than this runner's (${before:-no rustc}): updating rustup's stable toolchain"
  if ! rustup update stable --no-self-update >&2 || { [[ -n "$1" ]] && ! rustup target add "$1" >&2; }; then
    line "cratemill: rustup could not update stable; the rust-version failure stands (pin an older version of the crate, or use a runner with a newer Rust)"
    return 1
  fi
  after="$(rustc --version 2>/dev/null || true)"
  if [[ "$after" == "$before" ]]; then
    line "cratemill: stable is already the newest ($before); the rust-version failure stands (the crate needs a nightly or unreleased Rust)"
    return 1
  fi
  line "cratemill: building again with $after"
}


# summary TEXT: a line of the step summary (when the runner gives one).
summary() {
  [[ -n "${GITHUB_STEP_SUMMARY:-}" ]] && printf '%s\n' "$1" >>"$GITHUB_STEP_SUMMARY"
  return 0
}

# Each package is published on its own: one that is refused (a name that is no OCI path component,
# a tag over 128 characters, a GHCR package not linked to this repository, a registry failure
# after retries) is reported and the rest go on. Exit: 0, or the last failure's code at the end.
run_publish() {
  take_token CRATEMILL_REGISTRY_TOKEN
  local registry root
  registry="$(input REGISTRY)"
  if [[ -z "$registry" ]]; then
    [[ -n "${GITHUB_REPOSITORY_OWNER:-}" ]] || fail 2 'input `registry` is empty and GITHUB_REPOSITORY_OWNER is not set: name the registry, e.g. ghcr.io/<owner>'
    registry="ghcr.io/${GITHUB_REPOSITORY_OWNER,,}"
  fi
  root="$(input PATH)"
  root="${root:-cratemill-out}"
  local args=(--registry "$registry" --layout "$(input LAYOUT)") ids=() id
  [[ "$(input INSECURE_HTTP)" == "true" ]] && args+=(--insecure-http)
  mapfile -t ids < <(input DENY_LICENSE | tr -s ',[:space:]' '\n' | sed '/^$/d')
  for id in "${ids[@]}"; do args+=(--deny-license "$id"); done
  [[ "$(input DENY_UNLICENSED)" == "true" ]] && args+=(--deny-unlicensed)
  local found=() dir code=0 status published=0 failed=0
  mapfile -t found < <(packages "$root")
  [[ ${#found[@]} -gt 0 ]] || fail 2 "no built package (result.json with CHECKSUMS) at or below \`$root\`: set \`path\` to a package folder or the folder the build artifacts were downloaded to"
  summary "| package | publish |"
  summary "| --- | --- |"
  for dir in "${found[@]}"; do
    status=0
    "$CRATEMILL_EXE" publish "$dir" "${args[@]}" || status=$?
    if [[ $status -eq 0 ]]; then
      published=$((published + 1))
      summary "| \`$(escape "${dir##*/}")\` | published |"
    else
      failed=$((failed + 1)) code=$status
      annotate error "publishing ${dir##*/} failed (exit $status); the other packages go on"
      line "cratemill: publishing $dir failed (exit $status); the other packages go on"
      summary "| \`$(escape "${dir##*/}")\` | **failed** (exit $status) |"
    fi
  done
  line "cratemill: $published package(s) published, $failed failed"
  return "$code"
}

# published DIR: the packages at or below DIR that publish left a publish.json in.
published() {
  local dir
  while IFS= read -r dir; do
    if [[ -f "$dir/publish.json" ]]; then
      printf '%s\n' "$dir"
    else
      line "skipping $dir: not published (no publish.json), so there is no image to attest"
    fi
  done < <(packages "$1")
}

# write_key: the `signing-key` input to KEY_FILE, which only this user reads and which is removed
# when the step ends.
KEY_FILE=""
write_key() {
  KEY_FILE="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/cratemill-signing-key-$$.pem"
  trap 'rm -f "$KEY_FILE"' EXIT
  (umask 077 && printf '%s\n' "${INPUT_SIGNING_KEY:-}" >"$KEY_FILE")
  unset INPUT_SIGNING_KEY
}

# Attest the published packages of `path` in one batch and keep the bundles: attached to each
# image (an OCI referrer; the `sha256-<hex>` fallback tag on registries without the referrers
# API, as GHCR), stored with GitHub's attestations API when that applies (`github-api`), and
# written to `cratemill-attest/` for the workflow to upload. Signing was decided in validate.
run_attest() {
  local gh_token="${INPUT_GITHUB_TOKEN:-}"
  unset INPUT_GITHUB_TOKEN
  take_token CRATEMILL_REGISTRY_TOKEN
  if [[ -n "$gh_token" ]]; then
    [[ "${GITHUB_ACTIONS:-}" == "true" ]] && printf '::add-mask::%s\n' "$(escape "$gh_token")"
    export GITHUB_TOKEN="$gh_token"
  fi
  local root sign api
  root="$(input PATH)"
  root="${root:-cratemill-out}"
  sign="$(input SIGN)"
  sign="${sign:-keyless}"
  "$CRATEMILL_EXE" attest --help >/dev/null 2>&1 ||
    fail 3 "this cratemill ($("$CRATEMILL_EXE" --version)) has no \`attest\` subcommand: set \`cratemill-version\` to a release that has it"
  local found=()
  mapfile -t found < <(published "$root")
  [[ ${#found[@]} -gt 0 ]] || fail 2 "no published package (result.json, CHECKSUMS and publish.json) at or below \`$root\`: run mode publish first, or set \`path\`"
  local args=(attest --sign "$sign" --batch --out cratemill-attest)
  case "$sign" in
    keyless) args+=(--instance "$SIGNING_INSTANCE") ;;
    key)
      write_key
      args+=(--key "$KEY_FILE")
      ;;
  esac
  api="$(input GITHUB_API)"
  [[ "${api:-auto}" == "auto" ]] && api="$GITHUB_API_DEFAULT"
  if [[ "$sign" != "none" ]]; then
    args+=(--attach)
    [[ "$(input INSECURE_HTTP)" == "true" ]] && args+=(--insecure-http)
    [[ "$api" == "true" ]] && args+=(--github-api)
  fi
  "$CRATEMILL_EXE" "${args[@]}" "${found[@]}"
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
    annotate warning "no built index at $built (first run?): planning every selected crate"
    line "warning: no built index at $built (first run?): planning every selected crate"
  fi
  exec "$CRATEMILL_EXE" "${args[@]}"
}

run_report() {
  local root built issues
  root="$(input PATH)"
  root="${root:-.}"
  built="$(input BUILT_INDEX)"
  if [[ -z "$(find "$root" -name result.json -print -quit 2>/dev/null)" ]]; then
    # A run cancelled before any chunk left its results: nothing to merge, the index stays.
    annotate notice "no result.json at or below $root (the run ended before any chunk reported): the built index is unchanged"
    line "cratemill: no result.json at or below $root: nothing to report, the built index is unchanged"
    return 0
  fi
  local args=(report "$root")
  issues="$(input OPEN_ISSUES)"
  if [[ "${issues:-false}" != "false" ]]; then
    local token="${INPUT_GITHUB_TOKEN:-}"
    unset INPUT_GITHUB_TOKEN
    [[ -n "$token" ]] || fail 2 'open-issues needs a token in `github-token` (a personal access token with Issues: write on the crates'"'"' repositories)'
    [[ "${GITHUB_ACTIONS:-}" == "true" ]] && printf '::add-mask::%s\n' "$(escape "$token")"
    export CRATEMILL_ISSUES_TOKEN="$token"
    args+=(--open-issues --github-token-env CRATEMILL_ISSUES_TOKEN)
    [[ "$issues" == "dry-run" ]] && args+=(--dry-run)
  fi
  if [[ -n "$(input PUSH_INDEX)" ]]; then
    take_token CRATEMILL_REGISTRY_TOKEN
    args+=(--push-index "$(input PUSH_INDEX)")
    [[ "$(input INSECURE_HTTP)" == "true" ]] && args+=(--insecure-http)
  fi
  if [[ -n "$built" && -f "$built" ]]; then
    args+=(--previous "$built" --out "$built")
  elif [[ -n "$built" ]]; then
    annotate warning "no built index at $built (first run?): starting a new one there"
    line "warning: no built index at $built (first run?): starting a new one there"
    args+=(--out "$built")
  fi
  exec "$CRATEMILL_EXE" "${args[@]}"
}

main() {
  validate
  if [[ "${1:-}" == "validate" ]]; then
    [[ "$(input MODE)" == "attest" || -n "$(input SIGN)" ]] && signing
    return 0
  fi
  [[ "$(input MODE)" == "attest" ]] && signing
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
