//! Reading a fleet's result files: find every `result.json`, count a file named twice once, and
//! read each with its `publish.json`. A file that cannot be used becomes a [`BadFile`] naming the
//! file and the problem, so one corrupt upload does not stop a 40,000-file report. I/O edge.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::error::{one_line, usage};
use crate::package::{LOG_FILE, PUBLISH_FILE, RESULT_FILE};
use crate::schema::publish::PublishRecord;
use crate::schema::result::BuildResult;

use super::merge::Outcome;
use super::summary::{BadFile, Inputs};

/// Every result file under `paths` (files as given, folders searched), each real file once.
pub fn find(paths: &[PathBuf]) -> anyhow::Result<(Vec<PathBuf>, u64)> {
    let mut files = Vec::new();
    for path in paths {
        find_results(path, &mut files)?;
    }
    files.sort();
    let mut seen = HashSet::new();
    let mut unique = Vec::with_capacity(files.len());
    let mut twice = 0;
    for f in files {
        let real = std::fs::canonicalize(&f).unwrap_or_else(|_| f.clone());
        if seen.insert(real) {
            unique.push(f);
        } else {
            twice += 1;
        }
    }
    Ok((unique, twice))
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

/// Read every file (on up to 4 threads, results in file order); the unreadable ones are counted
/// in the returned [`Inputs`].
pub fn read_all(files: &[PathBuf], same_file_twice: u64) -> (Vec<Outcome>, Inputs) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4);
    let per = files.len().div_ceil(threads).max(1);
    let parts: Vec<Vec<Result<Outcome, String>>> = std::thread::scope(|scope| {
        let handles: Vec<_> =
            files.chunks(per).map(|part| scope.spawn(move || part.iter().map(|f| read_outcome(f)).collect())).collect();
        handles.into_iter().map(|h| h.join().expect("a reader thread panicked")).collect()
    });
    let mut inputs = Inputs { files: files.len() as u64, same_file_twice, bad: Vec::new() };
    let mut outcomes = Vec::with_capacity(files.len());
    for (file, read) in files.iter().zip(parts.into_iter().flatten()) {
        match read {
            Ok(o) => outcomes.push(o),
            Err(reason) => inputs.bad.push(BadFile { path: file.display().to_string(), reason }),
        }
    }
    (outcomes, inputs)
}

/// Drop what the report does not use, so 40,000 outcomes fit in little memory (the license
/// list is kept condensed, as [`super::licenses::Facts`]).
fn slim(r: &mut BuildResult, p: Option<&mut PublishRecord>) {
    r.attempts = Vec::new();
    r.build_env = Default::default();
    r.prepare = Vec::new();
    r.files = Vec::new();
    r.licenses.files = Vec::new();
    r.rustflags = String::new();
    r.third_party = None;
    if let Some(f) = &mut r.failure {
        f.evidence.truncate(crate::schema::report::FIRST_LINES);
    }
    if let Some(p) = p {
        p.references.retain(|x| x.kind != crate::schema::publish::ReferenceKind::Srcbuild);
    }
}

fn read_outcome(file: &Path) -> Result<Outcome, String> {
    // One job's outcome: at most 16 MiB each, so 4 reader threads stay small whatever the artifacts hold.
    let cap = crate::untrusted::RESULT_CAP;
    let result: BuildResult = crate::schema::read_capped(file, cap).map_err(|e| one_line(&e))?;
    let publish_file = file.with_file_name(PUBLISH_FILE);
    let publish = if publish_file.is_file() {
        let p: PublishRecord = crate::schema::read_capped(&publish_file, cap).map_err(|e| one_line(&e))?;
        if (&p.crate_name, &p.version, &p.target) != (&result.crate_name, &result.version, &result.target) {
            return Err(format!(
                "{} next to it is about {}@{} ({}), but the result is about {}@{} ({})",
                publish_file.display(),
                p.crate_name,
                p.version,
                p.target,
                result.crate_name,
                result.version,
                result.target
            ));
        }
        Some(p)
    } else {
        None
    };
    let (mut result, mut publish) = (result, publish);
    let licenses = result.third_party.as_ref().map(super::licenses::facts);
    slim(&mut result, publish.as_mut());
    let log_file = file.with_file_name(LOG_FILE);
    let log = log_file.is_file().then(|| log_file.display().to_string());
    Ok(Outcome { result, publish, log, licenses })
}
