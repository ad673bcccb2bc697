//! Cut the job list into chunks (one matrix each, at most `chunk_size` <= 256 jobs) and group chunks
//! into workflow runs that stay under GitHub's limits.

use crate::schema::plan::{ChunkRef, Job, Run};

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

/// Give every job its chunk id and return the runs. Jobs keep their order.
pub fn assign(jobs: &mut [Job], chunk_size: usize) -> Vec<Run> {
    let per_run = chunks_per_run(chunk_size);
    let mut runs: Vec<Run> = Vec::new();
    for (n, chunk) in jobs.chunks_mut(chunk_size.max(1)).enumerate() {
        let id = chunk_id(n);
        for job in chunk.iter_mut() {
            job.chunk.clone_from(&id);
        }
        if n % per_run == 0 {
            runs.push(Run { run: runs.len() as u32 + 1, jobs: 0, chunks: Vec::new() });
        }
        let run = runs.last_mut().expect("pushed above");
        run.jobs += chunk.len() as u64;
        run.chunks.push(ChunkRef { id, jobs: chunk.len() as u32 });
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jobs(n: usize) -> Vec<Job> {
        (0..n)
            .map(|i| Job {
                crate_name: format!("c{i}"),
                version: "1.0.0".into(),
                target: "t".into(),
                targets: vec![],
                checksum: String::new(),
                bin_names: vec![],
                risk: None,
                chunk: String::new(),
            })
            .collect()
    }

    #[test]
    fn limits_hold_at_scale() {
        let mut all = jobs(120_001);
        let runs = assign(&mut all, 256);
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
        assert_eq!(all[256].chunk, "0002");
        assert_eq!(runs[1].chunks[0].id, chunk_id(195));
    }

    #[test]
    fn empty_plan_has_no_runs() {
        assert!(assign(&mut [], 256).is_empty());
        assert_eq!(chunks_per_run(1), 256);
    }
}
