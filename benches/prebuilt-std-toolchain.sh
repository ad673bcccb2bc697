#!/usr/bin/env bash
# Make a rustup toolchain that has the four musl targets' std prebuilt, as `rustup target add` gives a
# GitHub runner, from Debian's rustc-web (which rustup cannot extend offline): a copy of its rustc,
# cargo and librustc_driver (rustc finds its sysroot from the library's own path), the host's
# rustlib linked, and each target's std compiled once with -Zbuild-std and installed into the
# sysroot. benches/targets.sh uses it (STD=prebuilt) to measure the grouped build where std costs
# nothing. Needs tests/setup/30-musl-targets.sh.
#   usage: benches/prebuilt-std-toolchain.sh DIR [NAME]     (NAME defaults to bench-webmusl)
set -euo pipefail
dir=${1:?usage: benches/prebuilt-std-toolchain.sh DIR [NAME]}
name=${2:-bench-webmusl}
targets=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl riscv64gc-unknown-linux-musl loongarch64-unknown-linux-musl)
export PATH="$HOME/.local/bin:$PATH"
mkdir -p "$dir/bin" "$dir/lib/rustlib"
dir=$(cd "$dir" && pwd)
cp /usr/bin/rustc /usr/bin/cargo /usr/bin/rustdoc "$dir/bin/"
cp /usr/lib/x86_64-linux-gnu/librustc_driver-*.so "$dir/lib/"
for d in x86_64-unknown-linux-gnu src etc; do ln -sfn "/usr/lib/rustlib/$d" "$dir/lib/rustlib/$d"; done
rustup toolchain link "$name" "$dir"
[ "$(rustc +"$name" --print sysroot)" = "$dir" ] || { echo "rustc +$name does not use $dir as its sysroot" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src"
printf '[package]\nname = "stdonly"\nversion = "0.0.0"\nedition = "2021"\n[lib]\npath = "src/lib.rs"\n' > "$work/Cargo.toml"
echo '#![no_std]' > "$work/src/lib.rs"
for t in "${targets[@]}"; do
  lib="$dir/lib/rustlib/$t/lib"
  if compgen -G "$lib/libstd-*.rlib" > /dev/null; then echo "$t: std already installed"; continue; fi
  (cd "$work" && RUSTC_BOOTSTRAP=1 cargo +"$name" build --release --quiet -Zbuild-std=std,panic_abort --target "$t")
  mkdir -p "$lib"
  find "$work/target/$t/release/deps" -name 'lib*.rlib' ! -name 'libstdonly-*' -exec cp {} "$lib/" \;
  echo "$t: std installed ($(ls "$lib" | wc -l) libraries)"
done
