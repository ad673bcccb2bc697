//! `cratemill fleet`: what a plan costs on GitHub before anyone runs it. Runs, chunks, jobs,
//! artifacts, REST requests per hour at peak, runner-minutes and the wall clock at several
//! concurrencies (Free 20, Team 60, Enterprise 500 by default), for one job per crate x target and
//! for grouped jobs (one per crate), against one run per crate at 256 crates per 3 hours; and every
//! GitHub limit the templates must stay inside, checked.
//!
//! Pure core: [`model`] (the workload and costs), [`sim`] (the schedule), [`limits`] and
//! [`render`]; the I/O edge is [`run`] (read the plan, print the table, write `fleet.json`).

pub mod limits;
pub mod model;
pub mod render;
pub mod sim;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::error::{usage, Exit};
use crate::schema::fleet::{Baseline, FleetReport, Parameters, ShapeReport};
use crate::schema::{Document, SCHEMA_VERSION};
use model::{Costs, Shape, Unit, Workload};

/// The earlier public pipeline's dispatch rate: 256 crates (one run each) per 3 hours.
pub const BASELINE_CRATES_PER_WINDOW: u64 = 256;
pub const BASELINE_WINDOW: Duration = Duration::from_secs(3 * 3600);

#[derive(Debug, clap::Args)]
pub struct FleetArgs {
    /// The plan written by `cratemill matrix` (plan.json).
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// Concurrent jobs to simulate (comma-separated or repeated): Free 20, Pro 40, Team 60,
    /// Enterprise 500 standard Linux runners.
    #[arg(long, value_name = "N", value_delimiter = ',', default_value = "20,60,500",
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub concurrency: Vec<u32>,
    /// Chunk calls in flight at once (mirror.yml's `chunks-in-flight`, the outer matrix's
    /// `max-parallel`): with fewer, each chunk is published soon after its builds instead of after
    /// the whole run's build backlog [default: 4, or one per 32 concurrent jobs above 128].
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub chunks_in_flight: Option<u32>,
    /// Mean time of one crate x target build, e.g. `2m`, `90s`.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration)]
    pub mean_build: Duration,
    /// Fixed cost of every job: runner start, bootstrap, artifact transfer.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub job_overhead: Duration,
    /// A grouped job builds its targets in this percent of `targets x --mean-build` (one cargo
    /// invocation overlaps them on the runner's cores; hexyl's four musl targets: 54 on 2 cores,
    /// docs/benchmarks.md). 100 counts them one after another.
    #[arg(long, value_name = "PERCENT", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub grouped_build_percent: u32,
    /// Where to write the JSON report.
    #[arg(long, value_name = "FILE", default_value = "fleet.json")]
    pub out: PathBuf,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("`{s}` is not a duration like 2m or 30s: {e}"))?;
    if d > Duration::from_secs(6 * 3600) {
        return Err(format!("`{s}` is longer than GitHub's 6 h job limit"));
    }
    Ok(d)
}

/// The part of a plan the simulation needs; reads ungrouped plans (`target`) and grouped ones
/// (`targets`, from `matrix --group-targets`) alike.
#[derive(Debug, Serialize, Deserialize)]
struct PlanView {
    chunk_size: u32,
    jobs: Vec<JobView>,
}

impl Document for PlanView {
    const KIND: &'static str = crate::schema::plan::Plan::KIND;
}

#[derive(Debug, Serialize, Deserialize)]
struct JobView {
    #[serde(rename = "crate")]
    crate_name: String,
    version: String,
    #[serde(default)]
    targets: Vec<String>,
}

/// One [`Unit`] per crate version, in plan order, counting its targets.
fn units(jobs: &[JobView]) -> Vec<Unit> {
    let mut order: Vec<(&str, &str)> = Vec::new();
    let mut targets: BTreeMap<(&str, &str), u32> = BTreeMap::new();
    for j in jobs {
        let key = (j.crate_name.as_str(), j.version.as_str());
        let n = targets.entry(key).or_insert_with(|| {
            order.push(key);
            0
        });
        *n += j.targets.len().max(1) as u32;
    }
    order.into_iter().map(|k| Unit { targets: targets[&k] }).collect()
}

