//! Checking a bundle: the artifact's sha256 is a subject of the statement, the DSSE signature
//! verifies, and either the key is the one given (`key` bundles) or the certificate chains to a
//! trusted root, was logged (Rekor inclusion) or timestamped (TSA) while valid, and names an
//! identity the policy accepts. Pure decision core over bytes already read: the cryptography is
//! `sigstore-verify`'s; this module adds the identity policy (SAN regex, issuer, repository) and
//! says which check failed.
//!
//! [`verify_bundle`] is the entry point other phases (`cratemill install`) call.

use regex::Regex;
use sigstore_verify::trust_root::{TrustedRoot, SIGSTORE_GITHUB_TRUSTED_ROOT, SIGSTORE_PRODUCTION_TRUSTED_ROOT};
use sigstore_verify::types::{Bundle, DerPublicKey, Sha256Hash};
use sigstore_verify::{VerificationPolicy, Verifier};

use super::claims::GITHUB_ISSUER;
use super::statement::Statement;
use crate::error::{failed, usage};

/// Whom to trust.
#[derive(Debug, Clone)]
pub enum Trust {
    /// A `key`-mode bundle signed by this public key (SPKI DER).
    Key(DerPublicKey),
    /// A keyless bundle: certificate from a trusted Fulcio, identity matching the policy.
    Keyless(Box<KeylessPolicy>),
}

#[derive(Debug, Clone)]
pub struct KeylessPolicy {
    /// `None`: the built-in root of the instance the bundle's shape implies (public-good when it has
    /// a Rekor entry, GitHub's otherwise).
    pub trusted_root: Option<TrustedRoot>,
    /// Matched against the certificate's SAN (a workflow URI) as a whole.
    pub identity: Option<Regex>,
    pub issuer: String,
    /// `OWNER/NAME`: the certificate's source repository must be this one.
    pub repo: Option<String>,
}

impl KeylessPolicy {
    /// A policy; refuses to accept any identity at all (say whom you trust).
    pub fn new(identity: Option<&str>, repo: Option<&str>, issuer: Option<&str>) -> anyhow::Result<KeylessPolicy> {
        if identity.is_none() && repo.is_none() {
            return Err(usage(
                "say whose signatures to accept: --repo OWNER/NAME (the repository whose workflow signed) or --identity REGEX (the certificate's workflow URI)",
            ));
        }
        let identity = identity
            .map(|r| Regex::new(&format!("^(?:{r})$")))
            .transpose()
            .map_err(|e| usage(format!("--identity is not a valid regular expression: {e}")))?;
        if let Some(repo) = repo {
            if repo.split('/').count() != 2 || repo.split('/').any(str::is_empty) {
                return Err(usage(format!("--repo {repo:?} is not OWNER/NAME")));
            }
        }
        Ok(KeylessPolicy {
            trusted_root: None,
            identity,
            issuer: issuer.unwrap_or(GITHUB_ISSUER).to_string(),
            repo: repo.map(str::to_string),
        })
    }
}

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The statement's subject whose digest matched.
    pub subject: String,
    pub predicate_type: String,
    /// The certificate's SAN (keyless) or `key <hint>`.
    pub signer: String,
    /// Rekor inclusion was verified.
    pub tlog: bool,
    /// RFC 3161 timestamps verified.
    pub timestamps: usize,
}

/// Parse a bundle file's bytes.
pub fn parse_bundle(bytes: &[u8]) -> anyhow::Result<Bundle> {
    let text = std::str::from_utf8(bytes).map_err(|_| usage("the bundle is not UTF-8 JSON"))?;
    Bundle::from_json(text).map_err(|e| usage(format!("not a Sigstore bundle: {e}")))
}

/// The statement inside a bundle (not yet verified: use only after [`verify_bundle`] succeeded).
pub fn statement_of(bundle: &Bundle) -> anyhow::Result<Statement> {
    let sigstore_verify::types::bundle::SignatureContent::DsseEnvelope(env) = &bundle.content else {
        return Err(failed("the bundle holds a plain message signature, not a DSSE attestation"));
    };
    serde_json::from_slice(env.payload.as_bytes())
        .map_err(|e| failed(format!("the bundle's payload is not an in-toto statement: {e}")))
}

