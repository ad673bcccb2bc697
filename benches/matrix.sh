#!/usr/bin/env bash
# Full-scale benchmark of `cratemill matrix` (see docs/matrix.md and docs/benchmarks.md).
#
#   benches/matrix.sh [CRATES] [RUNS]      (defaults: 150000 crates, 5 runs)
#   benches/matrix.sh shapes [CRATES] [RUNS] [SHAPE...]
#
# `shapes`: peak memory of `cratemill matrix` per dump shape (`Shape::NAMES` in
# src/dump/synth/random.rs: default, many-versions, long-deps, big-features, all-binaries,
# huge-descriptions, worst, correlated; all of them unless named; `SHAPE-shuffled` is SHAPE's dump
# with the rows of dependencies.csv, header kept, put through `shuf --random-source=<(yes)` and
# packed again in the same table order). Each dump is generated once into BENCH_DIR
# and reused. With BASELINE=/path/to/an/older/cratemill, that binary runs interleaved with this
# one on the same dumps, and the plans of both are compared (everything but `created_at`).
#
# Generates a synthetic crates.io dump once (BENCH_DIR, default /tmp/cratemill-bench), then runs,
# interleaved, RUNS times each: `gzip -dc dump > /dev/null`, flate2+zlib-rs inflate alone, the
# `db-dump` crate loading the same five tables, and `cratemill matrix` (release build). Prints the
# median wall time, the ratio to `gzip -dc`, and the median peak RSS (/usr/bin/time -v).
set -euo pipefail

