//! Commands that chain phases: `build --publish` builds, then publishes each built package;
//! `publish --attest` publishes, then attests what it pushed; `build --publish --attest` does all
//! three. Both commands run one chain ([`publish_chain`], with the attest step prepared by
//! [`AttestRequest::prepare`]). It sits above `builder`, `publish` and `provenance` so that none
//! depends on another for the chaining (`publish` uses `elf` to re-derive facts from
//! the bytes it pushes; `provenance` reads what `publish` recorded). I/O edge: runs the phases.
//! A build refused before it starts (a backend that cannot make the target, no backend at all)
//! still leaves a failed result.json in `--out` ([`refusal`], pure), so that a fleet job is
//! counted and reported like any failed one.

use std::path::PathBuf;

use crate::builder::backend::BackendChoice;
use crate::builder::{self, invocation, BuildArgs};
use crate::error::{usage, Exit};
use crate::provenance::{self, sign::SignMode, AttestArgs, AttestOptions};
use crate::publish::{Destination, PublishArgs, PublishOptions};
use crate::schema::result::BuildResult;
use crate::schema::{Backend, Phase};

/// The help heading of the attest flags of `build`.
const BUILD_ATTEST_HEADING: &str = "Attest (with --publish --attest)";

/// `cratemill build` and its chained `--publish` and `--attest`.
#[derive(Debug, clap::Args)]
pub struct BuildCommand {
    #[command(flatten)]
    pub build: BuildArgs,
    /// After a successful build, publish the package (to --registry, else to a local OCI layout).
    /// Implied by --registry and --oci-layout.
    #[arg(long)]
    pub publish: bool,
    #[command(flatten, next_help_heading = "Publishing (with --publish)")]
    pub publish_options: PublishOptions,
    /// After a successful publish, attest the published packages (`cratemill attest` with the
    /// flags under this heading): the bundles are written to --attest-out and, for a registry,
    /// attached to the pushed images as OCI referrers. Needs --publish (or --registry,
    /// --oci-layout).
    #[arg(long, help_heading = BUILD_ATTEST_HEADING)]
    pub attest: bool,
    #[command(flatten, next_help_heading = BUILD_ATTEST_HEADING)]
    pub attest_options: AttestOptions,
    /// Folder for the statements, bundles and attest.json (`cratemill attest --out`; here --out
    /// names the package folder) [default: ./cratemill-attest].
    #[arg(long, value_name = "DIR", help_heading = BUILD_ATTEST_HEADING)]
    pub attest_out: Option<PathBuf>,
}

impl BuildCommand {
    /// Does this invocation chain into `cratemill publish`?
    pub fn wants_publish(&self) -> bool {
        self.publish || self.publish_options.registry.is_some() || self.publish_options.oci_layout.is_some()
    }
}

/// Build (one job per `--target`), then publish when asked (`--publish`, `--registry`,
/// `--oci-layout`), then attest what was published when asked (`--attest`). The destination, the
/// license policy and the attest flags are checked before building, so a bad registry reference, a
/// bad `--deny-license` or a missing key costs no build. The exit code is the worst of the jobs'.
pub async fn build(cmd: BuildCommand) -> anyhow::Result<Exit> {
    let wants_publish = cmd.wants_publish();
    let BuildCommand { build: args, publish: _, publish_options, attest, attest_options, attest_out } = cmd;
    if attest && !wants_publish {
        return Err(usage("--attest attests what is published: add --publish (or --registry, --oci-layout)"));
    }
    let request = AttestRequest { attest, options: attest_options, out: attest_out, out_flag: "--attest-out" };
    let attest = request.prepare(&publish_options)?;
    let licenses = &publish_options.licenses;
    if !wants_publish && (!licenses.deny_license.is_empty() || licenses.deny_unlicensed) {
        return Err(usage(
            "--deny-license and --deny-unlicensed are publish policies: add --publish (or --registry, --oci-layout)",
        ));
    }
    let publish = wants_publish.then_some(publish_options);
    if let Some(opts) = &publish {
        opts.destination()?;
        opts.licenses.policy()?;
    }
    let done = match builder::run(&args).await {
        Ok(done) => done,
        Err(e) => {
            record_refusal(&args, &e);
            return Err(e);
        }
    };
    let exits: Vec<Exit> = done.iter().map(|(exit, _)| *exit).collect();
    if let Some(opts) = &publish {
        let built: Vec<PathBuf> = done.into_iter().filter(|(e, _)| *e == Exit::Ok).map(|(_, out)| out).collect();
        publish_chain(&built, opts, attest, "published ").await?;
    }
    Ok(invocation::worst(&exits))
}

