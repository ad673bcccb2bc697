//! Documents of `cratemill matrix`: the job plan, its chunks and chunk index, and the built index it
//! reads (written by `cratemill report`).
//!
//! | file | document | for |
//! | --- | --- | --- |
//! | `plan.json` | [`Plan`] | the whole plan: funnel, warnings, runs, every job |
//! | `chunks/NNNN.json` | [`Chunk`] | one matrix: at most `chunk_size` (<= 256) jobs |
//! | `chunks/index.json` | [`ChunkIndex`] | which chunk ids belong to which workflow run |
//! | built index | [`BuiltIndex`] | what is already built or failed, for incremental plans |
//!
//! A job is one crate version for one target (or, with `--group-targets`, for a list of targets).
//! Jobs are sorted by crate name, then target, and cut
//! into chunks in that order; chunks are grouped into runs so that no run has more than 256 chunks
//! (one outer matrix) or more than 50,000 jobs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::result::{FailureClass, Status};
use super::{Document, SCHEMA_VERSION};

/// The whole plan.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct Plan {
    pub schema_version: u32,
    pub kind: String,
    pub cratemill_version: String,
    pub created_at: String,
    /// The `--dump` argument (path or URL).
    pub dump: String,
    /// The dump's folder name (`YYYY-MM-DD-HHMMSS`), which dates it.
    pub dump_name: Option<String>,
    /// Candidates created on or after this date (`YYYY-MM-DD`, UTC) were considered.
    pub since: String,
    pub targets: Vec<String>,
    pub chunk_size: u32,
    pub funnel: Funnel,
    pub warnings: Vec<RowWarning>,
    pub runs: Vec<Run>,
    pub jobs: Vec<Job>,
}

impl Document for Plan {
    const KIND: &'static str = "cratemill.plan";
}

/// One crate version for one target.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq, Eq)]
pub struct Job {
    #[serde(rename = "crate")]
    pub crate_name: String,
    pub version: String,
    /// The target triple; empty (and left out) in a grouped job, which has `targets`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// The targets of a grouped job (`matrix --group-targets`: one job per crate, built with one
    /// `--target` per entry); empty (and left out) otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// sha256 of the `.crate` (hex), from the dump.
    pub checksum: String,
    /// Binary names crates.io recorded; empty for crates selected by category or published before
    /// crates.io recorded them (the build finds the binaries itself).
    pub bin_names: Vec<String>,
    /// Why the job is likely to fail on a static build (a native library without vendoring), if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<String>,
    /// The chunk id (`0001`, ...) the job is in.
    pub chunk: String,
}

impl Job {
    /// The job's key.
    pub fn key(&self) -> super::JobKey {
        super::JobKey::new(&self.crate_name, &self.version, &self.target)
    }
}

/// One chunk file: the jobs of one matrix.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct Chunk {
    pub schema_version: u32,
    pub kind: String,
    pub id: String,
    /// The workflow run (1-based) this chunk belongs to.
    pub run: u32,
    pub jobs: Vec<Job>,
}

impl Document for Chunk {
    const KIND: &'static str = "cratemill.chunk";
}

impl Chunk {
    pub fn new(id: String, run: u32, jobs: Vec<Job>) -> Chunk {
        Chunk { schema_version: SCHEMA_VERSION, kind: Self::KIND.into(), id, run, jobs }
    }
}

/// The compact index of chunks, by run.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct ChunkIndex {
    pub schema_version: u32,
    pub kind: String,
    pub chunk_size: u32,
    pub jobs: u64,
    pub runs: Vec<Run>,
}

impl Document for ChunkIndex {
    const KIND: &'static str = "cratemill.chunk-index";
}

/// One workflow run's share of the plan.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq, Eq)]
pub struct Run {
    /// 1-based.
    pub run: u32,
    pub jobs: u64,
    pub chunks: Vec<ChunkRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq, Eq)]
pub struct ChunkRef {
    pub id: String,
    pub jobs: u32,
}

/// How many crates and jobs survived each step of selection.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema, PartialEq, Eq)]
pub struct Funnel {
    /// Rows of crates.csv.
    pub crates: u64,
    /// Crates with at least one non-yanked version.
    pub with_candidate: u64,
    /// ... whose candidate has non-empty `bin_names`.
    pub with_binaries: u64,
    /// ... in the `command-line-utilities` category.
    pub cli_category: u64,
    /// With binaries or in the CLI category.
    pub binaries_or_cli: u64,
    /// ... and the candidate was created on or after `since`: the selected crates.
    pub selected: u64,
    /// Selected crates flagged by the risk hint.
    pub risky: u64,
    /// selected x targets.
    pub possible_jobs: u64,
    /// Already built (from `--built`).
    pub skipped_built: u64,
    /// Failed before with a non-transient class (from `--built`, without `--retry-failed`).
    pub skipped_failed: u64,
    /// Left out by `--skip-risky`.
    pub skipped_risky: u64,
    /// Left for a later plan by `--max-jobs`.
    pub deferred: u64,
    /// Jobs in this plan.
    pub jobs: u64,
    pub per_target: BTreeMap<String, TargetFunnel>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema, PartialEq, Eq)]
