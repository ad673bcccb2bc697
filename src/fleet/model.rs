//! The workload a plan puts on GitHub, in either shape, and the fixed costs of the templates.
//! Pure decision core: plan jobs in, chunks and runs out (the same cutting rule as `cratemill
//! matrix`: `crate::plan::chunk`), no I/O.

use std::time::Duration;

use crate::plan::chunk::chunks_per_run;

/// How build jobs are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// One job per crate x target (`cratemill matrix`).
    PerTarget,
    /// One job per crate building all its targets (`cratemill matrix --group-targets`).
    Grouped,
}

impl Shape {
    pub const ALL: [Shape; 2] = [Shape::PerTarget, Shape::Grouped];

    pub fn name(self) -> &'static str {
        match self {
            Shape::PerTarget => "per-target",
            Shape::Grouped => "grouped",
        }
    }
}

/// One crate version and how many targets it is planned for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub targets: u32,
}

/// One chunk: the number of targets each of its build jobs builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkWork {
    pub jobs: Vec<u32>,
}

/// The chunks of one workflow run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunWork {
    pub chunks: Vec<ChunkWork>,
}

/// The whole plan in one shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    pub shape: Shape,
    pub runs: Vec<RunWork>,
}

impl Workload {
    /// Cut `units` (in plan order) into jobs of `shape`, chunks of `chunk_size`, and runs.
    pub fn new(shape: Shape, units: &[Unit], chunk_size: usize) -> Workload {
        let jobs: Vec<u32> = match shape {
            Shape::PerTarget => units.iter().flat_map(|u| std::iter::repeat_n(1, u.targets as usize)).collect(),
            Shape::Grouped => units.iter().map(|u| u.targets).collect(),
        };
        let per_run = chunks_per_run(chunk_size);
        let chunks: Vec<ChunkWork> = jobs.chunks(chunk_size.max(1)).map(|c| ChunkWork { jobs: c.to_vec() }).collect();
        let runs = chunks.chunks(per_run).map(|c| RunWork { chunks: c.to_vec() }).collect();
        Workload { shape, runs }
    }

    pub fn chunks(&self) -> usize {
        self.runs.iter().map(|r| r.chunks.len()).sum()
    }

    pub fn build_jobs(&self) -> usize {
        self.runs.iter().flat_map(|r| &r.chunks).map(|c| c.jobs.len()).sum()
    }

    pub fn targets(&self) -> u64 {
        self.runs.iter().flat_map(|r| &r.chunks).flat_map(|c| &c.jobs).map(|&t| t as u64).sum()
    }
}

/// What one job of each kind costs; the three flags of `cratemill fleet` and documented constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Costs {
    /// One crate x target build (`--mean-build`).
    pub mean_build: Duration,
    /// Per job: runner start, bootstrap, artifact download/upload (`--job-overhead`).
    pub job_overhead: Duration,
    /// Publish (re-verify, push, -srcbuild-) of one package.
    pub publish_per_package: Duration,
    /// The plan job's `cratemill matrix` over the dump, the report job's merge.
    pub plan: Duration,
    pub report: Duration,
    /// A job of several targets builds them in this percent of `targets x mean_build`
    /// (`--grouped-build-percent`: one cargo invocation overlaps the targets on the runner's cores).
    pub grouped_build_percent: u32,
}

impl Costs {
    pub fn new(mean_build: Duration, job_overhead: Duration) -> Costs {
        Costs {
            mean_build,
            job_overhead,
            publish_per_package: Duration::from_secs(3),
            plan: Duration::from_secs(5 * 60),
            report: Duration::from_secs(2 * 60),
            grouped_build_percent: 100,
        }
    }

    /// The same costs with a job of several targets building them in `percent` of their sum.
    pub fn with_grouped_build_percent(self, percent: u32) -> Costs {
        Costs { grouped_build_percent: percent, ..self }
    }

    /// The builds of a job of `targets` targets, without the job's overhead.
    pub fn builds(&self, targets: u32) -> Duration {
        let sum = self.mean_build * targets;
        if targets > 1 {
            sum * self.grouped_build_percent / 100
        } else {
            sum
        }
    }

    /// A build job building `targets` targets (grouped jobs pay the overhead once).
    pub fn build_job(&self, targets: u32) -> Duration {
        self.job_overhead + self.builds(targets)
    }

    /// The publish job of a chunk holding `packages` packages.
    pub fn publish_job(&self, packages: u64) -> Duration {
        self.job_overhead + self.publish_per_package * packages as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(n: usize, targets: u32) -> Vec<Unit> {
        vec![Unit { targets }; n]
    }

    #[test]
    fn per_target_and_grouped_cut_the_same_targets() {
        let u = units(10_033, 4);
        let per = Workload::new(Shape::PerTarget, &u, 256);
        let grouped = Workload::new(Shape::Grouped, &u, 256);
        assert_eq!((per.build_jobs(), per.targets()), (40_132, 40_132));
        assert_eq!((grouped.build_jobs(), grouped.targets()), (10_033, 40_132));
        assert_eq!(per.chunks(), 157);
        // 193 chunks of 256 per run (50,000 jobs with the slice, publish, plan, report and next
        // jobs): 157 chunks fit in one run.
        assert_eq!(per.runs.len(), 1);
        assert_eq!(grouped.chunks(), 40);
        assert!(per.runs.iter().flat_map(|r| &r.chunks).all(|c| c.jobs.len() <= 256));
    }

    #[test]
    fn a_plan_over_50000_jobs_is_split_into_runs() {
        let per = Workload::new(Shape::PerTarget, &units(20_000, 4), 256);
        assert_eq!(per.runs.len(), 2);
        assert_eq!(per.runs[0].chunks.len(), 193);
        let all_jobs =
            |r: &RunWork| crate::plan::chunk::run_jobs(r.chunks.len(), r.chunks.iter().map(|c| c.jobs.len()).sum());
        assert!(per.runs.iter().all(|r| all_jobs(r) <= 50_000));
    }

    #[test]
    fn grouped_jobs_pay_the_overhead_once() {
        let c = Costs::new(Duration::from_secs(120), Duration::from_secs(30));
        assert_eq!(c.build_job(4), Duration::from_secs(30 + 480));
        assert_eq!(c.build_job(1) * 4, Duration::from_secs(600));
        let concurrent = c.with_grouped_build_percent(54);
        assert_eq!(concurrent.build_job(4), Duration::from_secs(30) + Duration::from_secs(480) * 54 / 100);
        assert_eq!(concurrent.build_job(1), c.build_job(1), "one target is not a group");
    }
}
