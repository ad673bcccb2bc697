//! `build::classify` on real build-log excerpts (`tests/fixtures/logs/<class>-<what>.log`).
//!
//! Each fixture starts with `# key: value` header lines: `source` (how it was produced), `exit`
//! (`code=N`, `signal=N` or `timed_out`), `summary` (a substring the summary must contain), optional
//! `flags` (`lock_outdated`, `feature_problem`) and `trimmed`. The expected class is the file name's
//! prefix. The precedence tests below splice real excerpts together, as parallel cargo jobs do.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cratemill::builder::classify::{classify, Classification, MAX_EVIDENCE};
use cratemill::builder::process::Outcome;
use cratemill::schema::result::FailureClass;

struct Fixture {
    name: String,
    class: FailureClass,
    exit: Outcome,
    summary: String,
    flags: BTreeSet<String>,
    log: String,
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/logs")
}

fn class_of_name(name: &str) -> FailureClass {
    let parts: Vec<&str> = name.split('-').collect();
    (1..parts.len())
        .rev()
        .find_map(|k| serde_json::from_value(serde_json::Value::String(parts[..k].join("-"))).ok())
        .unwrap_or_else(|| panic!("{name}: file name does not start with a failure class"))
}

fn parse_exit(name: &str, s: &str) -> Outcome {
    if s == "timed_out" {
        return Outcome::timed_out();
    }
    let (key, n) = s.split_once('=').unwrap_or_else(|| panic!("{name}: bad exit header `{s}`"));
    let n: i32 = n.parse().unwrap_or_else(|_| panic!("{name}: bad exit number `{s}`"));
    match key {
        "code" => Outcome::code(n),
        "signal" => Outcome::signal(n),
        _ => panic!("{name}: bad exit header `{s}`"),
    }
}