/// The failed result of a build refused before it started: for one `--target`, an exact version
/// and an `--out` folder (a fleet job's shape), else `None` (nothing to name the job by). Pure.
pub fn refusal(args: &BuildArgs, message: &str) -> Option<(PathBuf, BuildResult)> {
    use crate::schema::result::{Failure, FailureClass};
    let [target] = args.targets.as_slice() else { return None };
    let (name, version) = args.spec.split_once('@')?;
    let out = args.out.clone()?;
    let backend = match args.backend {
        BackendChoice::Cross => Backend::Cross,
        BackendChoice::Zigbuild => Backend::Zigbuild,
        // `auto` chose none; recorded as cargo, the message says why nothing could build.
        BackendChoice::Cargo | BackendChoice::Auto => Backend::Cargo,
    };
    let mut result = BuildResult::new(name, version.trim_start_matches('='), target, backend);
    result.finished_at = result.started_at.clone();
    // Unknown is transient: the next plan tries the job again, once the setup may have changed.
    result.failure = Some(Failure {
        class: FailureClass::Unknown,
        phase: Phase::Setup,
        message: format!("refused before the build started: {message}"),
        evidence: vec![message.to_string()],
    });
    Some((out, result))
}

/// Write [`refusal`]'s result.json into `--out` when that folder is absent or empty (never into a
/// folder the build left or refused to overwrite); a failure to write is said, not fatal (the
/// refusal is the error that matters).
fn record_refusal(args: &BuildArgs, err: &anyhow::Error) {
    let Some((out, result)) = refusal(args, &crate::error::one_line(err)) else { return };
    let file = out.join(crate::package::RESULT_FILE);
    let empty = std::fs::read_dir(&out).map(|mut d| d.next().is_none()).unwrap_or(!out.exists());
    if !empty {
        return;
    }
    let written =
        std::fs::create_dir_all(&out).map_err(anyhow::Error::from).and_then(|()| crate::schema::write(&file, &result));
    match written {
        Ok(()) => crate::note!("cratemill: the refusal is recorded in {}", file.display()),
        Err(e) => crate::note!("warning: could not record the refusal in {}: {e}", file.display()),
    }
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
    /// Folder for the statements, bundles and attest.json [default: ./cratemill-attest].
    #[arg(long = "out", value_name = "DIR", help_heading = "Attest (with --attest)")]
    pub attest_out: Option<PathBuf>,
}

/// Publish one package folder, then attest it when asked (`--attest`). The attest flags are
/// checked before anything is pushed; an attest that fails after the publish says that the images
/// are published but unattested and how to attest them later, with the attest error's exit code.
pub async fn publish(cmd: PublishCommand) -> anyhow::Result<Exit> {
    let PublishCommand { publish, attest, attest_options, attest_out } = cmd;
    let request = AttestRequest { attest, options: attest_options, out: attest_out, out_flag: "--out" };
    let attest = request.prepare(&publish.options)?;
    publish_chain(&[publish.package_dir], &publish.options, attest, "").await?;
    Ok(Exit::Ok)
}

/// `--attest` and its flags as a publishing command took them.
struct AttestRequest {
    attest: bool,
    options: AttestOptions,
    /// The attest output folder, when given.
    out: Option<PathBuf>,
    /// What the command calls the output folder flag.
    out_flag: &'static str,
}

/// The attest step that follows a publish, checked and prepared before anything runs.
struct AttestAfter {
    args: AttestArgs,
    ready: provenance::Ready,
}

impl AttestRequest {
    /// Without `--attest`, refuse any attest flag; with it, validate the destination `publish`
    /// pushes to and run the attest flag checks ([`provenance::preflight`]: key read, token offered).
    fn prepare(self, publish: &PublishOptions) -> anyhow::Result<Option<AttestAfter>> {
        let AttestRequest { attest, options, out, out_flag } = self;
        if !attest {
            if let Some(flag) = options.any_given().or(out.is_some().then_some(out_flag)) {
                return Err(usage(format!("{flag} is an attest flag: add --attest to attest after publishing")));
            }
            return Ok(None);
        }
        let destination = publish.destination()?;
        let args = AttestArgs {
            packages: Vec::new(),
            batch: false,
            // A registry image gets its bundle as a referrer; a local layout keeps the files only.
            attach: matches!(destination, Destination::Registry { .. }) && options.sign != SignMode::None,
            insecure_http: publish.insecure_http,
            options,
            out: out.unwrap_or_else(|| PathBuf::from(provenance::DEFAULT_OUT)),
        };
        let ready = provenance::preflight(&args)?;
        Ok(Some(AttestAfter { args, ready }))
    }
}

