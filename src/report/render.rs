//! The report as Markdown (`report.md` and the step summary) and as one terminal line.

use crate::github::md_cell;

use super::merge::Tally;

fn rate(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

pub fn markdown(tally: &Tally, indexed: usize) -> String {
    let mut md = String::from("## cratemill report\n\n");
    let total = tally.total();
    md += &format!(
        "{} job outcome(s): **{} published**, {} built but not published (planned again), {} failed; success rate {}. The built index now lists {indexed} job(s).\n\n",
        total.jobs(),
        total.published,
        total.unpublished,
        total.failed,
        rate(total.published + total.unpublished, total.jobs())
    );
    md += "| target | jobs | published | built, not published | failed | success |\n| --- | ---: | ---: | ---: | ---: | ---: |\n";
    for (target, t) in &tally.per_target {
        md += &format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            md_cell(target),
            t.jobs(),
            t.published,
            t.unpublished,
            t.failed,
            rate(t.published + t.unpublished, t.jobs())
        );
    }
    if !tally.classes.is_empty() {
        md += "\n| failure class | jobs | retried by the next plan | example |\n| --- | ---: | --- | --- |\n";
        let mut classes: Vec<_> = tally.classes.iter().collect();
        classes.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(b.0)));
        for (class, (n, example)) in classes {
            let retried = if class.is_transient() { "yes" } else { "no (`--retry-failed`)" };
            md += &format!("| `{class}` | {n} | {retried} | {} |\n", md_cell(example));
        }
    }
    md
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
    use crate::schema::result::FailureClass;

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
        let md = markdown(&tally, 9);
        assert!(md.contains("4 job outcome(s): **3 published**, 0 built but not published (planned again), 1 failed; success rate 75.0%"), "{md}");
        assert!(md.contains("| `aarch64-unknown-linux-musl` | 4 | 3 | 0 | 1 | 75.0% |"), "{md}");
        assert!(md.contains("| `x86_64-unknown-linux-musl` | 0 | 0 | 0 | 0 | - |"), "{md}");
        let missing = md.find("`missing-system-library` | 2 | no").unwrap();
        let timeout = md.find("`timeout` | 1 | yes | a@1 (t): slow \\| very |").unwrap();
        assert!(missing < timeout, "most frequent class first: {md}");
    }
}
