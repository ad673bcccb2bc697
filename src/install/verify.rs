//! The provenance check of `cratemill install`, behind one function ([`check`]) so the
//! attestation verifier (`cratemill verify`, `src/provenance/`, not part of this build yet) plugs in
//! here alone. Until then it never pretends: `require` fails, `auto` says it did not verify. Pure.

use crate::error::{Exit, Fail};

/// `--verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Policy {
    /// Verify when an attestation verifier is available; say so when nothing was verified.
    Auto,
    /// Refuse to install anything that was not verified.
    Require,
    /// Do not verify.
    Off,
}

/// What the check concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not verified, and why (printed as a note).
    NotVerified(String),
    /// `--verify off`.
    Skipped,
}

/// Check the provenance of `image` (`host/repo:tag@digest`) under `policy`.
pub fn check(policy: Policy, image: &str) -> anyhow::Result<Verdict> {
    match policy {
        Policy::Off => Ok(Verdict::Skipped),
        Policy::Auto => Ok(Verdict::NotVerified(format!(
            "{image} was not verified: attestation verification is not available in this build of cratemill (the digests of the manifest and executables were checked)"
        ))),
        Policy::Require => Err(anyhow::Error::new(Fail {
            exit: Exit::Internal,
            class: None,
            message: format!(
                "--verify require: attestation verification is not available in this build of cratemill, so {image} cannot be verified; nothing installed (use --verify auto to install with digest checks only)"
            ),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn require_refuses_until_a_verifier_exists() {
        let err = check(Policy::Require, "r/x:1@sha256:ab").unwrap_err();
        assert!(err.to_string().contains("not available in this build"), "{err}");
        assert_eq!(crate::error::exit_of(&err), Exit::Internal);
        assert!(matches!(check(Policy::Auto, "r").unwrap(), Verdict::NotVerified(m) if m.contains("was not verified")));
        assert_eq!(check(Policy::Off, "r").unwrap(), Verdict::Skipped);
    }
}
