//! `report --html DIR`: a static site an organisation can publish (GitHub Pages): one
//! `index.html` with hand-written inline SVG charts (funnel, success per target, failure classes,
//! build-time distribution), a searchable table of every crate in the built index, and the license
//! inventory ([`super::licenses`]: licenses and how many binaries carry each, crates with license
//! problems, binaries with copyleft code). Every crate-provided string is escaped ([`esc`]). No
//! external scripts, styles or fonts: it renders offline. [`page`] is pure; [`write_site`] is the
//! I/O edge.
//!
//! Why hand-written SVG and not `plotters`: four bar charts are ~150 lines here, add no dependency
//! and no font handling (plotters' SVG backend embeds text with font families it cannot ship),
//! and the page stays a single file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use crate::schema::plan::BuiltIndex;
use crate::schema::result::Status;

use super::licenses::{problem_text, Inventory};
use super::render::{rate, View};

/// Build-time buckets of the distribution chart: (upper bound in seconds, label).
const TIME_BUCKETS: [(u64, &str); 8] = [
    (30, "<30s"),
    (60, "30s-1m"),
    (120, "1-2m"),
    (300, "2-5m"),
    (600, "5-10m"),
    (1200, "10-20m"),
    (2400, "20-40m"),
    (u64::MAX, ">40m"),
];

const GREEN: &str = "#2e7d32";
const AMBER: &str = "#f9a825";
const RED: &str = "#c62828";
const BLUE: &str = "#1565c0";

