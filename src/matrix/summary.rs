//! What the runner gets: step outputs small enough for a matrix (`chunks`: the first run's chunk
//! ids) and a step summary with the funnel, per target, and the run split.

use std::path::Path;

use crate::actions::{md_cell, Output};
use crate::schema::plan::Plan;

/// Step outputs: `chunks` (JSON list of the first run's chunk ids, at most 256), `runs`, `jobs`,
/// `plan` and `chunk-index` (paths).
pub fn outputs(plan: &Plan, out: &Path) -> Vec<(Output, String)> {
    let first: Vec<&str> =
        plan.runs.first().map(|r| r.chunks.iter().map(|c| c.id.as_str()).collect()).unwrap_or_default();
    vec![
        (Output::Chunks, serde_json::to_string(&first).expect("strings serialize")),
        (Output::Runs, plan.runs.len().to_string()),
        (Output::Jobs, plan.funnel.jobs.to_string()),
        (Output::Plan, out.join("plan.json").display().to_string()),
        (Output::ChunkIndex, out.join("chunks").join("index.json").display().to_string()),
    ]
}

/// One line for the terminal.
pub fn one_line(plan: &Plan, out: &Path) -> String {
    let f = &plan.funnel;
    format!(
        "planned {} jobs ({} crates selected of {}; {} already built, {} failed before, {} risky skipped, {} deferred) in {} chunks, {} run(s): {}",
        f.jobs,
        f.selected,
        f.crates,
        f.skipped_built,
        f.skipped_failed,
        f.skipped_risky,
        f.deferred,
        plan.runs.iter().map(|r| r.chunks.len()).sum::<usize>(),
        plan.runs.len(),
        out.join("plan.json").display()
    )
}

/// The step summary.
pub fn markdown(plan: &Plan) -> String {
    let f = &plan.funnel;
    let mut md = String::from("## cratemill matrix\n\n");
    md.push_str(&format!(
        "Dump `{}`{}, candidates since {}.\n\n",
        md_cell(&plan.dump),
        plan.dump_name.as_deref().map(|n| format!(" ({})", md_cell(n))).unwrap_or_default(),
        plan.since
    ));
    md.push_str("| step | crates |\n| --- | ---: |\n");
    for (step, n) in [
        ("total crates", f.crates),
        ("with a non-yanked version", f.with_candidate),
        ("with binaries", f.with_binaries),
        ("in command-line-utilities", f.cli_category),
        ("binaries or CLI category", f.binaries_or_cli),
        ("recent (selected)", f.selected),
        ("flagged risky", f.risky),
    ] {
        md.push_str(&format!("| {step} | {n} |\n"));
    }
    md.push_str("\n| target | possible | built | failed before | risky skipped | deferred | jobs |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (target, t) in &f.per_target {
        md.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} |\n",
            md_cell(target),
            t.possible_jobs,
            t.skipped_built,
            t.skipped_failed,
            t.skipped_risky,
            t.deferred,
            t.jobs
        ));
    }
    md.push_str(&format!(
        "| **all** | {} | {} | {} | {} | {} | **{}** |\n\n",
        f.possible_jobs, f.skipped_built, f.skipped_failed, f.skipped_risky, f.deferred, f.jobs
    ));
    if plan.runs.len() > 1 {
        md.push_str(&format!(
            "**The plan exceeds one workflow run's limits** (256 chunks, 50,000 jobs): it is split into {} runs. This run's `chunks` output covers run 1; `chunks/index.json` lists the chunks of runs 2..{}.\n\n",
            plan.runs.len(),
            plan.runs.len()
        ));
    }
    if !plan.warnings.is_empty() {
        md.push_str("Skipped dump rows:\n\n");
        for w in &plan.warnings {
            md.push_str(&format!(
                "- {} × {} ({}), first at record {}\n",
                w.rows,
                md_cell(&w.table),
                md_cell(&w.reason),
                w.first_record
            ));
        }
    }
    md
}