pub struct TargetFunnel {
    pub possible_jobs: u64,
    pub skipped_built: u64,
    pub skipped_failed: u64,
    pub skipped_risky: u64,
    pub deferred: u64,
    pub jobs: u64,
}

/// Rows of the dump that did not parse and were skipped.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq, Eq)]
pub struct RowWarning {
    pub table: String,
    pub reason: String,
    pub rows: u64,
    /// Record number of the first such row in its table (the header is record 1).
    pub first_record: u64,
}

/// What is already built (or failed): the document `cratemill report` writes, `matrix --built` reads.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct BuiltIndex {
    pub schema_version: u32,
    pub kind: String,
    pub generated_at: String,
    pub entries: Vec<BuiltEntry>,
    /// Every published executable, one entry per (crate, version, target, executable): two
    /// executables of one crate never overwrite each other. Written by `report`, read by `install`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub executables: Vec<ExecutableEntry>,
}

impl Document for BuiltIndex {
    const KIND: &'static str = "cratemill.built-index";
}

impl BuiltIndex {
    pub fn new(entries: Vec<BuiltEntry>) -> BuiltIndex {
        BuiltIndex {
            schema_version: SCHEMA_VERSION,
            kind: Self::KIND.into(),
            generated_at: super::now_rfc3339(),
            entries,
            executables: Vec::new(),
        }
    }
}

/// One (crate, version, target) outcome.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct BuiltEntry {
    #[serde(rename = "crate")]
    pub crate_name: String,
    pub version: String,
    pub target: String,
    pub status: Status,
    /// Why it failed (`status: failed`); a missing class counts as transient (retried).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_class: Option<FailureClass>,
    /// Where it was published (OCI reference), when built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The published manifest digest, when built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// How many report runs in a row found this job failed (`status: failed`; a build resets it).
    /// `matrix --built` gives up on a job after `plan::incremental::GIVE_UP_AFTER` of them, whatever
    /// the class (transient ones included), unless `--retry-failed`. Absent: 0 (or an older index).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed_runs: u32,
    /// When the last failure counted in `failed_runs` finished (its result's `finished_at`): the
    /// same result merged again is not counted again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_at: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl BuiltEntry {
    /// The entry's key.
    pub fn key(&self) -> super::JobKey {
        super::JobKey::new(&self.crate_name, &self.version, &self.target)
    }
}

/// One published executable of one (crate, version, target).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct ExecutableEntry {
    #[serde(rename = "crate")]
    pub crate_name: String,
    pub version: String,
    pub target: String,
    /// The executable's file name (`bin/<name>` in the package).
    pub name: String,
    /// The binary artifact's OCI reference (`registry/repo:tag`).
    pub reference: String,
    /// The artifact's manifest digest.
    pub manifest_digest: String,
    /// The executable's layer digest (`sha256:<hex>`), when the publish record listed layers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_digest: Option<String>,
    pub size: u64,
    /// Hex sha256 of the executable.
    pub sha256: String,
    /// The declared SPDX license expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licenses: Option<String>,
    /// The attestation's reference, when one was pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<String>,
    /// When the build finished (RFC 3339).
    pub built_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_index_roundtrips_with_kind() {
        let index = BuiltIndex::new(vec![BuiltEntry {
            crate_name: "ripgrep".into(),
            version: "14.1.1".into(),
            target: "x86_64-unknown-linux-musl".into(),
            status: Status::Failed,
            failure_class: Some(FailureClass::LinkError),
            reference: None,
            digest: None,
            failed_runs: 1,
            failed_at: Some("2026-11-01T00:00:00Z".into()),
        }]);
        let bytes = serde_json::to_vec(&index).unwrap();
        assert!(String::from_utf8_lossy(&bytes).contains("\"failure_class\":\"link-error\""));
        let back: BuiltIndex = crate::schema::parse(&bytes).unwrap();
        assert_eq!(back, index);
        assert!(crate::schema::parse::<Plan>(&bytes).is_err());
    }
}
