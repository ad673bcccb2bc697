//! `cratemill publish`: check a package folder, then store its `-srcbuild-` source archive and its
//! binary package in an OCI registry (or a local OCI image layout, the default), and record what
//! was stored in `publish.json`. `cratemill build --publish` chains into [`publish_package`].
//!
//! Layers: [`trust`] (re-derives from the bytes what `result.json` claims, refuses on any
//! disagreement), [`licenses`] (the license policy, `--deny-license`, judged on the compiled
//! packages `result.json` lists), [`env`] (credentials, run id) and [`plan`] (references, manifests) feed the I/O in
//! `crate::oci`; [`record`] writes the outcome.

pub mod env;
pub mod licenses;
pub mod plan;
pub mod record;
pub mod trust;

use std::path::{Path, PathBuf};

use crate::actions::Runner;
use crate::error::usage;
use crate::oci::{self, reference, RegistryClient, Repository, Scheme, Tuning};
use crate::schema::publish::PublishRecord;

pub use env::PublishEnv;
pub use licenses::LicenseArgs;
pub use plan::Destination;

/// `--max-layer-mib`'s default (see [`crate::package::DEFAULT_MAX_FILE_MIB`]).
pub const DEFAULT_MAX_LAYER_MIB: u64 = crate::package::DEFAULT_MAX_FILE_MIB;

/// The local image layout root used when neither `--registry` nor `--oci-layout` is given.
pub const DEFAULT_OCI_LAYOUT: &str = "cratemill-oci";

/// Where and how to publish; shared by `cratemill publish` and `cratemill build --publish`.
#[derive(Debug, Clone, clap::Args)]
pub struct PublishOptions {
    /// Registry to push to: `ghcr.io/<owner>`, `<host>[:<port>]/<path>`, or just `<owner>` (ghcr.io).
    /// With `--layout single` it names the one repository. Without it, packages go to a local OCI
    /// image layout. Credentials come from CRATEMILL_REGISTRY_USER / CRATEMILL_REGISTRY_TOKEN
    /// (else GITHUB_ACTOR / GITHUB_TOKEN), never from flags.
    #[arg(long, value_name = "REGISTRY")]
    pub registry: Option<String>,
    /// Root folder of local OCI image layouts (one per repository), used when --registry is not
    /// given [default: ./cratemill-oci].
    #[arg(long, value_name = "DIR", conflicts_with = "registry")]
    pub oci_layout: Option<PathBuf>,
    /// How packages are spread over repositories: `per-crate` (<registry>/<crate>:<version>-<target>)
    /// or `single` (<registry>:<crate>-<version>-<target>).
    #[arg(long, value_enum, value_name = "SCHEME", default_value_t = Scheme::PerCrate)]
    pub layout: Scheme,
    /// Build id in the -srcbuild- tag [default: GITHUB_RUN_ID-GITHUB_RUN_ATTEMPT under Actions,
    /// else local-<first 12 hex digits of the source archive's sha256>].
    #[arg(long, value_name = "ID")]
    pub build_id: Option<String>,
    /// Talk plain HTTP to the registry (a loopback or lab registry; never for ghcr.io).
    #[arg(long)]
    pub insecure_http: bool,
    /// Upload chunk size in MiB [default: 4 on ghcr.io, which refuses larger chunks; 16 elsewhere].
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub chunk_mib: Option<u32>,
    /// The largest file (so the largest layer) publish pushes, in MiB: a larger file in the package
    /// folder refuses the whole package before anything is read or sent.
    #[arg(long, value_name = "MIB", default_value_t = DEFAULT_MAX_LAYER_MIB,
          value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub max_layer_mib: u64,
    /// The license policy (`--deny-license`, `--deny-unlicensed`), checked before anything is pushed.
    #[command(flatten)]
    pub licenses: LicenseArgs,
    /// Chunk size, parallelism, timeouts and retries of registry pushes (library callers and tests).
    #[arg(skip)]
    pub tuning: Tuning,
}

