#!/usr/bin/env bash
# One crate for the four seed musl targets: four separate `cratemill build` invocations (each with its
# own target folder, as four CI jobs would) against one invocation with four `--target`s (one shared
# target folder), alternated, wall and CPU time (every process of the run, from a cpuacct cgroup) per run.
# Needs tests/setup/30-musl-targets.sh. Results in OUT/times.tsv; docs/benchmarks.md quotes them.
# TOOLCHAIN=NAME builds with `--toolchain NAME` in both shapes: a toolchain with the four targets' std
# prebuilt (benches/prebuilt-std-toolchain.sh) measures the shapes as on a runner after `rustup target
# add`, where std costs nothing; without it, std is built from source in every run.
#   usage: benches/targets.sh OUT_DIR [ROUNDS] [CRATE@VERSION]
set -euo pipefail
out=${1:?usage: benches/targets.sh OUT_DIR [ROUNDS] [CRATE@VERSION]}
rounds=${2:-1}
crate=${3:-hexyl@0.17.0}
bin=${CRATEMILL:-target/release/cratemill}
targets=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl riscv64gc-unknown-linux-musl loongarch64-unknown-linux-musl)
export PATH="$HOME/.local/bin:$PATH"
tc=(); [ -n "${TOOLCHAIN:-}" ] && tc=(--toolchain "$TOOLCHAIN")
mkdir -p "$out"
printf 'round\tshape\twall_s\tcpu_s\tbuilt\n' > "$out/times.tsv"

# Run a command; print "wall cpu" (seconds) of it and all its processes. CPU comes from a cpuacct
# cgroup per run when /sys/fs/cgroup/cpuacct is writable: processes inside bwrap's PID namespace are
# reaped by its own init, so the waited-for children's rusage would miss the build itself.
measure() {
  python3 - "$@" <<'PY'
import os, resource, subprocess, sys, time
acct = "/sys/fs/cgroup/cpuacct"
cmd = sys.argv[1:]
group = None
if os.path.isdir(acct) and os.access(acct, os.W_OK):
    group = os.path.join(acct, "cratemill-bench-targets-%d" % os.getpid())
    os.mkdir(group)
    cmd = ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', group] + cmd
t = time.monotonic()
subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
wall = time.monotonic() - t
if group:
    cpu = int(open(os.path.join(group, "cpuacct.usage")).read()) / 1e9
    os.rmdir(group)
else:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ru.ru_utime + ru.ru_stime
print(f"{wall:.1f} {cpu:.1f}")
PY
}

built() { grep -l '"status": "built"' "$@" 2>/dev/null | wc -l; }

for r in $(seq 1 "$rounds"); do
  rm -rf "$out/sep" "$out/grp"
  wall=0; cpu=0
  for t in "${targets[@]}"; do
    read -r w c < <(measure "$bin" build "$crate" --backend zigbuild "${tc[@]}" --quiet --target "$t" --out "$out/sep/$t")
    wall=$(python3 -c "print(round($wall+$w,1))"); cpu=$(python3 -c "print(round($cpu+$c,1))")
  done
  printf '%s\tseparate\t%s\t%s\t%s\n' "$r" "$wall" "$cpu" "$(built "$out"/sep/*/result.json)" >> "$out/times.tsv"
  args=(); for t in "${targets[@]}"; do args+=(--target "$t"); done
  read -r w c < <(measure "$bin" build "$crate" --backend zigbuild "${tc[@]}" --quiet "${args[@]}" --out "$out/grp")
  printf '%s\tgrouped\t%s\t%s\t%s\n' "$r" "$w" "$c" "$(built "$out"/grp/*/result.json)" >> "$out/times.tsv"
done
column -t -s $'\t' "$out/times.tsv"
