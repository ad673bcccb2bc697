//! The four seed targets, built and run for real: one small real crates.io crate (hexyl 0.17.0, a hex
//! viewer that prints `hexyl 0.17.0` on `--version`; the crate design.md's recipe was checked with)
//! built with `cratemill build --backend zigbuild` for x86_64, aarch64, riscv64gc and loongarch64
//! musl in one invocation, each executable checked from its own ELF header (static, machine of its
//! target) and run with `--version`, natively or under qemu-user.
//!
//! Needs what tests/setup/30-musl-targets.sh installs (zig + cargo-zigbuild, Debian's rustc-web
//! linked as the `debian-web` toolchain, qemu-user-static >= 8.1) and crates.io. Where rustup has
//! the musl std installed (a GitHub runner after `rustup target add`), cratemill uses it; here it
//! builds std from source.
//!
//! The four targets are alike (one backend, toolchain and std origin), so they build in one cargo
//! invocation (`src/builder/group.rs`); the test checks that every package records that one
//! command and is whole on its own. A second crate (raw-cpuid's `cpuid`, x86 only) then fails the
//! grouped build for aarch64, and the test checks that each target was built alone as if the other
//! had not been asked for.
//!
//! Cost in CI (measured here with std built from source, cold cache): about 10 min of CPU for
//! hexyl's four targets (each target's std with `-Zbuild-std`, and hexyl's ~40 crates; build scripts
//! and proc-macros once for all four), and about 3 min for raw-cpuid's two (their std is in the
//! cache by then). A runner with the musl std installed (`rustup target add`) skips the std builds.
//! The cache folder is the test's own temporary folder (bounded by --cache-max-gib 4; about
//! 200 MiB per target) and is deleted with it.

#[path = "support/licenses.rs"]
mod licenses;
#[path = "support/online.rs"]
mod online;

use std::path::Path;
use std::process::Command;

use cratemill::schema::result::{BuildResult, FailureClass, SmokeStatus, Status, StdOrigin};

const CRATE: &str = "hexyl@0.17.0";
const TARGETS: [(&str, u16); 4] = [
    ("x86_64-unknown-linux-musl", 62),
    ("aarch64-unknown-linux-musl", 183),
    ("riscv64gc-unknown-linux-musl", 243),
    ("loongarch64-unknown-linux-musl", 258),
];
const SETUP: &str = "tests/setup/30-musl-targets.sh";

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}

/// The machine and whether it is static, read from the ELF file itself: `e_machine`, and no
/// `PT_INTERP` program header (a dynamically linked executable always names its loader).
fn elf_machine_and_static(bytes: &[u8]) -> (u16, bool) {
    assert_eq!(&bytes[..4], b"\x7fELF", "not an ELF file");
    assert_eq!((bytes[4], bytes[5]), (2, 1), "64-bit little-endian expected");
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap());
    let (phoff, phentsize, phnum) = (u64_at(32) as usize, u16_at(54) as usize, u16_at(56) as usize);
    let has_interp = (0..phnum).any(|i| {
        let p = phoff + i * phentsize;
        u32::from_le_bytes(bytes[p..p + 4].try_into().unwrap()) == 3
    });
    (u16_at(18), !has_interp)
}

