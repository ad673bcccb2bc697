//! What a publish leaves behind: `publish.json` next to `result.json`, the GitHub step outputs
//! (`image`, `digest`, `srcbuild-image`, `srcbuild-digest`) and a step-summary table.

use crate::actions::{md_cell, Output, Runner};
use crate::oci::Pushed;
use crate::schema::publish::{PublishRecord, PushedReference, ReferenceKind};
use crate::schema::result::BuildResult;

use super::plan::{Destination, PublishPlan};

/// The record of a finished publish. Pure.
pub fn record(result: &BuildResult, dest: &Destination, plan: &PublishPlan, pushed: &[Pushed]) -> PublishRecord {
    let mut rec = PublishRecord::new(&result.crate_name, &result.version, &result.target, &dest.describe());
    rec.build_id = plan.build_id.clone();
    rec.layout = plan.scheme;
    for (planned, p) in plan.artifacts.iter().zip(pushed) {
        rec.references.push(PushedReference {
            reference: planned.image.to_string(),
            digest: p.digest.clone(),
            kind: planned.kind,
            artifact_type: planned.artifact.artifact_type.clone(),
            unchanged: p.unchanged,
            blobs_uploaded: p.blobs_uploaded,
            blobs_present: p.blobs_present,
            layers: planned.layers.clone(),
        });
    }
    rec
}

fn find(rec: &PublishRecord, kind: ReferenceKind) -> Option<&PushedReference> {
    rec.references.iter().find(|r| r.kind == kind)
}

/// The step outputs of a publish.
pub fn outputs(rec: &PublishRecord) -> Vec<(Output, String)> {
    let mut out = Vec::new();
    if let Some(b) = find(rec, ReferenceKind::Binary) {
        out.push((Output::Image, b.reference.clone()));
        out.push((Output::Digest, b.digest.clone()));
    }
    if let Some(s) = find(rec, ReferenceKind::Srcbuild) {
        out.push((Output::SrcbuildImage, s.reference.clone()));
        out.push((Output::SrcbuildDigest, s.digest.clone()));
    }
    out
}

/// A Markdown table of what was pushed.
pub fn summary(rec: &PublishRecord) -> String {
    let mut md = format!(
        "### Published {} {} ({})\n\n| kind | reference | digest | blobs uploaded |\n| --- | --- | --- | --- |\n",
        md_cell(&rec.crate_name),
        md_cell(&rec.version),
        md_cell(&rec.target)
    );
    for r in &rec.references {
        let kind = match r.kind {
            ReferenceKind::Binary => "binary",
            ReferenceKind::Srcbuild => "srcbuild",
            ReferenceKind::Attestation => "attestation",
        };
        let uploaded = if r.unchanged { "unchanged".to_string() } else { r.blobs_uploaded.to_string() };
        md.push_str(&format!("| {kind} | `{}` | `{}` | {uploaded} |\n", md_cell(&r.reference), md_cell(&r.digest)));
    }
    md
}

/// Write `publish.json` into the package folder and the runner's outputs and summary.
pub fn write(dir: &std::path::Path, rec: &PublishRecord, runner: &Runner) -> anyhow::Result<()> {
    crate::schema::write(&dir.join(crate::package::PUBLISH_FILE), rec)?;
    runner.set_outputs(&outputs(rec))?;
    runner.append_summary(&summary(rec))?;
    Ok(())
}
