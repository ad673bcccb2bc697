//! The document `cratemill fleet` writes (`fleet.json`): a plan's cost on GitHub in both job
//! shapes, at several concurrencies, against the one-run-per-crate baseline, and GitHub's limits
//! checked. Data only.

use serde::{Deserialize, Serialize};

use super::Document;

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct FleetReport {
    pub schema_version: u32,
    pub kind: String,
    pub cratemill_version: String,
    /// The plan file simulated.
    pub plan: String,
    pub parameters: Parameters,
    /// Crate versions in the plan, and crate x target builds.
    pub crates: u64,
    pub builds: u64,
    pub baseline: Baseline,
    pub shapes: Vec<ShapeReport>,
}

impl Document for FleetReport {
    const KIND: &'static str = "cratemill.fleet";
}

/// The costs the simulation assumed, in seconds.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq, Eq)]
pub struct Parameters {
    pub mean_build_secs: u64,
    pub job_overhead_secs: u64,
    pub publish_per_package_secs: u64,
    pub plan_secs: u64,
    pub report_secs: u64,
    /// A grouped job's builds as a percent of `targets x mean_build` (100: one after another).
    pub grouped_build_percent: u32,
}

/// The earlier public pipeline: one workflow run per crate, 256 crates dispatched per 3 hours.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq, Eq)]
pub struct Baseline {
    pub runs: u64,
    pub jobs: u64,
    pub wall_clock_secs: u64,
}

/// One job shape (`per-target` or `grouped`).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct ShapeReport {
    pub shape: String,
    pub runs: u64,
    pub chunks: u64,
    pub build_jobs: u64,
    /// Every job: builds, per chunk a slice and a publish job, per run plan and report (and the
    /// dispatch of the next run).
    pub jobs: u64,
    pub artifacts: u64,
    pub estimates: Vec<Estimate>,
    pub limits: Vec<LimitCheck>,
}

/// The outcome at one concurrency.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct Estimate {
    pub concurrency: u32,
    /// Chunk calls in flight at once.
    pub chunks_in_flight: u32,
    pub wall_clock_secs: u64,
    pub runner_minutes: u64,
    /// Peak REST requests on GITHUB_TOKEN in one clock hour, attestations batched per chunk.
    pub peak_api_per_hour: u64,
    /// The same with one attestation per package.
    pub peak_api_per_hour_unbatched: u64,
    /// Baseline wall clock / this wall clock.
    pub speedup: f64,
}

/// One GitHub limit, the plan's value and whether it fits.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq, Eq)]
pub struct LimitCheck {
    pub limit: String,
    pub value: u64,
    pub max: u64,
    pub ok: bool,
}
