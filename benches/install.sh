#!/usr/bin/env bash
# Benchmark of `cratemill install` against `skopeo copy` of the same image (docs/benchmarks.md,
# "install"), side by side in one run on a loopback docker-registry (no auth, plain HTTP).
#
#   benches/install.sh [RUNS]      (default: 9 runs each, interleaved)
#
# CRATEMILL_BIN=PATH runs that binary instead of building the release one (then PAYLOAD=FILE, the
# executable put in the image, defaults to it too). Each run also installs with `--verify off`, so
# the referrer lookup of the default `--verify auto` shows in the request count.
#
# The image is a cratemill package as `publish` writes it: one executable layer (the release
# cratemill binary, EXE_BYTES of it), build.log, a license, result.json and CHECKSUMS layers, the
# cratemill annotations. It is written as an OCI layout and pushed with skopeo. Each run installs
# one executable with `cratemill install` and copies the image with `skopeo copy ... dir:`; the
# registry's access log counts the HTTP requests each makes. Prints medians.
set -euo pipefail

runs=${1:-9}
dir=${BENCH_DIR:-/tmp/cratemill-bench-install}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
for tool in docker-registry skopeo python3; do
  command -v "$tool" > /dev/null || { echo "error: $tool is missing: run bash tests/setup/10-system-packages.sh" >&2; exit 1; }
done
if [[ -n "${CRATEMILL_BIN:-}" ]]; then
  bin=$CRATEMILL_BIN
else
  (cd "$root" && cargo build --release --locked --bin cratemill >&2)
  bin=$target/release/cratemill
fi
payload=${PAYLOAD:-$bin}
rm -rf "$dir" && mkdir -p "$dir"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$dir/config.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $dir/data
http:
  addr: 127.0.0.1:$port
YML
docker-registry serve "$dir/config.yml" > "$dir/access.log" 2>&1 &
reg=$!
trap 'kill $reg 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -s "http://127.0.0.1:$port/v2/" > /dev/null && break; sleep 0.1; done

python3 - "$dir/layout" "$payload" <<'PY'
import hashlib, json, os, sys
out, exe_path = sys.argv[1], sys.argv[2]
os.makedirs(f"{out}/blobs/sha256", exist_ok=True)
def blob(data):
    d = hashlib.sha256(data).hexdigest()
    open(f"{out}/blobs/sha256/{d}", "wb").write(data)
    return d
exe = open(exe_path, "rb").read()
files = [("bin/demo", exe, "application/vnd.cratemill.executable.v1"),
         ("build.log", b"[0.000] build\n" * 2000, "text/plain; charset=utf-8"),
         ("licenses/LICENSE-MIT", b"MIT License\n" * 80, "text/plain; charset=utf-8"),
         ("result.json", b"{}" + b" " * 6000, "application/vnd.cratemill.build-result.v1+json"),
         ("CHECKSUMS", b"x" * 400, "text/plain; charset=utf-8")]
layers = []
for title, data, mt in files:
    a = {"org.opencontainers.image.title": title}
    if title.startswith("bin/"):
        a["io.cratemill.executable"] = "demo"
    layers.append({"mediaType": mt, "digest": "sha256:" + blob(data), "size": len(data), "annotations": a})
cfg = blob(b"{}")
m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "artifactType": "application/vnd.cratemill.package.v1",
     "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:" + cfg, "size": 2}, "layers": layers,
     "annotations": {"io.cratemill.crate": "demo", "io.cratemill.version": "1.0.0", "io.cratemill.target": "x86_64-unknown-linux-musl",
                     "io.cratemill.executables": "demo", "io.cratemill.executable.demo.sha256": hashlib.sha256(exe).hexdigest()}}
mb = json.dumps(m).encode()
md = blob(mb)
json.dump({"imageLayoutVersion": "1.0.0"}, open(f"{out}/oci-layout", "w"))
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": m["mediaType"], "digest": "sha256:" + md, "size": len(mb),
           "annotations": {"org.opencontainers.image.ref.name": "1.0.0-x86_64-unknown-linux-musl"}}]}, open(f"{out}/index.json", "w"))
print(f"image: executable {len(exe)} bytes, {len(files)} layers, manifest sha256:{md}")
PY
image=127.0.0.1:$port/demo:1.0.0-x86_64-unknown-linux-musl
skopeo copy --quiet --dest-tls-verify=false "oci:$dir/layout:1.0.0-x86_64-unknown-linux-musl" "docker://$image"

requests() { grep -c '"GET \|"HEAD ' "$dir/access.log" || true; }
now() { date +%s.%N; }
: > "$dir/install.times"; : > "$dir/skopeo.times"; : > "$dir/off.times"
for ((i = 1; i <= runs; i++)); do
  rm -rf "$dir/out-install" "$dir/out-skopeo"
  before=$(requests); t0=$(now)
  "$bin" install demo@1.0.0 --from "127.0.0.1:$port" --insecure-http --target x86_64-unknown-linux-musl --dir "$dir/out-install" 2> "$dir/install.stderr" > /dev/null
  t1=$(now); mid=$(requests)
  skopeo copy --quiet --src-tls-verify=false "docker://$image" "dir:$dir/out-skopeo"
  t2=$(now); after=$(requests)
  echo "$(echo "$t1 - $t0" | bc) $((mid - before))" >> "$dir/install.times"
  echo "$(echo "$t2 - $t1" | bc) $((after - mid))" >> "$dir/skopeo.times"
  rm -rf "$dir/out-off"; t3=$(now)
  "$bin" install demo@1.0.0 --from "127.0.0.1:$port" --insecure-http --target x86_64-unknown-linux-musl --verify off --dir "$dir/out-off" 2> /dev/null > /dev/null
  t4=$(now)
  echo "$(echo "$t4 - $t3" | bc) $(($(requests) - after))" >> "$dir/off.times"
done
cmp "$dir/out-install/demo" "$payload" && echo "installed executable is byte-identical to the published one"
tail -1 "$dir/install.stderr"
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
mi=$(cut -d' ' -f1 "$dir/install.times" | median); ms=$(cut -d' ' -f1 "$dir/skopeo.times" | median)
echo "cratemill install: median $mi s, $(cut -d' ' -f2 "$dir/install.times" | median) HTTP requests (registry access log), $runs runs"
echo "install --verify off: median $(cut -d' ' -f1 "$dir/off.times" | median) s, $(cut -d' ' -f2 "$dir/off.times" | median) HTTP requests"
echo "skopeo copy:       median $ms s, $(cut -d' ' -f2 "$dir/skopeo.times" | median) HTTP requests, $(du -sk "$dir/out-skopeo" | cut -f1) KiB written"
echo "ratio install/skopeo: $(echo "scale=2; $mi / $ms" | bc)"
