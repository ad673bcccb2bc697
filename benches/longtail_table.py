#!/usr/bin/env python3
"""Render benches/longtail.sh's results as the Markdown tables of docs/benchmarks.md.

usage: benches/longtail_table.py OUT_DIR LABEL [PKGFORGE_DIR]

Reads OUT_DIR/sample.txt and every OUT_DIR/LABEL/<crate>[/<target>]/result.json (the rows of
table.tsv are not needed: a build finished after the script was stopped still counts). A crate
counts as built on a target only when result.json says `built` (every executable static, its smoke
run passed). Crates whose newest version has no binary target (`no-executables`) are left out of
the rate, as the issue's goal says.
"""
import datetime
import json
import os
import sys


def results(root):
    """(crate, target) -> result.json, for every result under root."""
    found = {}
    for dirpath, _, files in os.walk(root):
        if "result.json" in files:
            with open(os.path.join(dirpath, "result.json")) as f:
                r = json.load(f)
            found[(r["crate"], r["target"])] = r
    return found


def seconds(r):
    try:
        a = datetime.datetime.fromisoformat(r["started_at"].replace("Z", "+00:00"))
        b = datetime.datetime.fromisoformat(r["finished_at"].replace("Z", "+00:00"))
        return int((b - a).total_seconds())
    except (KeyError, ValueError):
        return None


def cause(r):
    f = r.get("failure") or {}
    text = (f.get("message") or "").replace("|", "\\|").replace("\n", " ")
    return text[:140] + ("..." if len(text) > 140 else "")


def mechanisms(r):
    """What the build did beyond a plain locked build: retries, additions, lifts."""
    done = []
    attempts = r.get("attempts") or []
    if len(attempts) > 1:
        done.append(f"{len(attempts)} attempts")
    for a in r.get("manifest_additions") or []:
        done.append(f"added {a.get('package', a)}")
    for lift in r.get("lock_lifts") or []:
        done.append(f"lifted {lift.get('package', lift)}")
    return ", ".join(done)


def main():
    out, label = sys.argv[1], sys.argv[2]
    pkgforge = sys.argv[3] if len(sys.argv) > 3 else os.path.join(os.path.dirname(__file__), "../../shared/pkgforge")
    with open(os.path.join(pkgforge, "CRATES_BUILT.min.json")) as f:
        seed = json.load(f)
    with open(os.path.join(out, "sample.txt")) as f:
        sample = [line.strip() for line in f if line.strip()]
    found = results(os.path.join(out, label))
    targets = sorted({t for (_, t) in found})
    print("| crate | target | seed (its version) | cratemill (newest version) | class | what cratemill did | cause | s |")
    print("| --- | --- | --- | --- | --- | --- | --- | ---: |")
    per_target = {t: [0, 0, 0] for t in targets}  # built, with binaries, seed built
    for c in sample:
        for t in targets:
            r = found.get((c, t))
            arch = t.split("-")[0].replace("riscv64gc", "riscv64")
            s = seed.get(c, {})
            seeded = f"built {s['version']}" if arch + "-Linux" in s.get("targets", []) else "failed"
            if r is None:
                print(f"| {c} | {t} | {seeded} | not run | | | | |")
                continue
            cls = (r.get("failure") or {}).get("class", "")
            print(
                f"| {c} | {t} | {seeded} | {r['status']} {r['version']} | {cls} | {mechanisms(r)} | {cause(r)} | {seconds(r) or ''} |"
            )
            if cls != "no-executables":
                per_target[t][1] += 1
                per_target[t][0] += r["status"] == "built"
                per_target[t][2] += seeded.startswith("built")
    print()
    print("| target | cratemill built | of crates with a binary | rate | seed built (same crates) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for t, (built, bins, seeded) in per_target.items():
        rate = f"{100 * built / bins:.1f}%" if bins else "-"
        print(f"| {t} | {built} | {bins} | {rate} | {seeded} |")


if __name__ == "__main__":
    main()
