//! Write a plan to `--out`: `plan.json`, `chunks/NNNN.json` (one per chunk) and `chunks/index.json`.
//! Chunk files of an earlier plan in the same folder are removed first, so the folder always
//! describes one plan.

use std::path::Path;

use anyhow::Context;

use crate::plan::Planned;
use crate::schema::plan::{Chunk, ChunkIndex};
use crate::schema::{Document, SCHEMA_VERSION};

/// Jobs are made from the compact plan one chunk at a time, so writing holds at most one chunk's jobs.
pub fn write(out: &Path, planned: &Planned) -> anyhow::Result<()> {
    let plan = &planned.plan;
    let chunks_dir = out.join("chunks");
    std::fs::create_dir_all(&chunks_dir).with_context(|| format!("creating {}", chunks_dir.display()))?;
    for entry in std::fs::read_dir(&chunks_dir)? {
        let path = entry?.path();
        let stale = path.extension().is_some_and(|e| e == "json")
            && path
                .file_stem()
                .and_then(|s| s.to_str())
                .is_some_and(|s| s == "index" || s.bytes().all(|b| b.is_ascii_digit()));
        if stale {
            std::fs::remove_file(&path).with_context(|| format!("removing stale {}", path.display()))?;
        }
    }
    let mut start = 0;
    for run in &plan.runs {
        for chunk in &run.chunks {
            let jobs: Vec<_> = planned.jobs_from(start).take(chunk.jobs as usize).collect();
            start += chunk.jobs as usize;
            let doc = Chunk::new(chunk.id.clone(), run.run, jobs);
            let bytes = serde_json::to_vec(&doc)?;
            write_chunk(&chunks_dir, &chunk.id, &bytes).with_context(|| format!("writing chunk {}", chunk.id))?;
        }
    }
    let index = ChunkIndex {
        schema_version: SCHEMA_VERSION,
        kind: ChunkIndex::KIND.into(),
        chunk_size: plan.chunk_size,
        jobs: plan.funnel.jobs,
        runs: plan.runs.clone(),
    };
    // The index and plan.json are written last and synced: once they exist, every chunk they list does.
    crate::schema::write(&chunks_dir.join("index.json"), &index)?;
    write_plan(out, planned).with_context(|| format!("writing {}", out.join("plan.json").display()))
}

/// plan.json is the biggest document (tens of MB at full scale): stream it, one job at a time, to a
/// temporary file instead of building it in memory, then rename it into place. `jobs` is the plan's
/// last field, so the header serializes to `...,"jobs":[]}` and the jobs go between the brackets.
fn write_plan(out: &Path, planned: &Planned) -> anyhow::Result<()> {
    use std::io::Write;
    let header = serde_json::to_vec(&planned.plan)?;
    let head = header.strip_suffix(b"[]}").context("plan.json's header does not end with its jobs")?;
    let tmp = tempfile::NamedTempFile::new_in(out)?;
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file());
    writer.write_all(head)?;
    writer.write_all(b"[")?;
    for (n, job) in planned.jobs().enumerate() {
        if n > 0 {
            writer.write_all(b",")?;
        }
        serde_json::to_writer(&mut writer, &job)?;
    }
    writer.write_all(b"]}")?;
    writer.flush()?;
    drop(writer);
    tmp.as_file().sync_all()?;
    tmp.persist(out.join("plan.json")).map_err(|e| e.error)?;
    Ok(())
}

/// Write one chunk through a temporary name and a rename (readers never see half a chunk), without
/// an fsync per file: a plan can always be made again, and hundreds of syncs cost seconds.
fn write_chunk(dir: &Path, id: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{id}.json.tmp"));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, dir.join(format!("{id}.json")))
}
