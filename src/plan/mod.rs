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
pub mod risk;
pub mod select;

use crate::dump::Report;
use crate::schema::plan::{Funnel, Job, Plan, RowWarning};
use crate::schema::SCHEMA_VERSION;

pub use collect::Collector;
pub use graph::Collected;
pub use incremental::{Built, Skip};

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

/// Build the plan. `collected` is dropped as soon as selection and risk hints are done, before the
/// jobs are made: the two together were the command's memory peak.
pub fn make(collected: Collected, report: &Report, built: &Built, options: &Options) -> Plan {
    let mut funnel = Funnel::default();
    let selected = select::select(&collected, options.since, &mut funnel);
    let reasons: Vec<Option<String>> = {
        let mut risk = risk::Risk::new(&collected);
        selected.iter().map(|krate| risk.reason(krate.crate_id)).collect()
    };
    drop(collected);
    let per_crate = if options.group_targets { 1 } else { options.targets.len() };
    let mut jobs = Vec::with_capacity(selected.len() * per_crate);
    let mut targets = Vec::with_capacity(options.targets.len());
    for (krate, reason) in selected.iter().zip(reasons) {
        funnel.risky += u64::from(reason.is_some());
        targets.clear();
        targets
            .extend(options.targets.iter().filter(|t| wanted(krate, t, reason.is_some(), built, options, &mut funnel)));
        // Each job (a grouped one counts as one) is planned while --max-jobs allows.
        let groups: Vec<&[&String]> =
            if options.group_targets { vec![&targets[..]] } else { targets.chunks(1).collect() };
        for group in groups.into_iter().filter(|g| !g.is_empty()) {
            let planned = options.max_jobs.is_none_or(|max| (jobs.len() as u64) < max);
            for target in group {
                let per = funnel.per_target.get_mut(*target).expect("counted by wanted()");
                if planned {
                    per.jobs += 1;
                } else {
                    per.deferred += 1;
                    funnel.deferred += 1;
                }
            }
            if planned {
                jobs.push(job(krate, &reason, group, options.group_targets));
            }
        }
    }
    funnel.jobs = jobs.len() as u64;
    let runs = chunk::assign(&mut jobs, options.chunk_size);
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
        jobs,
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
        Some(Skip::Failed(_)) => {
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

/// The job for `krate` on `targets`: one target in `target`, or (grouped) the list in `targets`.
fn job(krate: &select::Selected, reason: &Option<String>, targets: &[&String], grouped: bool) -> Job {
    let (target, targets) = match targets {
        [one] if !grouped => ((*one).clone(), Vec::new()),
        many => (String::new(), many.iter().map(|t| (*t).clone()).collect()),
    };
    Job {
        crate_name: krate.name.clone(),
        version: krate.version.clone(),
        target,
        targets,
        checksum: krate.checksum.clone(),
        bin_names: krate.bin_names.clone(),
        risk: reason.clone(),
        chunk: String::new(),
    }
}
