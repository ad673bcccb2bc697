//! The plan run on GitHub: a discrete-event simulation of the templates' jobs on `N` concurrent
//! runners. Pure decision core (numbers in, numbers out).
//!
//! Per workflow run, as `mirror.yml` runs it: the plan job; then every chunk's slice job (all queued
//! at once by the outer matrix); each slice releases its chunk's build jobs; the last build of a
//! chunk releases its publish job (which makes the chunk's attestation); then the report job, and
//! the dispatch of the next run when the plan is split. Queued jobs start first come, first served
//! whenever a runner is free. REST requests on `GITHUB_TOKEN`: 2 by the plan job (find and download
//! the previous built index), one attestation POST per 1,024 packages of a chunk (batched) or per
//! package (unbatched, for comparison), 1 per dispatch.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::time::Duration;

use super::model::{Costs, RunWork, Workload};
use crate::schema::fleet::Estimate;

/// Subjects one attestation may hold.
pub const ATTESTATION_SUBJECTS: u64 = 1024;

#[derive(Debug, Clone, Copy)]
enum Task {
    Slice(usize),
    Build(usize),
    Publish(usize),
}

/// The running totals of a simulation.
#[derive(Default)]
struct Clock {
    now: u64,
    busy_ms: u64,
    api: BTreeMap<u64, u64>,
    api_unbatched: BTreeMap<u64, u64>,
}

impl Clock {
    fn request(&mut self, at_ms: u64, batched: u64, unbatched: u64) {
        *self.api.entry(at_ms / 3_600_000).or_default() += batched;
        *self.api_unbatched.entry(at_ms / 3_600_000).or_default() += unbatched;
    }

    /// A job that runs alone on the critical path (plan, report, dispatch).
    fn serial(&mut self, d: Duration) {
        self.now += ms(d);
        self.busy_ms += ms(d);
    }
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// How the fleet is run: concurrent jobs (the account's runners) and chunk calls in flight (the
/// outer matrix's `max-parallel`, mirror.yml's `chunks-in-flight`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fleet {
    pub concurrency: u32,
    pub chunks_in_flight: u32,
}

impl Fleet {
    /// Enough chunks in flight to keep `concurrency` runners busy through each chunk's tail and
    /// publish (4 up to 128 runners, then one per 32), few enough that chunks publish as they go.
    pub fn auto_chunks_in_flight(concurrency: u32) -> u32 {
        concurrency.div_ceil(32).clamp(4, 256)
    }
}

/// Simulate the whole workload on `fleet` (`speedup` is left for the caller).
pub fn simulate(work: &Workload, costs: &Costs, fleet: Fleet) -> Estimate {
    let concurrency = fleet.concurrency;
    let mut clock = Clock::default();
    for (n, run) in work.runs.iter().enumerate() {
        clock.request(clock.now, 2, 2);
        clock.serial(costs.job_overhead + costs.plan);
        fan_out(run, costs, fleet, &mut clock);
        clock.serial(costs.job_overhead + costs.report);
        if n + 1 < work.runs.len() {
            clock.request(clock.now, 1, 1);
            clock.serial(costs.job_overhead);
        }
    }
    Estimate {
        concurrency,
        chunks_in_flight: fleet.chunks_in_flight,
        wall_clock_secs: clock.now / 1000,
        runner_minutes: clock.busy_ms.div_ceil(60_000),
        peak_api_per_hour: clock.api.values().copied().max().unwrap_or(0),
        peak_api_per_hour_unbatched: clock.api_unbatched.values().copied().max().unwrap_or(0),
        speedup: 0.0,
    }
}

/// One run's chunks on the fleet's runners; advances the clock to the last publish. A chunk call
/// is in flight from its slice job's start to its publish job's end; queued jobs start first
/// come, first served (so a publish job queues behind every build already queued).
fn fan_out(run: &RunWork, costs: &Costs, fleet: Fleet, clock: &mut Clock) {
    let slots = fleet.concurrency.max(1) as usize;
    let in_flight_max = fleet.chunks_in_flight.max(1) as usize;
    let (mut next_chunk, mut in_flight) = (0, 0);
    let mut ready: VecDeque<Task> = VecDeque::new();
    let mut left: Vec<usize> = run.chunks.iter().map(|c| c.jobs.len()).collect();
    let mut running: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
    let mut tasks: Vec<Task> = Vec::new();
    loop {
        while in_flight < in_flight_max && next_chunk < run.chunks.len() {
            ready.push_back(Task::Slice(next_chunk));
            (next_chunk, in_flight) = (next_chunk + 1, in_flight + 1);
        }
        while running.len() < slots {
            let Some(task) = ready.pop_front() else { break };
            let d = ms(duration(run, costs, task));
            clock.busy_ms += d;
            running.push(Reverse((clock.now + d, tasks.len())));
            tasks.push(task);
        }
        let Some(Reverse((t, id))) = running.pop() else { break };
        clock.now = t;
        match tasks[id] {
            Task::Slice(c) => ready.extend(std::iter::repeat_n(Task::Build(c), run.chunks[c].jobs.len())),
            Task::Build(c) => {
                left[c] -= 1;
                if left[c] == 0 {
                    ready.push_back(Task::Publish(c));
                }
            }
            Task::Publish(c) => {
                let packages = packages(run, c);
                clock.request(t, packages.div_ceil(ATTESTATION_SUBJECTS), packages);
                in_flight -= 1;
            }
        }
    }
}