/// The whole report for a plan's units. Pure.
pub fn report(plan: &str, units: &[Unit], chunk_size: usize, costs: &Costs, fleets: &[sim::Fleet]) -> FleetReport {
    let builds: u64 = units.iter().map(|u| u.targets as u64).sum();
    let crates = units.len() as u64;
    let baseline = Baseline {
        runs: crates,
        jobs: builds,
        wall_clock_secs: (BASELINE_WINDOW.as_secs() * crates).div_ceil(BASELINE_CRATES_PER_WINDOW),
    };
    let shapes = Shape::ALL
        .iter()
        .map(|&shape| {
            let work = Workload::new(shape, units, chunk_size);
            shape_report(&work, costs, fleets, &baseline)
        })
        .collect();
    let secs = |d: Duration| d.as_secs();
    FleetReport {
        schema_version: SCHEMA_VERSION,
        kind: FleetReport::KIND.into(),
        cratemill_version: env!("CARGO_PKG_VERSION").into(),
        plan: plan.into(),
        parameters: Parameters {
            mean_build_secs: secs(costs.mean_build),
            job_overhead_secs: secs(costs.job_overhead),
            publish_per_package_secs: secs(costs.publish_per_package),
            plan_secs: secs(costs.plan),
            report_secs: secs(costs.report),
            grouped_build_percent: costs.grouped_build_percent,
        },
        crates,
        builds,
        baseline,
        shapes,
    }
}

fn shape_report(work: &Workload, costs: &Costs, fleets: &[sim::Fleet], baseline: &Baseline) -> ShapeReport {
    let (runs, chunks, build_jobs) = (work.runs.len() as u64, work.chunks() as u64, work.build_jobs() as u64);
    let estimates = fleets
        .iter()
        .map(|&fleet| {
            let mut e = sim::simulate(work, costs, fleet);
            e.speedup = baseline.wall_clock_secs as f64 / e.wall_clock_secs.max(1) as f64;
            e
        })
        .collect::<Vec<_>>();
    ShapeReport {
        shape: work.shape.name().into(),
        runs,
        chunks,
        build_jobs,
        jobs: build_jobs + 2 * chunks + 2 * runs + runs.saturating_sub(1),
        // A package per build job; per chunk its results and its attestation bundles; per run
        // the plan and the built index.
        artifacts: build_jobs + 2 * chunks + 2 * runs,
        limits: limits::check_all(work, costs, &estimates),
        estimates,
    }
}

fn fleet_of(concurrency: u32, chunks_in_flight: Option<u32>) -> sim::Fleet {
    let chunks_in_flight = chunks_in_flight.unwrap_or_else(|| sim::Fleet::auto_chunks_in_flight(concurrency));
    sim::Fleet { concurrency, chunks_in_flight }
}

pub async fn run(args: FleetArgs) -> anyhow::Result<Exit> {
    let shown = args.plan.display().to_string();
    let plan: PlanView = crate::schema::read(&args.plan)
        .map_err(|e| usage(format!("{}: make a plan with `cratemill matrix` first", crate::error::one_line(&e))))?;
    let units = units(&plan.jobs);
    let costs = Costs::new(args.mean_build, args.job_overhead).with_grouped_build_percent(args.grouped_build_percent);
    let fleets: Vec<sim::Fleet> =
        args.concurrency.iter().map(|&concurrency| fleet_of(concurrency, args.chunks_in_flight)).collect();
    let fleet = report(&shown, &units, plan.chunk_size.max(1) as usize, &costs, &fleets);
    crate::console::line(render::table(&fleet).trim_end_matches('\n'));
    crate::schema::write(&args.out, &fleet).with_context(|| format!("writing {}", args.out.display()))?;
    crate::note!("wrote {}", args.out.display());
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(c: &str, targets: &[&str]) -> JobView {
        JobView {
            crate_name: c.into(),
            version: "1.0.0".into(),
            targets: targets.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn units_count_targets_of_ungrouped_and_grouped_plans() {
        let ungrouped = [job("a", &[]), job("a", &[]), job("b", &[])];
        assert_eq!(units(&ungrouped), vec![Unit { targets: 2 }, Unit { targets: 1 }]);
        let grouped = [job("a", &["x", "y", "z"]), job("b", &["x"])];
        assert_eq!(units(&grouped), vec![Unit { targets: 3 }, Unit { targets: 1 }]);
    }

    #[test]
    fn the_baseline_is_256_crates_per_3_hours() {
        let u = vec![Unit { targets: 4 }; 10_033];
        let fleet = sim::Fleet { concurrency: 20, chunks_in_flight: 4 };
        let r = report("p", &u, 256, &Costs::new(Duration::from_secs(120), Duration::from_secs(30)), &[fleet]);
        assert_eq!(r.baseline.runs, 10_033);
        // 10,033 / 256 x 3 h = 117.6 h
        assert_eq!(r.baseline.wall_clock_secs, 423_268);
        assert_eq!(r.builds, 40_132);
        let per = &r.shapes[0];
        assert_eq!((per.shape.as_str(), per.build_jobs, per.chunks, per.runs), ("per-target", 40_132, 157, 1));
        assert_eq!(per.jobs, 40_132 + 2 * 157 + 2);
        assert_eq!(per.artifacts, 40_132 + 2 * 157 + 2);
    }
}
