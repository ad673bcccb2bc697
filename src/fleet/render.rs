//! The `cratemill fleet` table for the terminal (Markdown, so docs/fleet.md can quote it). Pure.

use crate::schema::fleet::FleetReport;

/// Hours with one decimal.
pub fn hours(secs: u64) -> String {
    format!("{:.1} h", secs as f64 / 3600.0)
}

pub fn table(r: &FleetReport) -> String {
    let p = &r.parameters;
    let mut s = format!(
        "plan {}: {} crate versions, {} crate x target builds; mean build {} s, job overhead {} s, publish {} s per package, plan {} s, report {} s, grouped builds {}%\n\n",
        r.plan, r.crates, r.builds, p.mean_build_secs, p.job_overhead_secs, p.publish_per_package_secs, p.plan_secs, p.report_secs, p.grouped_build_percent
    );
    s.push_str(&format!(
        "baseline (one workflow run per crate, 256 crates per 3 h): {} runs, {} jobs, {}\n\n",
        r.baseline.runs,
        r.baseline.jobs,
        hours(r.baseline.wall_clock_secs)
    ));
    s.push_str(
        "| shape | runs | chunks | build jobs | all jobs | artifacts |\n| --- | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for sh in &r.shapes {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            sh.shape, sh.runs, sh.chunks, sh.build_jobs, sh.jobs, sh.artifacts
        ));
    }
    s.push_str("\n| shape | concurrent jobs | chunks in flight | wall clock | runner-minutes | peak REST/h (batched, per package) | vs baseline |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for sh in &r.shapes {
        for e in &sh.estimates {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {}, {} | {:.1}x |\n",
                sh.shape,
                e.concurrency,
                e.chunks_in_flight,
                hours(e.wall_clock_secs),
                e.runner_minutes,
                e.peak_api_per_hour,
                e.peak_api_per_hour_unbatched,
                e.speedup
            ));
        }
    }
    s.push_str("\n| shape | limit | value | max | fits |\n| --- | --- | ---: | ---: | --- |\n");
    for sh in &r.shapes {
        for l in &sh.limits {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                sh.shape,
                l.limit,
                l.value,
                l.max,
                if l.ok { "yes" } else { "**no**" }
            ));
        }
    }
    s
}
