//! `cratemill report`: read the outcomes of many build jobs (`result.json`, and `publish.json` for
//! the published ones), merge them into the built index that `cratemill matrix --built` and
//! `cratemill install` read, and report the fleet: `index.json`, `failures.json`, `report.md` (also
//! the step summary), outputs, with `--html` a static site (with the license inventory,
//! [`licenses`]), and with `--open-issues` one upstream
//! issue per failing crate version ([`issues`], decided in [`upstream`]; outputs `issues` and
//! `issues-opened`).
//!
//! I/O here and in [`load`]; the merge rule is in [`merge`], the facts in [`summary`], the
//! formats in [`render`] and [`html`]. An unreadable result file is counted and named, and the
//! report goes on, unless `--strict`; then nothing is written.

mod args;
pub mod html;
pub mod issues;
pub mod licenses;
pub mod load;
pub mod merge;
pub mod push;
pub mod render;
pub mod summary;
pub mod upstream;

use std::path::Path;

use anyhow::Context;

use crate::actions::{Output, Runner};
use crate::error::{one_line, usage, Exit};
use crate::package::RESULT_FILE;
use crate::schema::plan::BuiltIndex;
use crate::schema::report::FailureList;

pub use args::ReportArgs;

/// How many rows the slowest/biggest lists keep.
const TOP: usize = 50;

pub async fn run(args: ReportArgs) -> anyhow::Result<Exit> {
    let runner = Runner::from_env();
    let push_to = args.push_index.as_deref().map(push::parse_ref).transpose()?;
    let github = args
        .open_issues
        .then(|| issues::Access::from_env(&args.github_token_env))
        .transpose()?
        .map(|a| a.with_rule(&args.crates_io_api, &args.issues_allow));
    let previous = read_previous(&args)?;
    let (outcomes, inputs) = read_results(&args)?;
    let merged = merge::merge(previous.clone(), outcomes);
    let highlights = summary::highlights(&merged.newest, previous.as_ref(), TOP);
    let view = render::View {
        tally: &merged.tally,
        highlights: &highlights,
        inputs: &inputs,
        indexed: merged.index.entries.len(),
        had_previous: previous.is_some(),
    };
    let markdown = render::markdown_capped(&view, render::SUMMARY_CAP);
    let md_path = args.markdown.clone().unwrap_or_else(|| args.out.with_file_name("report.md"));
    let failures_path = args.failures.clone().unwrap_or_else(|| args.out.with_file_name("failures.json"));
    crate::schema::write(&args.out, &merged.index)?;
    crate::schema::write(&failures_path, &FailureList::new(merged.failures.clone()))?;
    crate::schema::write_atomic(&md_path, markdown.as_bytes())
        .with_context(|| format!("writing {}", md_path.display()))?;
    if let Some(dir) = &args.html {
        let hint = html::InstallHint { registry: args.registry.as_deref(), signer_repo: args.signer_repo.as_deref() };
        let built = merged.newest.iter().filter(|o| o.result.status == crate::schema::result::Status::Built);
        let inventory = licenses::inventory(built.map(|o| (o.key(), o.licenses.as_ref())));
        let page = html::page(&view, &merged.index, &inventory, hint);
        html::write_site(dir, &page, &args.out)?;
    }
    let mut outputs = Vec::new();
    if let Some(image) = &push_to {
        let digest = push::push_index(image, &args.out, args.insecure_http).await?;
        crate::note!("pushed the index to {image}@{digest}");
        outputs.push((Output::IndexReference, format!("{image}@{digest}")));
    }
    if let Some(access) = &github {
        let (path, opened) = report_upstream(access, &args, &merged.failures).await?;
        outputs.push((Output::Issues, path.display().to_string()));
        outputs.push((Output::IssuesOpened, opened.to_string()));
    }
    let total = merged.tally.total();
    outputs.extend([
        (Output::BuiltIndex, args.out.display().to_string()),
        (Output::Failures, failures_path.display().to_string()),
        (Output::Report, md_path.display().to_string()),
        (Output::Jobs, total.jobs().to_string()),
        (Output::Published, total.published.to_string()),
        (Output::Failed, total.failed.to_string()),
        (Output::Unreadable, inputs.bad.len().to_string()),
    ]);
    runner.set_outputs(&outputs)?;
    runner.append_summary(&markdown)?;
    crate::note!(
        "read {} outcome(s) ({} unreadable); {}",
        inputs.files - inputs.bad.len() as u64,
        inputs.bad.len(),
        render::one_line(&merged.tally, &args.out)
    );
    Ok(Exit::Ok)
}

/// Every result file under `--results`, read; an unreadable one is a warning (printed defanged),
/// or the end with `--strict` or when nothing else could be read.
fn read_results(args: &ReportArgs) -> anyhow::Result<(Vec<merge::Outcome>, summary::Inputs)> {
    let (files, twice) = load::find(&args.results)?;
    if files.is_empty() {
        let shown: Vec<String> = args.results.iter().map(|p| p.display().to_string()).collect();
        return Err(usage(format!("no {RESULT_FILE} found in {}", shown.join(", "))));
    }
    let (outcomes, inputs) = load::read_all(&files, twice);
    for bad in &inputs.bad {
        // Paths and reasons come from other jobs' artifacts: printed defanged.
        let line = format!("warning: skipped {}: {}", bad.path, bad.reason);
        crate::note!("{}", crate::untrusted::printable(&line));
    }
    if let Some(first) = inputs.bad.first().filter(|_| args.strict || outcomes.is_empty()) {
        let fix =
            if args.strict { "fix or remove them, or drop --strict to report the rest" } else { "fix or remove them" };
        return Err(usage(format!(
            "{} of {} result file(s) could not be read (first: {}: {}); nothing written: {fix}",
            inputs.bad.len(),
            inputs.files,
            first.path,
            first.reason
        )));
    }
    Ok((outcomes, inputs))
}

/// `--open-issues`: open (or, dry, list) the upstream issues, write `issues.json`, say what was done.
/// Returns the path of `issues.json` and how many issues this run opened (none with `--dry-run`),
/// for the step outputs.
async fn report_upstream(
    access: &issues::Access,
    args: &ReportArgs,
    failures: &[crate::schema::report::FailureEntry],
) -> anyhow::Result<(std::path::PathBuf, usize)> {
    let path = args.issues.clone().unwrap_or_else(|| args.out.with_file_name("issues.json"));
    let list = issues::open_issues(access, failures, args.dry_run).await?;
    crate::schema::write(&path, &list)?;
    crate::note!("{}; recorded in {}", issues::summary(&list), path.display());
    Ok((path, issues::opened(&list)))
}

/// The `--previous` index: a missing file is an error unless `--previous-optional` (silently
/// starting a new index would re-plan every job).
fn read_previous(args: &ReportArgs) -> anyhow::Result<Option<BuiltIndex>> {
    let Some(path) = &args.previous else { return Ok(None) };
    if !path.exists() {
        if args.previous_optional {
            crate::note!("note: --previous {} does not exist yet: starting a new index", path.display());
            return Ok(None);
        }
        return Err(usage(format!(
            "--previous {} does not exist: give the index of the earlier run, or add --previous-optional on a first run (a new index re-plans every job)",
            path.display()
        )));
    }
    read_index(path).map(Some)
}

fn read_index(path: &Path) -> anyhow::Result<BuiltIndex> {
    crate::schema::read::<BuiltIndex>(path)
        .map_err(|e| usage(format!("--previous {}: {}", path.display(), one_line(&e))))
}