if [[ ${1:-} == shapes ]]; then
  shift
  crates=${1:-150000}
  runs=${2:-3}
  shift $(($# < 2 ? $# : 2))
  dir=${BENCH_DIR:-/tmp/cratemill-bench}
  root=$(cd "$(dirname "$0")/.." && pwd)
  target=${CARGO_TARGET_DIR:-$root/target}
  shapes=("$@")
  ((${#shapes[@]})) || shapes=(default many-versions long-deps big-features all-binaries huge-descriptions worst correlated)
  mkdir -p "$dir"
  [[ -x /usr/bin/time ]] || { echo "error: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
  [[ -x $target/release/cratemill && -x $target/release/examples/matrix_synth_dump ]] ||
    (cd "$root" && cargo build --release --bin cratemill --example matrix_synth_dump)
  bins=(new)
  declare -A bin=([new]=$target/release/cratemill)
  if [[ -n ${BASELINE:-} ]]; then bins+=(baseline); bin[baseline]=$BASELINE; fi
  measure() { # binary dump out -> "wall rss_kib cpu"
    /usr/bin/time -v -o "$dir/shape.run" "$1" matrix --dump "$2" --since 2025-01-01 --out "$3" > /dev/null 2> "$dir/shape.stderr" ||
      { cat "$dir/shape.stderr" >&2; return 1; }
    awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (k = 1; k <= n; k++) s = s * 60 + p[k]; w = s}
      /Maximum resident set size/ {r = $2} /User time|System time/ {c += $2} END {print w, r, c}' "$dir/shape.run"
  }
  generate() { # shape -> its dump in $dir, made once
    local dump=$dir/db-dump-$crates-$1.tar.gz
    [[ -s $dump ]] && return
    if [[ $1 == *-shuffled ]]; then
      generate "${1%-shuffled}"
      local tmp
      tmp=$(mktemp -d "$dir/shuffle.XXXXXX")
      tar -xzf "$dir/db-dump-$crates-${1%-shuffled}.tar.gz" -C "$tmp"
      local -a order
      mapfile -t order < <(tar -tzf "$dir/db-dump-$crates-${1%-shuffled}.tar.gz")
      local deps
      deps=$(find "$tmp" -path '*/data/dependencies.csv')
      { head -1 "$deps"; tail -n +2 "$deps" | shuf --random-source=<(yes); } > "$deps.shuffled"
      mv "$deps.shuffled" "$deps"
      tar -C "$tmp" --no-recursion -czf "$dump.tmp" "${order[@]}"
      rm -rf "$tmp"
    else
      "$target/release/examples/matrix_synth_dump" "$dump.tmp" "$crates" 1 "$1"
    fi
    mv "$dump.tmp" "$dump"
  }
  median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  printf '%-18s %-9s %9s %9s %8s %16s %8s\n' shape binary "MiB gz" "wall (s)" "CPU (s)" "peak RSS (MiB)" jobs
  for shape in "${shapes[@]}"; do
    dump=$dir/db-dump-$crates-$shape.tar.gz
    generate "$shape"
    for b in "${bins[@]}"; do : > "$dir/shape-$b.times"; done
    for ((i = 1; i <= runs; i++)); do
      for b in "${bins[@]}"; do measure "${bin[$b]}" "$dump" "$dir/plan-$shape-$b" >> "$dir/shape-$b.times"; done
    done
    for b in "${bins[@]}"; do
      wall=$(cut -d' ' -f1 "$dir/shape-$b.times" | median)
      rss=$(cut -d' ' -f2 "$dir/shape-$b.times" | median)
      cpu=$(cut -d' ' -f3 "$dir/shape-$b.times" | median)
      printf '%-18s %-9s %9s %9.2f %8.2f %16.1f %8s\n' "$shape" "$b" "$(du -m "$dump" | cut -f1)" "$wall" "$cpu" \
        "$(echo "$rss / 1024" | bc -l)" "$(jq .funnel.jobs "$dir/plan-$shape-$b/plan.json")"
    done
    if [[ -n ${BASELINE:-} ]]; then
      if cmp -s <(jq -S 'del(.created_at)' "$dir/plan-$shape-new/plan.json") <(jq -S 'del(.created_at)' "$dir/plan-$shape-baseline/plan.json"); then
        echo "$shape: plan.json identical to the baseline's (created_at aside)"
      else
        echo "$shape: plan.json DIFFERS from the baseline's"
      fi
    fi
  done
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  exit 0
fi

crates=${1:-150000}
runs=${2:-5}
dir=${BENCH_DIR:-/tmp/cratemill-bench}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
dump=$dir/db-dump-$crates.tar.gz
mkdir -p "$dir"

[[ -x /usr/bin/time ]] || { echo "error: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
if [[ ! -x $target/release/cratemill || ! -x $target/release/examples/matrix_dbdump_load || ! -x $target/release/examples/matrix_inflate ]]; then
  (cd "$root" && cargo build --release --bin cratemill --example matrix_synth_dump --example matrix_dbdump_load --example matrix_inflate)
fi
if [[ ! -s $dump ]]; then
  "$target/release/examples/matrix_synth_dump" "$dump.tmp" "$crates" && mv "$dump.tmp" "$dump"
fi
echo "dump: $dump ($(du -m "$dump" | cut -f1) MiB compressed, $(gzip -dc "$dump" | wc -c | awk '{printf "%.0f", $1/1048576}') MiB inflated)"

declare -A cmds=(
  [gzip]="gzip -dc $dump"
  [zlib-rs]="$target/release/examples/matrix_inflate $dump"
  [db-dump]="$target/release/examples/matrix_dbdump_load $dump"
  [cratemill]="$target/release/cratemill matrix --dump $dump --since 2025-01-01 --out $dir/plan"
)
order=(gzip zlib-rs db-dump cratemill)
for name in "${order[@]}"; do : > "$dir/$name.times"; done
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for ((i = 1; i <= runs; i++)); do
  for name in "${order[@]}"; do
    /usr/bin/time -v -o "$dir/$name.run" ${cmds[$name]} > /dev/null 2> "$dir/$name.stderr"
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (k = 1; k <= n; k++) s = s * 60 + p[k]; print s}' "$dir/$name.run")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$dir/$name.run")
    cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$dir/$name.run")
    echo "$wall $rss $cpu" >> "$dir/$name.times"
  done
done

median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
base=$(cut -d' ' -f1 "$dir/gzip.times" | median)
echo "load average before/after: $load_before / $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %12s %10s %12s %14s\n' tool "wall (s)" "x gzip" "CPU (s)" "peak RSS (MiB)"
for name in "${order[@]}"; do
  wall=$(cut -d' ' -f1 "$dir/$name.times" | median)
  rss=$(cut -d' ' -f2 "$dir/$name.times" | median)
  cpu=$(cut -d' ' -f3 "$dir/$name.times" | median)
  printf '%-10s %12.2f %10.2f %12.2f %14.1f\n' "$name" "$wall" "$(echo "$wall / $base" | bc -l)" "$cpu" "$(echo "$rss / 1024" | bc -l)"
done
echo "cratemill: $(tail -1 "$dir/cratemill.stderr")"
