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

/// A `-sys` crate deep in the lock graph (`ffiapp` -> `fakeffi` -> `fakeffi-sys`) whose build script
/// finds no system library unless its `vendored` feature is on, as `openssl-sys` or `libgit2-sys`
/// without theirs: cratemill's first attempt fails as `missing-system-library`, the retry adds
/// `fakeffi-sys = { version = "=1.0.0", features = ["vendored"] }` to the job's copy of the manifest
/// (cargo unifies the feature into the middle crate's dependency) and builds. result.json, the log
/// and the `-srcbuild-` archive's manifest say so.
#[test]
fn a_transitive_sys_crate_is_vendored_through_feature_unification() {
    use support::sparse_registry::TestCrate;
    let sys_build = r#"
fn main() {
    if std::env::var_os("CARGO_FEATURE_VENDORED").is_some() {
        return; // built from source
    }
    eprintln!("Package fakeffi was not found in the pkg-config search path.");
    panic!("\n\nThe system library `fakeffi` required by crate `fakeffi-sys` was not found.\nThe file `fakeffi.pc` needs to be installed and the PKG_CONFIG_PATH environment variable must contain its parent directory.\n");
}
"#;
    let sys = TestCrate::new("fakeffi-sys", "1.0.0")
        .file(
            "Cargo.toml",
            "[package]\nname = \"fakeffi-sys\"\nversion = \"1.0.0\"\nedition = \"2021\"\n\n[features]\nvendored = []\n",
        )
        .file("build.rs", sys_build)
        .file("src/lib.rs", "pub fn base() -> u32 { 1 }\n")
        .feature("vendored", &[]);
    let mid = TestCrate::new("fakeffi", "1.0.0")
        .file(
            "Cargo.toml",
            "[package]\nname = \"fakeffi\"\nversion = \"1.0.0\"\nedition = \"2021\"\n\n[dependencies]\nfakeffi-sys = \"1\"\n",
        )
        .file("src/lib.rs", "pub fn answer() -> u32 { fakeffi_sys::base() + 41 }\n")
        .dep("fakeffi-sys", "^1");
    let manifest = "[package]\nname = \"ffiapp\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense = \"MIT\"\n\n\
                    [dependencies]\nfakeffi = \"1\"\n";
    let app = TestCrate::new("ffiapp", "0.1.0")
        .file("Cargo.toml", manifest)
        .file("src/main.rs", "fn main() { println!(\"ffiapp {}\", fakeffi::answer()); }\n")
        .dep("fakeffi", "^1");
    let reg = SparseRegistry::start(vec![sys, mid, app]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = build(&reg, "ffiapp", &out, &["--target", "x86_64-unknown-linux-gnu"], &[]);
    let r = built(&o, &out);
    let work = Work::of(&out);
    let [first, second] = &r.attempts[..] else { panic!("two attempts: {:#?}", r.attempts) };
    let failure = first.failure.as_ref().expect("the first attempt failed");
    assert_eq!(failure.class, FailureClass::MissingSystemLibrary, "{}", failure.message);
    assert_eq!(failure.message, "fakeffi-sys: could not find system library 'fakeffi' (pkg-config)");
    assert!(second.produced_binaries, "{second:#?}");
    let [added] = &r.manifest_additions[..] else { panic!("one addition: {:#?}", r.manifest_additions) };
    assert_eq!((added.package.as_str(), added.version.as_str()), ("fakeffi-sys", "1.0.0"));
    assert_eq!(added.features, ["vendored"]);
    assert_eq!(added.reason, failure.message);
    let step = "Cargo.toml: added fakeffi-sys = { version = \"=1.0.0\", features = [\"vendored\"] } (vendoring through feature unification)";
    assert!(r.prepare.iter().any(|s| s == step), "the prepare steps (and so the provenance) say so: {:#?}", r.prepare);
    let log = std::fs::read_to_string(out.join("build.log")).unwrap();
    assert!(log.contains(&format!("prepare: {step}, after: fakeffi-sys: could not find system library")), "{log}");
    let run = Command::new(out.join("bin/ffiapp")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), "ffiapp 42\n");
    // The job's manifest has the pinned dependency; the -srcbuild- archive's source/ reproduces it.
    let built_manifest = std::fs::read_to_string(work.0.join("src/ffiapp-0.1.0/Cargo.toml")).unwrap();
    let archived = srcbuild_manifest(&out);
    assert_eq!(archived, built_manifest, "the archive's manifest is the one the build used");
    let doc: toml::Table = archived.parse().unwrap();
    assert_eq!(doc["dependencies"]["fakeffi-sys"]["version"].as_str(), Some("=1.0.0"), "{archived}");
}