/// Escape text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One bar of a horizontal chart: label, segments (value, colour), and the text after the bar.
struct Bar {
    label: String,
    segments: Vec<(u64, &'static str)>,
    note: String,
}

/// A horizontal bar chart; every bar is scaled to the largest bar's total.
fn hbars(id: &str, title: &str, bars: &[Bar]) -> String {
    let (row, label_w, bar_w) = (22, 230, 420);
    let height = 30 + row * bars.len().max(1);
    let max = bars.iter().map(|b| b.segments.iter().map(|s| s.0).sum::<u64>()).max().unwrap_or(0).max(1);
    let mut svg = format!(
        "<svg id=\"{id}\" class=\"chart\" role=\"img\" aria-label=\"{t}\" viewBox=\"0 0 {w} {height}\" width=\"{w}\" height=\"{height}\"><title>{t}</title><text x=\"0\" y=\"16\" class=\"h\">{t}</text>",
        t = esc(title),
        w = label_w + bar_w + 140
    );
    for (i, bar) in bars.iter().enumerate() {
        let y = 28 + row * i;
        let _ =
            write!(svg, "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>", label_w - 6, y + 14, esc(&bar.label));
        let mut x = label_w as f64;
        for (value, colour) in &bar.segments {
            let w = *value as f64 * bar_w as f64 / max as f64;
            let _ = write!(svg, "<rect class=\"bar\" x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"16\" fill=\"{colour}\"><title>{value}</title></rect>");
            x += w;
        }
        let _ = write!(svg, "<text x=\"{:.1}\" y=\"{}\">{}</text>", x + 6.0, y + 14, esc(&bar.note));
    }
    svg.push_str("</svg>");
    svg
}

/// A vertical bar chart (a histogram).
fn vbars(id: &str, title: &str, bars: &[(String, u64)]) -> String {
    let (col, plot_h, top) = (70, 160, 30);
    let width = 20 + col * bars.len();
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1);
    let mut svg = format!(
        "<svg id=\"{id}\" class=\"chart\" role=\"img\" aria-label=\"{t}\" viewBox=\"0 0 {width} {h}\" width=\"{width}\" height=\"{h}\"><title>{t}</title><text x=\"0\" y=\"16\" class=\"h\">{t}</text>",
        t = esc(title),
        h = top + plot_h + 40
    );
    for (i, (label, n)) in bars.iter().enumerate() {
        let h = *n as f64 * plot_h as f64 / max as f64;
        let x = 20 + col * i;
        let y = top as f64 + 14.0 + plot_h as f64 - h;
        let _ = write!(
            svg,
            "<rect class=\"bar\" x=\"{x}\" y=\"{y:.1}\" width=\"{}\" height=\"{h:.1}\" fill=\"{BLUE}\"><title>{n}</title></rect><text x=\"{}\" y=\"{:.1}\" text-anchor=\"middle\">{n}</text><text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            col - 12,
            x + (col - 12) / 2,
            y - 3.0,
            x + (col - 12) / 2,
            top + plot_h + 32,
            esc(label)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn funnel_chart(view: &View) -> String {
    let (t, i) = (view.tally.total(), view.inputs);
    let steps = [
        ("result files", i.files, BLUE),
        ("read", i.files - i.bad.len() as u64, BLUE),
        ("jobs (newest outcome each)", t.jobs(), BLUE),
        ("built", t.published + t.unpublished, GREEN),
        ("published", t.published, GREEN),
        ("failed", t.failed, RED),
    ];
    let bars: Vec<Bar> = steps
        .iter()
        .map(|(label, n, c)| Bar { label: label.to_string(), segments: vec![(*n, c)], note: n.to_string() })
        .collect();
    hbars("chart-funnel", "Funnel", &bars)
}

fn target_chart(view: &View) -> String {
    let bars: Vec<Bar> = view
        .tally
        .per_target
        .iter()
        .map(|(target, t)| Bar {
            label: target.clone(),
            segments: vec![(t.published, GREEN), (t.unpublished, AMBER), (t.failed, RED)],
            note: rate(t.published + t.unpublished, t.jobs()),
        })
        .collect();
    hbars("chart-targets", "Success per target (published, built not published, failed)", &bars)
}

fn class_chart(view: &View) -> String {
    let mut classes: Vec<_> = view.tally.classes.iter().collect();
    classes.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(b.0)));
    let bars: Vec<Bar> = classes
        .iter()
        .map(|(class, (n, _))| Bar { label: class.to_string(), segments: vec![(*n, RED)], note: n.to_string() })
        .collect();
    hbars("chart-classes", "Failure classes", &bars)
}

fn time_chart(view: &View) -> String {
    let mut counts = [0u64; TIME_BUCKETS.len()];
    for ms in &view.highlights.durations_ms {
        let secs = ms / 1000;
        let i = TIME_BUCKETS.iter().position(|(max, _)| secs < *max).unwrap_or(TIME_BUCKETS.len() - 1);
        counts[i] += 1;
    }
    let bars: Vec<(String, u64)> = TIME_BUCKETS.iter().zip(counts).map(|((_, l), n)| (l.to_string(), n)).collect();
    vbars("chart-times", "Build time distribution (jobs)", &bars)
}

/// One row of the crate table: the newest published version, its targets and references.
#[derive(Default)]
struct Row {
    version: String,
    versions: Vec<String>,
    built: Vec<String>,
    failed: Vec<String>,
    executables: Vec<String>,
    reference: Option<String>,
    attestation: Option<String>,
}

fn rows(index: &BuiltIndex) -> BTreeMap<&str, Row> {
    let mut rows: BTreeMap<&str, Row> = BTreeMap::new();
    for e in &index.entries {
        let row = rows.entry(e.crate_name.as_str()).or_default();
        if !row.versions.contains(&e.version) {
            row.versions.push(e.version.clone());
        }
        match e.status {
            Status::Built => {
                row.built.push(e.target.clone());
                if row.version.is_empty() || crate::crates_io::newer(&e.version, &row.version) {
                    row.version = e.version.clone();
                    row.reference = e.reference.clone();
                }
            }
            Status::Failed => row.failed.push(e.target.clone()),
        }
    }
    for x in &index.executables {
        if let Some(row) = rows.get_mut(x.crate_name.as_str()) {
            if !row.executables.contains(&x.name) {
                row.executables.push(x.name.clone());
            }
            if x.attestation.is_some() && x.version == row.version {
                row.attestation = x.attestation.clone();
            }
        }
    }
    rows
}

/// The registry prefix of a per-crate reference: `host/ns/crate:tag` -> `host/ns`; none for a
/// local image layout, which `install --from` cannot read.
fn registry_of(reference: &str) -> Option<String> {
    reference.parse::<crate::oci::ImageRef>().ok()?.registry_prefix()
}

/// What the site's install commands name: the registry, and the repository whose workflow signs
/// the attestations (`--repo`: `install` verifies an attested image only against a named signer).
#[derive(Debug, Clone, Copy, Default)]
pub struct InstallHint<'a> {
    pub registry: Option<&'a str>,
    pub signer_repo: Option<&'a str>,
}

