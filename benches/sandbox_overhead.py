#!/usr/bin/env python3
"""What does the build sandbox cost? Side-by-side wall times of `cratemill build CRATE --sandbox bwrap`
and `--sandbox none` on a real crate. Both modes do the same work (fetch of the dependency graph into the
job's own CARGO_HOME, then an offline build, smoke runs); only bwrap differs. Runs are interleaved and the
order alternates each round, so a noisy neighbour hits both; medians of the whole command and of the
`build` phase (from result.json) are printed, with their ratios.

usage: benches/sandbox_overhead.py [CRATE[@VERSION]] [RUNS]   (CRATEMILL=path/to/cratemill, default target/release/cratemill)
"""
import json, os, shutil, statistics, subprocess, sys, tempfile, time

crate = sys.argv[1] if len(sys.argv) > 1 else "hexyl@0.17.0"
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
binary = os.environ.get("CRATEMILL", "target/release/cratemill")
scratch = tempfile.mkdtemp(prefix="cratemill-bench-sandbox-")
modes = ["bwrap", "none"]
times = {m: {"total": [], "build": [], "fetch+prepare": []} for m in modes}

def run(mode, i):
    out = os.path.join(scratch, "%s-%d" % (mode, i))
    t = time.monotonic()
    subprocess.run([binary, "build", crate, "--sandbox", mode, "--out", out, "--quiet"], check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.monotonic() - t
    r = json.load(open(os.path.join(out, "result.json")))
    assert r["sandbox"] == mode, r["sandbox"]
    ms = r["timings_ms"]
    times[mode]["total"].append(wall)
    times[mode]["build"].append(ms["build"] / 1000)
    times[mode]["fetch+prepare"].append((ms["fetch"] + ms["prepare"]) / 1000)
    shutil.rmtree(out)
    print("run %d %-5s total %6.1fs build %6.1fs" % (i, mode, wall, ms["build"] / 1000), flush=True)

run("none", 0)  # warm-up (page cache, index), not counted
times = {m: {k: [] for k in times[m]} for m in modes}
for i in range(runs):
    for mode in (modes if i % 2 == 0 else modes[::-1]):
        run(mode, i + 1)

print("\n%s, %d interleaved runs each (medians)" % (crate, runs))
print("| measure | --sandbox bwrap | --sandbox none | ratio |")
print("| --- | --- | --- | --- |")
for k in ("total", "build", "fetch+prepare"):
    a, b = statistics.median(times["bwrap"][k]), statistics.median(times["none"][k])
    print("| %s | %.2f s | %.2f s | %.3f |" % (k, a, b, a / b))
shutil.rmtree(scratch)