/// A `-sys` crate of the lock graph (`zapp` -> `zwrap` -> `libz-sys`) that links the system's
/// shared `libz.so.1` unless its `static` feature is on, as `libz-sys` does where pkg-config finds
/// only the shared library: the first attempt builds an executable that needs `libz.so.1`, which
/// is `not-static` (inspect would refuse it); the ladder names `libz-sys` from the library
/// (`prepare::VENDORING`), adds it with `static` to the job's manifest, and the second attempt's
/// executable is static and runs.
#[test]
fn an_executable_that_needs_a_shared_library_is_rebuilt_with_its_sys_crate_vendored() {
    use support::sparse_registry::TestCrate;
    let sys_build = "fn main() {\n    if std::env::var_os(\"CARGO_FEATURE_STATIC\").is_none() {\n        println!(\"cargo:rustc-link-lib=dylib=z\");\n    }\n}\n";
    let sys_lib = "#[cfg(not(feature = \"static\"))]\nextern \"C\" { fn zlibVersion() -> *const std::os::raw::c_char; }\n\
                   #[cfg(not(feature = \"static\"))]\npub fn version() -> String { unsafe { std::ffi::CStr::from_ptr(zlibVersion()) }.to_string_lossy().into_owned() }\n\
                   #[cfg(feature = \"static\")]\npub fn version() -> String { \"built from source\".to_string() }\n";
    let sys = TestCrate::new("libz-sys", "1.0.0")
        .file(
            "Cargo.toml",
            "[package]\nname = \"libz-sys\"\nversion = \"1.0.0\"\nedition = \"2021\"\nlinks = \"z\"\n\n[features]\nstatic = []\n",
        )
        .file("build.rs", sys_build)
        .file("src/lib.rs", sys_lib)
        .feature("static", &[]);
    let mid = TestCrate::new("zwrap", "1.0.0")
        .file(
            "Cargo.toml",
            "[package]\nname = \"zwrap\"\nversion = \"1.0.0\"\nedition = \"2021\"\n\n[dependencies]\nlibz-sys = \"1\"\n",
        )
        .file("src/lib.rs", "pub fn version() -> String { libz_sys::version() }\n")
        .dep("libz-sys", "^1");
    let manifest = "[package]\nname = \"zapp\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense = \"MIT\"\n\n\
                    [dependencies]\nzwrap = \"1\"\n";
    let app = TestCrate::new("zapp", "0.1.0")
        .file("Cargo.toml", manifest)
        .file("src/main.rs", "fn main() { println!(\"zapp {}\", zwrap::version()); }\n")
        .dep("zwrap", "^1");
    let reg = SparseRegistry::start(vec![sys, mid, app]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = build(&reg, "zapp", &out, &["--target", "x86_64-unknown-linux-gnu"], &[]);
    let r = built(&o, &out);
    let [first, second] = &r.attempts[..] else { panic!("two attempts: {:#?}", r.attempts) };
    let failure = first.failure.as_ref().expect("the first attempt counts as failed");
    assert_eq!(failure.class, FailureClass::NotStatic, "{}", failure.message);
    assert!(failure.message.starts_with("not statically linked: zapp needs libz.so.1"), "{}", failure.message);
    assert!(!first.produced_binaries && second.produced_binaries, "{:#?}", r.attempts);
    let [added] = &r.manifest_additions[..] else { panic!("one addition: {:#?}", r.manifest_additions) };
    assert_eq!((added.package.as_str(), added.version.as_str()), ("libz-sys", "1.0.0"));
    assert_eq!(added.features, ["static"]);
    assert_eq!(added.reason, failure.message);
    let [exe] = &r.executables[..] else { panic!("one executable: {:#?}", r.executables) };
    assert!(exe.is_static && exe.needed.is_empty(), "{exe:#?}");
    let run = Command::new(out.join("bin/zapp")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), "zapp built from source\n");
}

/// `source/Cargo.toml` of the package's `-srcbuild-` archive.
fn srcbuild_manifest(out: &std::path::Path) -> String {
    use std::io::Read;
    let dir = out.join(cratemill::package::SRCBUILD_DIR);
    let file = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    let bytes = zstd::decode_all(&std::fs::read(file).unwrap()[..]).unwrap();
    let mut archive = tar::Archive::new(&bytes[..]);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_string_lossy().ends_with("/source/Cargo.toml") {
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            return text;
        }
    }
    panic!("no source/Cargo.toml in the -srcbuild- archive");
}