fn table(index: &BuiltIndex, hint: InstallHint<'_>) -> String {
    let mut html = String::from("<table id=\"crates\"><thead><tr><th>crate</th><th>version</th><th>executables</th><th>targets built</th><th>failed on</th><th>install</th><th>provenance</th></tr></thead><tbody>\n");
    for (name, row) in rows(index) {
        let derived = row.reference.as_deref().and_then(registry_of);
        let from = hint.registry.or(derived.as_deref());
        let signer = match (&row.attestation, hint.signer_repo) {
            (Some(_), Some(repo)) => format!(" --repo {}", esc(repo)),
            _ => String::new(),
        };
        let install = match (row.version.is_empty(), from) {
            (false, Some(from)) => {
                format!(
                    "<code>cratemill install {}@{} --from {}{signer}</code>",
                    esc(name),
                    esc(&row.version),
                    esc(from)
                )
            }
            _ => "-".to_string(),
        };
        let provenance = match (&row.attestation, &row.reference) {
            (Some(a), _) => format!(
                "<a href=\"https://search.sigstore.dev/?hash={}\">{}</a>",
                esc(a.rsplit('@').next().unwrap_or("")),
                esc(a)
            ),
            (None, Some(r)) => format!("no attestation yet; image <code>{}</code>", esc(r)),
            (None, None) => "-".to_string(),
        };
        let _ = writeln!(
            html,
            "<tr><td><a href=\"https://crates.io/crates/{n}\">{n}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{install}</td><td>{provenance}</td></tr>",
            esc(if row.version.is_empty() { &row.versions[0] } else { &row.version }),
            esc(&row.executables.join(", ")),
            esc(&row.built.join(", ")),
            esc(&row.failed.join(", ")),
            n = esc(name)
        );
    }
    html.push_str("</tbody></table>\n");
    html
}

/// How many licenses the inventory's chart shows (the table has them all).
const LICENSE_BARS: usize = 20;

/// The license inventory: a chart of the most carried licenses, then the three tables.
fn licenses_section(inv: &Inventory) -> String {
    let mut html = String::from("<h2 id=\"licenses-inventory\">Licenses</h2>\n");
    let _ = writeln!(
        html,
        "<p>The licenses of every package compiled into the {} built package(s) with a license list, by how many of them carry each (a license counts when any compiled package's expression names it).{}</p>",
        inv.listed,
        match inv.unlisted.len() {
            0 => String::new(),
            n => format!(" {n} built package(s) predate license lists and are not counted: rebuild them."),
        }
    );
    let bars: Vec<Bar> = inv
        .licenses
        .iter()
        .take(LICENSE_BARS)
        .map(|r| Bar {
            label: r.license.clone(),
            segments: vec![(r.binaries, if r.copyleft.is_some() { AMBER } else { BLUE })],
            note: r.binaries.to_string(),
        })
        .collect();
    if !bars.is_empty() {
        html.push_str(&hbars("chart-licenses", "Licenses in built packages (copyleft in amber)", &bars));
        html.push('\n');
    }
    html.push_str(
        "<table id=\"licenses\"><thead><tr><th>license</th><th>binaries</th><th>copyleft</th></tr></thead><tbody>\n",
    );
    for r in &inv.licenses {
        let family = r.copyleft.map_or("", |c| c.name());
        let _ = writeln!(html, "<tr><td>{}</td><td>{}</td><td>{family}</td></tr>", esc(&r.license), r.binaries);
    }
    html.push_str("</tbody></table>\n");
    html.push_str(&problems_table(inv));
    html.push_str(&copyleft_table(inv));
    html
}

fn problems_table(inv: &Inventory) -> String {
    let mut html = format!("<h3>Crates with license problems ({})</h3>\n", inv.problems.len());
    html.push_str("<table id=\"license-problems\"><thead><tr><th>crate</th><th>version</th><th>license as written</th><th>problems</th><th>binaries</th></tr></thead><tbody>\n");
    for p in &inv.problems {
        let c = &p.crate_;
        let problems: Vec<&str> = c.problems.iter().map(|x| problem_text(*x)).collect();
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.name),
            esc(&c.version),
            c.license.as_deref().map_or_else(|| "-".to_string(), |l| format!("<code>{}</code>", esc(l))),
            problems.join(", "),
            p.binaries
        );
    }
    html.push_str("</tbody></table>\n");
    html
}