fn load(name: &str) -> Fixture {
    let path = fixture_dir().join(format!("{name}.log"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (mut exit, mut summary, mut flags, mut source) = (None, None, BTreeSet::new(), None);
    let mut body = Vec::new();
    let mut in_header = true;
    for line in text.lines() {
        if in_header {
            if let Some(h) = line.strip_prefix("# ") {
                let (key, value) = h.split_once(": ").unwrap_or_else(|| panic!("{name}: bad header `{line}`"));
                match key {
                    "source" => source = Some(value.to_string()),
                    "exit" => exit = Some(parse_exit(name, value)),
                    "summary" => summary = Some(value.to_string()),
                    "flags" => flags = value.split(", ").map(str::to_string).collect(),
                    "trimmed" => {}
                    _ => panic!("{name}: unknown header `{key}`"),
                }
                continue;
            }
            in_header = false;
        }
        body.push(line);
    }
    assert!(source.is_some_and(|s| !s.is_empty()), "{name}: needs a `# source:` line");
    assert!(!body.is_empty(), "{name}: empty log");
    Fixture {
        name: name.to_string(),
        class: class_of_name(name),
        exit: exit.unwrap_or_else(|| panic!("{name}: needs an `# exit:` line")),
        summary: summary.unwrap_or_else(|| panic!("{name}: needs a `# summary:` line")),
        flags,
        log: body.join("\n") + "\n",
    }
}

fn all_fixtures() -> Vec<Fixture> {
    let mut names: Vec<String> = std::fs::read_dir(fixture_dir())
        .expect("tests/fixtures/logs exists")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter_map(|f| f.strip_suffix(".log").map(str::to_string))
        .collect();
    names.sort();
    names.iter().map(|n| load(n)).collect()
}

/// The evidence is made of log lines (timestamps stripped), in log order.
fn assert_evidence_from_log(name: &str, c: &Classification, log: &str) {
    assert!(!c.evidence.is_empty(), "{name}: no evidence");
    assert!(c.evidence.len() <= MAX_EVIDENCE, "{name}: {} evidence lines", c.evidence.len());
    let lines: Vec<&str> = log.lines().map(cratemill::builder::classify::strip_timestamp).collect();
    let mut at = 0;
    for e in &c.evidence {
        assert!(!e.starts_with("[+"), "{name}: evidence keeps a timestamp: {e}");
        let wanted = e.strip_suffix('…').unwrap_or(e);
        let found = lines[at..].iter().position(|l| l.trim_end().starts_with(wanted));
        let found = found.unwrap_or_else(|| panic!("{name}: evidence line not in log (or out of order): {e}"));
        at += found + 1;
    }
}

#[test]
fn every_fixture_gets_its_class_summary_flags_and_evidence() {
    let fixtures = all_fixtures();
    assert!(fixtures.len() >= 40, "only {} fixtures", fixtures.len());
    let mut failures = Vec::new();
    for f in &fixtures {
        let c = classify(&f.log, &f.exit);
        if c.class != f.class {
            failures.push(format!("{}: class {} (want {}), summary: {}", f.name, c.class, f.class, c.summary));
            continue;
        }
        if !c.summary.contains(&f.summary) {
            failures.push(format!("{}: summary `{}` lacks `{}`", f.name, c.summary, f.summary));
        }
        if c.lock_outdated != f.flags.contains("lock_outdated")
            || c.feature_problem != f.flags.contains("feature_problem")
        {
            failures.push(format!(
                "{}: flags lock_outdated={} feature_problem={} (want {:?})",
                f.name, c.lock_outdated, c.feature_problem, f.flags
            ));
        }
        assert!(
            !c.summary.contains('\n') && c.summary.chars().count() <= 241,
            "{}: summary not one short line",
            f.name
        );
        assert_evidence_from_log(&f.name, &c, &f.log);
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures misclassified:\n{}",
        failures.len(),
        fixtures.len(),
        failures.join("\n")
    );
}

#[test]
fn fixtures_cover_every_log_class() {
    let have: BTreeSet<FailureClass> = all_fixtures().iter().map(|f| f.class).collect();
    for class in [
        FailureClass::MissingSystemLibrary,
        FailureClass::BuildScriptFailed,
        FailureClass::CompileError,
        FailureClass::LinkError,
        FailureClass::UnsupportedTarget,
        FailureClass::RustVersion,
        FailureClass::Timeout,
        FailureClass::Oom,
        FailureClass::NoSpace,
        FailureClass::NetworkAccess,
        FailureClass::Ice,
        FailureClass::DependsOn,
        FailureClass::Broken,
        FailureClass::FetchFailed,
        FailureClass::ChecksumMismatch,
        FailureClass::NoExecutables,
        FailureClass::NightlyBreakage,
        FailureClass::Unknown,
    ] {
        assert!(have.contains(&class), "no fixture for {class}");
    }
}

#[test]
fn timestamps_change_nothing_but_never_reach_the_evidence() {
    for f in all_fixtures().iter().filter(|f| !f.log.starts_with("[+")) {
        let stamped: String =
            f.log.lines().enumerate().map(|(i, l)| format!("[+{}.{:03}s] {l}\n", i / 3, (i * 37) % 1000)).collect();
        let plain = classify(&f.log, &f.exit);
        let with = classify(&stamped, &f.exit);
        assert_eq!(with, plain, "{}: timestamps changed the classification", f.name);
    }
}

#[test]
fn timestamped_capture_fixture_really_has_timestamps() {
    let f = load("timeout-timestamped-capture");
    assert!(f.log.lines().all(|l| l.starts_with("[+")), "fixture lost its timestamps");
    let c = classify(&f.log, &f.exit);
    assert_eq!(c.evidence.last().map(String::as_str), Some("   Compiling regex-syntax v0.8.12"));
}

fn splice(names: &[&str]) -> String {
    names.iter().map(|n| load(n).log).collect()
}

#[test]
fn sys_crate_pkg_config_failure_is_missing_library_not_build_script() {
    let f = load("missing-system-library-openssl-sys");
    assert!(f.log.contains("error: failed to run custom build command for `openssl-sys"));
    let c = classify(&f.log, &f.exit);
    assert_eq!(c.class, FailureClass::MissingSystemLibrary);
    assert_eq!(c.summary, "openssl-sys: could not find system library 'openssl' (pkg-config)");
    assert!(c.evidence.iter().any(|l| l.starts_with("error: failed to run custom build command for `openssl-sys")));
    assert!(c.evidence.iter().any(|l| l.contains("Could not find directory of OpenSSL installation")));
}

#[test]
fn linker_missing_library_is_missing_library_not_link_error() {
    for name in ["missing-system-library-linker-bfd", "missing-system-library-linker-lld"] {
        let f = load(name);
        assert!(f.log.contains("error: linking with `cc` failed"));
        assert_eq!(classify(&f.log, &f.exit).class, FailureClass::MissingSystemLibrary, "{name}");
    }
}

#[test]
fn undefined_reference_with_rustc_native_library_hint_stays_link_error() {
    let f = load("link-error-undefined-reference-bfd");
    assert!(f.log.contains("some native libraries may need to be installed"));
    assert_eq!(classify(&f.log, &f.exit).class, FailureClass::LinkError);
}

#[test]
fn resource_exhaustion_beats_the_errors_it_causes() {
    // A build script that ran out of memory, a const-eval error code, a linker that hit a full disk.
    for (name, hides, class) in [
        ("oom-alloc-failed-build-script", "error: failed to run custom build command", FailureClass::Oom),
        ("oom-const-eval-memory", "error[E0080]", FailureClass::Oom),
        ("no-space-enospc-ld-bfd", "error: linking with `cc` failed", FailureClass::NoSpace),
    ] {
        let f = load(name);
        assert!(f.log.contains(hides), "{name}");
        assert_eq!(classify(&f.log, &f.exit).class, class, "{name}");
    }
    let log = splice(&["compile-error-mismatched-types"]);
    assert_eq!(classify(&log, &Outcome::signal(9)).class, FailureClass::Oom);
}

#[test]
fn timeout_beats_whatever_the_log_shows() {
    let log = splice(&["compile-error-mismatched-types", "oom-rustc-sigkill"]);
    let c = classify(&log, &Outcome::timed_out());
    assert_eq!(c.class, FailureClass::Timeout);
    assert!(c.evidence.len() <= 20);
}

#[test]
fn spliced_parallel_failures_follow_the_precedence_table() {
    let cases: &[(&[&str], FailureClass)] = &[
        (
            &["compile-error-mismatched-types", "missing-system-library-pkgconfig-alsa-sys"],
            FailureClass::MissingSystemLibrary,
        ),
        (&["build-script-failed-panic", "link-error-undefined-symbol-lld"], FailureClass::LinkError),
        (&["compile-error-mismatched-types", "build-script-failed-panic"], FailureClass::BuildScriptFailed),
        (
            &["missing-system-library-libclang", "unsupported-target-compile-error-macro"],
            FailureClass::UnsupportedTarget,
        ),
        (&["compile-error-mismatched-types", "rust-version-feature-on-stable"], FailureClass::RustVersion),
        (&["link-error-relocation-lld", "rust-version-unstable-library-feature"], FailureClass::RustVersion),
        (&["unknown-target-not-installed", "compile-error-mismatched-types"], FailureClass::Unknown),
        (&["no-executables-bins-filter", "compile-error-mismatched-types"], FailureClass::CompileError),
        // A feature that does not exist is the caller's to fix; the outdated lock is retried anyway.
        (&["fetch-failed-lock-outdated", "unknown-feature-feature-missing"], FailureClass::UnknownFeature),
        (
            &["locked-version-unavailable-missing-from-mirror", "compile-error-mismatched-types"],
            FailureClass::LockedVersionUnavailable,
        ),
        (&["checksum-mismatch-lock-checksum-changed", "broken-no-matching-package"], FailureClass::ChecksumMismatch),
    ];
    for (names, want) in cases {
        let c = classify(&splice(names), &Outcome::code(101));
        assert_eq!(c.class, *want, "{names:?}: {}", c.summary);
    }
    let c = classify(&splice(&["fetch-failed-lock-outdated", "unknown-feature-feature-missing"]), &Outcome::code(101));
    assert!(c.lock_outdated && c.feature_problem);
}

#[test]
fn cmake_missing_is_a_missing_tool_and_names_it() {
    let f = load("missing-system-library-cmake-not-installed");
    let c = classify(&f.log, &f.exit);
    assert_eq!(c.class, FailureClass::MissingSystemLibrary);
    assert!(c.evidence.iter().any(|l| l.trim() == "is `cmake` not installed?"), "{:?}", c.evidence);
}

#[test]
fn compile_error_evidence_has_error_headers_and_locations() {
    let f = load("compile-error-mismatched-types");
    let c = classify(&f.log, &f.exit);
    assert_eq!(
        c.evidence,
        vec![
            "error[E0308]: mismatched types",
            " --> src/main.rs:2:18",
            "error: could not compile `ce` (bin \"ce\") due to 1 previous error"
        ]
    );
}

#[test]
fn unknown_keeps_the_last_twenty_error_lines() {
    let mut log = String::from("   Compiling odd v1.0.0\n");
    for i in 0..35 {
        log.push_str(&format!("weird tool: error number {i}\nsome context {i}\n"));
    }
    let c = classify(&log, &Outcome::code(2));
    assert_eq!(c.class, FailureClass::Unknown);
    assert_eq!(c.evidence.len(), 20);
    assert_eq!(c.evidence[0], "weird tool: error number 15");
    assert_eq!(c.evidence[19], "weird tool: error number 34");
    assert_eq!(c.summary, "unrecognised failure (exit code 2): weird tool: error number 34");
}

#[test]
fn spurious_and_real_classes_are_told_apart_as_crater_does() {
    // depends-on: the error is in a registry package's sources; the summary names it and its version.
    let f = load("depends-on-time-type-annotations");
    let c = classify(&f.log, &f.exit);
    assert_eq!(c.class, FailureClass::DependsOn, "{}", c.summary);
    assert!(c.summary.starts_with("inside dependency time 0.3.34: error[E0282]"), "{}", c.summary);
    assert!(c.evidence.iter().any(|l| l.contains("/registry/src/") && l.contains("time-0.3.34/")), "{:?}", c.evidence);
    assert_eq!(c.named[0], ("time".to_string(), Some("0.3.34".to_string())));
    // The crate's own error stays compile-error.
    assert_eq!(
        classify(&load("compile-error-mismatched-types").log, &Outcome::code(101)).class,
        FailureClass::CompileError
    );
    // ice: the compiler crash beats the error it was reporting, in any order of parallel output.
    let f = load("ice-treat-err-as-bug");
    let c = classify(&f.log, &f.exit);
    assert_eq!(c.class, FailureClass::Ice);
    assert!(
        c.evidence.iter().any(|l| l.starts_with("thread 'rustc'") && l.contains("panicked at")),
        "{:?}",
        c.evidence
    );
    for names in [
        ["ice-treat-err-as-bug", "compile-error-mismatched-types"],
        ["compile-error-mismatched-types", "ice-treat-err-as-bug"],
    ] {
        assert_eq!(classify(&splice(&names), &Outcome::code(101)).class, FailureClass::Ice, "{names:?}");
    }
    // broken: the published crate cannot be resolved; a network failure while fetching stays fetch-failed.
    for name in ["broken-no-matching-package", "broken-version-not-found", "broken-unknown-cargo-feature"] {
        assert_eq!(classify(&load(name).log, &Outcome::code(101)).class, FailureClass::Broken, "{name}");
    }
    for name in
        ["fetch-failed-index-unreachable", "fetch-failed-download-refused", "fetch-failed-dependency-feature-missing"]
    {
        assert_eq!(classify(&load(name).log, &Outcome::code(101)).class, FailureClass::FetchFailed, "{name}");
    }
    // A build script's network failure beats the build-script failure it causes.
    let c = classify(&splice(&["build-script-failed-panic", "network-access-build-script-dns"]), &Outcome::code(101));
    assert_eq!(c.class, FailureClass::NetworkAccess, "{}", c.summary);
    // The split itself.
    use FailureClass::*;
    for spurious in [Oom, NoSpace, Timeout, NetworkAccess, Ice, OutOfResources] {
        assert!(spurious.is_spurious() && spurious.is_transient(), "{spurious}");
    }
    for real in [CompileError, DependsOn, Broken, BuildScriptFailed, MissingSystemLibrary, UnsupportedTarget] {
        assert!(!real.is_spurious() && !real.is_transient(), "{real}");
    }
}
