//! The report as Markdown (`report.md` and the step summary) and as one terminal line. Pure
//! formatting of [`View`]; lists are cut to fit the step summary's 1 MiB cap, totals never are.

use std::fmt::Write as _;

use crate::actions::md_cell;

use super::merge::Tally;
use super::summary::{Highlights, Inputs};

/// The step summary's cap (GitHub: 1 MiB), with room for what other steps append.
pub const SUMMARY_CAP: usize = 1024 * 1024 - 16 * 1024;

/// Everything the report shows.
pub struct View<'a> {
    pub tally: &'a Tally,
    pub highlights: &'a Highlights,
    pub inputs: &'a Inputs,
    /// Jobs in the built index after the merge.
    pub indexed: usize,
    /// Was a previous index read (so "newly" lists mean something)?
    pub had_previous: bool,
}

pub fn rate(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

/// The Markdown report with lists as long as fit under `cap` bytes (longest first: 50, 20, 5, 0).
pub fn markdown_capped(view: &View, cap: usize) -> String {
    let mut md = String::new();
    for limit in [50, 20, 5, 0] {
        md = markdown(view, limit);
        if md.len() <= cap {
            break;
        }
    }
    md
}

/// The Markdown report with every list cut to `limit` items (with a line saying how many more).
pub fn markdown(view: &View, limit: usize) -> String {
    let mut md = String::from("## cratemill report\n\n");
    funnel(&mut md, view);
    per_target(&mut md, view.tally);
    classes(&mut md, view.tally);
    executables(&mut md, view.highlights);
    let h = view.highlights;
    let slow = h.slowest.iter().map(|(k, ms)| format!("| {} | {} |", md_cell(&k.to_string()), seconds(*ms)));
    list(&mut md, "Slowest builds", "| job | build time |\n| --- | ---: |", slow, h.slowest.len(), limit);
    let big =
        h.biggest.iter().map(|(k, x, n)| format!("| {} | `{}` | {} |", md_cell(&k.to_string()), md_cell(x), bytes(*n)));
    list(
        &mut md,
        "Biggest executables",
        "| job | executable | size |\n| --- | --- | ---: |",
        big,
        h.biggest.len(),
        limit,
    );
    if view.had_previous {
        let new = h.newly_built.iter().map(|k| format!("| {} |", md_cell(&k.to_string())));
        list(&mut md, "Newly built since the previous index", "| job |\n| --- |", new, h.newly_built.len(), limit);
        let fail = h.newly_failing.iter().map(|(k, c)| format!("| {} | `{c}` |", md_cell(&k.to_string())));
        let title = "Newly failing since the previous index";
        list(&mut md, title, "| job | class |\n| --- | --- |", fail, h.newly_failing.len(), limit);
    }
    let bad = view.inputs.bad.iter().map(|b| format!("| `{}` | {} |", md_cell(&b.path), md_cell(&b.reason)));
    list(&mut md, "Unreadable result files", "| file | problem |\n| --- | --- |", bad, view.inputs.bad.len(), limit);
    md
}

fn funnel(md: &mut String, view: &View) {
    let (t, i) = (view.tally.total(), view.inputs);
    let read = i.files - i.bad.len() as u64;
    let _ = writeln!(
        md,
        "{} job outcome(s): **{} published**, {} built but not published (planned again), {} failed; success rate {}. The built index now lists {} job(s).\n",
        t.jobs(),
        t.published,
        t.unpublished,
        t.failed,
        rate(t.published + t.unpublished, t.jobs()),
        view.indexed
    );
    md.push_str("| funnel | count |\n| --- | ---: |\n");
    let _ = writeln!(md, "| result files | {} |", i.files);
    let _ = writeln!(md, "| unreadable (skipped) | {} |", i.bad.len());
    let _ = writeln!(md, "| same file named twice (counted once) | {} |", i.same_file_twice);
    let _ = writeln!(md, "| read | {read} |");
    let _ = writeln!(md, "| older outcomes of the same job (newest wins) | {} |", view.tally.superseded);
    let _ = writeln!(md, "| jobs | {} |", t.jobs());
    let _ = writeln!(md, "| built | {} |", t.published + t.unpublished);
    let _ = writeln!(md, "| published | {} |", t.published);
    let _ = writeln!(md, "| failed | {} |\n", t.failed);
}

fn per_target(md: &mut String, tally: &Tally) {
    md.push_str("| target | jobs | published | built, not published | failed | success |\n| --- | ---: | ---: | ---: | ---: | ---: |\n");
    for (target, t) in &tally.per_target {
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {} | {} | {} |",
            md_cell(target),
            t.jobs(),
            t.published,
            t.unpublished,
            t.failed,
            rate(t.published + t.unpublished, t.jobs())
        );
    }
}

