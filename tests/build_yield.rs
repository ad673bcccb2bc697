//! Yield bugs found on real crates, pinned end to end with the real binary, a local sparse registry
//! and real cargo builds for the host target.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use cratemill::schema::result::{BuildResult, FailureClass, Status};
use support::sparse_registry::{SparseRegistry, TestCrate};

/// A `CARGO_HOME` whose config sends crates.io to the local registry, as a mirror's runner would.
fn mirror_cargo_home(dir: &Path, reg: &SparseRegistry) -> std::path::PathBuf {
    let home = dir.join("cargo-home");
    std::fs::create_dir_all(&home).unwrap();
    let config = format!(
        "[source.crates-io]\nreplace-with = \"mirror\"\n\n[source.mirror]\nregistry = \"sparse+{}\"\n",
        reg.index_url().trim_start_matches("sparse+")
    );
    std::fs::write(home.join("config.toml"), config).unwrap();
    home
}

fn build(reg: &SparseRegistry, spec: &str, out: &Path, cargo_home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cratemill"))
        .args(["build", spec, "--index-url", &reg.index_url(), "--out", out.to_str().unwrap(), "--quiet"])
        .env_remove("GITHUB_ACTIONS")
        .env_remove("CRATEMILL_INDEX_URL")
        .env("CARGO_HOME", cargo_home)
        .output()
        .expect("running cratemill")
}

/// `app 0.1.0`, a binary printing `dep::answer()`, shipping `lock` as its Cargo.lock.
fn app_with_lock(lock: &str) -> TestCrate {
    let manifest = "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense = \"MIT\"\n\n\
                    [[bin]]\nname = \"app\"\npath = \"src/main.rs\"\n\n[dependencies]\ndep = \"1\"\n";
    TestCrate::new("app", "0.1.0")
        .file("Cargo.toml", manifest)
        .file("Cargo.lock", lock)
        .file("src/main.rs", "fn main() { println!(\"app {}\", dep::answer()); }\n")
        .dep("dep", "^1")
}

/// Build `spec` from `reg` into `dir/out` through a mirror CARGO_HOME; it must succeed.
fn build_ok(reg: &SparseRegistry, spec: &str, dir: &Path) -> (BuildResult, std::path::PathBuf) {
    let home = mirror_cargo_home(dir, reg);
    let out = dir.join("out");
    let o = build(reg, spec, &out, &home);
    let log = std::fs::read_to_string(out.join("build.log")).unwrap_or_default();
    assert!(o.status.success(), "{}\n{log}", String::from_utf8_lossy(&o.stderr));
    (cratemill::schema::read(&out.join("result.json")).unwrap(), out)
}

