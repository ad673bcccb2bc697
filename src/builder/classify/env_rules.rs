//! Rules about the build's environment and cargo's own steps, before or around compiling: timeout,
//! out of resources, missing target, checksum, fetch/resolution, toolchain too old, no executables.

use super::lines::{between, crate_of_error, strip_error, tail, Log, BUILD_SCRIPT_FAILED, COULD_NOT_COMPILE};
use super::{Hit, Outcome, TAIL_EVIDENCE};
use crate::schema::result::FailureClass;

pub(super) fn timeout(log: &Log, exit: &Outcome) -> Option<Hit> {
    if !exit.timed_out {
        return None;
    }
    let last = log.lines.iter().rev().find(|l| l.trim_start().starts_with("Compiling ")).map(|l| l.trim());
    let what = match exit.silent_for {
        Some(quiet) => format!("build printed nothing for {} and was killed", humantime::format_duration(quiet)),
        None => "build exceeded the time limit".to_string(),
    };
    let summary = match last {
        Some(step) => format!("{what} (last step: {step})"),
        None => what,
    };
    Hit::new(FailureClass::Timeout, summary, tail(log, TAIL_EVIDENCE, |l| !l.trim().is_empty()))
}

pub(super) fn out_of_resources(log: &Log, exit: &Outcome) -> Option<Hit> {
    use FailureClass::{NoSpace, Oom};
    const PATTERNS: &[(&str, FailureClass, &str)] = &[
        ("No space left on device", NoSpace, "out of disk space"),
        ("Disk quota exceeded", NoSpace, "out of disk space"),
        ("LLVM ERROR: out of memory", Oom, "out of memory"),
        ("tried to allocate more memory than available to compiler", Oom, "out of memory"),
        ("Cannot allocate memory", Oom, "out of memory"),
        ("out of memory allocating", Oom, "out of memory"),
        ("could not allocate", Oom, "out of memory"),
        ("signal: 9, SIGKILL", Oom, "rustc or a build script was killed by SIGKILL (usually the out-of-memory killer)"),
        ("Killed signal terminated program", Oom, "a compiler was killed (usually the out-of-memory killer)"),
        (
            "terminated with signal 7 [Bus error]",
            NoSpace,
            "the linker died of SIGBUS (its output file hit a full disk)",
        ),
    ];
    // The crate whose step failed, and cargo's lines saying which step it was.
    let hit = |lines: Vec<usize>, class: FailureClass, what: &str| {
        let first = lines[0];
        let anchors = log.find(|l| l.starts_with(BUILD_SCRIPT_FAILED) || l.starts_with(COULD_NOT_COMPILE));
        let line = log.lines[first].trim().trim_start_matches("= note: ");
        let summary = if anchors.is_empty() {
            format!("{what}: {line}")
        } else if line.contains("process didn't exit successfully") {
            format!("{}: {what}", log.crate_for(first))
        } else {
            format!("{}: {what}: {line}", log.crate_for(first))
        };
        Hit::new(class, summary, lines.into_iter().chain(anchors).collect())
    };
    for &(pat, class, what) in PATTERNS {
        let lines = log.find(|l| l.contains(pat));
        if !lines.is_empty() {
            return hit(lines, class, what);
        }
    }
    let lines = log.find(|l| is_alloc_failure(l) || is_killed_notice(l));
    if let Some(&first) = lines.first() {
        let what = if is_alloc_failure(&log.lines[first]) { "out of memory" } else { "a process was killed" };
        return hit(lines, Oom, what);
    }
    if exit.signal == Some(9) {
        let summary = "the build was killed by SIGKILL (usually the out-of-memory killer)";
        return Hit::new(Oom, summary, tail(log, TAIL_EVIDENCE, |l| !l.trim().is_empty()));
    }
    None
}

/// What a program says when it cannot reach the network (names do not resolve, no route): Rust's
/// std, getaddrinfo, curl, reqwest, git.
const NO_NETWORK: &[&str] = &[
    "failed to lookup address information",
    "temporary failure in name resolution",
    "name or service not known",
    "no address associated with hostname",
    "could not resolve host",
    "could not resolve hostname",
    "dns error",
    "network is unreachable",
    "error sending request for url",
];

/// A build script (or a proc macro) that failed because it could not reach the network: the
/// build runs offline, in the sandbox without a network. cargo's own offline refusal is `fetch`.
pub(super) fn network_access(log: &Log, _: &Outcome) -> Option<Hit> {
    let ran_code = log.any(|l| l.starts_with(BUILD_SCRIPT_FAILED) || l.contains("proc macro panicked"));
    if !ran_code {
        return None;
    }
    let lines = log.find(|l| {
        let l = l.to_ascii_lowercase();
        NO_NETWORK.iter().any(|p| l.contains(p))
    });
    let &first = lines.first()?;
    let summary = format!(
        "{}: the build tried to reach the network, which builds do not have: {}",
        log.crate_for(first),
        log.lines[first].trim()
    );
    let mut all = log.find(|l| l.starts_with(BUILD_SCRIPT_FAILED) || l.contains("proc macro panicked"));
    all.extend(lines);
    Hit::new(FailureClass::NetworkAccess, summary, all)
}