/// Verify that `bundle` attests the artifact with this sha256 (lowercase hex) under `trust`.
/// Every failure is exit code 1 with one line naming the check that failed.
pub fn verify_bundle(sha256: &str, bundle: &Bundle, trust: &Trust) -> anyhow::Result<Verified> {
    let statement = statement_of(bundle)?;
    let subject = statement
        .subject
        .iter()
        .find(|s| s.digest.sha256.eq_ignore_ascii_case(sha256))
        .map(|s| s.name.clone())
        .ok_or_else(|| {
            failed(format!(
                "the artifact (sha256 {sha256}) is not a subject of this attestation: it changed after attest, or the bundle is for another artifact"
            ))
        })?;
    let digest = Sha256Hash::from_hex(sha256).map_err(|e| usage(format!("bad sha256 {sha256}: {e}")))?;
    let (signer, tlog, timestamps) = match trust {
        Trust::Key(key) => {
            // A key bundle has no log entry or timestamp (sigstore-verify insists on one): the DSSE
            // signature over the PAE, checked with the given key, is the whole proof.
            let sigstore_verify::types::bundle::SignatureContent::DsseEnvelope(env) = &bundle.content else {
                return Err(failed("the bundle holds a plain message signature, not a DSSE attestation"));
            };
            let vk = sigstore_verify::crypto::VerificationKey::from_spki(key)
                .map_err(|e| usage(format!("--key is not a P-256 public key: {e}")))?;
            vk.verify(env.pae(), &env.signature.sig)
                .map_err(|e| failed(format!("signature check failed (wrong key, or the bundle was altered): {e}")))?;
            (format!("key {}", super::sign::key_hint(key)), false, 0)
        }
        Trust::Keyless(policy) => keyless(digest, bundle, policy)?,
    };
    Ok(Verified { subject, predicate_type: statement.predicate_type, signer, tlog, timestamps })
}

fn keyless(digest: Sha256Hash, bundle: &Bundle, policy: &KeylessPolicy) -> anyhow::Result<(String, bool, usize)> {
    let has_tlog = !bundle.verification_material.tlog_entries.is_empty();
    let root = match &policy.trusted_root {
        Some(r) => r.clone(),
        None if has_tlog => TrustedRoot::from_json(SIGSTORE_PRODUCTION_TRUSTED_ROOT)?,
        None => TrustedRoot::from_json(SIGSTORE_GITHUB_TRUSTED_ROOT)?,
    };
    let mut lib_policy = VerificationPolicy::any_identity().require_issuer(policy.issuer.clone());
    if !has_tlog {
        lib_policy = lib_policy.skip_tlog_unsafe();
    }
    let result = Verifier::new(&root)?
        .verify(digest, bundle, &lib_policy)
        .map_err(|e| failed(format!("bundle verification failed: {e}")))?;
    if !result.certificate_verified() {
        return Err(failed("the signing certificate was not verified against the trusted root"));
    }
    if !result.tlog_verified() && result.verified_timestamps().is_empty() {
        return Err(failed("the bundle has neither a verified transparency-log entry nor a verified timestamp"));
    }
    let san = result.identity().map(|s| s.as_str().to_string()).unwrap_or_default();
    if let Some(re) = &policy.identity {
        if !re.is_match(&san) {
            return Err(failed(format!("the certificate identity {san:?} does not match --identity {}", re.as_str())));
        }
    }
    if let Some(repo) = &policy.repo {
        let source = result.certificate().and_then(|c| c.ci_claims.source_repository_uri.clone()).unwrap_or_default();
        // `https://<server>/<owner>/<name>`: compare the path exactly (GitHub names are case-insensitive).
        let path = source.splitn(4, '/').nth(3).unwrap_or_default();
        if !path.eq_ignore_ascii_case(repo) {
            return Err(failed(format!("the certificate's source repository {source:?} is not {repo} (--repo)")));
        }
    }
    Ok((san, result.tlog_verified(), result.verified_timestamps().len()))
}