/// A shipped Cargo.lock pinning `dep 1.0.2`, which the (mirror's) index does not serve: the locked
/// attempt fails with its own class, and the second attempt resolves fresh and builds.
#[test]
fn a_lock_pinning_a_version_the_index_lacks_builds_on_a_fresh_resolution() {
    let lib = "[package]\nname = \"dep\"\nversion = \"1.0.0\"\nedition = \"2021\"\n\n[lib]\npath = \"src/lib.rs\"\n";
    let lock = format!(
        "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\n \"dep\",\n]\n\n\
         [[package]]\nname = \"dep\"\nversion = \"1.0.2\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\
         checksum = \"{}\"\n",
        "ab".repeat(32)
    );
    let reg = SparseRegistry::start(vec![
        TestCrate::new("dep", "1.0.0").file("Cargo.toml", lib).file("src/lib.rs", "pub fn answer() -> u32 { 42 }\n"),
        app_with_lock(&lock),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let (r, out) = build_ok(&reg, "app@0.1.0", dir.path());
    assert_eq!(r.status, Status::Built);
    assert_eq!(r.attempts.len(), 2, "{:?}", r.attempts);
    let first = &r.attempts[0];
    assert!(first.locked && !first.produced_binaries);
    let failure = first.failure.as_ref().expect("the locked attempt failed");
    assert_eq!(failure.class, FailureClass::LockedVersionUnavailable, "{}", failure.message);
    assert!(failure.message.contains("1.0.2"), "{}", failure.message);
    assert!(!r.attempts[1].locked && r.attempts[1].produced_binaries);
    let run = Command::new(out.join("bin/app")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), "app 42\n");
}

/// A shipped Cargo.lock pinning `dep 1.0.0`, whose code does not compile (as `libc` 0.2.149 does not
/// on loongarch64-musl), while the semver-compatible `dep 1.0.1` does: the locked attempt fails with
/// the error in the dependency, and the next attempt lifts `dep` alone to `1.0.1` and builds.
#[test]
fn a_dependency_that_fails_to_compile_at_its_locked_version_builds_on_a_fresh_resolution() {
    let lib = |v: &str| {
        format!("[package]\nname = \"dep\"\nversion = \"{v}\"\nedition = \"2021\"\n\n[lib]\npath = \"src/lib.rs\"\n")
    };
    let broken = TestCrate::new("dep", "1.0.0")
        .file("Cargo.toml", lib("1.0.0"))
        .file("src/lib.rs", "pub fn answer() -> u32 { no_such_type::default() }\n");
    let lock = format!(
        "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\n \"dep\",\n]\n\n\
         [[package]]\nname = \"dep\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\
         checksum = \"{}\"\n",
        broken.cksum()
    );
    let reg = SparseRegistry::start(vec![
        broken,
        TestCrate::new("dep", "1.0.1")
            .file("Cargo.toml", lib("1.0.1"))
            .file("src/lib.rs", "pub fn answer() -> u32 { 42 }\n"),
        app_with_lock(&lock),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let (r, out) = build_ok(&reg, "app@0.1.0", dir.path());
    assert_eq!(r.attempts.len(), 2, "{:?}", r.attempts);
    let failure = r.attempts[0].failure.as_ref().expect("the locked attempt failed");
    assert_eq!(failure.class, FailureClass::DependsOn, "{}", failure.message);
    assert!(failure.message.starts_with("inside dependency dep 1.0.0: "), "{}", failure.message);
    assert!(
        failure.evidence.iter().any(|l| l.contains("/registry/src/") && l.contains("dep-1.0.0")),
        "{:?}",
        failure.evidence
    );
    // The ladder lifts `dep` alone in the shipped lock (issue #20) rather than setting it aside.
    assert!(r.attempts[0].locked && !r.attempts[1].locked && !r.attempts[1].fresh_lock, "{:?}", r.attempts);
    let lifted: Vec<_> = r.lock_lifts.iter().map(|l| (l.package.as_str(), l.from.as_str(), l.to.as_str())).collect();
    assert_eq!(lifted, [("dep", "1.0.0", "1.0.1")]);
    let run = Command::new(out.join("bin/app")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), "app 42\n", "built against dep 1.0.1");
}

/// A toolchain without unstable flags (stable: no `--artifact-dir`) still shares a `--cache-dir`:
/// the cache is cargo's build-dir for the units, the executables go to a private target folder.
/// A second crate version built with the same cache compiles nothing of `dep` again.
#[test]
#[cfg_attr(not(all(target_arch = "x86_64", target_env = "gnu")), ignore = "assumes an x86_64-gnu host")]
fn a_stable_toolchain_reuses_the_cache_through_cargos_build_dir() {
    let lib = "[package]\nname = \"dep\"\nversion = \"1.0.0\"\nedition = \"2021\"\n\n[lib]\npath = \"src/lib.rs\"\n";
    let app = |version: &str| {
        let manifest = format!(
            "[package]\nname = \"app\"\nversion = \"{version}\"\nedition = \"2021\"\nlicense = \"MIT\"\n\n\
             [[bin]]\nname = \"app\"\npath = \"src/main.rs\"\n\n[dependencies]\ndep = \"1\"\n"
        );
        TestCrate::new("app", version)
            .file("Cargo.toml", manifest)
            .file("src/main.rs", "fn main() { println!(\"app {}\", dep::answer()); }\n")
            .dep("dep", "^1")
    };
    let reg = SparseRegistry::start(vec![
        TestCrate::new("dep", "1.0.0").file("Cargo.toml", lib).file("src/lib.rs", "pub fn answer() -> u32 { 42 }\n"),
        app("0.1.0"),
        app("0.2.0"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let home = mirror_cargo_home(dir.path(), &reg);
    let cache = dir.path().join("cache");
    let mut logs = Vec::new();
    for version in ["0.1.0", "0.2.0"] {
        let out = dir.path().join(version);
        let o = Command::new(env!("CARGO_BIN_EXE_cratemill"))
            .args(["build", &format!("app@{version}"), "--index-url", &reg.index_url(), "--toolchain", "stable"])
            .args(["--quiet", "--out", out.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()])
            .env_remove("GITHUB_ACTIONS")
            .env_remove("CRATEMILL_INDEX_URL")
            .env("CARGO_HOME", &home)
            .output()
            .expect("running cratemill");
        let log = std::fs::read_to_string(out.join("build.log")).unwrap_or_default();
        assert!(o.status.success(), "{}\n{log}", String::from_utf8_lossy(&o.stderr));
        let run = Command::new(out.join("bin/app")).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&run.stdout), "app 42\n");
        assert!(log.contains("shared build folder"), "{log}");
        logs.push(log);
    }
    let compiles = |log: &str| log.lines().filter(|l| l.contains("Compiling dep v1.0.0")).count();
    assert_eq!(compiles(&logs[0]), 1, "{}", logs[0]);
    assert_eq!(compiles(&logs[1]), 0, "dep compiled again: {}", logs[1]);
    // The units are in the cache; no executable is.
    let deps = cache.join("target").join("x86_64-unknown-linux-gnu").join("release").join("deps");
    let names: Vec<String> =
        std::fs::read_dir(&deps).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().any(|n| n.starts_with("libdep-") && n.ends_with(".rlib")), "{names:?}");
    assert!(!cache.join("target").join("x86_64-unknown-linux-gnu").join("release").join("app").exists());
}