/// The compiler crashed: an internal compiler error, or rustc panicked.
pub(super) fn ice(log: &Log, _: &Outcome) -> Option<Hit> {
    // `thread 'rustc' panicked at` (older) or `thread 'rustc' (PID) panicked at`.
    let is_ice = |l: &str| {
        l.starts_with("error: internal compiler error")
            || l.starts_with("thread 'rustc'") && l.contains(" panicked at ")
            || l.contains("the compiler unexpectedly panicked")
    };
    let lines = log.find(is_ice);
    let &first = lines.first()?;
    let summary = format!("{}: the compiler crashed: {}", crate_of_error(log, first), log.lines[first].trim());
    let mut all = lines;
    all.extend(log.find(|l| l.starts_with(COULD_NOT_COMPILE)));
    Hit::new(FailureClass::Ice, summary, all)
}

/// cargo's top-level errors that [`broken`] takes (and [`fetch`] leaves).
fn is_broken(line: &str) -> bool {
    const CARGO_ERRORS: &[&str] = &[
        "error: failed to parse manifest at",
        "error: failed to load manifest for",
        "error: failed to parse lock file at",
        "error: no matching package named",
        "error: no matching package found",
        "error: failed to select a version for the requirement",
    ];
    CARGO_ERRORS.iter().any(|p| line.starts_with(p)) && !is_locked_version_unavailable(line)
}

/// cargo's errors for a crate that cannot be resolved or read as published: an invalid manifest
/// or lock, a dependency that does not exist, a requirement no (unyanked) version meets. A locked
/// version the index lacks is `locked-version-unavailable` (before); a missing dependency feature
/// stays `fetch` (`feature_problem`: cratemill's added vendoring features may cause it).
pub(super) fn broken(log: &Log, _: &Outcome) -> Option<Hit> {
    let i = log.first(is_broken)?;
    let lines = log.block(i, 12);
    let head = strip_error(&log.lines[i]);
    let cause = lines.iter().skip(1).map(|&j| log.lines[j].trim()).find(|l| !l.is_empty() && *l != "Caused by:");
    let summary = match cause {
        Some(c) if log.lines[i..].iter().take(12).any(|l| l == "Caused by:") => format!("{head}: {c}"),
        _ => head.to_string(),
    };
    Hit::new(FailureClass::Broken, summary, lines)
}

