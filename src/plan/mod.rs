//! From dump rows to a job plan: [`collect`] keeps per crate only what selection needs (the
//! [`graph`] types, shared with [`risk`] below both), [`select`] applies the selection rule,
//! [`features`] reads what a version's features JSON says, [`risk`] marks jobs whose dependency tree
//! links a system library, [`incremental`] drops what is already built, [`chunk`] cuts the rest into
//! matrices and runs.
//! Pure logic: no I/O here.

pub mod chunk;
pub mod collect;
pub mod features;
pub mod graph;
pub mod idmap;
pub mod incremental;
pub mod jobs;
pub mod risk;
pub mod select;

use crate::dump::Report;
use crate::schema::plan::{Funnel, Plan, RowWarning};
use crate::schema::SCHEMA_VERSION;

pub use collect::Collector;
pub use graph::Collected;
pub use incremental::{Built, Skip};
pub use jobs::Planned;

/// Everything that shapes a plan besides the dump.
#[derive(Debug, Clone)]
pub struct Options {
    pub dump: String,
    /// Unix seconds.
    pub since: i64,
    pub targets: Vec<String>,
    pub chunk_size: usize,
    pub retry_failed: bool,
    pub skip_risky: bool,
    pub max_jobs: Option<u64>,
    /// One job per crate carrying its list of targets (`--group-targets`), instead of one per
    /// (crate, target).
    pub group_targets: bool,
}

/// Build the plan, every job in memory (tests, small dumps): [`plan`], materialized.
pub fn make(collected: Collected, report: &Report, built: &Built, options: &Options) -> Plan {
    plan(collected, report, built, options).into_plan()
}

/// Build the plan with its jobs kept compact ([`Planned`]) until they are written. `collected` is
/// dropped as soon as selection and risk hints are done, before the jobs are listed: the two
/// together were the command's memory peak.
pub fn plan(collected: Collected, report: &Report, built: &Built, options: &Options) -> Planned {
    assert!(options.targets.len() <= jobs::MAX_TARGETS, "targets are validated against the supported list");
    let mut funnel = Funnel::default();
    let selected = select::select(&collected, options.since, &mut funnel);
    // Boxed: a formatted String carries up to twice its length in capacity.
    let reasons: Vec<Option<Box<str>>> = {
        let mut risk = risk::Risk::new(&collected);
        selected.iter().map(|krate| risk.reason(krate.crate_id).map(String::into_boxed_str)).collect()
    };
    drop(collected);
    let mut list = Vec::new();
    for (index, (krate, reason)) in selected.iter().zip(&reasons).enumerate() {
        funnel.risky += u64::from(reason.is_some());
        let mut mask = 0u64;
        for (t, target) in options.targets.iter().enumerate() {
            if wanted(krate, target, reason.is_some(), built, options, &mut funnel) {
                mask |= 1 << t;
            }
        }
        // Each job (a grouped one counts as one) is planned while --max-jobs allows.
        let groups: Vec<u64> = if options.group_targets {
            vec![mask]
        } else {
            (0..options.targets.len()).map(|t| mask & (1 << t)).collect()
        };
        for group in groups.into_iter().filter(|&g| g != 0) {
            let planned = options.max_jobs.is_none_or(|max| (list.len() as u64) < max);
            for (_, target) in options.targets.iter().enumerate().filter(|(t, _)| group & (1 << t) != 0) {
                let per = funnel.per_target.get_mut(target).expect("counted by wanted()");
                if planned {
                    per.jobs += 1;
                } else {
                    per.deferred += 1;
                    funnel.deferred += 1;
                }
            }
            if planned {
                list.push((index as u32, group));
            }
        }
    }
    funnel.jobs = list.len() as u64;
    let runs = chunk::runs(list.len(), options.chunk_size);
    let plan = header(report, options, funnel, runs);
    Planned::new(plan, selected, reasons, list, options)
}

/// Every field of the plan but its jobs.
fn header(report: &Report, options: &Options, funnel: Funnel, runs: Vec<crate::schema::plan::Run>) -> Plan {
    let warnings = report
        .warnings
        .skipped
        .iter()
        .map(|((table, reason), (rows, first_record))| RowWarning {
            table: table.to_string(),
            reason: reason.to_string(),
            rows: *rows,
            first_record: *first_record,
        })
        .collect();
    Plan {
        schema_version: SCHEMA_VERSION,
        kind: <Plan as crate::schema::Document>::KIND.into(),
        cratemill_version: env!("CARGO_PKG_VERSION").into(),
        created_at: crate::schema::now_rfc3339(),
        dump: options.dump.clone(),
        dump_name: report.dump_name.clone(),
        since: crate::dump::encoding::timestamp::format_date(options.since.div_euclid(86_400)),
        targets: options.targets.clone(),
        chunk_size: options.chunk_size as u32,
        funnel,
        warnings,
        runs,
        jobs: Vec::new(),
    }
}

/// Count one (crate, target) pair in `funnel` and say whether it is still to be built: not already
/// built, not failed for good, not left out by `--skip-risky`.
fn wanted(
    krate: &select::Selected,
    target: &str,
    risky: bool,
    built: &Built,
    options: &Options,
    funnel: &mut Funnel,
) -> bool {
    let per = funnel.per_target.entry(target.to_string()).or_default();
    per.possible_jobs += 1;
    funnel.possible_jobs += 1;
    match built.skip(&krate.name, &krate.version, target, options.retry_failed) {
        Some(Skip::Built) => {
            per.skipped_built += 1;
            funnel.skipped_built += 1;
            false
        }
        Some(Skip::Failed(_) | Skip::GaveUp(_)) => {
            per.skipped_failed += 1;
            funnel.skipped_failed += 1;
            false
        }
        None if risky && options.skip_risky => {
            per.skipped_risky += 1;
            funnel.skipped_risky += 1;
            false
        }
        None => true,
    }
}