fn classes(md: &mut String, tally: &Tally) {
    if tally.classes.is_empty() {
        return;
    }
    md.push_str("\n| failure class | jobs | retried by the next plan | example |\n| --- | ---: | --- | --- |\n");
    let mut classes: Vec<_> = tally.classes.iter().collect();
    classes.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(b.0)));
    for (class, (n, example)) in classes {
        let retried = if class.is_transient() { "yes" } else { "no (`--retry-failed`)" };
        let _ = writeln!(md, "| `{class}` | {n} | {retried} | {} |", md_cell(example));
    }
}

fn executables(md: &mut String, h: &Highlights) {
    let _ = writeln!(
        md,
        "\n### Executables per crate\n\n{} published crate(s) with {} executable(s): {:.2} per crate.\n",
        h.built_crates,
        h.executables,
        h.executables_per_crate()
    );
    md.push_str("| executables | crates |\n| --- | ---: |\n");
    for (i, n) in h.executables_histogram.iter().enumerate() {
        let label = if i == 4 { "5 or more".to_string() } else { (i + 1).to_string() };
        let _ = writeln!(md, "| {label} | {n} |");
    }
}

/// A titled table of at most `limit` rows; `total` is the list's full length.
fn list(md: &mut String, title: &str, header: &str, rows: impl Iterator<Item = String>, total: usize, limit: usize) {
    if total == 0 {
        return;
    }
    let _ = writeln!(md, "\n### {title} ({total})\n");
    if limit == 0 {
        md.push_str("(list left out to fit the step summary; see index.json and failures.json)\n");
        return;
    }
    let _ = writeln!(md, "{header}");
    for row in rows.take(limit) {
        let _ = writeln!(md, "{row}");
    }
    if total > limit {
        let _ = writeln!(md, "\n... and {} more (see index.json and failures.json).", total - limit);
    }
}

pub fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

pub fn bytes(n: u64) -> String {
    if n >= 1024 * 1024 {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}

pub fn one_line(tally: &Tally, index_path: &std::path::Path) -> String {
    let t = tally.total();
    format!(
        "{} published, {} built but not published, {} failed: {}",
        t.published,
        t.unpublished,
        t.failed,
        index_path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::merge::TargetTally;
    use crate::report::summary::BadFile;
    use crate::schema::result::FailureClass;
    use crate::schema::JobKey;

    #[test]
    fn rates_per_target_and_classes_by_count() {
        let mut tally = Tally::default();
        tally
            .per_target
            .insert("aarch64-unknown-linux-musl".into(), TargetTally { published: 3, unpublished: 0, failed: 1 });
        tally
            .per_target
            .insert("x86_64-unknown-linux-musl".into(), TargetTally { published: 0, unpublished: 0, failed: 0 });
        tally.classes.insert(FailureClass::Timeout, (1, "a@1 (t): slow | very".into()));
        tally.classes.insert(FailureClass::MissingSystemLibrary, (2, "b@1 (t): no alsa".into()));
        let inputs = Inputs { files: 4, ..Inputs::default() };
        let h = Highlights::default();
        let view = View { tally: &tally, highlights: &h, inputs: &inputs, indexed: 9, had_previous: false };
        let md = markdown(&view, 10);
        assert!(md.contains("4 job outcome(s): **3 published**, 0 built but not published (planned again), 1 failed; success rate 75.0%"), "{md}");
        assert!(md.contains("| `aarch64-unknown-linux-musl` | 4 | 3 | 0 | 1 | 75.0% |"), "{md}");
        assert!(md.contains("| `x86_64-unknown-linux-musl` | 0 | 0 | 0 | 0 | - |"), "{md}");
        let missing = md.find("`missing-system-library` | 2 | no").unwrap();
        let timeout = md.find("`timeout` | 1 | yes | a@1 (t): slow \\| very |").unwrap();
        assert!(missing < timeout, "most frequent class first: {md}");
    }

    #[test]
    fn long_lists_are_cut_to_fit_and_totals_stay() {
        let tally = Tally::default();
        let newly: Vec<JobKey> = (0..40_000)
            .map(|i| JobKey::new(&format!("crate-{i:05}-{}", "x".repeat(30)), "1.0.0", "x86_64-unknown-linux-musl"))
            .collect();
        let h = Highlights { newly_built: newly, ..Highlights::default() };
        let bad = (0..30_000)
            .map(|i| BadFile { path: format!("results/{i}/result.json"), reason: "not a JSON document".repeat(3) })
            .collect();
        let inputs = Inputs { files: 70_000, bad, ..Inputs::default() };
        let view = View { tally: &tally, highlights: &h, inputs: &inputs, indexed: 40_000, had_previous: true };
        assert!(markdown(&view, 40_000).len() > SUMMARY_CAP, "the uncut report is over the cap");
        let md = markdown_capped(&view, SUMMARY_CAP);
        assert!(md.len() <= SUMMARY_CAP, "{}", md.len());
        assert!(md.contains("### Newly built since the previous index (40000)"), "the total stays");
        assert!(md.contains("| unreadable (skipped) | 30000 |"));
        assert!(md.contains("... and 39950 more"), "cut to 50 rows");
    }
}