impl PublishOptions {
    /// Validate the destination flags.
    pub fn destination(&self) -> anyhow::Result<Destination> {
        match &self.registry {
            Some(r) => {
                let prefix = reference::parse_registry(r)?;
                if self.insecure_http && prefix.host == reference::DEFAULT_REGISTRY_HOST {
                    return Err(usage("--insecure-http cannot be used with ghcr.io"));
                }
                if self.chunk_mib.is_some_and(|m| m > 4) && prefix.host == reference::DEFAULT_REGISTRY_HOST {
                    return Err(usage(
                        "--chunk-mib above 4 cannot be used with ghcr.io: it refuses chunks larger than 4 MiB",
                    ));
                }
                Ok(Destination::Registry { prefix, insecure: self.insecure_http })
            }
            None if self.insecure_http => Err(usage("--insecure-http needs --registry")),
            None if self.chunk_mib.is_some() => Err(usage("--chunk-mib needs --registry")),
            None => {
                let dir = self.oci_layout.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_OCI_LAYOUT));
                let dir = std::path::absolute(&dir)
                    .map_err(|e| usage(format!("invalid --oci-layout {}: {e}", dir.display())))?;
                Ok(Destination::Layout(dir))
            }
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The package folder written by `cratemill build`.
    #[arg(value_name = "PACKAGE_DIR")]
    pub package_dir: PathBuf,
    #[command(flatten)]
    pub options: PublishOptions,
}

/// Check, push, verify and record one package, with credentials and run id from the environment.
pub async fn publish_package(
    package_dir: &Path,
    opts: &PublishOptions,
    runner: &Runner,
) -> anyhow::Result<PublishRecord> {
    let env = PublishEnv::from_env();
    if let Some(c) = &env.credentials {
        runner.mask(&c.token);
    }
    publish_package_with(package_dir, opts, &env, runner).await
}

/// [`publish_package`] with an explicit environment.
pub async fn publish_package_with(
    package_dir: &Path,
    opts: &PublishOptions,
    env: &PublishEnv,
    runner: &Runner,
) -> anyhow::Result<PublishRecord> {
    let dest = opts.destination()?;
    let policy = opts.licenses.policy()?;
    let pkg = crate::package::verify_capped(package_dir, opts.max_layer_mib.saturating_mul(crate::untrusted::MIB))?;
    trust::check_package(&pkg)?;
    licenses::check(&policy, &pkg.result)?;
    let srcbuild_sha = pkg.srcbuild().map(|f| f.digests.sha256.clone()).unwrap_or_default();
    let build_id = match &opts.build_id {
        Some(id) => {
            reference::validate_build_id(id)?;
            id.clone()
        }
        None => reference::default_build_id(env.run_id.as_deref(), env.run_attempt.as_deref(), &srcbuild_sha),
    };
    let plan = plan::plan(&pkg, &dest, opts.layout, &build_id)?;
    let what = format!("{}@{} ({})", pkg.result.crate_name, pkg.result.version, pkg.result.target);
    runner.group_start(&format!("publish {what} to {}", dest.describe()));
    let pushed = store(&plan, &dest, env, opts).await;
    runner.group_end();
    let pushed = pushed.map_err(|e| e.context(format!("publishing {what} to {}", dest.describe())))?;
    let rec = record::record(&pkg.result, &dest, &plan, &pushed);
    record::write(&pkg.dir, &rec, runner)?;
    Ok(rec)
}

/// The registry client for repository `name` on `host`, reusing `client` when it is that one.
async fn client_for(
    client: &mut Option<RegistryClient>,
    (host, name, insecure): (&str, &str, bool),
    env: &PublishEnv,
    opts: &PublishOptions,
) -> anyhow::Result<()> {
    if client.as_ref().is_none_or(|c| c.repository != name) {
        let mut tuning = opts.tuning.clone();
        if let Some(mib) = opts.chunk_mib {
            tuning.chunk_size = Some(mib as usize * 1024 * 1024);
        }
        *client = Some(RegistryClient::connect(host, name, insecure, env.credentials.clone(), tuning).await?);
    }
    Ok(())
}

