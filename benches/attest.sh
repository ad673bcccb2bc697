#!/usr/bin/env bash
# Benchmark: `cratemill attest` for one job vs a chunk, key mode and keyless (against the local
# @sigstore/mock stand-ins of tests/support/sigstore_stand_in.mjs: token service, Fulcio, Rekor).
# For a chunk of N packages (default 256) it times: one package alone (what each build job would
# do), N packages in one process with one statement each, and `--batch` (one statement and one
# signature per 1,024 subjects, for all N). Prints every run and the medians.
#
#   benches/attest.sh                                  # 5 runs, N=256, the debug binary
#   RUNS=7 N=256 CRATEMILL_BIN=target/debug/cratemill benches/attest.sh
#
# Needs: b3sum, sha256sum, node with tests/setup/40-sigstore.sh's packages (CRATEMILL_TEST_NODE).
set -euo pipefail

RUNS=${RUNS:-5}
N=${N:-256}
BIN=${CRATEMILL_BIN:-${CARGO_TARGET_DIR:-target}/debug/cratemill}
NODE_DIR=${CRATEMILL_TEST_NODE:-/opt/cratemill-test/node}
TARGET=x86_64-unknown-linux-musl
here=$(cd "$(dirname "$0")/.." && pwd)

for tool in b3sum sha256sum node python3; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing" >&2; exit 3; }
done
[ -x "$BIN" ] || { echo "error: $BIN is missing: cargo build --bin cratemill" >&2; exit 3; }
BIN=$(realpath "$BIN")

