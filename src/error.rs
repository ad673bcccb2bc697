//! Exit codes and the one error type that carries them.
//!
//! Every phase returns `anyhow::Result`; an error that should map to a specific exit code is a
//! [`Fail`] somewhere in the chain. `main` prints the whole chain on one line and exits with the
//! code of the first `Fail` it finds (3, "internal", when there is none).

use std::fmt;

use crate::schema::result::FailureClass;

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

/// An error with both an exit code and the failure class to record (`not-found`, `checksum-mismatch`, ...).
pub fn classified(exit: Exit, class: FailureClass, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Fail { exit, class: Some(class), message: message.into() })
}

/// The failure class an error carries, if any.
pub fn class_of(err: &anyhow::Error) -> Option<FailureClass> {
    err.chain().find_map(|e| e.downcast_ref::<Fail>().and_then(|f| f.class))
}

/// The exit code an error maps to.
pub fn exit_of(err: &anyhow::Error) -> Exit {
    err.chain().find_map(|e| e.downcast_ref::<Fail>().map(|f| f.exit)).unwrap_or(Exit::Internal)
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

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

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
}