/// Before anything is pushed: no planned tag already names other bytes (published versions are
/// immutable, `oci::push::TagRule::Keep`), so a conflict leaves no partial publish behind.
async fn preflight(
    plan: &plan::PublishPlan,
    dest: &Destination,
    env: &PublishEnv,
    opts: &PublishOptions,
    client: &mut Option<RegistryClient>,
) -> anyhow::Result<()> {
    let Destination::Registry { insecure, .. } = dest else { return Ok(()) };
    for planned in &plan.artifacts {
        let Repository::Remote { host, name } = &planned.image.repository else { continue };
        client_for(client, (host, name, *insecure), env, opts).await?;
        let c = client.as_ref().expect("connected above");
        let before = oci::push::manifest_digest(c, planned.tag()).await?;
        let reference = planned.image.to_string();
        oci::push::check_tag(oci::push::TagRule::Keep, &reference, before.as_deref(), &planned.artifact.digest)?;
    }
    Ok(())
}

/// Store every planned artifact, in order.
async fn store(
    plan: &plan::PublishPlan,
    dest: &Destination,
    env: &PublishEnv,
    opts: &PublishOptions,
) -> anyhow::Result<Vec<oci::Pushed>> {
    let mut pushed = Vec::new();
    let mut client: Option<RegistryClient> = None;
    preflight(plan, dest, env, opts, &mut client).await?;
    for planned in &plan.artifacts {
        let tag = planned.tag().to_string();
        let p = match (&planned.image.repository, dest) {
            (Repository::Remote { host, name }, Destination::Registry { insecure, .. }) => {
                client_for(&mut client, (host, name, *insecure), env, opts).await?;
                let client = client.as_ref().expect("connected above");
                oci::push::push(client, &tag, &planned.artifact, oci::push::TagRule::Keep).await?
            }
            (Repository::Layout { dir }, _) => {
                let (dir, artifact) = (dir.clone(), planned.artifact.clone());
                tokio::task::spawn_blocking(move || oci::layout::write(&dir, &tag, &artifact)).await??
            }
            (Repository::Remote { .. }, Destination::Layout(_)) => {
                return Err(usage("a registry reference was planned for a layout destination"))
            }
        };
        let state = if p.unchanged {
            "unchanged".to_string()
        } else {
            format!("{} blobs uploaded, {} already there", p.blobs_uploaded, p.blobs_present)
        };
        if let Some(old) = &p.replaced {
            crate::note!("cratemill: {} pointed at {old}; replaced", planned.image);
        }
        crate::note!("cratemill: {} {} ({state})", planned.image, p.digest);
        pushed.push(p);
    }
    Ok(pushed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(registry: Option<&str>) -> PublishOptions {
        PublishOptions {
            registry: registry.map(Into::into),
            oci_layout: None,
            layout: Scheme::PerCrate,
            build_id: None,
            insecure_http: false,
            chunk_mib: None,
            max_layer_mib: DEFAULT_MAX_LAYER_MIB,
            licenses: LicenseArgs::default(),
            tuning: Tuning::default(),
        }
    }

    #[test]
    fn destinations() {
        let d = opts(Some("ghcr.io/Owner")).destination().unwrap();
        assert_eq!(d.describe(), "ghcr.io/owner");
        let d = opts(None).destination().unwrap();
        assert!(matches!(&d, Destination::Layout(p) if p.is_absolute() && p.ends_with(DEFAULT_OCI_LAYOUT)), "{d:?}");
    }

    #[test]
    fn flag_combinations_that_cannot_work_are_refused() {
        let mut o = opts(Some("ghcr.io/o"));
        o.insecure_http = true;
        assert!(o.destination().unwrap_err().to_string().contains("--insecure-http cannot be used with ghcr.io"));
        let mut o = opts(Some("ghcr.io/o"));
        o.chunk_mib = Some(8);
        assert!(o.destination().unwrap_err().to_string().contains("refuses chunks larger than 4 MiB"));
        let mut o = opts(None);
        o.chunk_mib = Some(8);
        assert_eq!(crate::error::exit_of(&o.destination().unwrap_err()), crate::error::Exit::Usage);
    }

    #[test]
    fn chunk_size_defaults_per_host() {
        assert_eq!(oci::http::default_chunk_size("ghcr.io"), 4 * 1024 * 1024);
        assert_eq!(oci::http::default_chunk_size("127.0.0.1:5000"), 16 * 1024 * 1024);
    }
}
