//! The facts a fleet report shows beyond the per-target tally: the funnel, executables per crate,
//! slowest builds, biggest binaries, and what changed since the previous index. Pure logic over the
//! merged outcomes; [`super::render`] and [`super::html`] only format it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::schema::plan::BuiltIndex;
use crate::schema::result::{FailureClass, Status};
use crate::schema::JobKey;

use super::merge::Outcome;

/// A result file that could not be used, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct BadFile {
    pub path: String,
    pub reason: String,
}

/// How the inputs were counted before merging.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Inputs {
    /// Result files found (after the same file named twice was counted once).
    pub files: u64,
    /// Paths that named a file already read (counted once).
    pub same_file_twice: u64,
    pub bad: Vec<BadFile>,
}

/// Everything the report shows besides the tally.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Highlights {
    /// Distinct crates with a published job in this run.
    pub built_crates: u64,
    /// Distinct executable names over those crates (across targets).
    pub executables: u64,
    /// Built crates by number of executables: 1, 2, 3, 4, 5 or more (index 0..5).
    pub executables_histogram: [u64; 5],
    /// (job, total build milliseconds), slowest first.
    pub slowest: Vec<(JobKey, u64)>,
    /// (job, executable, bytes), biggest first.
    pub biggest: Vec<(JobKey, String, u64)>,
    /// Build times of every job of this run (milliseconds), for the distribution chart.
    pub durations_ms: Vec<u64>,
    /// Published now, not published in the previous index.
    pub newly_built: Vec<JobKey>,
    /// Failed now, and the previous index did not list the job as failed.
    pub newly_failing: Vec<(JobKey, FailureClass)>,
}

impl Highlights {
    pub fn executables_per_crate(&self) -> f64 {
        if self.built_crates == 0 {
            0.0
        } else {
            self.executables as f64 / self.built_crates as f64
        }
    }
}

/// The total build time of a result: `timings_ms.total`, else the sum of its phases.
pub fn total_ms(timings: &BTreeMap<String, u64>) -> u64 {
    timings.get("total").copied().unwrap_or_else(|| timings.values().sum())
}

/// Compute the highlights; `top` bounds the slowest and biggest lists (the others are complete).
pub fn highlights(newest: &[Outcome], previous: Option<&BuiltIndex>, top: usize) -> Highlights {
    let before: HashMap<JobKey, Status> = previous
        .map(|p| p.entries.iter().map(|e| (JobKey::new(&e.crate_name, &e.version, &e.target), e.status)).collect())
        .unwrap_or_default();
    let mut h = Highlights::default();
    let mut exes: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for o in newest {
        let r = &o.result;
        let key = o.key();
        h.durations_ms.push(total_ms(&r.timings_ms));
        h.slowest.push((key.clone(), total_ms(&r.timings_ms)));
        match r.status {
            Status::Built if o.publish.is_some() => {
                let names = exes.entry(r.crate_name.as_str()).or_default();
                for x in &r.executables {
                    names.insert(x.name.as_str());
                    h.biggest.push((key.clone(), x.name.clone(), x.size));
                }
                if before.get(&key) != Some(&Status::Built) {
                    h.newly_built.push(key);
                }
            }
            Status::Built => {}
            Status::Failed => {
                if before.get(&key) != Some(&Status::Failed) {
                    let class = r.failure.as_ref().map_or(FailureClass::Unknown, |f| f.class);
                    h.newly_failing.push((key, class));
                }
            }
        }
    }
    h.built_crates = exes.len() as u64;
    for names in exes.values() {
        h.executables += names.len() as u64;
        if !names.is_empty() {
            h.executables_histogram[(names.len() - 1).min(4)] += 1;
        }
    }
    h.slowest.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    h.slowest.truncate(top);
    h.biggest.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    h.biggest.truncate(top);
    h
}