fn copyleft_table(inv: &Inventory) -> String {
    let mut html = format!(
        "<h3>Binaries with copyleft code ({})</h3>\n<p>Built packages that compile in a package whose license expression no choice satisfies without a GPL, AGPL, LGPL or MPL license (<code>MIT OR GPL-3.0-only</code> is not listed: MIT can be picked).</p>\n",
        inv.copyleft.len()
    );
    html.push_str(
        "<table id=\"copyleft\"><thead><tr><th>binary</th><th>copyleft</th><th>brought by</th></tr></thead><tbody>\n",
    );
    for row in &inv.copyleft {
        let families: Vec<&str> = row.families.iter().map(|c| c.name()).collect();
        let by: Vec<String> = row
            .by
            .iter()
            .map(|b| format!("{} {} (<code>{}</code>)", esc(&b.name), esc(&b.version), esc(&b.expression)))
            .collect();
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&row.job.to_string()),
            families.join(", "),
            by.join("<br>")
        );
    }
    html.push_str("</tbody></table>\n");
    html
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}svg.chart{display:block;margin:1em 0;font-size:12px;font-family:inherit}svg .h{font-weight:bold;font-size:14px}.charts{display:flex;flex-wrap:wrap;gap:2em}table{border-collapse:collapse;font-size:13px;width:100%}th,td{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}code{font-size:12px}#q{font-size:15px;padding:4px;width:30em}";

/// The search: hide rows whose text does not contain every word typed; show the count.
const SCRIPT: &str = "(function(){var q=document.getElementById('q'),rows=[].slice.call(document.querySelectorAll('#crates tbody tr')),c=document.getElementById('count');function f(){var w=q.value.toLowerCase().split(/\\s+/).filter(Boolean),n=0;rows.forEach(function(r){var t=r.textContent.toLowerCase(),ok=w.every(function(x){return t.indexOf(x)>=0});r.style.display=ok?'':'none';if(ok)n++});c.textContent=n+' of '+rows.length+' crates';}q.addEventListener('input',f);f();document.body.setAttribute('data-ready','1');})();";

/// The whole page.
pub fn page(view: &View, index: &BuiltIndex, licenses: &Inventory, hint: InstallHint<'_>) -> String {
    let t = view.tally.total();
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>cratemill mirror report</title><style>{STYLE}</style></head><body>\n<h1>cratemill mirror report</h1>\n<p>{} job outcome(s): <b>{} published</b>, {} built but not published, {} failed; success rate {}. {:.2} executables per published crate. The built index lists {} job(s). Generated {}.</p>\n<div class=\"charts\">",
        t.jobs(),
        t.published,
        t.unpublished,
        t.failed,
        rate(t.published + t.unpublished, t.jobs()),
        view.highlights.executables_per_crate(),
        view.indexed,
        esc(&index.generated_at)
    );
    for chart in [funnel_chart(view), target_chart(view), class_chart(view), time_chart(view)] {
        html.push_str(&chart);
        html.push('\n');
    }
    html.push_str("</div>\n<h2>Crates</h2>\n<p><input id=\"q\" type=\"search\" title=\"search crates, targets, executables\" aria-label=\"search crates, targets, executables\"> <span id=\"count\"></span></p>\n");
    html.push_str(&table(index, hint));
    html.push_str(&licenses_section(licenses));
    let _ = write!(html, "<script>{SCRIPT}</script>\n</body></html>\n");
    html
}