/// Rust's allocation-failure message: `memory allocation of 35184372088832 bytes failed`.
pub(super) fn is_alloc_failure(line: &str) -> bool {
    line.split_once("memory allocation of ")
        .and_then(|(_, rest)| rest.split_once(" bytes failed"))
        .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A shell's job notice for a SIGKILLed process: `Killed` alone, or `... 1234 Killed   cargo build`.
pub(super) fn is_killed_notice(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.iter().position(|w| *w == "Killed") {
        Some(0) => true,
        Some(i) => words[i - 1].bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

pub(super) fn target_not_installed(log: &Log, _: &Outcome) -> Option<Hit> {
    let i = log.first(|l| l.contains("target may not be installed"))?;
    let target = between(&log.lines[i], "`", "`").unwrap_or("this");
    let summary = format!(
        "the `{target}` target is not installed for this toolchain (builder environment, not the crate: `rustup target add {target}`)"
    );
    let mut lines = log.find(|l| l.contains("target may not be installed") || l.starts_with("error[E0463]"));
    lines.extend(log.find(|l| l.contains("rustup target add")));
    Hit::new(FailureClass::Unknown, summary, lines)
}

pub(super) fn checksum(log: &Log, _: &Outcome) -> Option<Hit> {
    let i = log.first(|l| {
        l.starts_with("error:")
            && (l.contains("changed between lock files")
                || l.contains("failed to verify the checksum of")
                || l.contains("listed checksum of"))
    })?;
    let mut lines = log.block(i, 12);
    lines.extend(log.find(|l| l.starts_with("unable to verify that")));
    Hit::new(FailureClass::ChecksumMismatch, strip_error(&log.lines[i]), lines)
}

pub(super) fn is_lock_outdated(line: &str) -> bool {
    line.starts_with("error:") && (line.contains("--locked was passed") || line.contains("--frozen was passed"))
        || is_locked_version_unavailable(line)
}

/// cargo under `--locked` when the index no longer (or not yet) serves a version the shipped
/// `Cargo.lock` pins: `failed to select a version for the requirement `x = "=1.0.1"` (locked to 1.0.1)`.
pub(super) fn is_locked_version_unavailable(line: &str) -> bool {
    line.starts_with("error: failed to select a version for the requirement") && line.contains("(locked to ")
}

/// The locked version is not served: retried with a fresh resolution (`lock_outdated`).
pub(super) fn locked_version_unavailable(log: &Log, _: &Outcome) -> Option<Hit> {
    let i = log.first(is_locked_version_unavailable)?;
    let line = &log.lines[i];
    let requirement = between(line, "`", "`").unwrap_or("a dependency");
    let locked = line.rsplit_once("(locked to ").map(|(_, v)| v.trim_end_matches(')')).unwrap_or("?");
    let summary = format!(
        "the shipped Cargo.lock pins {requirement} at {locked}, which the index does not serve (removed, or newer than this index)"
    );
    Hit::new(FailureClass::LockedVersionUnavailable, summary, log.block(i, 6))
}

/// Features asked for on the command line that the package does not have (not a dependency's
/// feature named in a manifest, which stays `fetch-failed`).
pub(super) fn is_requested_feature_missing(line: &str) -> bool {
    const PATTERNS: &[&str] = &[
        "does not contain this feature",
        "does not contain these features",
        "none of the selected packages contains these features",
        "none of the selected packages contains this feature",
        "does not have the feature `",
    ];
    line.starts_with("error:") && PATTERNS.iter().any(|p| line.contains(p))
}

/// `--features` named a feature the crate does not have: bad input, exit 2.
pub(super) fn unknown_feature(log: &Log, _: &Outcome) -> Option<Hit> {
    let i = log.first(is_requested_feature_missing)?;
    let lines = log.find(is_requested_feature_missing);
    Hit::new(FailureClass::UnknownFeature, format!("{}; check --features", strip_error(&log.lines[i])), lines)
}

pub(super) fn is_feature_problem(line: &str) -> bool {
    const PATTERNS: &[&str] = &[
        "does not contain this feature",
        "does not contain these features",
        "contains these features",
        "contains this feature",
        "does not have the feature `",
        "does not have that feature",
        "which is neither a dependency nor another feature",
    ];
    PATTERNS.iter().any(|p| line.contains(p))
}

pub(super) fn fetch(log: &Log, _: &Outcome) -> Option<Hit> {
    const CARGO_ERRORS: &[&str] = &[
        "error: failed to download",
        "error: failed to get `",
        "error: no matching package named",
        "error: no matching package found",
        "error: failed to select a version",
        "error: failed to load source for dependency",
        "error: failed to update registry",
        "error: failed to fetch",
        "error: failed to query replaced source",
        "error: attempting to make an HTTP request, but --offline was specified",
    ];
    let i = log
        .first(|l| is_lock_outdated(l) || CARGO_ERRORS.iter().any(|p| l.starts_with(p)) && !is_broken(l))
        .or_else(|| log.first(is_feature_problem))?;
    let mut lines = log.block(i, 25);
    lines.extend(log.find(is_feature_problem));
    // The innermost cause of a `Caused by:` chain says what went wrong on the network.
    let cause = lines.iter().rev().map(|&j| log.lines[j].trim()).find(|l| !l.is_empty() && *l != "Caused by:");
    let head = strip_error(&log.lines[i]);
    let summary = match cause {
        Some(c) if log.lines[i..].iter().take(25).any(|l| l == "Caused by:") && c != head => format!("{head}: {c}"),
        _ => head.to_string(),
    };
    Hit::new(FailureClass::FetchFailed, summary, lines)
}

pub(super) fn toolchain_too_old(log: &Log, _: &Outcome) -> Option<Hit> {
    if let Some(i) = log.first(|l| l.contains("is not supported by the following package")) {
        let lines = log.block(i, 8);
        let needs: Vec<&str> = lines.iter().skip(1).map(|&j| log.lines[j].trim()).collect();
        let summary = format!("{}: {}", strip_error(&log.lines[i]).trim_end_matches(':'), needs.join("; "));
        return Hit::new(FailureClass::RustVersion, summary, lines);
    }
    const PATTERNS: &[&str] = &[
        "or newer, while the currently active rustc version is",
        "this version of Cargo is older than the",
        "requires a nightly version of Cargo",
    ];
    let lines = log.find(|l| PATTERNS.iter().any(|p| l.contains(p)));
    let &first = lines.first()?;
    let mut all = log.find(|l| l.starts_with("error:") && l.contains("manifest"));
    all.extend(&lines);
    Hit::new(FailureClass::RustVersion, strip_error(log.lines[first].trim()), all)
}

pub(super) fn no_executables(log: &Log, _: &Outcome) -> Option<Hit> {
    const PATTERNS: &[&str] = &[
        "no bin target named",
        "no packages found with binaries",
        "there is nothing to install in",
        "a bin target must be available",
        "specified, but no targets matched",
    ];
    let lines = log.find(|l| PATTERNS.iter().any(|p| l.contains(p)));
    let &i = lines.first()?;
    let summary = format!("the crate has no binary targets ({})", strip_error(log.lines[i].trim()));
    Hit::new(FailureClass::NoExecutables, summary, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_failures_and_kill_notices() {
        assert!(is_alloc_failure("  memory allocation of 35184372088832 bytes failed"));
        assert!(!is_alloc_failure("memory allocation of many bytes failed"));
        assert!(is_killed_notice("bash: line 1: 14912 Killed                  timeout -s KILL 2 cargo build"));
        assert!(is_killed_notice("Killed"));
        assert!(!is_killed_notice("error: the process was Killed by the user"));
    }
}
