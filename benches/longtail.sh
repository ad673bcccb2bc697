#!/usr/bin/env bash
# Yield on the long tail (issue #20): a seeded random sample of the seed system's own queue
# (../shared/pkgforge/QUEUE_LIST.txt), each crate's newest version built with one or more cratemill
# binaries side by side (interleaved per crate, same machine load), beside the seed's outcome for the
# same crate (CRATES_BUILT.min.json). A crate counts as built only when every executable is static and
# its smoke run passed (`status: built` in result.json means exactly that).
#   usage: benches/longtail.sh OUT_DIR SEED COUNT LABEL=BINARY [LABEL=BINARY ...]
#   env:   TARGETS="x86_64-unknown-linux-musl ..." (default x86_64 musl), TOOLCHAIN (e.g. the prebuilt-std
#          toolchain of benches/prebuilt-std-toolchain.sh, with its RUSTUP_HOME), BACKEND (zigbuild),
#          PKGFORGE (../shared/pkgforge), CRATES="a b" (instead of the seeded sample), TIMEOUT (30m),
#          CACHE_DIR (one --cache-dir per label: dependencies compiled once are reused by later
#          crates, which saves time and does not change an outcome)
# Writes OUT_DIR/table.tsv (one row per crate, target and binary) and prints the summary
# (benches/longtail_table.py renders both as Markdown).
set -u
out=${1:?usage: benches/longtail.sh OUT_DIR SEED COUNT LABEL=BINARY ...}
seed=${2:?seed}
count=${3:?count}
shift 3
[ $# -gt 0 ] || { echo "error: name at least one LABEL=BINARY" >&2; exit 2; }
pkgforge=${PKGFORGE:-$(dirname "$0")/../../shared/pkgforge}
targets=${TARGETS:-x86_64-unknown-linux-musl}
mkdir -p "$out"
if [ -n "${CRATES:-}" ]; then
  read -r -a sample <<< "$CRATES"
else
  mapfile -t sample < <(python3 - "$pkgforge/QUEUE_LIST.txt" "$seed" "$count" <<'PY'
import random, sys
names = [l.strip() for l in open(sys.argv[1]) if l.strip()]
for n in random.Random(int(sys.argv[2])).sample(names, int(sys.argv[3])):
    print(n)
PY
)
fi
printf '%s\n' "${sample[@]}" > "$out/sample.txt"
[ -f "$out/table.tsv" ] ||
  printf 'crate\tlabel\tversion\ttarget\tstatus\tclass\tcause\tseed\tseconds\n' > "$out/table.tsv"
row() { # result.json label seconds
  python3 - "$1" "$2" "$3" "$pkgforge/CRATES_BUILT.min.json" >> "$out/table.tsv" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
seed = json.load(open(sys.argv[4])).get(r["crate"], {})
arch = r["target"].split("-")[0].replace("riscv64gc", "riscv64")
seeded = "built " + seed["version"] if arch + "-Linux" in seed.get("targets", []) else "failed"
f = r.get("failure") or {}
cause = (f.get("message") or "").replace("\t", " ").replace("\n", " ")[:160]
print("\t".join([r["crate"], sys.argv[2], r["version"], r["target"], r["status"], f.get("class", ""),
                 cause, seeded, sys.argv[3]]))
PY
}
for c in "${sample[@]}"; do
  for pair in "$@"; do
    label=${pair%%=*}; bin=${pair#*=}
    dir="$out/$label/$c"
    if [ -d "$dir" ]; then continue; fi # resumable: a finished crate is not built again
    mkdir -p "$out/$label"
    args=(); for t in $targets; do args+=(--target "$t"); done
    start=$(date +%s)
    "$bin" build "$c" --backend "${BACKEND:-zigbuild}" "${args[@]}" --out "$dir" --quiet \
      --timeout "${TIMEOUT:-30m}" ${TOOLCHAIN:+--toolchain "$TOOLCHAIN"} ${CACHE_DIR:+--cache-dir "$CACHE_DIR/$label"} > "$dir.stdout" 2> "$dir.stderr"
    secs=$(( $(date +%s) - start ))
    found=0
    for t in $targets; do
      for f in "$dir/$t/result.json" "$dir/result.json"; do
        if [ -f "$f" ] && grep -q "\"target\": \"$t\"" "$f"; then row "$f" "$label" "$secs"; found=1; break; fi
      done
    done
    [ $found = 1 ] || printf '%s\t%s\t-\t-\trefused\t\t%s\t-\t%s\n' "$c" "$label" \
      "$(head -c 160 "$dir.stderr" | tr '\t\n' '  ')" "$secs" >> "$out/table.tsv"
    echo "$(date +%T) $c $label ${secs}s" >&2
  done
done
