//! Failure classification: from a build log and how the build process ended, decide *why* a build
//! failed, pick the log lines that show it, and write a one-line summary.
//!
//! Pure logic, no I/O: [`classify`] takes the captured log (lines may carry cratemill's `[+12.345s] `
//! timestamp prefix, which is stripped before matching and never kept in the evidence) and an
//! [`Outcome`] (`process`), and returns a [`Classification`]. Every pattern below was checked against real
//! cargo/rustc/linker/build-script output (see `tests/fixtures/logs/`).
//!
//! Layout: `log` (the cleaned log and the text helpers the rules share), `env_rules` (rules about the
//! environment and cargo's own steps: 1-6 and 13 below), `build_rules` (compiling and linking: 7-12).
//!
//! # Precedence
//!
//! A failing build often prints several kinds of error (a `-sys` build script that did not find a
//! library also says "failed to run custom build command"; a linker that did not find `-lssl` also
//! says "linking with `cc` failed"). The rules are tried in this order; the first that matches wins:
//!
//! | # | rule                | class                    | matches (abridged)                                                                                      |
//! |---|---------------------|--------------------------|---------------------------------------------------------------------------------------------------------|
//! | 1 | timeout             | `timeout`                | `Outcome.timed_out` (the log is cut off, so nothing in it can be trusted more)                         |
//! | 2 | out of resources    | `oom`, `no-space`        | `no-space`: `No space left on device`, `Disk quota exceeded`, the linker dying of SIGBUS (its mmapped output hit a full disk); `oom`: `memory allocation of N bytes failed`, `LLVM ERROR: out of memory`, rustc's `tried to allocate more memory than available`, `Cannot allocate memory`, a process killed by SIGKILL (`signal: 9`, `Killed`: the kernel's or the job cgroup's out-of-memory killer), exit signal 9 |
//! | 2a| network access      | `network-access`         | a build script failed (or a proc macro panicked) and the log says the network could not be reached: `failed to lookup address information`, `Temporary failure in name resolution`, `Could not resolve host`, `dns error`, `Network is unreachable`, `error sending request for url` (the build has no network) |
//! | 2b| compiler crash      | `ice`                    | `error: internal compiler error`, `thread 'rustc' panicked`                                            |
//! | 3 | target not installed| `unknown`                | `the `T` target may not be installed`: the builder's toolchain lacks the target; not the crate's fault, so no crate class, and `unknown` is retried |
//! | 4 | checksum            | `checksum-mismatch`      | `checksum for `x` changed between lock files`, `failed to verify the checksum of`                        |
//! | 4a| locked version unavailable | `locked-version-unavailable` | `failed to select a version for the requirement `x = "=1.0.1"` (locked to 1.0.1)`: the shipped `Cargo.lock` pins a version the index does not serve (sets `lock_outdated`: retried with a fresh resolution) |
//! | 4b| unknown feature     | `unknown-feature`        | a feature asked for with `--features` does not exist: `does not contain this feature`, `none of the selected packages contains these features`, `does not have the feature `x`` (sets `feature_problem`; bad input, exit 2) |
//! | 5 | fetch               | `fetch-failed`           | cargo's own top-level errors: `failed to download`, `failed to get `x` as a dependency`, `failed to select a version` for a missing feature, `failed to load source`, `--locked was passed` (sets `lock_outdated`), missing features (sets `feature_problem`) |
//! | 6 | toolchain too old   | `rust-version`           | `rustc X is not supported by the following package`, `requires rustc X or newer`, `this version of Cargo is older than the `2027` edition`, `requires a nightly version of Cargo` |
//! | 6a| broken              | `broken`                 | the crate cannot be resolved as published: `failed to parse manifest at`, `failed to load manifest for`, `failed to parse lock file at`, `no matching package named`, `failed to select a version for the requirement` (no version, or only yanked ones, meets it) |
//! | 7 | unsupported target  | `unsupported-target`     | an error or build-script panic saying a target/arch/platform/OS is unsupported (`compile_error!`), `could not find `aarch64` in `arch``, an item configured out by `#[cfg(target_os/target_arch/...)]`, inline asm of another architecture |
//! | 8 | missing system library | `missing-system-library` | pkg-config's `The system library `x` required by crate `y` was not found` / `Package x was not found in the pkg-config search path`, openssl-sys `Could not find directory of OpenSSL installation`, linker `cannot find -lx` / `unable to find library -lx`, `could not find native static library`, a missing C header in a build script, cmake `Could not find a package` / `Could NOT find`, libclang not found, a missing build tool (`is `cmake` not installed?`, `linker `x` not found`, a build script that could not spawn a program) |
//! | 8a| nightly breakage    | `nightly-breakage`       | on nightly, unstable features a build switched on by detecting the compiler that this nightly rejects: `error[E0635]: unknown feature`, `error[E0557]: feature has been removed`, `attributes starting with `rustc` are reserved`; the ladder retries on stable |
//! | 9 | unstable on stable  | `rust-version`           | `error[E0554]` (`#![feature]` on stable), `error[E0658]` (unstable feature): the crate needs a nightly or newer toolchain |
//! |10 | link error          | `link-error`             | `linking with `cc` failed`, `undefined reference`, `undefined symbol`, `relocation R_…`, `multiple definition` |
//! |11 | build script        | `build-script-failed`    | `failed to run custom build command for `x`` with no more specific cause above                           |
//! |12 | compile error       | `compile-error`, `depends-on` | `error[E…]`, `error: could not compile`; `depends-on` when an error's location is a registry package's source (`--> …/registry/src/<index>/NAME-VERSION/…`): the summary names it, `inside dependency NAME VERSION: …` |
//! |13 | no executables      | `no-executables`         | `no bin target named`, `no packages found with binaries`, `target filter `bins` specified, but no targets matched`, `there is nothing to install` |
//! |14 | fallback            | `unknown`                | nothing matched: the evidence is the last 20 lines that mention "error"                                 |
//!
//! Decisions worth knowing:
//! - Spurious and real, as crater tells them (`FailureClass::is_spurious`): `oom`, `no-space`,
//!   `timeout`, `network-access` and `ice` are the build's circumstances, and come first (an
//!   out-of-memory kill or a crash causes the errors after it); every other class is real.
//!   `out-of-resources` is no longer given to a build log: it stays for cratemill's own file work.
//! - `depends-on` is a compile error located in a registry package's sources; the crate's own
//!   errors stay `compile-error`. The dependency's own build script failing stays `build-script-failed`.
//! - Missing build *tools* (cmake, libclang, protoc, a cross linker) count as `missing-system-library`:
//!   like a missing library, the fix is to install something in the builder, not to change the crate.
//! - `#![feature]` on stable (E0554) and unstable features (E0658) count as `rust-version`: the crate
//!   builds with another toolchain (nightly or newer), and that is what the report should say.
//! - A nightly breakage is told from the log alone: its three errors only occur when unstable
//!   features are allowed (nightly, or `RUSTC_BOOTSTRAP`); on stable, `#![feature]` is E0554 first.
//! - "target may not be installed" is the builder's environment, not the crate: class `unknown`
//!   (retried later) with a summary that says so, ahead of the compile errors it causes.
//! - A requested feature that does not exist ("does not contain this feature") is `unknown-feature`
//!   (bad input, exit 2 when it is the last attempt's class); a dependency's feature named in the
//!   manifest that does not exist ("does not have that feature") is `fetch-failed`. Both set
//!   `feature_problem`, so the build retries without the added vendoring features. An outdated lock
//!   under `--locked` is `fetch-failed` with `lock_outdated`; a locked version the index does not
//!   serve is `locked-version-unavailable`, also with `lock_outdated`.
//! - `classify` is for attempts that failed. A build that exits 0 and leaves no executable is classed
//!   `no-executables` by the inspection of its output, not here (only cargo's own no-target wordings are).
//! - An error that only says "not supported" without naming a target, arch, platform or OS is not
//!   `unsupported-target`; a plain unresolved module (`#[cfg]`-gated away without rustc pointing at the
//!   `cfg`) cannot be told from a typo and stays `compile-error`.

