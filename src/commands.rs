//! Commands that chain phases: `build --publish` builds, then publishes each built package. It sits
//! above both `builder` and `publish` so that neither depends on the other (`publish` uses
//! `builder::inspect` to re-derive facts from the bytes it pushes). I/O edge: runs the phases.

use crate::builder::{multi, BuildArgs};
use crate::error::Exit;

/// Build (one job per `--target`), then publish when asked (`--publish`, `--registry`,
/// `--oci-layout`). The destination is validated before building, so a bad registry reference costs
/// no build. The exit code is the worst of the jobs'.
pub async fn build(args: BuildArgs) -> anyhow::Result<Exit> {
    let publish = args.wants_publish().then(|| args.publish_options.clone());
    if let Some(opts) = &publish {
        opts.destination()?;
    }
    let done = multi::run(&args).await?;
    let mut exits = Vec::new();
    for (exit, out) in done {
        match (exit, &publish) {
            (Exit::Ok, Some(opts)) => {
                let runner = crate::github::Runner::from_env();
                let record = crate::publish::publish_package(&out, opts, &runner).await?;
                for r in &record.references {
                    crate::console::line(&format!("published {}@{}", r.reference, r.digest));
                }
                exits.push(Exit::Ok);
            }
            _ => exits.push(exit),
        }
    }
    Ok(multi::worst(&exits))
}
