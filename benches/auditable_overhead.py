#!/usr/bin/env python3
"""What does the dependency list cost? `cratemill build CRATE` with `--auditable on` (cargo-auditable
embeds `.dep-v0`) and with `--auditable off`, alternating, each run in a fresh work folder (a cold
build, as a fleet job is) with a warm cargo registry cache. Prints the medians of the wall time and of
the build phase (result.json `timings_ms.build`), the section's size and the executables' sizes.

usage: benches/auditable_overhead.py [CRATE[@VERSION]] [RUNS] [cratemill build flags...]
       (CRATEMILL names the binary, default target/release/cratemill)
"""
import json, os, shutil, statistics, subprocess, sys, tempfile, time

crate = sys.argv[1] if len(sys.argv) > 1 else "hexyl@0.17.0"
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
extra = sys.argv[3:]
binary = os.environ.get("CRATEMILL", "target/release/cratemill")
scratch = tempfile.mkdtemp(prefix="cratemill-bench-auditable-")

def build(mode, i):
    out = os.path.join(scratch, "%s-%d" % (mode, i))
    t = time.monotonic()
    subprocess.run([binary, "build", crate, "--out", out, "--quiet", "--auditable", mode, *extra],
                   check=True, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - t
    r = json.load(open(os.path.join(out, "result.json")))
    shutil.rmtree(out)
    return wall, r

# Warm-up: fills ~/.cargo/registry so every measured run downloads nothing from crates.io.
build("off", -1)
seen = {"on": [], "off": []}
for i in range(runs):
    for mode in (("on", "off") if i % 2 == 0 else ("off", "on")):
        seen[mode].append(build(mode, i))

def med(xs):
    return statistics.median(xs)

r_on = seen["on"][-1][1]
print("crate: %s %s (%s, backend %s), %d runs each, alternating" % (r_on["crate"], r_on["version"], r_on["target"], r_on["backend"], runs))
print("command (on): %s" % " ".join(next(a for a in r_on["attempts"] if a["produced_binaries"])["command"]))
for mode in ("on", "off"):
    walls = [w for w, _ in seen[mode]]
    builds = [r["timings_ms"]["build"] / 1000 for _, r in seen[mode]]
    print("--auditable %-3s wall median %.2fs (%s)  build phase median %.2fs (%s)" % (
        mode, med(walls), ", ".join("%.2f" % x for x in walls), med(builds), ", ".join("%.2f" % x for x in builds)))
wall_ratio = med([w for w, _ in seen["on"]]) / med([w for w, _ in seen["off"]])
build_ratio = med([r["timings_ms"]["build"] for _, r in seen["on"]]) / med([r["timings_ms"]["build"] for _, r in seen["off"]])
print("ratio on / off: wall %.3f, build phase %.3f" % (wall_ratio, build_ratio))
for exe_on, exe_off in zip(r_on["executables"], seen["off"][-1][1]["executables"]):
    dl = exe_on.get("dependency_list") or {}
    print("%s: .dep-v0 %s bytes listing %s packages; executable %d bytes on, %d off (%+d)" % (
        exe_on["name"], dl.get("section_bytes"), dl.get("packages"), exe_on["size"], exe_off["size"],
        exe_on["size"] - exe_off["size"]))
shutil.rmtree(scratch, ignore_errors=True)
