#!/usr/bin/env bash
# One crate for the four seed musl targets: four separate `cratemill build` invocations (each with its
# own target folder, as four CI jobs would) against one invocation with four `--target`s (one shared
# target folder), alternated, wall and CPU time (user+sys of cratemill and its children) per run.
# Needs tests/setup/30-musl-targets.sh. Results in OUT/times.tsv; docs/benchmarks.md quotes them.
#   usage: benches/targets.sh OUT_DIR [ROUNDS] [CRATE@VERSION]
set -euo pipefail
out=${1:?usage: benches/targets.sh OUT_DIR [ROUNDS] [CRATE@VERSION]}
rounds=${2:-1}
crate=${3:-hexyl@0.17.0}
bin=${CRATEMILL:-target/release/cratemill}
targets=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl riscv64gc-unknown-linux-musl loongarch64-unknown-linux-musl)
export PATH="$HOME/.local/bin:$PATH"
mkdir -p "$out"
printf 'round\tshape\twall_s\tcpu_s\tbuilt\n' > "$out/times.tsv"

# Run a command; print "wall cpu" (seconds) of it and all its children.
measure() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
wall = time.monotonic() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{wall:.1f} {ru.ru_utime + ru.ru_stime:.1f}")
PY
}

built() { grep -l '"status": "built"' "$@" 2>/dev/null | wc -l; }

for r in $(seq 1 "$rounds"); do
  rm -rf "$out/sep" "$out/grp"
  wall=0; cpu=0
  for t in "${targets[@]}"; do
    read -r w c < <(measure "$bin" build "$crate" --backend zigbuild --quiet --target "$t" --out "$out/sep/$t")
    wall=$(python3 -c "print(round($wall+$w,1))"); cpu=$(python3 -c "print(round($cpu+$c,1))")
  done
  printf '%s\tseparate\t%s\t%s\t%s\n' "$r" "$wall" "$cpu" "$(built "$out"/sep/*/result.json)" >> "$out/times.tsv"
  args=(); for t in "${targets[@]}"; do args+=(--target "$t"); done
  read -r w c < <(measure "$bin" build "$crate" --backend zigbuild --quiet "${args[@]}" --out "$out/grp")
  printf '%s\tgrouped\t%s\t%s\t%s\n' "$r" "$w" "$c" "$(built "$out"/grp/*/result.json)" >> "$out/times.tsv"
done
column -t -s $'\t' "$out/times.tsv"
