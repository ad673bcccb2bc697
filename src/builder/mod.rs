//! `cratemill build`: one crate x one target, from crates.io to a package folder of static,
//! smoke-tested executables with licenses, checksums, build log, source archive and result.json.
//!
//! Pipeline (each step its own module): [`output`] (claim the output folder) -> resolve + fetch +
//! verify + unpack (`crates_io`) -> [`prepare`] (with [`harden`]) -> dependency fetch + offline
//! attempts ([`attempts`], [`backend`], [`env`], [`runner`], [`log`], [`classify`]), inside the
//! [`sandbox`] -> [`collect`] + `inspect` + `smoke` (a copy, in the sandbox) -> `license` ->
//! `srcbuild` + `package`. [`job`] runs them in order and always writes result.json.

pub mod args;
pub mod attempts;
pub mod backend;
pub mod classify;
pub mod collect;
pub mod env;
pub mod harden;
pub mod inspect;
pub mod job;
pub mod license;
pub mod log;
pub mod manifest;
pub mod output;
pub mod prepare;
pub mod runner;
pub mod sandbox;
pub mod smoke;
pub mod srcbuild;
pub mod summary;
pub mod toolchain;

pub use args::BuildArgs;

use crate::error::Exit;

/// Build, then publish when asked (`--publish`, `--registry`, `--oci-layout`). The destination is
/// validated before building, so a bad registry reference costs no build.
pub async fn run(args: BuildArgs) -> anyhow::Result<Exit> {
    let publish = args.wants_publish().then(|| args.publish_options.clone());
    if let Some(opts) = &publish {
        opts.destination()?;
    }
    let (exit, out) = job::run(args).await?;
    match (exit, publish) {
        (Exit::Ok, Some(opts)) => {
            let runner = crate::github::Runner::from_env();
            let record = crate::publish::publish_package(&out, &opts, &runner).await?;
            for r in &record.references {
                crate::console::line(&format!("published {}@{}", r.reference, r.digest));
            }
            Ok(Exit::Ok)
        }
        (exit, _) => Ok(exit),
    }
}
