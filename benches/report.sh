#!/usr/bin/env bash
# Benchmark of `cratemill report` on a fleet-sized input (docs/benchmarks.md, "report").
#
#   benches/report.sh [RESULTS] [RUNS]     (defaults: 40000 results, 3 runs)
#
# Generates RESULTS job folders once (BENCH_DIR, default /tmp/cratemill-bench-report): 10,000
# crates x 4 musl targets, ~58% built and published (1-6 executables each, publish.json with
# layers), the rest failed over every class with 20 evidence lines and a build.log; a previous
# index from half of them. Then runs the release binary RUNS times (`report --previous --html`)
# and prints the median wall time and peak RSS (/usr/bin/time -v), plus `cat` of every result
# file as a floor for reading them.
set -euo pipefail

n=${1:-40000}
runs=${2:-3}
dir=${BENCH_DIR:-/tmp/cratemill-bench-report}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
[[ -x /usr/bin/time ]] || { echo "error: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
(cd "$root" && cargo build --release --locked --bin cratemill >&2)
bin=$target/release/cratemill

if [[ ! -f $dir/results-$n/.done ]]; then
  rm -rf "$dir/results-$n"
  python3 - "$dir/results-$n" "$n" <<'PY'
import json, os, random, sys
out, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(13)
targets = ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl", "riscv64gc-unknown-linux-musl", "loongarch64-unknown-linux-musl"]
classes = ["missing-system-library", "build-script-failed", "compile-error", "link-error", "unsupported-target",
           "no-executables", "timeout", "out-of-resources", "fetch-failed", "checksum-mismatch", "unsafe-archive",
           "rust-version", "not-static", "smoke-crashed", "not-found", "unknown"]
weights = [30, 25, 15, 8, 6, 5, 2, 1, 2, 0.2, 0.2, 3, 1, 1, 0.5, 1]
for i in range(n):
    name, t = f"crate-{i // 4:05d}", targets[i % 4]
    ok = rng.random() < (0.35 if t.startswith("loongarch") else 0.65)
    total = int(rng.lognormvariate(11.5, 0.9))
    folder = os.path.join(out, f"{i // 1000:03d}", f"{name}-1.{i % 7}.0-{t}")
    os.makedirs(folder)
    r = {"schema_version": 1, "kind": "cratemill.build-result", "cratemill_version": "0.1.0", "crate": name,
         "version": f"1.{i % 7}.0", "target": t, "status": "built" if ok else "failed", "backend": "zigbuild",
         "started_at": "2026-11-01T00:00:00Z", "finished_at": f"2026-11-01T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}Z",
         "source": {"index_url": "https://index.crates.io/", "download_url": f"https://static.crates.io/crates/{name}/{name}-1.0.0.crate",
                    "crate_sha256": "%064x" % i, "crate_size": 123456, "yanked": False},
         "package": {"description": "A command-line tool " * 3, "license": "MIT OR Apache-2.0", "license_file": None,
                     "homepage": None, "repository": f"https://github.com/someone/{name}", "documentation": None,
                     "rust_version": "1.70", "edition": "2021"},
         "prepare": ["removed .cargo/", "openssl: vendored"], "toolchain": {"channel": "nightly", "rustc": "rustc 1.96.0", "cargo": "cargo 1.96.0", "backend_tool": "cargo-zigbuild 0.20.1"},
         "rustflags": "-C target-feature=+crt-static", "build_env": {"CARGO_PROFILE_RELEASE_LTO": "true", "CARGO_PROFILE_RELEASE_STRIP": "symbols"},
         "attempts": [{"features": "all", "locked": True, "command": ["cargo-zigbuild", "build", "--release", "--target", t, "--all-features"],
                       "duration_ms": total, "exit_code": 0 if ok else 101, "produced_binaries": ok, "failure": None}],
         "features_used": "all" if ok else None,
         "timings_ms": {"fetch": 800, "prepare": 20, "build": total, "inspect": 30, "license": 40, "package": 60, "total": total + 950},
         "executables": [], "licenses": {"declared": "MIT OR Apache-2.0", "files": []}, "failure": None, "files": []}
    if ok:
        layers = []
        for k in range(rng.choice([1, 1, 1, 2, 2, 3, 4, 6])):
            exe, size, sha = f"{name}-{k}", int(rng.lognormvariate(15.5, 0.8)), "%064x" % (i * 8 + k)
            r["executables"].append({"name": exe, "path": f"bin/{exe}", "size": size, "sha256": sha, "blake3": sha, "arch": t.split("-")[0],
                                     "static": True, "interpreter": None, "needed": [],
                                     "smoke": {"status": "passed", "args": ["--version"], "runner": None, "exit_code": 0, "signal": None, "first_line": f"{exe} 1.0.0", "note": None}})
            layers.append({"title": f"bin/{exe}", "media_type": "application/vnd.cratemill.executable.v1", "digest": "sha256:" + sha, "size": size})
        p = {"schema_version": 1, "kind": "cratemill.publish-record", "crate": name, "version": r["version"], "target": t,
             "destination": "ghcr.io/acme", "published_at": r["finished_at"], "build_id": "123-1", "layout": "per-crate",
             "references": [{"reference": f"ghcr.io/acme/{name}:{r['version']}-{t}", "digest": "sha256:" + "%064x" % (i + 7), "kind": "binary",
                             "artifact_type": "application/vnd.cratemill.package.v1", "unchanged": False, "blobs_uploaded": 3, "blobs_present": 1, "layers": layers}]}
        json.dump(p, open(os.path.join(folder, "publish.json"), "w"), indent=2)
    else:
        c = rng.choices(classes, weights)[0]
        r["failure"] = {"class": c, "phase": "build", "message": f"{c} while building {name}",
                        "evidence": [f"error: line {k} of the evidence for {name} ({c})" for k in range(20)]}
        r["attempts"][0]["failure"] = r["failure"]
        open(os.path.join(folder, "build.log"), "w").write("[0.000] build\n")
    json.dump(r, open(os.path.join(folder, "result.json"), "w"), indent=2)
open(os.path.join(out, ".done"), "w").close()
PY
fi
results=$dir/results-$n
echo "results: $n files, $(du -sm "$results" | cut -f1) MiB on disk"
# The previous index: a report over the first half of the folders.
half=$(ls -d "$results"/*/ | head -n $(( $(ls -d "$results"/*/ | wc -l) / 2 )))
# shellcheck disable=SC2086
"$bin" report $half --previous "$dir/prev.json" --previous-optional --out "$dir/prev.json" 2> /dev/null

