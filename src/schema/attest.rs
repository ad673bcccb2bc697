//! `attest.json`: what `cratemill attest` wrote into its `--out` folder: one entry per statement,
//! with its bundle (when signed), how it was signed, and which packages it covers.

use serde::{Deserialize, Serialize};

use super::{Document, JobKey, SCHEMA_VERSION};

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct AttestRecord {
    pub schema_version: u32,
    pub kind: String,
    pub attested_at: String,
    pub attestations: Vec<AttestEntry>,
}

impl Document for AttestRecord {
    const KIND: &'static str = "cratemill.attest-record";
}

impl AttestRecord {
    pub fn new(attestations: Vec<AttestEntry>) -> AttestRecord {
        AttestRecord {
            schema_version: SCHEMA_VERSION,
            kind: Self::KIND.to_string(),
            attested_at: super::now_rfc3339(),
            attestations,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct AttestEntry {
    /// The plain in-toto statement, relative to the record.
    pub statement: String,
    pub statement_sha256: String,
    /// The Sigstore bundle, relative to the record; `None` with `--sign none`.
    pub bundle: Option<String>,
    pub bundle_sha256: Option<String>,
    /// How the statement was signed (`--sign`).
    pub signed_with: SignMode,
    /// Which Sigstore instance a keyless signature went to; keyless only.
    #[serde(default)]
    pub instance: Option<SignedInstance>,
    pub subjects: usize,
    pub packages: Vec<JobKey>,
    /// Referrer manifests attached to the packages' images (`attest --attach`).
    #[serde(default)]
    pub attached: Vec<String>,
    /// The id the GitHub attestations API gave it (`attest --github-api`).
    #[serde(default)]
    pub github_attestation_id: Option<u64>,
}

/// How `attest` signs (`--sign`), as recorded in attest.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SignMode {
    /// Sigstore keyless: a short-lived Fulcio certificate for the workflow's OIDC identity, logged in
    /// Rekor (public repositories) or timestamped by a TSA (private ones).
    Keyless,
    /// A PEM P-256 private key (`--key`), for self-hosted and offline use: no certificate, no log.
    Key,
    /// No signature: write the plain statement only (it proves nothing by itself).
    None,
}

impl SignMode {
    /// The flag value (`--sign keyless|key|none`), the same word attest.json records.
    pub fn name(self) -> &'static str {
        match self {
            SignMode::Keyless => "keyless",
            SignMode::Key => "key",
            SignMode::None => "none",
        }
    }
}

/// The Sigstore instance a keyless signature was made with (`--instance`, `auto` resolved).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SignedInstance {
    /// Sigstore's public-good Fulcio, with a Rekor entry.
    PublicGood,
    /// GitHub's Fulcio, with an RFC 3161 timestamp (nothing logged publicly).
    Github,
}

#[cfg(test)]
mod tests {
    #[test]
    fn sign_mode_names_match_serde() {
        crate::schema::assert_names_match_serde::<super::SignMode>(|m| m.name());
    }
}
