//! How a finished build job reports itself: one line on stdout, GitHub step outputs
//! (`status`, `version`, `executables`, `failure-class`, `result-path`) and a Markdown step summary.

use std::path::Path;

use crate::actions::{md_cell, Output, Runner};
use crate::package::RESULT_FILE;
use crate::schema::result::{BuildResult, Status};

/// The one-line verdict printed on stdout.
pub fn verdict(result: &BuildResult, out: &Path) -> String {
    let who = format!(
        "{} {} for {}",
        result.crate_name,
        if result.version.is_empty() { "(unresolved)" } else { &result.version },
        result.target
    );
    match (&result.status, &result.failure) {
        (Status::Built, _) => {
            let exes: Vec<String> = result
                .executables
                .iter()
                .map(|e| format!("{} (smoke {})", e.name, smoke_name(e.smoke.status)))
                .collect();
            format!("built {who}: {} -> {}", exes.join(", "), out.display())
        }
        (Status::Failed, Some(f)) => {
            format!(
                "failed {who}: {}: {} (see {})",
                f.class,
                crate::untrusted::printable(&f.message),
                out.join(RESULT_FILE).display()
            )
        }
        (Status::Failed, None) => format!("failed {who} (see {})", out.join(RESULT_FILE).display()),
    }
}

/// The smoke status as result.json spells it (`passed`, `exited-nonzero`, ...).
fn smoke_name(status: crate::schema::result::SmokeStatus) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// The step summary table.
pub fn markdown(result: &BuildResult) -> String {
    let mut md = format!(
        "### cratemill build: `{}` {} for `{}`\n\n",
        md_cell(&result.crate_name),
        md_cell(&result.version),
        md_cell(&result.target)
    );
    match &result.failure {
        None => {
            md.push_str("| executable | size | static | smoke | sha256 |\n| --- | ---: | --- | --- | --- |\n");
            for e in &result.executables {
                md.push_str(&format!(
                    "| `{}` | {} | {} | {} | `{}` |\n",
                    md_cell(&e.name),
                    e.size,
                    if e.is_static { "yes" } else { "no" },
                    smoke_name(e.smoke.status),
                    &e.sha256[..16.min(e.sha256.len())]
                ));
            }
        }
        Some(f) => {
            md.push_str(&format!("**Failed** in `{}`: **{}**: {}\n\n", f.phase, f.class, md_cell(&f.message)));
            if !f.evidence.is_empty() {
                md.push_str("```text\n");
                for line in f.evidence.iter().take(30) {
                    md.push_str(&line.replace("```", "'''"));
                    md.push('\n');
                }
                md.push_str("```\n");
            }
        }
    }
    let timings: Vec<String> =
        result.timings_ms.iter().map(|(k, v)| format!("{k} {:.1}s", *v as f64 / 1000.0)).collect();
    md.push_str(&format!(
        "\nbackend `{}`, features `{}`; {}\n",
        result.backend,
        result.features_used.as_deref().unwrap_or("-"),
        timings.join(", ")
    ));
    md
}

/// Print the verdict (stdout when built; one `error:` line on stderr when not) and write the
/// runner's outputs and summary.
pub fn report(runner: &Runner, result: &BuildResult, out: &Path) -> anyhow::Result<()> {
    match result.status {
        Status::Built => crate::console::line(&verdict(result, out)),
        Status::Failed => crate::note!("error: {}", verdict(result, out)),
    }
    let status = match result.status {
        Status::Built => "built",
        Status::Failed => "failed",
    };
    let executables: Vec<&str> = result.executables.iter().map(|e| e.name.as_str()).collect();
    runner.set_outputs(&[
        (Output::Status, status.to_string()),
        (Output::Version, result.version.clone()),
        (Output::Executables, executables.join(",")),
        (Output::FailureClass, result.failure.as_ref().map(|f| f.class.to_string()).unwrap_or_default()),
        (Output::ResultPath, out.join(RESULT_FILE).display().to_string()),
        (Output::PackageDir, out.display().to_string()),
    ])?;
    runner.append_summary(&markdown(result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::result::{Failure, FailureClass};

    #[test]
    fn failed_summary_shows_class_and_evidence() {
        let mut r = BuildResult::new("x", "1.0.0", "x86_64-unknown-linux-gnu", crate::schema::Backend::Cargo);
        r.failure = Some(Failure {
            class: FailureClass::MissingSystemLibrary,
            phase: crate::schema::Phase::Build,
            message: "openssl | not found".into(),
            evidence: vec!["error: ```x".into()],
        });
        let md = markdown(&r);
        assert!(md.contains("**missing-system-library**: openssl \\| not found"), "{md}");
        assert!(md.contains("error: '''x"));
        assert!(verdict(&r, Path::new("o"))
            .starts_with("failed x 1.0.0 for x86_64-unknown-linux-gnu: missing-system-library"));
    }
}