: > "$dir/report.times"; : > "$dir/cat.times"
for ((i = 1; i <= runs; i++)); do
  /usr/bin/time -v -o "$dir/cat.run" sh -c "find '$results' -name result.json -print0 | xargs -0 cat > /dev/null"
  /usr/bin/time -v -o "$dir/report.run" "$bin" report "$results" --previous "$dir/prev.json" --out "$dir/out/index.json" --html "$dir/out/site" 2> "$dir/report.stderr"
  for name in cat report; do
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (k = 1; k <= n; k++) s = s * 60 + p[k]; print s}' "$dir/$name.run")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$dir/$name.run")
    echo "$wall $rss" >> "$dir/$name.times"
  done
done
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
tail -1 "$dir/report.stderr"
for name in cat report; do
  echo "$name: median wall $(cut -d' ' -f1 "$dir/$name.times" | median) s, median peak RSS $(( $(cut -d' ' -f2 "$dir/$name.times" | median) / 1024 )) MiB ($runs runs)"
done
echo "outputs: index.json $(du -k "$dir/out/index.json" | cut -f1) KiB, failures.json $(du -k "$dir/out/failures.json" | cut -f1) KiB, report.md $(du -k "$dir/out/report.md" | cut -f1) KiB, site $(du -k "$dir/out/site/index.html" | cut -f1) KiB"