mod build_rules;
mod env_rules;
mod lines;

use crate::error::{cut, squash};
use build_rules::{
    build_script, compile_error, link_error, missing_system_library, nightly_breakage, unstable_on_stable,
    unsupported_target,
};
use env_rules::{
    broken, checksum, fetch, ice, is_feature_problem, is_lock_outdated, locked_version_unavailable, network_access,
    no_executables, out_of_resources, target_not_installed, timeout, toolchain_too_old, unknown_feature,
};
pub use lines::strip_timestamp;
use lines::{named_packages, tail, Log};

use super::process::Outcome;
use crate::schema::result::{Failure, FailureClass};
use crate::schema::Phase;

/// At most this many evidence lines are kept (the first ones, in log order: the root cause is early).
pub const MAX_EVIDENCE: usize = 30;
/// The `unknown` and `timeout` classes keep this many lines from the end of the log.
const TAIL_EVIDENCE: usize = 20;
/// Longer log lines (linker command lines run to kilobytes) are cut in the evidence.
const MAX_LINE_CHARS: usize = 400;
/// The summary is one line of at most this many characters.
const MAX_SUMMARY_CHARS: usize = 240;

/// Why a build failed, with the log lines that show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    pub class: FailureClass,
    /// The log lines that show the failure, in log order, without timestamps, at most [`MAX_EVIDENCE`].
    pub evidence: Vec<String>,
    /// One line, e.g. `openssl-sys: could not find system library 'openssl' (pkg-config)`.
    pub summary: String,
    /// `--locked` was passed and the shipped `Cargo.lock` needs updating: retry without `--locked`.
    pub lock_outdated: bool,
    /// A requested feature does not exist: retry with default features.
    pub feature_problem: bool,
    /// The packages the log names as failing, with their version when the log says it (the
    /// ladder lifts one of them in the shipped `Cargo.lock`): rustc's error locations in registry
    /// sources first, then failed build scripts, crates that did not compile, crates an error
    /// message names.
    pub named: Vec<(String, Option<String>)>,
}