/// A shipped Cargo.lock pins `oldc 1.0.0`, which does not compile (as `libc` 0.2.149 does not for
/// loongarch64-musl), and `other 1.0.0`; the registry also serves `oldc 1.0.1` (fixed), `oldc
/// 2.0.0` (semver-incompatible) and `other 1.0.1`. The locked attempt fails inside `oldc`; the
/// ladder lifts `oldc` alone (`cargo update -p oldc@1.0.0`, the newest compatible release) and the
/// next attempt builds: the lock it built with differs from the shipped one in exactly one package.
/// result.json (`lock_lifts`, a `prepare` step) and the log say so. Host target and a local
/// registry: the real case (loongarch64-musl, `-Zbuild-std`) costs minutes per build.
#[test]
fn a_lock_pinning_a_broken_dependency_builds_with_only_that_package_lifted() {
    use support::sparse_registry::TestCrate;
    let lib = |name: &str, v: &str, body: &str| {
        TestCrate::new(name, v)
            .file("Cargo.toml", format!("[package]\nname = \"{name}\"\nversion = \"{v}\"\nedition = \"2021\"\n"))
            .file("src/lib.rs", body)
    };
    let broken = lib("oldc", "1.0.0", "compile_error!(\"oldc 1.0.0 predates this build\");\npub fn n() -> u32 { 0 }\n");
    let other = lib("other", "1.0.0", "pub fn n() -> u32 { 1 }\n");
    let entry = |name: &str, v: &str, c: &TestCrate| {
        format!(
            "[[package]]\nname = \"{name}\"\nversion = \"{v}\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"{}\"\n\n",
            c.cksum()
        )
    };
    let lock = format!(
        "version = 3\n\n[[package]]\nname = \"liftapp\"\nversion = \"0.1.0\"\ndependencies = [\n \"oldc\",\n \"other\",\n]\n\n{}{}",
        entry("oldc", "1.0.0", &broken),
        entry("other", "1.0.0", &other)
    );
    let manifest = "[package]\nname = \"liftapp\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense = \"MIT\"\n\n\
                    [dependencies]\noldc = \"1\"\nother = \"1\"\n";
    let app = TestCrate::new("liftapp", "0.1.0")
        .file("Cargo.toml", manifest)
        .file("Cargo.lock", &lock)
        .file("src/main.rs", "fn main() { println!(\"liftapp {}\", oldc::n() + other::n()); }\n")
        .dep("oldc", "^1")
        .dep("other", "^1");
    let reg = SparseRegistry::start(vec![
        broken,
        lib("oldc", "1.0.1", "pub fn n() -> u32 { 41 }\n"),
        lib("oldc", "2.0.0", "pub fn n() -> u32 { 2000 }\n"),
        other,
        lib("other", "1.0.1", "pub fn n() -> u32 { 100 }\n"),
        app,
    ]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = build(&reg, "liftapp", &out, &["--target", "x86_64-unknown-linux-gnu"], &[]);
    let r = built(&o, &out);
    let work = Work::of(&out);
    let [first, second] = &r.attempts[..] else { panic!("two attempts: {:#?}", r.attempts) };
    assert!(first.locked, "{first:#?}");
    let failure = first.failure.as_ref().expect("the locked attempt failed");
    assert_eq!(failure.class, FailureClass::DependsOn, "{}", failure.message);
    assert!(
        failure.message.starts_with("inside dependency oldc 1.0.0: error: oldc 1.0.0 predates"),
        "{}",
        failure.message
    );
    assert!(failure.evidence.iter().any(|l| l.contains("oldc-1.0.0")), "{:?}", failure.evidence);
    assert!(second.produced_binaries && !second.locked && !second.fresh_lock, "{second:#?}");
    let [lift] = &r.lock_lifts[..] else { panic!("one lift: {:#?}", r.lock_lifts) };
    assert_eq!((lift.package.as_str(), lift.from.as_str(), lift.to.as_str()), ("oldc", "1.0.0", "1.0.1"));
    assert_eq!((lift.precise, lift.changed.as_slice()), (false, &["oldc".to_string()][..]));
    assert_eq!(lift.reason, failure.message);
    let step = "Cargo.lock: lifted oldc 1.0.0 -> 1.0.1 alone (cargo update -p oldc@1.0.0); every other pin kept";
    assert!(r.prepare.iter().any(|s| s == step), "the prepare steps (and so the provenance) say so: {:#?}", r.prepare);
    let log = std::fs::read_to_string(out.join("build.log")).unwrap();
    assert!(log.contains(" update --manifest-path") && log.contains("-p oldc@1.0.0"), "{log}");
    // The lock the build used differs from the shipped one in exactly one package.
    let packages = |text: &str| -> std::collections::BTreeSet<(String, String)> {
        let doc: toml::Table = text.parse().unwrap();
        let list = doc["package"].as_array().unwrap().iter();
        list.map(|p| (p["name"].as_str().unwrap().to_string(), p["version"].as_str().unwrap().to_string())).collect()
    };
    let used = std::fs::read_to_string(work.0.join("src/liftapp-0.1.0/Cargo.lock")).unwrap();
    let (shipped, used) = (packages(&lock), packages(&used));
    let gone: Vec<_> = shipped.difference(&used).collect();
    let new: Vec<_> = used.difference(&shipped).collect();
    assert_eq!(gone, [&("oldc".to_string(), "1.0.0".to_string())], "{used:?}");
    assert_eq!(new, [&("oldc".to_string(), "1.0.1".to_string())], "other stays at 1.0.0: {used:?}");
    let run = Command::new(out.join("bin/liftapp")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), "liftapp 42\n", "built with oldc 1.0.1 and other 1.0.0");
}
