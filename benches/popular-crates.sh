#!/usr/bin/env bash
# Build a list of popular CLI crates with `cratemill build` for the host target and tabulate the outcome
# (status, failure class, executables, smoke, wall time). Used for docs/benchmarks.md.
#   usage: benches/popular-crates.sh OUT_DIR [CRATE...]
# TARGETS="a b ..." builds each crate for those targets in one invocation (`--target` repeated, with
# BACKEND, default zigbuild) and writes one row per (crate, target): the yield table by target.
# TOOLCHAIN=NAME passes `--toolchain NAME` (default: cratemill's auto choice).
set -u
out=${1:?usage: benches/popular-crates.sh OUT_DIR [CRATE...]}; shift
crates=("$@")
[ ${#crates[@]} -gt 0 ] || crates=(ripgrep fd-find hyperfine tokei sd xh du-dust bat gitui alacritty)
bin=${CRATEMILL:-target/release/cratemill}
mkdir -p "$out"
printf 'crate\tversion\ttarget\tstatus\tclass\texecutables\tsmoke\tseconds\n' > "$out/table.tsv"
row() {
  python3 - "$1" "$2" >> "$out/table.tsv" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
f = r.get("failure") or {}
exes = ",".join(e["name"] for e in r["executables"])
smoke = ",".join(e["smoke"]["status"] for e in r["executables"])
print("\t".join([r["crate"], r["version"], r["target"], r["status"], f.get("class", ""), exes, smoke, sys.argv[2]]))
PY
}
for c in "${crates[@]}"; do
  start=$(date +%s)
  if [ -n "${TARGETS:-}" ]; then
    args=(); for t in $TARGETS; do args+=(--target "$t"); done
    "$bin" build "$c" --backend "${BACKEND:-zigbuild}" "${args[@]}" --out "$out/$c" --quiet --timeout 40m \
      ${CACHE_DIR:+--cache-dir "$CACHE_DIR"} ${TOOLCHAIN:+--toolchain "$TOOLCHAIN"} > "$out/$c.stdout" 2> "$out/$c.stderr"
    secs=$(( $(date +%s) - start ))
    for t in $TARGETS; do [ -f "$out/$c/$t/result.json" ] && row "$out/$c/$t/result.json" "$secs"; done
  else
    "$bin" build "$c" --out "$out/$c" --quiet --timeout 40m > "$out/$c.stdout" 2> "$out/$c.stderr"
    secs=$(( $(date +%s) - start ))
    row "$out/$c/result.json" "$secs"
  fi
done
column -t -s $'\t' "$out/table.tsv"
