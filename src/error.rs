//! Exit codes, the one error type that carries them, and the one policy that maps errors to them.
//!
//! Every phase returns `anyhow::Result`; an error that should map to a specific exit code is a
//! [`Fail`] somewhere in the chain. [`exit_in`] is the exit-code policy, the only place an error
//! becomes a code (README "Exit codes"): bad input 2 (unknown crate, version or feature included),
//! a crate that did not build 1, cratemill's own network, disk or a bug 3. `main` and the build job
//! both ask it. Pure.

use std::fmt;

use crate::schema::result::FailureClass;
use crate::schema::Phase;

/// The documented exit codes of `cratemill` (see README.md, "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: the phase did what was asked (crate built, package published, plan written).
    Ok = 0,
    /// 1: the crate was valid but did not build (or its output failed inspection); result.json says why.
    Failed = 1,
    /// 2: bad input or usage: unknown crate/version, yanked version, malformed spec, bad flag value.
    Usage = 2,
    /// 3: cratemill itself or its environment failed (disk, a missing tool, a bug).
    Internal = 3,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// An error with a known exit code. The message is one line and names the problem.
#[derive(Debug)]
pub struct Fail {
    pub exit: Exit,
    /// The failure class recorded in result.json, when the error decides one.
    pub class: Option<FailureClass>,
    pub message: String,
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Fail {}

/// Bad input: exit code 2.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Fail { exit: Exit::Usage, class: None, message: message.into() })
}

/// A valid request that did not succeed: exit code 1.
pub fn failed(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Fail { exit: Exit::Failed, class: None, message: message.into() })
}

/// cratemill's environment failed (a registry or server that misbehaves, the disk, a tool):
/// exit code 3.
pub fn environment(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Fail { exit: Exit::Internal, class: None, message: message.into() })
}

/// An error with both an exit code and the failure class to record (`not-found`, `checksum-mismatch`, ...).
pub fn classified(exit: Exit, class: FailureClass, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Fail { exit, class: Some(class), message: message.into() })
}

/// The failure class an error carries, if any.
pub fn class_of(err: &anyhow::Error) -> Option<FailureClass> {
    err.chain().find_map(|e| e.downcast_ref::<Fail>().and_then(|f| f.class))
}

/// The exit code an error maps to, when the phase it happened in is not known (see [`exit_in`]).
pub fn exit_of(err: &anyhow::Error) -> Exit {
    exit_in(err, None)
}

/// The exit-code policy. In order:
/// 1. the failure class decides where it says whose fault it is: `not-found` and
///    `unknown-feature` are bad input (2); `fetch-failed` while cratemill itself resolves or
///    downloads (phases `resolve`, `fetch`) and `out-of-resources` outside the build are the
///    network or the machine (3);
/// 2. otherwise a classified error is a crate that did not build (1), whatever exit its `Fail` asked for
///    other than bad input;
/// 3. an unclassified [`Fail`] keeps its exit; an error that is no `Fail` at all (I/O, a bug) is 3.
pub fn exit_in(err: &anyhow::Error, phase: Option<Phase>) -> Exit {
    let fail = err.chain().find_map(|e| e.downcast_ref::<Fail>());
    let Some(fail) = fail else { return Exit::Internal };
    let Some(class) = fail.class else { return fail.exit };
    let own_io = matches!(phase, Some(Phase::Setup | Phase::Resolve | Phase::Fetch | Phase::Package));
    match class {
        FailureClass::NotFound | FailureClass::UnknownFeature => Exit::Usage,
        FailureClass::FetchFailed if own_io => Exit::Internal,
        FailureClass::OutOfResources if phase.is_some() && phase != Some(Phase::Build) => Exit::Internal,
        _ if fail.exit == Exit::Usage => Exit::Usage,
        _ => Exit::Failed,
    }
}

/// The whole error chain on one line: `outer: inner: root cause`.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string().replace(['\n', '\r'], " ");
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

/// `text` on one line: every run of whitespace, line breaks included, as one space.
pub fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `s` cut to at most `max` characters (on a char boundary), marked with `…` when cut.
pub fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn squash_and_cut() {
        assert_eq!(squash("  a\n\tb  c\r\n"), "a b c");
        assert_eq!(cut("abcdef", 3), "abc…");
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("ääää", 2), "ää…");
    }

    #[test]
    fn exit_code_survives_context() {
        let err = Err::<(), _>(usage("unknown crate `nope`")).context("resolving nope").unwrap_err();
        assert_eq!(exit_of(&err), Exit::Usage);
        assert_eq!(one_line(&err), "resolving nope: unknown crate `nope`");
    }

    #[test]
    fn plain_errors_are_internal() {
        assert_eq!(exit_of(&anyhow::anyhow!("disk full")), Exit::Internal);
    }

    #[test]
    fn the_policy_follows_the_readme_table() {
        let fetch = || classified(Exit::Failed, FailureClass::FetchFailed, "index unreachable");
        assert_eq!(exit_in(&fetch(), Some(Phase::Resolve)), Exit::Internal, "cratemill's own network is 3");
        assert_eq!(exit_in(&fetch(), Some(Phase::Build)), Exit::Failed, "cargo's resolution is the crate's");
        let feature = classified(Exit::Failed, FailureClass::UnknownFeature, "no feature `x`");
        assert_eq!(exit_in(&feature, Some(Phase::Build)), Exit::Usage);
        let disk = classified(Exit::Failed, FailureClass::OutOfResources, "no space left");
        assert_eq!(exit_in(&disk, Some(Phase::Fetch)), Exit::Internal);
        assert_eq!(exit_in(&disk, Some(Phase::Build)), Exit::Failed);
        let internal_classified = classified(Exit::Internal, FailureClass::LinkError, "x");
        assert_eq!(exit_in(&internal_classified, Some(Phase::Build)), Exit::Failed);
        assert_eq!(exit_in(&usage("bad flag"), None), Exit::Usage);
        let not_found = Err::<(), _>(classified(Exit::Usage, FailureClass::NotFound, "no crate")).context("x");
        assert_eq!(exit_of(&not_found.unwrap_err()), Exit::Usage);
    }
}
