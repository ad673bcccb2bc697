#!/usr/bin/env bash
# Build a list of popular CLI crates with `cratemill build` for the host target and tabulate the outcome
# (status, failure class, executables, smoke, wall time). Used for docs/benchmarks.md.
#   usage: benches/popular-crates.sh OUT_DIR [CRATE...]
set -u
out=${1:?usage: benches/popular-crates.sh OUT_DIR [CRATE...]}; shift
crates=("$@")
[ ${#crates[@]} -gt 0 ] || crates=(ripgrep fd-find hyperfine tokei sd xh du-dust bat gitui alacritty)
bin=${CRATEMILL:-target/release/cratemill}
mkdir -p "$out"
printf 'crate\tversion\tstatus\tclass\texecutables\tsmoke\tseconds\n' > "$out/table.tsv"
for c in "${crates[@]}"; do
  start=$(date +%s)
  "$bin" build "$c" --out "$out/$c" --quiet --timeout 40m > "$out/$c.stdout" 2> "$out/$c.stderr"
  secs=$(( $(date +%s) - start ))
  python3 - "$out/$c/result.json" "$secs" >> "$out/table.tsv" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
f = r.get("failure") or {}
exes = ",".join(e["name"] for e in r["executables"])
smoke = ",".join(e["smoke"]["status"] for e in r["executables"])
print("\t".join([r["crate"], r["version"], r["status"], f.get("class", ""), exes, smoke, sys.argv[2]]))
PY
done
column -t -s $'\t' "$out/table.tsv"
