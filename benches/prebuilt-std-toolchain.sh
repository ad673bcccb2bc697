#!/usr/bin/env bash
# Make a rustup toolchain that has the four musl targets' std prebuilt, as `rustup target add` gives a
# GitHub runner, from Debian's rustc-web (which rustup cannot extend offline): a copy of its rustc,
# cargo and librustc_driver (rustc finds its sysroot from the library's own path), the host's
# rustlib linked, and each target's std compiled once with -Zbuild-std and installed into the
# sysroot. The toolchain is linked in a private rustup home (DIR/rustup: links to the real
# toolchains plus this one), so the machine's own rustup, and cratemill's auto choice in other runs,
# never see it. benches/targets.sh uses it (TOOLCHAIN, RUSTUP_HOME) to measure the grouped build
# where std costs nothing. Needs tests/setup/30-musl-targets.sh.
#   usage: benches/prebuilt-std-toolchain.sh DIR [NAME]     (NAME defaults to bench-webmusl)
#   then:  RUSTUP_HOME=DIR/rustup TOOLCHAIN=NAME bash benches/targets.sh OUT
set -euo pipefail
dir=${1:?usage: benches/prebuilt-std-toolchain.sh DIR [NAME]}
name=${2:-bench-webmusl}
targets=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl riscv64gc-unknown-linux-musl loongarch64-unknown-linux-musl)
export PATH="$HOME/.local/bin:$PATH"
real_home=${RUSTUP_HOME:-$HOME/.rustup}
mkdir -p "$dir/toolchain/bin" "$dir/toolchain/lib/rustlib" "$dir/rustup/toolchains"
dir=$(cd "$dir" && pwd)
tc=$dir/toolchain
cp /usr/bin/rustc /usr/bin/cargo /usr/bin/rustdoc "$tc/bin/"
cp /usr/lib/x86_64-linux-gnu/librustc_driver-*.so "$tc/lib/"
for d in x86_64-unknown-linux-gnu src etc; do ln -sfn "/usr/lib/rustlib/$d" "$tc/lib/rustlib/$d"; done
cp "$real_home/settings.toml" "$dir/rustup/"
for t in "$real_home"/toolchains/*; do ln -sfn "$t" "$dir/rustup/toolchains/$(basename "$t")"; done
ln -sfn "$tc" "$dir/rustup/toolchains/$name"
export RUSTUP_HOME=$dir/rustup
[ "$(rustc +"$name" --print sysroot)" = "$tc" ] || { echo "rustc +$name does not use $tc as its sysroot" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src"
printf '[package]\nname = "stdonly"\nversion = "0.0.0"\nedition = "2021"\n[lib]\npath = "src/lib.rs"\n' > "$work/Cargo.toml"
echo '#![no_std]' > "$work/src/lib.rs"
for t in "${targets[@]}"; do
  lib="$tc/lib/rustlib/$t/lib"
  if compgen -G "$lib/libstd-*.rlib" > /dev/null; then echo "$t: std already installed"; continue; fi
  # With bitcode, as rustup's std has it: a crate with `lto = true` needs it from every rlib.
  (cd "$work" && RUSTFLAGS="-C embed-bitcode=yes" RUSTC_BOOTSTRAP=1 cargo +"$name" build --release --quiet -Zbuild-std=std,panic_abort --target "$t")
  mkdir -p "$lib"
  find "$work/target/$t/release/deps" -name 'lib*.rlib' ! -name 'libstdonly-*' -exec cp {} "$lib/" \;
  echo "$t: std installed ($(ls "$lib" | wc -l) libraries)"
done
echo "use: RUSTUP_HOME=$RUSTUP_HOME TOOLCHAIN=$name"