work=$(mktemp -d)
stand_pid=""
cleanup() {
  if [ -n "$stand_pid" ]; then kill "$stand_pid" 2>/dev/null || true; wait "$stand_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- N packages, as `cratemill build` writes them (see src/package.rs) --------------------------
make_pkg() { # name
  local name=$1 pkg=$work/pkgs/$1-1.0.0-$TARGET
  mkdir -p "$pkg/bin" "$pkg/licenses"
  head -c 65536 /dev/urandom > "$pkg/bin/$name"
  printf 'MIT License\n' > "$pkg/licenses/LICENSE-MIT"
  printf '[0.000] bench package\n' > "$pkg/build.log"
  local sha b3 size
  sha=$(sha256sum "$pkg/bin/$name" | cut -c1-64); b3=$(b3sum --no-names "$pkg/bin/$name"); size=$(stat -c %s "$pkg/bin/$name")
  cat > "$pkg/result.json" <<EOF
{
  "schema_version": 1, "kind": "cratemill.build-result", "cratemill_version": "0.1.0",
  "crate": "$name", "version": "1.0.0", "target": "$TARGET", "status": "built", "backend": "cargo",
  "started_at": "2026-11-23T00:00:00Z", "finished_at": "2026-11-23T00:00:01Z",
  "source": null, "package": {"description": "benchmark package", "license": "MIT"},
  "prepare": [], "toolchain": null, "rustflags": "", "build_env": {}, "attempts": [],
  "features_used": null, "timings_ms": {},
  "executables": [{"name": "$name", "path": "bin/$name", "size": $size, "sha256": "$sha", "blake3": "$b3",
    "arch": "x86_64", "static": true, "interpreter": null, "needed": [],
    "smoke": {"status": "passed", "args": ["--version"], "runner": null, "exit_code": 0, "signal": null, "first_line": null, "note": null}}],
  "licenses": {"declared": "MIT", "files": []}, "failure": null,
  "files": ["CHECKSUMS", "bin/$name", "build.log", "licenses/LICENSE-MIT", "result.json"]
}
EOF
  local files="bin/$name build.log licenses/LICENSE-MIT result.json"
  {
    echo "# cratemill CHECKSUMS v1: sha256 and blake3 of every file of this package, paths relative to it"
    (cd "$pkg" && for f in $files; do echo "SHA256 ($f) = $(sha256sum "$f" | cut -c1-64)"; done)
    (cd "$pkg" && for f in $files; do echo "BLAKE3 ($f) = $(b3sum --no-names "$f")"; done)
  } > "$pkg/CHECKSUMS"
}
for i in $(seq -f '%04g' 1 "$N"); do make_pkg "tool$i"; done
mapfile -t pkgs < <(ls -d "$work"/pkgs/*)

# --- the environment of each mode --------------------------------------------------------------
cat > "$work/claims.json" <<'EOF'
{"iss": "https://token.actions.githubusercontent.com", "sub": "repo:cratemill/mirror:ref:refs/heads/main",
 "ref": "refs/heads/main", "sha": "0123456789abcdef0123456789abcdef01234567", "repository": "cratemill/mirror",
 "repository_owner": "cratemill", "event_name": "workflow_dispatch",
 "job_workflow_ref": "cratemill/mirror/.github/workflows/mirror.yml@refs/heads/main",
 "workflow_ref": "cratemill/mirror/.github/workflows/mirror.yml@refs/heads/main",
 "repository_id": "123456", "repository_owner_id": "7890", "runner_environment": "github-hosted",
 "run_id": "555", "run_attempt": "2", "repository_visibility": "public"}
EOF
key_env=(GITHUB_REF=refs/heads/main GITHUB_SHA=0123456789abcdef0123456789abcdef01234567
  GITHUB_REPOSITORY=cratemill/mirror GITHUB_EVENT_NAME=workflow_dispatch
  GITHUB_WORKFLOW_REF=cratemill/mirror/.github/workflows/mirror.yml@refs/heads/main
  GITHUB_REPOSITORY_ID=123456 GITHUB_REPOSITORY_OWNER_ID=7890 GITHUB_RUN_ID=555 GITHUB_RUN_ATTEMPT=2)
python3 - "$work/key.pem" <<'EOF'
import subprocess, sys
subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", sys.argv[1]], check=True)
EOF

mkdir -p "$work/stand"
mkfifo "$work/stand-in"
CRATEMILL_TEST_NODE=$NODE_DIR node "$here/tests/support/sigstore_stand_in.mjs" serve "$work/stand" "$work/claims.json" \
  < "$work/stand-in" > "$work/stand.out" &
stand_pid=$!
exec 9> "$work/stand-in"   # keeps the stand-in's stdin open
for _ in $(seq 100); do [ -s "$work/stand.out" ] && break; sleep 0.1; done
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$work/stand.out")
keyless_env=(ACTIONS_ID_TOKEN_REQUEST_URL="$url/token?api-version=2.0" ACTIONS_ID_TOKEN_REQUEST_TOKEN=runner-token
  CRATEMILL_FULCIO_URL="$url/fulcio" CRATEMILL_REKOR_URL="$url/rekor" CRATEMILL_TSA_URL="$url/tsa/api/v1/timestamp")

# --- timing ---------------------------------------------------------------------------------------
ms() { # env-array-name args...: wall time of one cratemill run in ms
  local -n envs=$1; shift
  rm -rf "$work/out"
  local t0 t1
  t0=$(date +%s%N)
  env -i PATH="$PATH" HOME="$HOME" "${envs[@]}" "$BIN" attest "$@" --out "$work/out" > /dev/null
  t1=$(date +%s%N)
  [ -s "$work/out/attest.json" ] || { echo "error: cratemill attest $* failed" >&2; kill "$$"; }
  echo $(((t1 - t0) / 1000000))
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

printf '%-8s %-28s %s\n' mode case "runs (ms) -> median"
for mode in key keyless; do
  if [ "$mode" = key ]; then envs=key_env; sign=(--sign key --key "$work/key.pem"); else envs=keyless_env; sign=(--sign keyless); fi
  for case in one "each-of-$N" "batch-of-$N"; do
    times=()
    for _ in $(seq "$RUNS"); do
      case $case in
        one) times+=("$(ms "$envs" "${pkgs[0]}" "${sign[@]}")") ;;
        each-*) times+=("$(ms "$envs" "${pkgs[@]}" "${sign[@]}")") ;;
        batch-*) times+=("$(ms "$envs" --batch "${pkgs[@]/%//result.json}" "${sign[@]}")") ;;
      esac
    done
    printf '%-8s %-28s %s -> %s\n' "$mode" "$case" "${times[*]}" "$(median "${times[@]}")"
  done
done
echo "signatures: one=1, each-of-$N=$N, batch-of-$N=one per 1,024 subjects (5 a package); keyless: as many Rekor entries"