/// Publish each package folder in turn, then attest them all when asked: the one chain behind
/// `publish [--attest]` and `build --publish [--attest]`. `label` starts each published line. A
/// failure after some images are published (a later publish, or the attest) says which are
/// published but unattested and how to attest them.
async fn publish_chain(
    dirs: &[PathBuf],
    opts: &PublishOptions,
    attest: Option<AttestAfter>,
    label: &str,
) -> anyhow::Result<()> {
    let runner = crate::actions::Runner::from_env();
    for (n, dir) in dirs.iter().enumerate() {
        let record = match (crate::publish::publish_package(dir, opts, &runner).await, &attest) {
            (Ok(record), _) => record,
            (Err(e), Some(a)) if n > 0 => return Err(e.context(unattested(&dirs[..n], &a.args))),
            (Err(e), _) => return Err(e),
        };
        for r in &record.references {
            crate::console::line(&format!("{label}{}@{}", r.reference, r.digest));
        }
    }
    let Some(AttestAfter { mut args, ready }) = attest else { return Ok(()) };
    if dirs.is_empty() {
        return Ok(());
    }
    args.packages = dirs.to_vec();
    let record = provenance::attest_ready(&args, ready).await.map_err(|e| e.context(unattested(dirs, &args)))?;
    provenance::announce(&record, &args);
    Ok(())
}

/// The words for an attest that failed (or never ran) after a publish: what state things are in,
/// and the command that finishes the job.
fn unattested(dirs: &[PathBuf], args: &AttestArgs) -> String {
    let dirs = dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(" ");
    let mut again = format!("cratemill attest {dirs}");
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
    again.push_str(&format!(" --out {}", args.out.display()));
    format!("the images of {dirs} are published but unattested; attest them later with `{again}`")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::path::Path;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        cmd: BuildCommand,
    }

    #[test]
    fn build_attest_flags_parse_beside_builds_out() {
        let cli = Cli::try_parse_from([
            "x",
            "hello",
            "--out",
            "pkg",
            "--publish",
            "--attest",
            "--sign",
            "key",
            "--key",
            "k.pem",
            "--attest-out",
            "att",
        ])
        .unwrap();
        assert_eq!(cli.cmd.build.out.as_deref(), Some(Path::new("pkg")));
        assert_eq!(cli.cmd.attest_out.as_deref(), Some(Path::new("att")));
        assert!(cli.cmd.attest && cli.cmd.publish);
        assert_eq!(cli.cmd.attest_options.sign, SignMode::Key);
    }

    #[tokio::test]
    async fn license_policy_flags_are_checked_before_building() {
        // `nosuch-crate` is never looked up: both refusals come before the build starts.
        let cmd = |args: &[&str]| Cli::try_parse_from([&["x", "nosuch-crate"], args].concat()).unwrap().cmd;
        let err = build(cmd(&["--deny-license", "GPL-3.0-only"])).await.unwrap_err();
        assert!(err.to_string().contains("are publish policies: add --publish"), "{err}");
        let err = build(cmd(&["--publish", "--deny-license", "MIT AND GPL-3.0-only"])).await.unwrap_err();
        assert!(err.to_string().contains("is not a list of licenses"), "{err}");
        assert_eq!(crate::error::exit_of(&err), Exit::Usage);
    }

    #[test]
    fn a_refused_fleet_job_still_has_a_failed_result() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).unwrap().cmd.build;
        let args =
            parse(&["x", "tool@1.2.3", "--target", "x86_64-unknown-linux-gnu", "--backend", "zigbuild", "--out", "o"]);
        let (out, r) = refusal(&args, "the zigbuild backend cannot make static glibc executables").unwrap();
        assert_eq!(out, Path::new("o"));
        assert_eq!(
            (r.crate_name.as_str(), r.version.as_str(), r.target.as_str()),
            ("tool", "1.2.3", "x86_64-unknown-linux-gnu")
        );
        assert_eq!((r.status, r.backend), (crate::schema::result::Status::Failed, Backend::Zigbuild));
        let f = r.failure.unwrap();
        assert!(f.class.is_transient() && f.phase == Phase::Setup);
        assert!(f.message.ends_with("cannot make static glibc executables"), "{}", f.message);
        // Nothing names the job: no result.
        assert!(refusal(&parse(&["x", "tool", "--target", "t", "--out", "o"]), "m").is_none());
        assert!(refusal(&parse(&["x", "tool@1.0.0", "--target", "t"]), "m").is_none());
        assert!(refusal(&parse(&["x", "tool@1.0.0", "--target", "a", "--target", "b", "--out", "o"]), "m").is_none());
    }

    #[test]
    fn the_finishing_command_names_every_unattested_package() {
        let cli = Cli::try_parse_from(["x", "hello", "--sign", "key", "--key", "k.pem"]).unwrap();
        let args = AttestArgs {
            packages: Vec::new(),
            batch: false,
            attach: true,
            insecure_http: false,
            options: cli.cmd.attest_options,
            out: PathBuf::from("att"),
        };
        let said = unattested(&[PathBuf::from("a"), PathBuf::from("b")], &args);
        assert_eq!(
            said,
            "the images of a b are published but unattested; attest them later with \
             `cratemill attest a b --attach --sign key --key k.pem --out att`"
        );
    }
}
