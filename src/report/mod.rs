//! `cratemill report`: read the outcomes of many build jobs (`result.json`, and `publish.json` for
//! the published ones), merge them into the built index that `cratemill matrix --built` reads, and
//! report success rates per target and failures per class (`report.md`, step summary, outputs).
//!
//! I/O here; the merge rule is in [`merge`], the Markdown in [`render`]. Any unreadable input is an
//! error naming the file, and nothing is written then.

mod args;
pub mod merge;
pub mod render;

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::error::{one_line, usage, Exit};
use crate::github::{Output, Runner};
use crate::package::{PUBLISH_FILE, RESULT_FILE};
use crate::schema::plan::BuiltIndex;
use crate::schema::publish::PublishRecord;
use crate::schema::result::BuildResult;

pub use args::ReportArgs;
use merge::Outcome;

pub async fn run(args: ReportArgs) -> anyhow::Result<Exit> {
    let runner = Runner::from_env();
    let previous = match &args.previous {
        Some(path) if path.exists() => Some(
            crate::schema::read::<BuiltIndex>(path)
                .map_err(|e| usage(format!("--previous {}: {}", path.display(), one_line(&e))))?,
        ),
        // A first run has no index yet.
        Some(path) => {
            eprintln!("note: --previous {} does not exist yet: starting a new index", path.display());
            None
        }
        None => None,
    };
    let mut files = Vec::new();
    for path in &args.results {
        find_results(path, &mut files)?;
    }
    if files.is_empty() {
        let shown: Vec<String> = args.results.iter().map(|p| p.display().to_string()).collect();
        return Err(usage(format!("no {RESULT_FILE} found in {}", shown.join(", "))));
    }
    files.sort();
    let outcomes = files.iter().map(|f| read_outcome(f)).collect::<anyhow::Result<Vec<_>>>()?;
    let (index, tally) = merge::merge(previous, outcomes);
    let markdown = render::markdown(&tally, index.entries.len());
    let md_path = args.markdown.clone().unwrap_or_else(|| args.out.with_file_name("report.md"));
    crate::schema::write(&args.out, &index)?;
    crate::schema::write_atomic(&md_path, markdown.as_bytes())
        .with_context(|| format!("writing {}", md_path.display()))?;
    let total = tally.total();
    runner.set_outputs(&[
        (Output::BuiltIndex, args.out.display().to_string()),
        (Output::Report, md_path.display().to_string()),
        (Output::Jobs, total.jobs().to_string()),
        (Output::Published, total.published.to_string()),
        (Output::Failed, total.failed.to_string()),
    ])?;
    runner.append_summary(&markdown)?;
    eprintln!("read {} outcome(s); {}", files.len(), render::one_line(&tally, &args.out));
    Ok(Exit::Ok)
}

/// `path` itself if it is a file, else every `result.json` below it.
fn find_results(path: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    if meta.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() && entry.file_name() == RESULT_FILE {
                out.push(entry.path());
            }
        }
    }
    Ok(())
}

fn read_outcome(file: &Path) -> anyhow::Result<Outcome> {
    let result: BuildResult =
        crate::schema::read(file).map_err(|e| usage(format!("{}: {}", file.display(), one_line(&e))))?;
    let publish_file = file.with_file_name(PUBLISH_FILE);
    let publish = if publish_file.is_file() {
        let p: PublishRecord = crate::schema::read(&publish_file)
            .map_err(|e| usage(format!("{}: {}", publish_file.display(), one_line(&e))))?;
        if (&p.crate_name, &p.version, &p.target) != (&result.crate_name, &result.version, &result.target) {
            return Err(usage(format!(
                "{} is about {}@{} ({}), but {} next to it is about {}@{} ({})",
                publish_file.display(),
                p.crate_name,
                p.version,
                p.target,
                file.display(),
                result.crate_name,
                result.version,
                result.target
            )));
        }
        Some(p)
    } else {
        None
    };
    Ok(Outcome { result, publish })
}
