//! End-to-end tests of `cratemill build`: the real binary, a local sparse registry serving crates
//! made in the test, real cargo builds for the host target, real executables run afterwards.

#[path = "support/online.rs"]
mod online;

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cratemill::schema::result::{BuildResult, FailureClass, SmokeStatus, Status};
use support::sparse_registry::{SparseRegistry, TestCrate};

const MIT: &str = include_str!("fixtures/LICENSE-MIT");

fn cratemill(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cratemill"));
    cmd.args(args).env_remove("GITHUB_ACTIONS").env_remove("CRATEMILL_INDEX_URL");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("running cratemill")
}

fn build(reg: &SparseRegistry, spec: &str, out: &Path, extra: &[&str], envs: &[(&str, &str)]) -> Output {
    let index = reg.index_url();
    let mut args = vec!["build", spec, "--index-url", index.as_str(), "--out", out.to_str().unwrap(), "--quiet"];
    args.extend_from_slice(extra);
    cratemill(&args, envs)
}

fn result(out: &Path) -> BuildResult {
    cratemill::schema::read(&out.join("result.json")).expect("result.json")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The one error line, asserting there is exactly one line on stderr.
fn one_error_line(o: &Output) -> String {
    let text = stderr(o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line on stderr, got: {text}");
    assert!(lines[0].starts_with("error: "), "{text}");
    lines[0].to_string()
}

fn assert_not_publishable(out: &Path) {
    for f in ["bin", "licenses", "srcbuild", "CHECKSUMS"] {
        assert!(!out.join(f).exists(), "{f} left behind in a failed output");
    }
    assert!(cratemill::package::verify(out).is_err());
}

/// The work folder a `--keep-work` build left, from its build log.
fn kept_work_folder(out: &Path) -> PathBuf {
    let log = std::fs::read_to_string(out.join("build.log")).unwrap();
    let line = log.lines().find_map(|l| l.split_once("work folder kept at ")).expect("the log names the work folder");
    PathBuf::from(line.1.trim())
}

fn bin_crate(name: &str, version: &str, main_rs: &str) -> TestCrate {
    let manifest = format!("[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\nlicense = \"MIT\"\n\n[features]\nbroken = []\n");
    TestCrate::new(name, version).file("Cargo.toml", manifest).file("src/main.rs", main_rs).file("LICENSE", MIT)
}

#[test]
#[cfg_attr(not(all(target_arch = "x86_64", target_env = "gnu")), ignore = "assumes an x86_64-gnu host")]
fn builds_a_static_executable_that_runs_on_x86_64_gnu_host() {
    let reg = SparseRegistry::start(vec![
        TestCrate::binary("hello", "1.0.0").file("LICENSE-MIT", MIT),
        TestCrate::binary("hello", "1.1.0").file("LICENSE-MIT", MIT),
        TestCrate::binary("hello", "2.0.0-beta.1"),
        TestCrate::binary("hello", "1.2.0").yanked(true),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = build(&reg, "hello", &out, &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.starts_with("built hello 1.1.0 for x86_64-unknown-linux-gnu"), "{stdout}");

    // The package verifies: result.json built, CHECKSUMS complete and matching.
    let pkg = cratemill::package::verify(&out).expect("package verifies");
    let r = &pkg.result;
    assert_eq!((r.status, r.version.as_str(), r.backend), (Status::Built, "1.1.0", cratemill::schema::Backend::Cargo));
    assert_eq!(r.executables.len(), 1);
    let exe = &r.executables[0];
    assert!(exe.is_static && exe.interpreter.is_none() && exe.needed.is_empty());
    assert_eq!(exe.smoke.status, SmokeStatus::Passed);
    assert_eq!(exe.smoke.first_line.as_deref(), Some("hello 1.1.0"));

    // Static per the ELF headers, read independently of result.json, and it really runs.
    let bytes = std::fs::read(out.join("bin/hello")).unwrap();
    let facts = cratemill::elf::inspect(&bytes).unwrap().unwrap();
    assert!(facts.is_executable() && facts.is_static(), "{facts:?}");
    let run = Command::new(out.join("bin/hello")).arg("--version").env_clear().output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "hello 1.1.0");

    // Licenses, source archive, timings, toolchain.
    assert_eq!(r.licenses.declared.as_deref(), Some("MIT"));
    assert_eq!(r.licenses.files[0].spdx.as_deref(), Some("MIT"));
    assert!(pkg.srcbuild().is_some(), "srcbuild archive missing");
    for phase in ["resolve", "fetch", "prepare", "build", "inspect", "license", "package", "total"] {
        assert!(r.timings_ms.contains_key(phase), "no timing for {phase}");
    }
    assert!(r.rustflags.contains("+crt-static"));
    assert_eq!(r.build_env.get("CARGO_PROFILE_RELEASE_LTO").map(String::as_str), Some("fat"));
    let log = std::fs::read_to_string(out.join("build.log")).unwrap();
    assert!(log.lines().all(|l| l.starts_with("[+")), "every log line is timestamped");
    assert!(log.contains("Compiling hello v1.1.0"));

    // An exact version; building again over the same folder replaces it.
    let o = build(&reg, "hello@1.0.0", &out, &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(result(&out).version, "1.0.0");
}

#[test]
fn secrets_never_reach_the_build_environment() {
    let dir = tempfile::tempdir().unwrap();
    // The sandbox lets a build script write only in the work folder: the dump goes to its root,
    // which --keep-work leaves behind for the test to read.
    let build_rs = "fn main() {\n    let mut s = String::new();\n    for (k, v) in std::env::vars() { s.push_str(&format!(\"{k}={v}\\n\")); }\n    \
                    let dir = std::path::Path::new(env!(\"CARGO_MANIFEST_DIR\")).join(\"../..\");\n    \
                    std::fs::write(dir.join(\"env-dump.txt\"), s).unwrap();\n}\n";
    let reg = SparseRegistry::start(vec![
        bin_crate("envdump", "0.1.0", "fn main() { println!(\"envdump 0.1.0\"); }").file("build.rs", build_rs)
    ]);
    let out = dir.path().join("out");
    let secrets = [
        ("GITHUB_TOKEN", "ghs_SECRETgithubtoken0001"),
        ("ACTIONS_RUNTIME_TOKEN", "SECRETruntime0002"),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "SECRETidtoken0003"),
        ("CRATEMILL_REGISTRY_TOKEN", "SECRETregistry0004"),
        ("CARGO_REGISTRY_TOKEN", "SECRETcargo0005"),
        ("AWS_SECRET_ACCESS_KEY", "SECRETaws0006"),
        ("MY_INPUT", "SECRETinput0007"),
        // An allowed variable carrying a secret value is dropped too.
        ("CFLAGS", "-DX=ghs_SECRETgithubtoken0001"),
    ];
    let o = build(&reg, "envdump", &out, &["--secret-env", "MY_INPUT", "--keep-work"], &secrets);
    assert!(o.status.success(), "{}", stderr(&o));
    let work = kept_work_folder(&out);
    let seen = std::fs::read_to_string(work.join("env-dump.txt")).expect("build.rs ran and dumped its environment");
    std::fs::remove_dir_all(&work).unwrap();
    assert!(seen.contains("CARGO_PKG_NAME=envdump"), "the dump is a real build-script environment");
    let mut everything = seen.clone();
    for f in ["build.log", "result.json"] {
        everything.push_str(&std::fs::read_to_string(out.join(f)).unwrap());
    }
    everything.push_str(&stderr(&o));
    everything.push_str(&String::from_utf8_lossy(&o.stdout));
    assert!(!everything.contains("SECRET"), "a secret value leaked into the build, its log or its result");
    for (name, _) in secrets {
        assert!(!seen.lines().any(|l| l.starts_with(&format!("{name}="))), "{name} reached the build");
    }
}

#[test]
fn all_features_falls_back_to_default_features() {
    let main = "#[cfg(feature = \"broken\")]\ncompile_error!(\"the broken feature does not build\");\nfn main() { println!(\"fallback 0.1.0\"); }\n";
    let reg = SparseRegistry::start(vec![bin_crate("fallback", "0.1.0", main).feature("broken", &[])]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = build(&reg, "fallback", &out, &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = result(&out);
    assert_eq!(r.attempts.len(), 2);
    assert_eq!(r.attempts[0].features, "all");
    assert!(!r.attempts[0].produced_binaries);
    assert_eq!(r.attempts[0].failure.as_ref().unwrap().class, FailureClass::CompileError);
    assert!(r.attempts[0].command.contains(&"--all-features".to_string()));
    assert_eq!(r.attempts[1].features, "default");
    assert!(r.attempts[1].produced_binaries);
    assert_eq!(r.features_used.as_deref(), Some("default"));
}

#[test]
fn compile_errors_fail_with_class_and_evidence() {
    let reg = SparseRegistry::start(vec![bin_crate("broken", "0.1.0", "fn main() { let x: u32 = \"nope\"; }\n")]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = build(&reg, "broken", &out, &[], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = result(&out);
    assert_eq!(r.status, Status::Failed);
    let f = r.failure.unwrap();
    assert_eq!((f.class, f.phase), (FailureClass::CompileError, cratemill::schema::Phase::Build));
    assert!(f.evidence.iter().any(|l| l.contains("mismatched types")), "{:?}", f.evidence);
    assert_eq!(r.attempts.len(), 2, "all features, then default");
    assert_not_publishable(&out);
}

#[test]
fn crashing_executable_is_a_failed_build() {
    let reg = SparseRegistry::start(vec![bin_crate("crasher", "0.1.0", "fn main() { std::process::abort(); }\n")]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = build(&reg, "crasher", &out, &[], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = result(&out);
    assert_eq!(r.failure.unwrap().class, FailureClass::SmokeCrashed);
    assert_eq!(r.executables[0].smoke.signal, Some(6));
    assert_not_publishable(&out);
}

#[test]
fn library_only_crate_fails_fast() {
    let manifest = "[package]\nname = \"just_lib\"\nversion = \"0.1.0\"\nedition = \"2021\"\n";
    let reg = SparseRegistry::start(vec![TestCrate::new("just_lib", "0.1.0")
        .file("Cargo.toml", manifest)
        .file("src/lib.rs", "pub fn f() {}\n")]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // Asked for with a dash, published with an underscore: crates.io treats both as one name.
    let o = build(&reg, "just-lib", &out, &[], &[]);
    assert_eq!(o.status.code(), Some(1));
    let r = result(&out);
    assert_eq!((r.crate_name.as_str(), r.version.as_str()), ("just_lib", "0.1.0"));
    assert!(std::fs::read_to_string(out.join("build.log")).unwrap().contains("`just-lib` is published as `just_lib`"));
    assert_eq!(r.failure.as_ref().unwrap().class, FailureClass::NoExecutables);
    assert!(r.attempts.is_empty(), "nothing was compiled");
    assert_not_publishable(&out);
}

#[test]
fn timeout_kills_the_build() {
    let reg = SparseRegistry::start(vec![bin_crate("slow", "0.1.0", "fn main() {}\n")
        .file("build.rs", "fn main() { std::thread::sleep(std::time::Duration::from_secs(120)); }\n")]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let started = std::time::Instant::now();
    let o = build(&reg, "slow", &out, &["--timeout", "5s"], &[]);
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    assert_eq!(o.status.code(), Some(1));
    let r = result(&out);
    assert_eq!(r.failure.unwrap().class, FailureClass::Timeout);
    assert_eq!(r.attempts.len(), 1, "no second attempt after a timeout");
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let reg = SparseRegistry::start(vec![
        TestCrate::binary("hello", "1.0.0"),
        TestCrate::binary("hello", "1.1.0").yanked(true),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // Malformed specs and targets never reach the network or the disk.
    for (spec, extra, needle) in [
        ("hello;rm -rf /", vec![], "hello;rm -rf /"),
        ("$(touch pwned)", vec![], "pwned"),
        ("hello@not-a-version", vec![], "not-a-version"),
        ("hello", vec!["--target", "x86_64-pc-windows-msvc"], "unsupported target"),
        ("hello", vec!["--target", "x86_64;ls"], "not a target triple"),
        ("hello", vec!["--features", "a;b"], "--features"),
    ] {
        let o = build(&reg, spec, &out, &extra, &[]);
        assert_eq!(o.status.code(), Some(2), "{spec}: {}", stderr(&o));
        assert!(one_error_line(&o).contains(needle), "{spec}: {}", stderr(&o));
        assert!(!out.exists(), "{spec}: output written for invalid input");
    }
    assert!(!Path::new("pwned").exists());

    // Well-formed but unknown or yanked: exit 2, one line, and a result.json for the fleet report.
    for (spec, class_needle) in [("nosuchcrate", "nosuchcrate"), ("hello@9.9.9", "9.9.9"), ("hello@1.1.0", "yanked")] {
        let o = build(&reg, spec, &out, &[], &[]);
        assert_eq!(o.status.code(), Some(2), "{spec}: {}", stderr(&o));
        assert!(one_error_line(&o).contains(class_needle), "{spec}: {}", stderr(&o));
        assert_eq!(result(&out).failure.unwrap().class, FailureClass::NotFound, "{spec}");
    }
}

#[test]
fn tampered_and_unsafe_crates_are_refused() {
    let reg = SparseRegistry::start(vec![
        TestCrate::binary("tampered", "1.0.0").tampered(),
        TestCrate::binary("escape", "1.0.0").raw_file("../../escaped.txt", "x"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    for (name, class) in [("tampered", FailureClass::ChecksumMismatch), ("escape", FailureClass::UnsafeArchive)] {
        let out = dir.path().join(name);
        let o = build(&reg, name, &out, &[], &[]);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
        assert_eq!(result(&out).failure.unwrap().class, class, "{name}");
        assert_not_publishable(&out);
    }
}

#[test]
fn unreachable_index_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = cratemill(
        &[
            "build",
            "hello",
            "--index-url",
            "sparse+http://127.0.0.1:9/index/",
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ],
        &[],
    );
    assert_ne!(o.status.code(), Some(0));
    assert!(one_error_line(&o).contains("127.0.0.1:9"), "{}", stderr(&o));
    assert_eq!(result(&out).failure.unwrap().class, FailureClass::FetchFailed);
}

#[test]
fn refuses_to_overwrite_a_foreign_folder() {
    let reg = SparseRegistry::start(vec![TestCrate::binary("hello", "1.0.0")]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("precious.txt"), "keep me").unwrap();
    let o = build(&reg, "hello", dir.path(), &[], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(one_error_line(&o).contains("not a cratemill output"));
    assert!(dir.path().join("precious.txt").exists());
}

#[test]
fn github_actions_outputs_and_summary() {
    let reg = SparseRegistry::start(vec![
        TestCrate::binary("hello", "1.0.0"),
        bin_crate("broken", "0.1.0", "fn main() { x }\n"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let (outputs, summary) = (dir.path().join("outputs"), dir.path().join("summary.md"));
    let envs = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_OUTPUT", outputs.to_str().unwrap()),
        ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
    ];
    let out: PathBuf = dir.path().join("ok");
    let o = build(&reg, "hello", &out, &[], &envs);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&outputs).unwrap();
    assert!(
        text.contains("status=built\n") && text.contains("version=1.0.0\n") && text.contains("executables=hello\n"),
        "{text}"
    );
    assert!(text.contains(&format!("result-path={}\n", out.join("result.json").display())));
    assert!(std::fs::read_to_string(&summary).unwrap().contains("| `hello` |"));

    let o = build(&reg, "broken", &dir.path().join("bad"), &[], &envs);
    assert_eq!(o.status.code(), Some(1));
    let text = std::fs::read_to_string(&outputs).unwrap();
    assert!(text.contains("status=failed\n") && text.contains("failure-class=compile-error\n"), "{text}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("::error title="), "an error annotation is printed");
}

#[test]
fn stable_toolchain_collects_from_the_target_folder() {
    let reg = SparseRegistry::start(vec![TestCrate::binary("hello", "1.0.0")]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = build(&reg, "hello", &out, &["--toolchain", "stable", "--jobs", "1"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = result(&out);
    assert_eq!(r.toolchain.as_ref().unwrap().channel, cratemill::schema::Channel::Stable);
    // Compare whole arguments: the work folder's random name can contain "-Z" too.
    let args = &r.attempts[0].command;
    assert!(!args.iter().any(|a| a == "-Z" || a == "--artifact-dir" || a == "+nightly"), "{args:?}");
    assert!(args.windows(2).any(|w| w == ["--jobs", "1"]), "{args:?}");
    assert_eq!(r.executables[0].smoke.status, SmokeStatus::Passed);
    assert_eq!(r.sandbox, Some(cratemill::schema::result::Sandbox::Bwrap), "the build ran in bwrap");
    assert!(args.iter().any(|a| a == "--offline"), "the build runs offline after the fetch: {args:?}");
    cratemill::package::verify(&out).expect("package verifies");
}

#[test]
#[cfg_attr(not(all(target_arch = "x86_64", target_env = "gnu")), ignore = "assumes an x86_64-gnu host")]
fn build_then_publish_to_a_local_oci_layout_on_x86_64_gnu_host() {
    let reg = SparseRegistry::start(vec![TestCrate::binary("hello", "1.0.0")]);
    let dir = tempfile::tempdir().unwrap();
    let (out, layout) = (dir.path().join("out"), dir.path().join("oci"));
    let o = build(&reg, "hello", &out, &["--oci-layout", layout.to_str().unwrap(), "--build-id", "e2e-1"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let record: cratemill::schema::publish::PublishRecord = cratemill::schema::read(&out.join("publish.json")).unwrap();
    assert_eq!(record.references.len(), 2, "binary and -srcbuild- artifacts");
    // A real OCI client reads what was written.
    let image = format!("oci:{}:1.0.0-x86_64-unknown-linux-gnu", layout.join("hello").display());
    let inspect = Command::new("skopeo")
        .args(["inspect", "--raw", &image])
        .output()
        .expect("skopeo is installed (apt-get install skopeo)");
    assert!(inspect.status.success(), "{}", String::from_utf8_lossy(&inspect.stderr));
    let manifest: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let exe_sha = &result(&out).executables[0].sha256;
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers[0]["digest"], format!("sha256:{exe_sha}"));
    assert_eq!(layers[0]["annotations"]["org.opencontainers.image.title"], "bin/hello");

    // A bad registry reference is refused before anything is built.
    let o = build(&reg, "hello", &dir.path().join("never"), &["--registry", "https://ghcr.io/x"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!dir.path().join("never").exists());
}

#[test]
fn outdated_lock_falls_back_to_a_fresh_resolution() {
    // The shipped Cargo.lock names another version of the package itself: `--locked` must refuse it.
    let lock = "version = 3\n\n[[package]]\nname = \"locky\"\nversion = \"0.0.1\"\n";
    let reg = SparseRegistry::start(vec![
        bin_crate("locky", "0.1.0", "fn main() { println!(\"locky 0.1.0\"); }\n").file("Cargo.lock", lock)
    ]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = build(&reg, "locky", &out, &["--features", "default"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = result(&out);
    assert_eq!(r.attempts.len(), 2, "{:?}", r.attempts);
    assert!(r.attempts[0].locked && !r.attempts[0].produced_binaries);
    assert!(!r.attempts[1].locked && r.attempts[1].produced_binaries);
    assert!(r.prepare.iter().any(|s| s.contains("--locked")));
}

/// The real thing: a small command-line crate from crates.io, built statically and run.
#[test]
fn crates_io_real_crate_builds_static() {
    if !online::crates_io_or_skip("crates_io_real_crate_builds_static") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hexyl");
    let o = cratemill(&["build", "hexyl@0.17.0", "--out", out.to_str().unwrap(), "--quiet"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let pkg = cratemill::package::verify(&out).expect("package verifies");
    assert_eq!(pkg.result.source.as_ref().unwrap().crate_sha256.len(), 64);
    let bytes = std::fs::read(out.join("bin/hexyl")).unwrap();
    let facts = cratemill::elf::inspect(&bytes).unwrap().unwrap();
    assert!(facts.is_static(), "hexyl is not static: {facts:?}");
    let run = Command::new(out.join("bin/hexyl")).arg("--version").env_clear().output().unwrap();
    assert!(run.status.success());
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "hexyl 0.17.0");
    assert!(pkg.result.licenses.files.iter().any(|l| l.spdx.is_some()), "{:?}", pkg.result.licenses);
}

/// No bwrap on PATH: `--sandbox auto` refuses with the fix (exit 3) before anything is written;
/// `--sandbox none` is the explicit way round it.
#[test]
fn missing_bubblewrap_is_refused_with_the_fix() {
    let reg = SparseRegistry::start(vec![TestCrate::binary("hello", "1.0.0")]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // Only the toolchain's folder: cargo and rustc are found, bwrap is not.
    let cargo = cratemill::builder::sandbox::find_on_path("cargo").expect("cargo on PATH");
    let path = cargo.parent().unwrap().to_str().unwrap();
    assert!(!Path::new(path).join("bwrap").exists());
    let o = build(&reg, "hello", &out, &[], &[("PATH", path)]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let line = one_error_line(&o);
    assert!(line.contains("apt-get install bubblewrap") && line.contains("--sandbox none"), "{line}");
    assert!(!out.exists(), "nothing is written when the sandbox is refused");
}

/// `--toolchain NAME` for a toolchain that `rustup toolchain link` points outside `/usr` and rustup's
/// home (a copy of Debian's rustc here, in a private RUSTUP_HOME): the sandbox mounts where the
/// link leads, so the build finds its compiler, and result.json names the toolchain.
#[test]
fn linked_toolchain_outside_usr_builds_in_the_sandbox() {
    let driver = std::fs::read_dir("/usr/lib/x86_64-linux-gnu")
        .expect("/usr/lib/x86_64-linux-gnu")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with("librustc_driver-"))
        .expect("Debian's rustc-web (tests/setup/30-musl-targets.sh)");
    let dir = tempfile::tempdir().unwrap();
    let tc = dir.path().join("linked-tc");
    std::fs::create_dir_all(tc.join("bin")).unwrap();
    std::fs::create_dir_all(tc.join("lib/rustlib")).unwrap();
    for tool in ["rustc", "cargo"] {
        std::fs::copy(Path::new("/usr/bin").join(tool), tc.join("bin").join(tool)).unwrap();
    }
    std::fs::copy(&driver, tc.join("lib").join(driver.file_name().unwrap())).unwrap();
    std::os::unix::fs::symlink(
        "/usr/lib/rustlib/x86_64-unknown-linux-gnu",
        tc.join("lib/rustlib/x86_64-unknown-linux-gnu"),
    )
    .unwrap();
    let rustup_home = dir.path().join("rustup");
    let real_home = std::env::var("RUSTUP_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap()).join(".rustup"));
    std::fs::create_dir_all(rustup_home.join("toolchains")).unwrap();
    std::fs::copy(real_home.join("settings.toml"), rustup_home.join("settings.toml")).unwrap();
    for entry in std::fs::read_dir(real_home.join("toolchains")).unwrap().flatten() {
        std::os::unix::fs::symlink(entry.path(), rustup_home.join("toolchains").join(entry.file_name())).unwrap();
    }
    std::os::unix::fs::symlink(&tc, rustup_home.join("toolchains/cm-linked")).unwrap();
    let home = rustup_home.to_str().unwrap();
    let sysroot = Command::new("rustc").args(["+cm-linked", "--print", "sysroot"]).env("RUSTUP_HOME", home).output();
    assert_eq!(
        String::from_utf8_lossy(&sysroot.unwrap().stdout).trim(),
        tc.to_str().unwrap(),
        "the copy is its own sysroot"
    );

    let reg = SparseRegistry::start(vec![TestCrate::binary("hello", "1.0.0")]);
    let out = dir.path().join("out");
    let o = build(&reg, "hello", &out, &["--toolchain", "cm-linked"], &[("RUSTUP_HOME", home)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = result(&out);
    assert_eq!(r.sandbox, Some(cratemill::schema::result::Sandbox::Bwrap), "the build ran in bwrap");
    let toolchain = r.toolchain.as_ref().unwrap();
    assert_eq!(toolchain.name.as_deref(), Some("cm-linked"));
    let debian = Command::new("/usr/bin/rustc").arg("--version").output().unwrap();
    assert_eq!(toolchain.rustc, String::from_utf8_lossy(&debian.stdout).trim(), "Debian's compiler");
    assert_eq!(r.executables[0].smoke.status, SmokeStatus::Passed);
}
