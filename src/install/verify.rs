//! The provenance check of `cratemill install` (`--verify auto|require|off`), before anything is
//! written. The attestations attached to the image (OCI referrers, or the `sha256-<hex>` fallback
//! tag) are read through the install's own [`RegistryClient`] (its pull token, its request count), and each
//! layer of the manifest must be a subject of a bundle that verifies under the `--key` /
//! `--identity` / `--repo` / `--trusted-root` policy: the checks are `cratemill verify`'s
//! ([`crate::provenance::verify_layers`]). The executables fetched afterwards are checked against
//! those layer digests, so the bytes written are the bytes attested.
//!
//! [`decide_unattested`] and [`needs_signer`] are the pure decisions; [`check`] is the I/O edge.

use crate::error::{failed, usage};
use crate::oci::pull::Pulled;
use crate::oci::RegistryClient;
use crate::provenance::referrer::attached_bundles;
use crate::provenance::{verify_layers, TrustArgs, Verified};

/// `--verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Policy {
    /// Verify when the image has an attestation (a failure refuses); without one install with the
    /// digest checks and say so.
    Auto,
    /// Refuse to install anything without an attestation that verifies.
    Require,
    /// Do not look for attestations.
    Off,
}

/// What the check concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every layer of the manifest is attested by a bundle that verified.
    Verified(Vec<Verified>),
    /// No attestation is attached (`auto`): why, printed as a note.
    Unattested(String),
    /// `--verify off`.
    Skipped,
}

/// `require` without a signer is refused before any request: verifying "someone" is no check.
pub fn needs_signer(policy: Policy, trust: &TrustArgs) -> anyhow::Result<()> {
    if policy == Policy::Require && !trust.names_a_signer() {
        return Err(usage(
            "--verify require needs to know whose signature to accept: --repo OWNER/NAME or --identity REGEX (keyless, the mirror's workflow) or --key PATH (a `--sign key` mirror)",
        ));
    }
    Ok(())
}

/// The image has no attestation: `auto` installs and says so, `require` refuses. Pure.
pub fn decide_unattested(policy: Policy, image: &str) -> anyhow::Result<Verdict> {
    match policy {
        Policy::Require => Err(failed(format!(
            "--verify require: {image} has no attestation attached (no referrer, no fallback tag); nothing installed"
        ))),
        Policy::Auto => Ok(Verdict::Unattested(format!(
            "{image} has no attestation attached: installed with the digest checks only (--verify require refuses such images)"
        ))),
        Policy::Off => Ok(Verdict::Skipped),
    }
}

/// Check the provenance of the image whose manifest is `manifest` (shown as `image`).
pub async fn check(
    policy: Policy,
    trust: &TrustArgs,
    puller: &RegistryClient,
    manifest: &Pulled,
    image: &str,
) -> anyhow::Result<Verdict> {
    if policy == Policy::Off {
        return Ok(Verdict::Skipped);
    }
    let bundles = attached_bundles(puller, &manifest.digest).await?;
    if bundles.is_empty() {
        return decide_unattested(policy, image);
    }
    if !trust.names_a_signer() {
        return Err(usage(format!(
            "{image} has {} attestation(s) but no signer was named, so they cannot be checked: pass --repo OWNER/NAME, --identity REGEX or --key PATH (or --verify off to install with the digest checks only)",
            bundles.len()
        )));
    }
    let trust = trust.trust()?;
    let parsed: serde_json::Value = serde_json::from_slice(&manifest.bytes)
        .map_err(|e| failed(format!("{image}: the manifest is not JSON: {e}")))?;
    let verified = verify_layers(image, &parsed, &bundles, &trust)
        .map_err(|e| e.context(format!("{image} does not verify; nothing installed")))?;
    Ok(Verdict::Verified(verified))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trust(repo: Option<&str>) -> TrustArgs {
        TrustArgs {
            key: None,
            trusted_root: None,
            identity: None,
            issuer: crate::provenance::claims::GITHUB_ISSUER.into(),
            repo: repo.map(str::to_string),
        }
    }

    #[test]
    fn require_needs_a_signer_and_refuses_unattested_images() {
        let err = needs_signer(Policy::Require, &trust(None)).unwrap_err();
        assert!(err.to_string().contains("--repo OWNER/NAME"), "{err}");
        assert_eq!(crate::error::exit_of(&err), crate::error::Exit::Usage);
        needs_signer(Policy::Require, &trust(Some("o/r"))).unwrap();
        needs_signer(Policy::Auto, &trust(None)).unwrap();
        let err = decide_unattested(Policy::Require, "r/x:1@sha256:ab").unwrap_err();
        assert!(err.to_string().contains("no attestation attached"), "{err}");
        assert_eq!(crate::error::exit_of(&err), crate::error::Exit::Failed);
        let said = decide_unattested(Policy::Auto, "r/x").unwrap();
        assert!(matches!(said, Verdict::Unattested(m) if m.contains("digest checks only")));
    }
}
