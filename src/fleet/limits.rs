//! GitHub's limits against a workload: each one the templates must stay inside, with the plan's
//! value. Pure. The template constants (nesting, reusable workflows, artifacts per job) are the
//! shape of `workflows-templates/` and are documented in docs/fleet.md.

use crate::schema::fleet::{Estimate, LimitCheck};

use super::model::{Costs, Workload};
use crate::plan::chunk::{run_jobs, MAX_RUN_JOBS};

/// A matrix expands to at most this many jobs.
pub const MATRIX_JOBS: u64 = 256;
/// Job outputs are capped at 1 MB each.
pub const JOB_OUTPUT_BYTES: u64 = 1024 * 1024;
/// All job outputs of one run together are capped at 50 MB.
pub const RUN_OUTPUT_BYTES: u64 = 50 * 1024 * 1024;
/// Upper bound of one job's entry in a chunk's `include` output (crate <= 64, version, target).
pub const INCLUDE_BYTES_PER_JOB: u64 = 160;
/// Hosted runners stop a job after 6 hours.
pub const JOB_MINUTES: u64 = 6 * 60;
/// `GITHUB_TOKEN`: 1,000 REST requests per hour per repository; 500 content-creating per hour.
pub const API_PER_HOUR: u64 = 1000;
pub const CONTENT_CREATING_PER_HOUR: u64 = 500;
/// Artifacts one job may upload; each job of the templates uploads at most two (publish-chunk:
/// the results and the attestation bundles).
pub const ARTIFACTS_PER_JOB: u64 = 500;
pub const TEMPLATE_ARTIFACTS_PER_JOB: u64 = 2;
/// Reusable workflows: nesting depth and distinct workflows per run, and the templates' values
/// (example-caller -> mirror -> chunk -> build-chunk | publish-chunk; mirror, plan, chunk,
/// build-chunk, publish-chunk).
pub const NESTING: u64 = 10;
pub const TEMPLATE_NESTING: u64 = 4;
pub const REUSABLE_PER_RUN: u64 = 50;
pub const TEMPLATE_REUSABLE: u64 = 5;
/// The step summary is capped at 1 MiB; cratemill writes at most `github::SUMMARY_LIMIT`.
pub const SUMMARY_BYTES: u64 = 1024 * 1024;

fn check(limit: &str, value: u64, max: u64) -> LimitCheck {
    LimitCheck { limit: limit.into(), value, max, ok: value <= max }
}

/// Every limit for `work`; API figures from the worst of `estimates`.
pub fn check_all(work: &Workload, costs: &Costs, estimates: &[Estimate]) -> Vec<LimitCheck> {
    let chunks = work.runs.iter().flat_map(|r| &r.chunks);
    let largest_chunk = chunks.clone().map(|c| c.jobs.len() as u64).max().unwrap_or(0);
    let most_targets = chunks.flat_map(|c| &c.jobs).copied().max().unwrap_or(0);
    let chunks_per_run = work.runs.iter().map(|r| r.chunks.len() as u64).max().unwrap_or(0);
    let api = estimates.iter().map(|e| e.peak_api_per_hour).max().unwrap_or(0);
    let jobs_per_run = work
        .runs
        .iter()
        .map(|r| run_jobs(r.chunks.len(), r.chunks.iter().map(|c| c.jobs.len()).sum()) as u64)
        .max()
        .unwrap_or(0);
    vec![
        check("jobs per matrix (one chunk)", largest_chunk, MATRIX_JOBS),
        check("chunk calls per matrix (one run)", chunks_per_run, MATRIX_JOBS),
        check("plan job output, bytes (chunk ids)", chunks_per_run * 7 + 2, JOB_OUTPUT_BYTES),
        check("slice job output, bytes (one chunk's jobs)", largest_chunk * INCLUDE_BYTES_PER_JOB, JOB_OUTPUT_BYTES),
        check(
            "job outputs of one run, bytes",
            chunks_per_run * 7 + 2 + chunks_per_run * largest_chunk * INCLUDE_BYTES_PER_JOB,
            RUN_OUTPUT_BYTES,
        ),
        check("longest build job, minutes", costs.build_job(most_targets).as_secs().div_ceil(60), JOB_MINUTES),
        check("REST requests per hour at peak", api, API_PER_HOUR),
        check("content-creating requests per hour at peak", api, CONTENT_CREATING_PER_HOUR),
        check("artifacts per job", TEMPLATE_ARTIFACTS_PER_JOB, ARTIFACTS_PER_JOB),
        check("reusable workflow nesting", TEMPLATE_NESTING, NESTING),
        check("reusable workflows per run", TEMPLATE_REUSABLE, REUSABLE_PER_RUN),
        check("step summary, bytes", crate::actions::SUMMARY_LIMIT as u64, SUMMARY_BYTES),
        check("jobs per run (builds, slice, publish, plan, report, next)", jobs_per_run, MAX_RUN_JOBS as u64),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::model::{Shape, Unit};
    use std::time::Duration;

    #[test]
    fn a_crates_io_plan_fits_and_a_huge_grouped_job_does_not() {
        let costs = Costs::new(Duration::from_secs(120), Duration::from_secs(30));
        let w = Workload::new(Shape::PerTarget, &vec![Unit { targets: 4 }; 10_033], 256);
        assert!(check_all(&w, &costs, &[]).iter().all(|c| c.ok));
        // Twice that (two runs): each run within 50,000 jobs of every kind.
        let w = Workload::new(Shape::PerTarget, &vec![Unit { targets: 4 }; 2 * 10_033], 256);
        let jobs = check_all(&w, &costs, &[]).into_iter().find(|c| c.limit.starts_with("jobs per run")).unwrap();
        assert!(jobs.ok && jobs.value == 49_797, "{jobs:?}");
        let w = Workload::new(Shape::Grouped, &[Unit { targets: 200 }], 256);
        let bad: Vec<_> = check_all(&w, &costs, &[]).into_iter().filter(|c| !c.ok).collect();
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].limit, "longest build job, minutes");
    }
}