impl Classification {
    /// A compile error located in a registry dependency's sources (`--> .../registry/src/...`),
    /// not in the crate itself (`depends-on`).
    pub fn in_registry_dependency(&self) -> bool {
        self.class == FailureClass::DependsOn
    }

    /// The `failure` record of `result.json` (and of an attempt) for this classification.
    pub fn to_failure(&self, phase: Phase) -> Failure {
        Failure { class: self.class, phase, message: self.summary.clone(), evidence: self.evidence.clone() }
    }
}

/// The precedence table of the module doc, in order.
const RULES: &[(&str, Rule)] = &[
    ("timeout", timeout),
    ("out of resources", out_of_resources),
    ("network access", network_access),
    ("compiler crash", ice),
    ("target not installed", target_not_installed),
    ("checksum", checksum),
    ("locked version unavailable", locked_version_unavailable),
    ("unknown feature", unknown_feature),
    ("fetch", fetch),
    ("toolchain too old", toolchain_too_old),
    ("broken", broken),
    ("unsupported target", unsupported_target),
    ("missing system library", missing_system_library),
    ("nightly breakage", nightly_breakage),
    ("unstable on stable", unstable_on_stable),
    ("link error", link_error),
    ("build script", build_script),
    ("compile error", compile_error),
    ("no executables", no_executables),
];

/// A rule: the class, summary and evidence line numbers when it matches.
type Rule = fn(&Log, &Outcome) -> Option<Hit>;

/// What a rule found.
#[derive(Debug)]
struct Hit {
    class: FailureClass,
    summary: String,
    lines: Vec<usize>,
}

impl Hit {
    fn new(class: FailureClass, summary: impl Into<String>, lines: Vec<usize>) -> Option<Hit> {
        Some(Hit { class, summary: summary.into(), lines })
    }
}

/// Classify a build log. See the module doc for the precedence of the rules.
pub fn classify(log: &str, exit: &Outcome) -> Classification {
    let log = Log::new(log);
    let lock_outdated = log.any(is_lock_outdated);
    let feature_problem = log.any(is_feature_problem);
    let hit = RULES.iter().find_map(|(_, rule)| rule(&log, exit)).unwrap_or_else(|| unknown(&log, exit));
    let mut lines = hit.lines;
    lines.sort_unstable();
    lines.dedup();
    lines.truncate(MAX_EVIDENCE);
    Classification {
        class: hit.class,
        evidence: lines.into_iter().map(|i| cut(&log.lines[i], MAX_LINE_CHARS)).collect(),
        summary: cut(&squash(&hit.summary), MAX_SUMMARY_CHARS),
        lock_outdated,
        feature_problem,
        named: named_packages(&log),
    }
}