fn packages(run: &RunWork, chunk: usize) -> u64 {
    run.chunks[chunk].jobs.iter().map(|&t| t as u64).sum()
}

/// Build jobs of a chunk are taken in order, so the `k`th started is the `k`th job; all jobs of a
/// chunk in one shape build the same number of targets but a mixed plan may not: use the chunk's mean.
fn duration(run: &RunWork, costs: &Costs, task: Task) -> Duration {
    match task {
        Task::Slice(_) => costs.job_overhead,
        Task::Build(c) => {
            let jobs = &run.chunks[c].jobs;
            let total: Duration = jobs.iter().map(|&t| costs.builds(t)).sum();
            costs.job_overhead + total / jobs.len().max(1) as u32
        }
        Task::Publish(c) => costs.publish_job(packages(run, c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::model::{Shape, Unit};

    fn costs() -> Costs {
        Costs::new(Duration::from_secs(120), Duration::from_secs(30))
    }

    fn fleet(concurrency: u32, chunks_in_flight: u32) -> Fleet {
        Fleet { concurrency, chunks_in_flight }
    }

    #[test]
    fn chunks_in_flight_publish_as_they_go_at_little_cost() {
        let units = vec![Unit { targets: 4 }; 4_000];
        let w = Workload::new(Shape::PerTarget, &units, 256);
        let all = simulate(&w, &costs(), fleet(60, 256));
        let few = simulate(&w, &costs(), fleet(60, Fleet::auto_chunks_in_flight(60)));
        // All chunks at once: every publish queues behind the whole build backlog (one last hour).
        assert_eq!(all.peak_api_per_hour, 63);
        assert!(few.peak_api_per_hour < 10, "{few:?}");
        assert!(few.wall_clock_secs < all.wall_clock_secs * 11 / 10, "{few:?} vs {all:?}");
    }

    #[test]
    fn one_chunk_on_enough_runners_takes_one_build() {
        let w = Workload::new(Shape::PerTarget, &[Unit { targets: 4 }], 256);
        let e = simulate(&w, &costs(), fleet(20, 256));
        // plan 330 s, slice 30 s, builds 150 s in parallel, publish 30 + 12 s, report 150 s.
        assert_eq!(e.wall_clock_secs, 330 + 30 + 150 + 42 + 150);
        assert_eq!(e.runner_minutes, (330u64 + 30 + 4 * 150 + 42 + 150).div_ceil(60));
        assert_eq!((e.peak_api_per_hour, e.peak_api_per_hour_unbatched), (3, 6));
    }

    #[test]
    fn more_runners_never_take_longer_and_work_is_conserved() {
        let units = vec![Unit { targets: 4 }; 2_000];
        let w = Workload::new(Shape::PerTarget, &units, 256);
        let (a, b, c) = (
            simulate(&w, &costs(), fleet(20, 256)),
            simulate(&w, &costs(), fleet(60, 256)),
            simulate(&w, &costs(), fleet(500, 256)),
        );
        assert!(a.wall_clock_secs > b.wall_clock_secs && b.wall_clock_secs > c.wall_clock_secs);
        assert_eq!(a.runner_minutes, c.runner_minutes);
        // 8,000 builds of 150 s on 20 runners: at least 8000 * 150 / 20 s.
        assert!(a.wall_clock_secs >= 8_000 * 150 / 20);
    }

    #[test]
    fn grouping_saves_overhead_runner_time() {
        let units = vec![Unit { targets: 4 }; 1_000];
        let per = simulate(&Workload::new(Shape::PerTarget, &units, 256), &costs(), fleet(60, 256));
        let grouped = simulate(&Workload::new(Shape::Grouped, &units, 256), &costs(), fleet(60, 256));
        assert!(grouped.runner_minutes < per.runner_minutes);
    }
}
