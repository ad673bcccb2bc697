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
    let mut jobs = Vec::with_capacity(selected.len() * options.targets.len());
    for (krate, reason) in selected.iter().zip(reasons) {
        funnel.risky += u64::from(reason.is_some());
        for target in &options.targets {
            let per = funnel.per_target.entry(target.clone()).or_default();
            per.possible_jobs += 1;
            funnel.possible_jobs += 1;
            match built.skip(&krate.name, &krate.version, target, options.retry_failed) {
                Some(Skip::Built) => {
                    per.skipped_built += 1;
                    funnel.skipped_built += 1;
                    continue;
                }
                Some(Skip::Failed(_)) => {
                    per.skipped_failed += 1;
                    funnel.skipped_failed += 1;
                    continue;
                }
                None => {}
            }
            if reason.is_some() && options.skip_risky {
                per.skipped_risky += 1;
                funnel.skipped_risky += 1;
                continue;
            }
            if options.max_jobs.is_some_and(|max| jobs.len() as u64 >= max) {
                per.deferred += 1;
                funnel.deferred += 1;
                continue;
            }
            per.jobs += 1;
            jobs.push(Job {
                crate_name: krate.name.clone(),
                version: krate.version.clone(),
                target: target.clone(),
                checksum: krate.checksum.clone(),
                bin_names: krate.bin_names.clone(),
                risk: reason.clone(),
                chunk: String::new(),
            });
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
