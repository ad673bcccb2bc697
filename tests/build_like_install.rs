//! A crate builds as `cargo install` would build it (issue #20): the same crate that fails as a
//! plain path build succeeds under cratemill because of what cratemill aligns with a registry build.
//! Each test shows the difference is real: the plain path build of the same source fails.

#[path = "support/hostile.rs"]
mod hostile;
mod support;

use std::process::Command;

use cratemill::schema::result::FailureClass;
use cratemill::schema::Channel;
use hostile::{build, built, hostile_crate, Work};
use support::sparse_registry::SparseRegistry;

/// A lint the crate denies (`#![deny(warnings)]` and an unused variable) is capped at `warn`, as
/// crater and `cargo install` cap lints; result.json records the cap in `rustflags`.
#[test]
fn a_crate_whose_lint_is_denied_builds_with_lints_capped() {
    let main_rs = "#![deny(warnings)]\nfn main() { let unused = 1; println!(\"lintdeny 0.1.0\"); }\n";
    let reg = SparseRegistry::start(vec![hostile_crate("lintdeny", "", main_rs)]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = build(&reg, "lintdeny", &out, &[], &[]);
    let r = built(&o, &out);
    assert!(r.rustflags.split(' ').any(|f| f == "--cap-lints=warn"), "{}", r.rustflags);
    let log = std::fs::read_to_string(out.join("build.log")).unwrap();
    assert!(log.contains("unused variable"), "the lint still warns in the log");
    // The same source as a plain path build: the denied lint fails it.
    let work = Work::of(&out);
    let root = work.0.join("src/lintdeny-0.1.0");
    let target = dir.path().join("plain-target");
    let plain = Command::new("cargo")
        .args(["build", "--offline", "--quiet", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(!plain.status.success(), "a plain path build of the crate succeeds: the test shows nothing");
    assert!(String::from_utf8_lossy(&plain.stderr).contains("unused variable"));
}

/// A dependency whose build script writes into its own source (as `xcb` 0.8 generates code into
/// its folder in the registry cache): under `cargo install` that folder is writable, so it builds.
/// The job's own unpacked registry sources are writable in its sandbox; the rest of its registry
/// cache is not.
#[test]
fn a_crate_whose_dependency_writes_into_its_own_source_builds() {
    let dep_build = r#"
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    // The registry cache around it stays read-only (reported through the generated code: cargo
    // shows no warnings of a registry package).
    let registry = std::path::Path::new(&dir).ancestors().nth(3).unwrap().to_path_buf();
    let cache_write = std::fs::write(registry.join("cache").join("planted"), "x").is_ok();
    let code = format!("pub fn answer() -> u32 {{ 42 }}\npub fn cache_writable() -> bool {{ {cache_write} }}\n");
    std::fs::write(format!("{dir}/src/generated.rs"), code).unwrap();
}
"#;
    let dep = support::sparse_registry::TestCrate::new("gen", "1.0.0")
        .file("Cargo.toml", "[package]\nname = \"gen\"\nversion = \"1.0.0\"\nedition = \"2021\"\n")
        .file("build.rs", dep_build)
        .file("src/lib.rs", "include!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/src/generated.rs\"));\n");
    let manifest = "[package]\nname = \"usesgen\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense = \"MIT\"\n\n\
                    [dependencies]\ngen = \"1\"\n";
    let app = support::sparse_registry::TestCrate::new("usesgen", "0.1.0")
        .file("Cargo.toml", manifest)
        .file("src/main.rs", "fn main() { println!(\"usesgen {} {}\", gen::answer(), gen::cache_writable()); }\n")
        .dep("gen", "^1");
    let reg = SparseRegistry::start(vec![dep, app]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = build(&reg, "usesgen", &out, &[], &[]);
    let r = built(&o, &out);
    let _work = Work::of(&out);
    assert_eq!(r.executables.len(), 1);
    let run = Command::new(out.join("bin/usesgen")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), "usesgen 42 false\n", "built, and the cache stayed read-only");
}

/// A build script that detects nightly (as old `rustix` does) and switches on an unstable feature
/// this nightly does not have: cratemill's first attempt (on nightly, which it prefers) fails as
/// `nightly-breakage`, the retry runs on stable and builds, as `cargo install` (stable) would.
#[test]
fn a_crate_that_breaks_only_on_nightly_is_retried_on_stable() {
    let build_rs = r#"
fn main() {
    let rustc = std::env::var("RUSTC").unwrap();
    let version = std::process::Command::new(rustc).arg("--version").output().unwrap();
    println!("cargo:rustc-check-cfg=cfg(nightly)");
    if String::from_utf8_lossy(&version.stdout).contains("nightly") {
        println!("cargo:rustc-cfg=nightly");
    }
}
"#;
    let main_rs = "#![cfg_attr(nightly, feature(some_feature_that_does_not_exist))]\n\
                   fn main() { println!(\"nightlyonly 0.1.0\"); }\n";
    let reg = SparseRegistry::start(vec![hostile_crate("nightlyonly", build_rs, main_rs)]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = build(&reg, "nightlyonly", &out, &["--target", "x86_64-unknown-linux-gnu"], &[]);
    let r = built(&o, &out);
    let _work = Work::of(&out);
    // Nightly is installed here and cratemill prefers it: the first attempt ran on nightly.
    let [first, second] = &r.attempts[..] else { panic!("two attempts: {:#?}", r.attempts) };
    assert_eq!(first.channel, Some(Channel::Nightly), "{first:#?}");
    let failure = first.failure.as_ref().expect("the nightly attempt failed");
    assert_eq!(failure.class, FailureClass::NightlyBreakage, "{}", failure.message);
    assert!(failure.message.contains("unknown feature `some_feature_that_does_not_exist`"), "{}", failure.message);
    assert_eq!(second.channel, Some(Channel::Stable), "{second:#?}");
    assert!(second.produced_binaries && second.failure.is_none());
    assert_eq!(second.command[1], "+stable", "{:?}", second.command);
    let toolchain = r.toolchain.as_ref().unwrap();
    assert_eq!(toolchain.channel, Channel::Stable, "result.json names the toolchain that built");
    assert_eq!(second.rustc.as_deref(), Some(toolchain.rustc.as_str()));
    let log = std::fs::read_to_string(out.join("build.log")).unwrap();
    assert!(log.contains("nightly broke the build: the next attempt runs on stable"), "{log}");
    let run = Command::new(out.join("bin/nightlyonly")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), "nightlyonly 0.1.0\n");
    // The same source as a plain nightly build fails.
    let root = _work.0.join("src/nightlyonly-0.1.0");
    let plain = Command::new("cargo")
        .args(["+nightly", "build", "--offline", "--quiet", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", dir.path().join("plain-target"))
        .output()
        .unwrap();
    assert!(!plain.status.success(), "a plain nightly build succeeds: the test shows nothing");
    assert!(String::from_utf8_lossy(&plain.stderr).contains("error[E0635]: unknown feature"));
    // Nightly named on the command line is not swapped: the failure says why stable did not retry.
    let named = dir.path().join("named");
    let o =
        build(&reg, "nightlyonly", &named, &["--target", "x86_64-unknown-linux-gnu", "--toolchain", "nightly"], &[]);
    let _named_work = Work::of(&named);
    assert!(!o.status.success());
    let r: cratemill::schema::result::BuildResult = cratemill::schema::read(&named.join("result.json")).unwrap();
    let failure = r.failure.unwrap();
    assert_eq!(failure.class, FailureClass::NightlyBreakage);
    assert!(failure.message.contains("; no retry on stable: --toolchain names the toolchain"), "{}", failure.message);
    assert!(r.attempts.iter().all(|a| a.channel == Some(Channel::Nightly)), "{:#?}", r.attempts);
}
