//! Commands that chain phases: `build --publish` builds, then publishes each built package;
//! `publish --attest` publishes, then attests what it pushed. It sits above `builder`, `publish`
//! and `provenance` so that none depends on another for the chaining (`publish` uses
//! `builder::inspect` to re-derive facts from the bytes it pushes; `provenance` reads what
//! `publish` recorded). I/O edge: runs the phases.

use std::path::Path;

use crate::builder::{multi, BuildArgs};
use crate::error::{usage, Exit};
use crate::provenance::{self, sign::SignMode, AttestArgs, AttestOptions};
use crate::publish::{Destination, PublishArgs};

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

/// `cratemill publish` and its chained `--attest`.
#[derive(Debug, clap::Args)]
pub struct PublishCommand {
    #[command(flatten)]
    pub publish: PublishArgs,
    /// After a successful publish, attest the package (`cratemill attest` with the flags under
    /// "Attest"): the bundle is written to --out and, for a registry, attached to the pushed image as
    /// an OCI referrer. Nothing is attested when the publish fails.
    #[arg(long)]
    pub attest: bool,
    #[command(flatten, next_help_heading = "Attest (with --attest)")]
    pub attest_options: AttestOptions,
}

/// Publish one package folder, then attest it when asked (`--attest`). The attest flags are
/// checked before anything is pushed; an attest that fails after the publish says that the images
/// are published but unattested and how to attest them later, with the attest error's exit code.
pub async fn publish(cmd: PublishCommand) -> anyhow::Result<Exit> {
    let PublishCommand { publish, attest, attest_options } = cmd;
    if !attest {
        if let Some(flag) = attest_options.any_given() {
            return Err(usage(format!("{flag} is an attest flag: add --attest to attest after publishing")));
        }
        return crate::publish::run(publish).await;
    }
    let destination = publish.options.destination()?;
    let attest_args = AttestArgs {
        packages: vec![publish.package_dir.clone()],
        batch: false,
        // A registry image gets its bundle as a referrer; a local layout keeps the files only.
        attach: matches!(destination, Destination::Registry { .. }) && attest_options.sign != SignMode::None,
        insecure_http: publish.options.insecure_http,
        options: attest_options,
    };
    let ready = provenance::preflight(&attest_args)?;
    let dir = publish.package_dir.clone();
    crate::publish::run(publish).await?;
    let record =
        provenance::attest_ready(&attest_args, ready).await.map_err(|e| e.context(unattested(&dir, &attest_args)))?;
    provenance::announce(&record, &attest_args.options);
    Ok(Exit::Ok)
}

/// The words for an attest that failed after a publish: what state things are in, and the command
/// that finishes the job.
fn unattested(dir: &Path, args: &AttestArgs) -> String {
    let mut again = format!("cratemill attest {}", dir.display());
    if args.attach {
        again.push_str(" --attach");
    }
    if args.insecure_http {
        again.push_str(" --insecure-http");
    }
    let o = &args.options;
    again.push_str(&format!(" --sign {}", o.sign.name()));
    if let Some(key) = &o.key {
        again.push_str(&format!(" --key {}", key.display()));
    }
    if o.instance != provenance::keyless::Instance::Auto {
        again.push_str(&format!(" --instance {}", o.instance.name()));
    }
    if o.github_api {
        again.push_str(" --github-api");
    }
    again.push_str(&format!(" --out {}", o.out.display()));
    format!("the images of {} are published but unattested; attest them later with `{again}`", dir.display())
}