fn unknown(log: &Log, exit: &Outcome) -> Hit {
    let mut lines = tail(log, TAIL_EVIDENCE, |l| l.to_ascii_lowercase().contains("error"));
    if lines.is_empty() {
        lines = tail(log, TAIL_EVIDENCE, |l| !l.trim().is_empty());
    }
    let how = match (exit.code, exit.signal) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(s)) => format!("signal {s}"),
        (None, None) => "no exit status".to_string(),
    };
    let summary = match lines.last() {
        Some(&i) => format!("unrecognised failure ({how}): {}", log.lines[i].trim()),
        None => format!("unrecognised failure ({how}), empty log"),
    };
    Hit { class: FailureClass::Unknown, summary, lines }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_and_summary_is_one_line() {
        let long = format!("error: linking with `cc` failed: exit status: 1\n  = note: {}\n", "\"-lfoo\" ".repeat(200));
        let c = classify(&long, &Outcome::code(101));
        assert!(c.evidence.iter().all(|l| l.chars().count() <= MAX_LINE_CHARS + 1), "{:?}", c.evidence);
        assert!(!c.summary.contains('\n'));
    }

    #[test]
    fn timeout_wins_over_everything_in_the_log() {
        let log = "[+1.0s]    Compiling foo v1.0.0\n[+2.0s] error[E0308]: mismatched types\n";
        let c = classify(log, &Outcome::timed_out());
        assert_eq!(c.class, FailureClass::Timeout);
        assert_eq!(c.summary, "build exceeded the time limit (last step: Compiling foo v1.0.0)");
        assert!(c.evidence.iter().all(|l| !l.starts_with("[+")));
        let silent = Outcome { silent_for: Some(std::time::Duration::from_secs(1800)), ..Outcome::timed_out() };
        let c = classify(log, &silent);
        assert_eq!(c.class, FailureClass::Timeout);
        assert_eq!(c.summary, "build printed nothing for 30m and was killed (last step: Compiling foo v1.0.0)");
    }

    #[test]
    fn sigkill_without_log_evidence_is_oom() {
        let c = classify("   Compiling big v1.0.0\n", &Outcome::signal(9));
        assert_eq!(c.class, FailureClass::Oom);
        let c = classify("   Compiling big v1.0.0\n", &Outcome::signal(11));
        assert_eq!(c.class, FailureClass::Unknown);
        assert!(c.summary.contains("signal 11"), "{}", c.summary);
    }

    #[test]
    fn failure_record_carries_class_summary_and_evidence() {
        let c = classify("error: no matching package named `nope` found\n", &Outcome::code(101));
        let f = c.to_failure(Phase::Build);
        assert_eq!(f.class, FailureClass::Broken);
        assert_eq!(f.phase, Phase::Build);
        assert_eq!(f.message, "no matching package named `nope` found");
        assert_eq!(f.evidence, vec!["error: no matching package named `nope` found"]);
    }

    #[test]
    fn empty_log_is_unknown_with_a_summary() {
        let c = classify("", &Outcome::code(101));
        assert_eq!(c.class, FailureClass::Unknown);
        assert_eq!(c.summary, "unrecognised failure (exit code 101), empty log");
        assert!(c.evidence.is_empty());
    }

    #[test]
    fn os_errors_saying_not_supported_are_not_unsupported_targets() {
        // Synthesized in cargo's shape: a build script hitting EOPNOTSUPP on a filesystem.
        let log = "error: failed to run custom build command for `fs-sys v1.0.0`\n\nCaused by:\n  process didn't exit successfully: `build-script-build` (exit status: 101)\n  --- stderr\n  thread 'main' panicked at build.rs:3:5:\n  hard link failed: Operation not supported (os error 95)\n";
        let c = classify(log, &Outcome::code(101));
        assert_eq!(c.class, FailureClass::BuildScriptFailed, "{}", c.summary);
        assert_eq!(c.summary, "fs-sys: build script failed: hard link failed: Operation not supported (os error 95)");
    }

    #[test]
    fn older_cargo_wordings_are_recognised() {
        // Wordings of cargo releases before the one the fixtures were made with (typed in from them).
        let c = classify(
            "error: package `clap v4.5.4` cannot be built because it requires rustc 1.74 or newer, while the currently active rustc version is 1.70.0\n",
            &Outcome::code(101),
        );
        assert_eq!(c.class, FailureClass::RustVersion, "{}", c.summary);
        let c = classify(
            "error: the lock file /src/x/Cargo.lock needs to be updated but --locked was passed to prevent this\n",
            &Outcome::code(101),
        );
        assert_eq!((c.class, c.lock_outdated, c.feature_problem), (FailureClass::FetchFailed, true, false));
        let c = classify("error: none of the selected packages contains these features: simd\n", &Outcome::code(101));
        assert_eq!((c.class, c.feature_problem), (FailureClass::UnknownFeature, true));
        let c = classify(
            "error: Package `tool v1.0.0 (/src/tool)` does not have the feature `fancy`\n",
            &Outcome::code(101),
        );
        assert_eq!((c.class, c.feature_problem), (FailureClass::UnknownFeature, true));
    }

    #[test]
    fn rules_are_in_documented_order() {
        let names: Vec<&str> = RULES.iter().map(|(n, _)| *n).collect();
        let doc = include_str!("classify.rs");
        let mut last = 0;
        for name in names {
            let at =
                doc.find(&format!("| {name}")).unwrap_or_else(|| panic!("rule `{name}` missing from the doc table"));
            assert!(at > last, "rule `{name}` is out of order in the doc table");
            last = at;
        }
    }
}
