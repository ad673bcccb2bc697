#!/usr/bin/env python3
"""What does cratemill add on top of cargo? Side-by-side wall times of `cratemill build CRATE` and of the
plain cargo command cratemill runs, on the same prepared source, with the same flags and environment, a
fresh target folder each run and a warm cargo registry cache. Runs alternate; medians and the ratio are
printed, with cratemill's per-phase medians.

usage: benches/build_overhead.py [CRATE[@VERSION]] [RUNS]     (needs target/release/cratemill)
"""
import json, os, shutil, statistics, subprocess, sys, tempfile, time

crate = sys.argv[1] if len(sys.argv) > 1 else "hexyl"
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
binary = os.environ.get("CRATEMILL", "target/release/cratemill")
scratch = tempfile.mkdtemp(prefix="cratemill-bench-")

def cratemill(out, *extra):
    t = time.monotonic()
    subprocess.run([binary, "build", crate, "--out", out, "--quiet", *extra], check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - t

# Warm-up: fills ~/.cargo/registry and keeps the prepared source for the plain cargo runs.
cratemill(os.path.join(scratch, "warm"), "--keep-work")
result = json.load(open(os.path.join(scratch, "warm", "result.json")))
log = open(os.path.join(scratch, "warm", "build.log")).read()
work = next(l.split("work folder kept at ", 1)[1].strip() for l in log.splitlines() if "work folder kept at" in l)
attempt = next(a for a in result["attempts"] if a["produced_binaries"])
command = attempt["command"]
target = result["target"]
env = {k: os.environ[k] for k in ("PATH", "HOME", "CARGO_HOME", "RUSTUP_HOME", "LANG") if k in os.environ}
env.update(result["build_env"])
env["CARGO_TARGET_%s_RUSTFLAGS" % target.upper().replace("-", "_")] = result["rustflags"]

def plain(i):
    target_dir = os.path.join(scratch, "plain-target-%d" % i)
    cmd = list(command)
    if "--artifact-dir" in cmd:
        cmd[cmd.index("--artifact-dir") + 1] = os.path.join(scratch, "plain-artifacts-%d" % i)
    e = dict(env, CARGO_TARGET_DIR=target_dir)
    t = time.monotonic()
    subprocess.run(cmd, check=True, env=e, cwd=os.path.dirname(cmd[cmd.index("--manifest-path") + 1]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.monotonic() - t
    shutil.rmtree(target_dir, ignore_errors=True)
    return elapsed

cm, pc, phases = [], [], {}
for i in range(runs):
    out = os.path.join(scratch, "run-%d" % i)
    cm.append(cratemill(out))
    for k, v in json.load(open(os.path.join(out, "result.json")))["timings_ms"].items():
        phases.setdefault(k, []).append(v / 1000)
    shutil.rmtree(out)
    pc.append(plain(i))

mc, mp = statistics.median(cm), statistics.median(pc)
print("crate: %s %s (%s), %d runs each, alternating" % (result["crate"], result["version"], target, runs))
print("command: %s" % " ".join(command))
print("cratemill build   median %.2fs  runs %s" % (mc, ", ".join("%.2f" % x for x in cm)))
print("plain cargo build median %.2fs  runs %s" % (mp, ", ".join("%.2f" % x for x in pc)))
print("ratio cratemill / cargo: %.3f  (overhead %+.1f%%)" % (mc / mp, (mc / mp - 1) * 100))
print("cratemill phase medians: " + ", ".join("%s %.2fs" % (k, statistics.median(v)) for k, v in sorted(phases.items())))
shutil.rmtree(work, ignore_errors=True)
shutil.rmtree(scratch, ignore_errors=True)
