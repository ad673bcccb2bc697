#!/usr/bin/env python3
"""The sandbox's fixed cost per command: wall time of `/usr/bin/true` run directly and inside bwrap with
the mounts a cratemill build uses (/usr, the top-level links, /etc files, a writable work folder, tmpfs
/tmp and $HOME, new /proc and /dev, all namespaces). Interleaved, medians. A build runs 3-5 such commands
(dependency fetch, one build per attempt, one or two smoke runs per executable).

usage: benches/sandbox_startup.py [RUNS]
"""
import os, statistics, subprocess, sys, tempfile, time

runs = int(sys.argv[1]) if len(sys.argv) > 1 else 200
work = tempfile.mkdtemp(prefix="cratemill-bench-startup-")
home = os.environ.get("HOME", "/root")
bwrap = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--proc", "/proc", "--dev", "/dev",
         "--tmpfs", "/tmp", "--ro-bind", "/usr", "/usr"]
for top in ("/bin", "/sbin", "/lib", "/lib64"):
    if os.path.islink(top):
        bwrap += ["--symlink", os.readlink(top), top]
for etc in ("/etc/alternatives", "/etc/ld.so.cache"):
    bwrap += ["--ro-bind-try", etc, etc]
bwrap += ["--tmpfs", home, "--ro-bind-try", os.path.join(home, ".rustup"), os.path.join(home, ".rustup"),
          "--bind", work, work, "--chdir", work, "--", "/usr/bin/true"]
direct = ["/usr/bin/true"]
times = {"bwrap": [], "direct": []}
for i in range(runs):
    for name, cmd in ((("bwrap", bwrap), ("direct", direct)) if i % 2 == 0 else (("direct", direct), ("bwrap", bwrap))):
        t = time.monotonic()
        subprocess.run(cmd, check=True)
        times[name].append(time.monotonic() - t)
a, b = statistics.median(times["bwrap"]) * 1000, statistics.median(times["direct"]) * 1000
print("%d interleaved runs: /usr/bin/true in bwrap %.2f ms, direct %.2f ms, sandbox cost %.2f ms per command" % (runs, a, b, a - b))
os.rmdir(work)
