//! `cratemill matrix`: from a crates.io db-dump to a chunked job plan.
//!
//! Validate every flag first ([`args`]), fetch the dump if it is a URL ([`crate::dump::fetch`]),
//! stream it through the plan collector ([`crate::plan`]) on a blocking thread (the dump reader
//! inflates on a second one), then write `plan.json`, `chunks/` and the index ([`output`]) and tell
//! the Actions runner ([`summary`]). The plan format and the funnel are described in
//! `docs/matrix.md` and [`crate::schema::plan`].

mod args;
pub mod output;
pub mod summary;

use std::path::PathBuf;

use anyhow::Context;

use crate::actions::Runner;
use crate::error::Exit;

pub use args::MatrixArgs;

pub async fn run(args: MatrixArgs) -> anyhow::Result<Exit> {
    let settings = args.validate()?;
    let runner = Runner::from_env();
    let dump_path: PathBuf = if crate::dump::fetch::is_url(&args.dump) {
        let options = crate::dump::fetch::Options::new(settings.cache_dir.clone());
        crate::dump::fetch::fetch(&args.dump, &options).await?.0
    } else {
        PathBuf::from(&args.dump)
    };
    let built = match &args.built {
        Some(path) => {
            let index = crate::schema::read(path).map_err(|e| {
                crate::error::usage(format!("--built {}: {}", path.display(), crate::error::one_line(&e)))
            })?;
            crate::plan::Built::new(&index)
        }
        None => crate::plan::Built::default(),
    };
    let options = settings.plan;
    let started = std::time::Instant::now();
    let plan = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut collector = crate::plan::Collector::new();
        let report = crate::dump::read_file(&dump_path, &mut collector)?;
        let collected = collector.finish();
        Ok((crate::plan::plan(collected, &report, &built, &options), report))
    })
    .await
    .context("the dump reader thread failed")??;
    let (planned, report) = plan;
    let plan = &planned.plan;
    let read = started.elapsed();
    output::write(&args.out, &planned)?;
    let written = started.elapsed() - read;
    if report.warnings.total() > 0 {
        for w in &plan.warnings {
            crate::note!(
                "warning: skipped {} row(s) of {} ({}), first at record {}",
                w.rows,
                w.table,
                w.reason,
                w.first_record
            );
        }
    }
    runner.set_outputs(&summary::outputs(plan, &args.out))?;
    runner.append_summary(&summary::markdown(plan))?;
    crate::note!("{}", summary::one_line(plan, &args.out));
    crate::note!(
        "read the dump and planned in {:.2} s, wrote the plan in {:.2} s",
        read.as_secs_f64(),
        written.as_secs_f64()
    );
    Ok(Exit::Ok)
}
