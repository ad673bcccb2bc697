//! Cut the job list into chunks (one matrix each, at most `chunk_size` <= 256 jobs) and group chunks
//! into workflow runs that stay under GitHub's limits.

use crate::schema::plan::{ChunkRef, Run};

/// A matrix expands to at most this many jobs.
pub const MAX_MATRIX: usize = 256;
/// Jobs one workflow run may hold (check runs per check suite), of every kind.
pub const MAX_RUN_JOBS: usize = 50_000;
/// Jobs the templates add per chunk besides its builds: build-chunk's slice job and publish-chunk.
pub const CHUNK_OVERHEAD_JOBS: usize = 2;
/// Jobs the templates add per run: plan, report and next (mirror.yml).
pub const RUN_OVERHEAD_JOBS: usize = 3;

/// The chunk id of the `n`th chunk (0-based): `0001`, `0002`, ... (wider past 9999).
pub fn chunk_id(n: usize) -> String {
    format!("{:04}", n + 1)
}

/// How many chunks fit in one run: their builds and the jobs the templates add around them
/// ([`run_jobs`]) stay within [`MAX_RUN_JOBS`].
pub fn chunks_per_run(chunk_size: usize) -> usize {
    ((MAX_RUN_JOBS - RUN_OVERHEAD_JOBS) / (chunk_size.max(1) + CHUNK_OVERHEAD_JOBS)).clamp(1, MAX_MATRIX)
}

/// Every job of one run of `chunks` chunks holding `build_jobs` build jobs.
pub fn run_jobs(chunks: usize, build_jobs: usize) -> usize {
    build_jobs + chunks * CHUNK_OVERHEAD_JOBS + RUN_OVERHEAD_JOBS
}

/// The runs of a plan of `jobs` jobs: job `n` is in chunk `chunk_id(n / chunk_size)`, chunks are
/// grouped into runs of at most [`chunks_per_run`].
pub fn runs(jobs: usize, chunk_size: usize) -> Vec<Run> {
    let (chunk_size, per_run) = (chunk_size.max(1), chunks_per_run(chunk_size));
    let mut runs: Vec<Run> = Vec::new();
    for n in 0..jobs.div_ceil(chunk_size) {
        if n % per_run == 0 {
            runs.push(Run { run: runs.len() as u32 + 1, jobs: 0, chunks: Vec::new() });
        }
        let len = chunk_size.min(jobs - n * chunk_size);
        let run = runs.last_mut().expect("pushed above");
        run.jobs += len as u64;
        run.chunks.push(ChunkRef { id: chunk_id(n), jobs: len as u32 });
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_hold_at_scale() {
        let runs = runs(120_001, 256);
        assert_eq!(runs.iter().map(|r| r.jobs).sum::<u64>(), 120_001);
        for run in &runs {
            assert!(
                run.chunks.len() <= MAX_MATRIX && run_jobs(run.chunks.len(), run.jobs as usize) <= MAX_RUN_JOBS,
                "{} {}",
                run.chunks.len(),
                run.jobs
            );
            assert!(run.chunks.iter().all(|c| c.jobs as usize <= 256));
        }
        assert_eq!(runs.len(), 3);
        assert_eq!((runs[0].chunks[1].id.as_str(), runs[2].chunks.last().unwrap().jobs), ("0002", 120_001 % 256));
        assert_eq!(runs[1].chunks[0].id, chunk_id(193));
    }

    #[test]
    fn a_full_run_counts_its_slice_publish_plan_report_and_next_jobs() {
        // 195 chunks of 256 builds fill 49,920 build jobs, but with 2 x 195 + 3 others the run
        // would hold 50,313 jobs: 193 chunks (49,797 jobs) is the most that fits.
        assert_eq!(run_jobs(195, 195 * 256), 50_313);
        assert_eq!(chunks_per_run(256), 193);
        assert_eq!(run_jobs(193, 193 * 256), 49_797);
        assert!(run_jobs(194, 194 * 256) > MAX_RUN_JOBS);
        let runs = runs(10_033 * 4 * 2, 256);
        assert!(runs.iter().all(|r| run_jobs(r.chunks.len(), r.jobs as usize) <= MAX_RUN_JOBS));
    }

    #[test]
    fn empty_plan_has_no_runs() {
        assert!(runs(0, 256).is_empty());
        assert_eq!(chunks_per_run(1), 256);
    }
}
