#!/usr/bin/env python3
"""What does the build sandbox cost? Side-by-side wall times of `cratemill build CRATE --sandbox bwrap`
and `--sandbox none` on a real crate. Both modes do the same work (fetch of the dependency graph into the
job's own CARGO_HOME, then an offline build, smoke runs); only bwrap differs. Runs are interleaved and the
order alternates each round, so a noisy neighbour hits both; medians of the whole command, of the
`build` phase (from result.json) and of the CPU time of every process of the run (a cpuacct cgroup per
run when /sys/fs/cgroup/cpuacct is writable, else user+sys of the waited-for children; a busy machine
inflates CPU time far less than wall time) are printed, with their ratios.

usage: benches/sandbox_overhead.py [CRATE[@VERSION]] [RUNS]   (CRATEMILL=path/to/cratemill, default target/release/cratemill)
"""
import json, os, resource, shutil, statistics, subprocess, sys, tempfile, time

crate = sys.argv[1] if len(sys.argv) > 1 else "hexyl@0.17.0"
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
binary = os.environ.get("CRATEMILL", "target/release/cratemill")
scratch = tempfile.mkdtemp(prefix="cratemill-bench-sandbox-")
modes = ["bwrap", "none"]
times = {m: {"total": [], "build": [], "fetch+prepare": [], "cpu": []} for m in modes}

CPUACCT = "/sys/fs/cgroup/cpuacct"

def run(mode, i):
    out = os.path.join(scratch, "%s-%d" % (mode, i))
    cmd = [binary, "build", crate, "--sandbox", mode, "--out", out, "--quiet"]
    # CPU time: processes inside bwrap's PID namespace are reaped by its own init, so
    # RUSAGE_CHILDREN misses them; a cgroup (v1 cpuacct) counts every process of the run.
    group = os.path.join(CPUACCT, "cratemill-bench-%d-%s-%d" % (os.getpid(), mode, i))
    if os.path.isdir(CPUACCT) and os.access(CPUACCT, os.W_OK):
        os.mkdir(group)
        cmd = ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', group] + cmd
    else:
        group = None
    t = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - t
    if group:
        cpu = int(open(os.path.join(group, "cpuacct.usage")).read()) / 1e9
        os.rmdir(group)
    else:
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    r = json.load(open(os.path.join(out, "result.json")))
    assert r["sandbox"] == mode, r["sandbox"]
    ms = r["timings_ms"]
    times[mode]["total"].append(wall)
    times[mode]["cpu"].append(cpu)
    times[mode]["build"].append(ms["build"] / 1000)
    times[mode]["fetch+prepare"].append((ms["fetch"] + ms["prepare"]) / 1000)
    shutil.rmtree(out)
    print("run %d %-5s total %6.1fs build %6.1fs cpu %6.1fs load %.2f" % (i, mode, wall, ms["build"] / 1000, cpu,
          os.getloadavg()[0]), flush=True)

run("none", 0)  # warm-up (page cache, index), not counted
times = {m: {k: [] for k in times[m]} for m in modes}
for i in range(runs):
    for mode in (modes if i % 2 == 0 else modes[::-1]):
        run(mode, i + 1)

print("\n%s, %d interleaved runs each (medians)" % (crate, runs))
print("| measure | --sandbox bwrap | --sandbox none | ratio |")
print("| --- | --- | --- | --- |")
for k in ("total", "build", "fetch+prepare", "cpu"):
    a, b = statistics.median(times["bwrap"][k]), statistics.median(times["none"][k])
    print("| %s | %.2f s | %.2f s | %.3f |" % (k, a, b, a / b))
shutil.rmtree(scratch)