fn run_version(exe: &Path, arch_qemu: Option<&str>) -> String {
    let out = match arch_qemu {
        None => Command::new(exe).arg("--version").env_clear().output(),
        Some(qemu) => Command::new(qemu).arg(exe).arg("--version").env_clear().output(),
    }
    .expect("running the executable");
    assert!(
        out.status.success(),
        "{} --version: {:?} {}",
        exe.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn crates_io_hexyl_builds_static_and_runs_on_all_four_musl_targets() {
    if !online::crates_io_or_skip("crates_io_hexyl_builds_static_and_runs_on_all_four_musl_targets") {
        return;
    }
    for tool in ["cargo-zigbuild", "zig", "qemu-aarch64-static", "qemu-riscv64-static", "qemu-loongarch64-static"] {
        assert!(
            on_path(tool),
            "`{tool}` is not on PATH: run `bash {SETUP}` (tests/run.sh does, and puts ~/.local/bin on PATH)"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let cache = dir.path().join("cache");
    let o = build(CRATE, &TARGETS.map(|(t, _)| t), &out, &cache);
    let stderr = String::from_utf8_lossy(&o.stderr);
    for (triple, machine) in TARGETS {
        let pkg_dir = out.join(triple);
        let r: BuildResult = cratemill::schema::read(&pkg_dir.join("result.json"))
            .unwrap_or_else(|e| panic!("{triple}: no result.json ({e}); stderr: {stderr}"));
        let log = std::fs::read_to_string(pkg_dir.join("build.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        assert_eq!(r.status, Status::Built, "{triple}: {:?}\n{}", r.failure, tail.join("\n"));
        // Each package is whole and verifies on its own, as if built alone.
        let pkg = cratemill::package::verify(&pkg_dir).unwrap_or_else(|e| panic!("{triple}: {e}"));
        assert_eq!((pkg.result.target.as_str(), pkg.result.backend), (triple, cratemill::schema::Backend::Zigbuild));
        let tc = r.toolchain.as_ref().unwrap();
        assert!(tc.std.is_some() && tc.std_reason.is_some(), "{triple}: std origin not recorded: {tc:?}");
        if tc.std == Some(StdOrigin::BuiltFromSource) {
            assert!(r.attempts.iter().any(|a| a.command.iter().any(|c| c == "-Zbuild-std=std,panic_abort")));
            assert_eq!(r.build_env.get("RUSTC_BOOTSTRAP").map(String::as_str), Some("1"));
        }
        assert!(r.rustflags.contains("link-self-contained=no"), "{triple}: {}", r.rustflags);
        // The .crate is downloaded once per invocation: later targets reuse the verified copy.
        let reused = log.contains("reused the download of an earlier target");
        assert_eq!(reused, triple != TARGETS[0].0, "{triple}: download reuse");
        // The four targets were built in one cargo invocation, which compiled the host artifacts
        // (proc-macros, build scripts) once: its output is in every target's log.
        assert_eq!(r.attempts.len(), 1, "{triple}: {:?}", r.attempts);
        let targets_built = r.attempts[0].command.iter().filter(|a| *a == "--target").count();
        assert_eq!(targets_built, 4, "{triple}: not one invocation: {:?}", r.attempts[0].command);
        let host_compiles = log.lines().filter(|l| l.contains("Compiling proc-macro2 ")).count();
        assert_eq!(host_compiles, 1, "{triple}: proc-macro2 compiled {host_compiles} times");

        let exe = &r.executables[0];
        assert_eq!(exe.name, "hexyl");
        let bytes = std::fs::read(pkg_dir.join(&exe.path)).unwrap();
        let (got_machine, is_static) = elf_machine_and_static(&bytes);
        assert_eq!(got_machine, machine, "{triple}: wrong e_machine");
        assert!(is_static && exe.is_static, "{triple}: not static");

        // Run it ourselves, and check cratemill's own smoke run agrees.
        let qemu = (machine != 62).then(|| format!("qemu-{}-static", exe.arch));
        if let Some(q) = &qemu {
            assert!(
                tc.emulator.as_deref().is_some_and(|v| v.contains("version")),
                "{triple}: qemu version not recorded"
            );
            assert!(q.starts_with("qemu-"));
        }
        let version = run_version(&pkg_dir.join(&exe.path), qemu.as_deref());
        assert_eq!(version, "hexyl 0.17.0", "{triple}");
        assert_eq!(exe.smoke.status, SmokeStatus::Passed, "{triple}: {:?}", exe.smoke);
        assert_eq!(exe.smoke.first_line.as_deref(), Some("hexyl 0.17.0"));
        compiled_packages_are_cargo_trees(&pkg_dir, &r, &cache.join("cargo-home"));
    }
    assert!(o.status.success(), "cratemill exited {:?}: {stderr}", o.status);
    // The cache is cratemill's (marker) and holds each target's std and dependencies.
    assert!(cache.join("CRATEMILL-CACHE").is_file());
    for (triple, _) in TARGETS {
        assert!(cache.join("target").join(triple).is_dir(), "no cache entry for {triple}");
    }
    a_target_the_crate_cannot_build_leaves_the_others_built_alone(&cache, &dir.path().join("split"));
}

/// The package's third-party list (issue #21) is what `cargo tree -e normal --target T` lists for
/// the source the package says it built (its `-srcbuild-` archive) with the features it used, and
/// the SBOM validates and names the same packages.
fn compiled_packages_are_cargo_trees(pkg_dir: &Path, r: &BuildResult, cargo_home: &Path) {
    let third = r.third_party.as_ref().unwrap_or_else(|| panic!("{}: no third_party", r.target));
    let archive = pkg_dir.join("srcbuild").join("hexyl-0.17.0-srcbuild.tar.zst");
    let src = tempfile::tempdir().unwrap();
    let decoder = zstd::Decoder::new(std::fs::File::open(&archive).unwrap()).unwrap();
    tar::Archive::new(decoder).unpack(src.path()).unwrap();
    let manifest = src.path().join("hexyl-0.17.0-srcbuild/source/Cargo.toml");
    let oracle = licenses::cargo_tree(&manifest, &r.target, r.features_used.as_deref().unwrap(), cargo_home);
    assert_eq!(licenses::listed(third), oracle, "{}: the list is cargo tree's", r.target);
    let sbom_path = pkg_dir.join(&third.sbom);
    assert_eq!(licenses::cyclonedx_errors(&sbom_path), None, "{}", r.target);
    let sbom: serde_json::Value = serde_json::from_slice(&std::fs::read(&sbom_path).unwrap()).unwrap();
    assert_eq!(licenses::in_sbom(&sbom), oracle, "{}: the SBOM's packages", r.target);
    dependency_list_matches_the_sbom(pkg_dir, r, &licenses::in_sbom(&sbom));
    let notice = std::fs::read_to_string(pkg_dir.join(&third.notice)).unwrap();
    for p in &third.packages {
        assert!(
            notice.contains(&format!("\n{} {} (", p.name, p.version)),
            "{}: {} not in the notice",
            r.target,
            p.name
        );
        assert!(!p.texts.is_empty(), "{}: {} has no license text", r.target, p.name);
    }
}

/// The dependency list cargo-auditable embedded in the packaged executable, read by rust-audit-info
/// (tests/setup/40-cargo-auditable.sh), against the SBOM:
/// - every package of the SBOM is listed;
/// - the proc macros are listed as `kind: build` (they ran in the compiler, they are not in the
///   executable);
/// - cargo-auditable takes its graph from `cargo metadata`, whose resolution names optional
///   dependencies the build's feature resolver leaves out (hexyl: rustix -> `errno`, named only by
///   the weak feature `libc_errno?/std` on x86_64): the list claims too much, never too little.
fn dependency_list_matches_the_sbom(pkg_dir: &Path, r: &BuildResult, sbom: &std::collections::BTreeSet<String>) {
    let exe = pkg_dir.join(&r.executables[0].path);
    let o = Command::new("rust-audit-info")
        .arg(&exe)
        .output()
        .expect("rust-audit-info (tests/setup/40-cargo-auditable.sh)");
    assert!(o.status.success(), "{}: rust-audit-info: {}", r.target, String::from_utf8_lossy(&o.stderr));
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let field = |p: &serde_json::Value, k: &str| p[k].as_str().unwrap_or_default().to_string();
    let listed: Vec<(String, String)> = list["packages"]
        .as_array()
        .expect("a packages array")
        .iter()
        .map(|p| (format!("{} v{}", field(p, "name"), field(p, "version")), field(p, "kind")))
        .collect();
    let names: std::collections::BTreeSet<&String> = listed.iter().map(|(n, _)| n).collect();
    let missing: Vec<&String> = sbom.iter().filter(|p| !names.contains(p)).collect();
    assert!(missing.is_empty(), "{}: in the SBOM, not in the executable's list: {missing:?}", r.target);
    for pm in ["clap_derive", "thiserror-impl"] {
        assert!(listed.iter().any(|(n, k)| n.starts_with(&format!("{pm} ")) && k == "build"), "{}: {pm}", r.target);
    }
    // The list may name more than the SBOM (cargo-auditable reads `cargo metadata`'s resolution),
    // and the build log cannot show those were not compiled for this target: the four targets
    // built in one invocation whose output is in every target's log (hexyl's `errno` has a
    // `Compiling` line there). The exact per-target list is the SBOM's, equal to cargo tree's above.
}

/// raw-cpuid's `cpuid` tool calls `CpuId::new()`, which exists on x86 only: for x86_64 and aarch64
/// in one invocation the grouped build fails (aarch64), and each target then builds alone, exactly
/// as if the other had not been asked for: x86_64 built, aarch64 a compile error of the crate.
/// Same cache as hexyl's build, so both targets' std are there already.
fn a_target_the_crate_cannot_build_leaves_the_others_built_alone(cache: &Path, out: &Path) {
    let targets = [TARGETS[0].0, TARGETS[1].0];
    let o = build("raw-cpuid@11.6.0", &targets, out, cache);
    let stderr = String::from_utf8_lossy(&o.stderr);
    let read = |triple: &str| -> (BuildResult, String) {
        let r = cratemill::schema::read(&out.join(triple).join("result.json"))
            .unwrap_or_else(|e| panic!("{triple}: no result.json ({e}); stderr: {stderr}"));
        (r, std::fs::read_to_string(out.join(triple).join("build.log")).unwrap_or_default())
    };
    let alone = |r: &BuildResult| r.attempts.iter().all(|a| a.command.iter().filter(|c| *c == "--target").count() == 1);
    let (x86, x86_log) = read(targets[0]);
    assert_eq!(x86.status, Status::Built, "{:?}\n{x86_log}", x86.failure);
    assert!(x86_log.contains("the grouped build failed"), "{x86_log}");
    assert!(alone(&x86), "x86_64's attempts: {:?}", x86.attempts);
    assert_eq!(x86.executables[0].name, "cpuid");
    assert!(cratemill::package::verify(&out.join(targets[0])).is_ok());
    let (arm, arm_log) = read(targets[1]);
    // As alone: all features fail to compile the tool, default features build no executable.
    assert_eq!(arm.status, Status::Failed);
    let first = arm.attempts[0].failure.as_ref().expect("the first attempt failed");
    assert_eq!(first.class, FailureClass::CompileError, "{first:?}");
    assert!(arm_log.contains("did not build aarch64-unknown-linux-musl: building it alone"), "{arm_log}");
    assert!(alone(&arm), "aarch64's attempts: {:?}", arm.attempts);
    assert!(!o.status.success(), "one target failed: the invocation does too");
}

/// `cratemill build SPEC --backend zigbuild --target ...` into `out` with the cache folder `cache`.
fn build(spec: &str, targets: &[&str], out: &Path, cache: &Path) -> std::process::Output {
    let mut args = vec!["build", spec, "--backend", "zigbuild", "--quiet", "--cache-max-gib", "4"];
    for t in targets {
        args.extend(["--target", t]);
    }
    Command::new(env!("CARGO_BIN_EXE_cratemill"))
        .args(&args)
        .arg("--out")
        .arg(out)
        .arg("--cache-dir")
        .arg(cache)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("CRATEMILL_INDEX_URL")
        .output()
        .expect("running cratemill")
}