/// Write `DIR/index.html`, a copy of the built index as `DIR/index.json`, and `.nojekyll`.
pub fn write_site(dir: &Path, page: &str, index_file: &Path) -> anyhow::Result<()> {
    let ctx = || format!("writing the site to {}", dir.display());
    std::fs::create_dir_all(dir).with_context(ctx)?;
    crate::schema::write_atomic(&dir.join("index.html"), page.as_bytes()).with_context(ctx)?;
    std::fs::copy(index_file, dir.join("index.json")).with_context(ctx)?;
    crate::schema::write_atomic(&dir.join(".nojekyll"), b"").with_context(ctx)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_registry_prefix() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(registry_of("ghcr.io/acme/rg:1.0.0-x").as_deref(), Some("ghcr.io/acme"));
    }

    #[test]
    fn attested_crates_name_their_signer_in_the_install_command() {
        use crate::schema::plan::{BuiltEntry, ExecutableEntry};
        let entry = |name: &str| -> BuiltEntry {
            serde_json::from_value(serde_json::json!({
                "crate": name, "version": "1.0.0", "target": "x86_64-unknown-linux-musl", "status": "built",
                "reference": format!("ghcr.io/acme/{name}:1.0.0-x86_64-unknown-linux-musl"), "digest": "sha256:00"
            }))
            .unwrap()
        };
        let exe = |name: &str, attestation: Option<&str>| ExecutableEntry {
            crate_name: name.into(),
            version: "1.0.0".into(),
            target: "x86_64-unknown-linux-musl".into(),
            name: name.into(),
            reference: format!("ghcr.io/acme/{name}:1.0.0-x86_64-unknown-linux-musl"),
            manifest_digest: "sha256:00".into(),
            layer_digest: None,
            size: 1,
            sha256: String::new(),
            licenses: None,
            attestation: attestation.map(str::to_string),
            built_at: String::new(),
        };
        let index = BuiltIndex {
            schema_version: 1,
            kind: "cratemill.built-index".into(),
            generated_at: String::new(),
            entries: vec![entry("signed"), entry("plain")],
            executables: vec![exe("signed", Some("ghcr.io/acme/signed@sha256:ab")), exe("plain", None)],
        };
        let hint = InstallHint { registry: None, signer_repo: Some("acme/mirror") };
        let html = table(&index, hint);
        assert!(
            html.contains("cratemill install signed@1.0.0 --from ghcr.io/acme --repo acme/mirror</code>"),
            "{html}"
        );
        assert!(html.contains("cratemill install plain@1.0.0 --from ghcr.io/acme</code>"), "{html}");
        let html = table(&index, InstallHint::default());
        assert!(html.contains("cratemill install signed@1.0.0 --from ghcr.io/acme</code>"), "no signer known: {html}");
    }

    #[test]
    fn the_license_inventory_escapes_what_crates_wrote() {
        use crate::license_policy::Copyleft;
        use crate::report::licenses::{Binding, CopyleftRow, Flagged, LicenseRow, ProblemRow};
        use crate::schema::result::LicenseProblem;
        let hostile = "<img src=x onerror=alert(1)>";
        let inv = Inventory {
            listed: 2,
            unlisted: vec![crate::schema::JobKey::new("old", "0.1.0", "t")],
            licenses: vec![LicenseRow { license: "LicenseRef-<b>".into(), binaries: 2, copyleft: None }],
            problems: vec![ProblemRow {
                crate_: Flagged {
                    name: "odd".into(),
                    version: "1.0.0".into(),
                    license: Some(hostile.into()),
                    problems: vec![LicenseProblem::InvalidExpression],
                },
                binaries: 2,
            }],
            copyleft: vec![CopyleftRow {
                job: crate::schema::JobKey::new("tool", "1.0.0", "t"),
                families: [Copyleft::Gpl].into(),
                by: vec![Binding {
                    name: "g\"pl".into(),
                    version: "1.0.0".into(),
                    expression: "GPL-3.0-only".into(),
                    families: [Copyleft::Gpl].into(),
                }],
            }],
        };
        let html = licenses_section(&inv);
        assert!(!html.contains("<img") && !html.contains("<b>"), "{html}");
        assert!(
            html.contains(
                "<code>&lt;img src=x onerror=alert(1)&gt;</code></td><td>not an SPDX expression</td><td>2</td>"
            ),
            "{html}"
        );
        assert!(
            html.contains("<td>tool@1.0.0 (t)</td><td>GPL</td><td>g&quot;pl 1.0.0 (<code>GPL-3.0-only</code>)</td>"),
            "{html}"
        );
        assert!(html.contains("1 built package(s) predate license lists"), "{html}");
    }
}
