//! `cratemill build`: one crate x one target, from crates.io to a package folder of static,
//! smoke-tested executables with licenses, checksums, build log, source archive and result.json.
//!
//! Pipeline (each step its own module): resolve + fetch + verify + unpack (`crates_io`) ->
//! [`prepare`] -> attempts ([`attempts`], [`backend`], [`env`], [`runner`], [`log`], [`classify`]) ->
//! [`collect`] + `inspect` + `smoke` ([`emulator`]) -> `license` -> `srcbuild` + `package`. [`job`] runs
//! them in order and always writes result.json; [`multi`] runs one job per `--target`.

pub mod args;
pub mod attempts;
pub mod backend;
pub mod classify;
pub mod collect;
pub mod emulator;
pub mod env;
pub mod inspect;
pub mod job;
pub mod license;
pub mod log;
pub mod manifest;
pub mod multi;
pub mod prepare;
pub mod runner;
pub mod smoke;
pub mod srcbuild;
pub mod summary;
pub mod toolchain;

pub use args::BuildArgs;

use crate::error::Exit;

/// Build (one job per `--target`, see [`multi`]), then publish each built package when asked
/// (`--publish`, `--registry`, `--oci-layout`). The destination is validated before building, so a
/// bad registry reference costs no build.
pub async fn run(args: BuildArgs) -> anyhow::Result<Exit> {
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
                    println!("published {}@{}", r.reference, r.digest);
                }
            }
            _ => exits.push(exit),
        }
    }
    Ok(multi::worst(&exits))
}
