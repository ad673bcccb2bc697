//! Cut the job list into chunks (one matrix each, at most `chunk_size` <= 256 jobs) and group chunks
//! into workflow runs that stay under GitHub's limits.

use crate::schema::plan::{ChunkRef, Run};

/// A matrix expands to at most this many jobs.
pub const MAX_MATRIX: usize = 256;
/// Jobs one workflow run may hold.
pub const MAX_RUN_JOBS: usize = 50_000;

/// The chunk id of the `n`th chunk (0-based): `0001`, `0002`, ... (wider past 9999).
pub fn chunk_id(n: usize) -> String {
    format!("{:04}", n + 1)
}

/// How many chunks fit in one run.
pub fn chunks_per_run(chunk_size: usize) -> usize {
    (MAX_RUN_JOBS / chunk_size.max(1)).clamp(1, MAX_MATRIX)
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
                run.chunks.len() <= MAX_MATRIX && run.jobs as usize <= MAX_RUN_JOBS,
                "{} {}",
                run.chunks.len(),
                run.jobs
            );
            assert!(run.chunks.iter().all(|c| c.jobs as usize <= 256));
        }
        assert_eq!(runs.len(), 3);
        assert_eq!((runs[0].chunks[1].id.as_str(), runs[2].chunks.last().unwrap().jobs), ("0002", 120_001 % 256));
        assert_eq!(runs[1].chunks[0].id, chunk_id(195));
    }

    #[test]
    fn empty_plan_has_no_runs() {
        assert!(runs(0, 256).is_empty());
        assert_eq!(chunks_per_run(1), 256);
    }
}
