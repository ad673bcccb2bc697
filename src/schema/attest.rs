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
    /// `keyless`, `key` or `none`.
    pub signed_with: String,
    /// `public-good` (Rekor entry) or `github` (timestamp), keyless only.
    #[serde(default)]
    pub instance: Option<String>,
    pub subjects: usize,
    pub packages: Vec<JobKey>,
    /// Referrer manifests attached to the packages' images (`attest --attach`).
    #[serde(default)]
    pub attached: Vec<String>,
    /// The id the GitHub attestations API gave it (`attest --github-api`).
    #[serde(default)]
    pub github_attestation_id: Option<u64>,
}
