//! A crate builds as `cargo install` would build it (issue #20): the same crate that fails as a
//! plain path build succeeds under cratemill because of what cratemill aligns with a registry build.
//! Each test shows the difference is real: the plain path build of the same source fails.

#[path = "support/hostile.rs"]
mod hostile;
mod support;

use std::process::Command;

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
