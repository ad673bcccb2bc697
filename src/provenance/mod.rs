//! `cratemill attest` and `cratemill verify`: signed SLSA v1 provenance for published packages, in
//! the shape GitHub's `actions/attest-build-provenance` makes, and its verification.
//!
//! Layers, one way: [`claims`] (token facts) and [`inputs`] (package folders) feed the pure cores
//! [`predicate`] and [`statement`]; [`sign`] (key, none) and [`keyless`] (Fulcio, Rekor, TSA, with
//! the token from [`oidc`]) turn a statement into a bundle; [`verify`] checks one; [`store`] (GitHub
//! attestations API) and [`referrer`] (OCI registry) keep it. Every request goes through
//! `crate::net` (the GitHub API through `net::github`). This module only
//! parses flags, runs the steps in order and writes the files. See docs/attestation.md.

pub mod claims;
pub mod inputs;
pub mod keyless;
pub mod oidc;
pub mod predicate;
pub mod referrer;
pub mod sign;
pub mod statement;
pub mod store;
pub mod verify;
pub mod verify_cmd;

use std::path::{Path, PathBuf};

use sha2::Digest;

use crate::error::{usage, Exit};
use crate::schema::attest::{AttestEntry, AttestRecord};
use crate::schema::JobKey;
use claims::Claims;
use keyless::{Endpoints, Instance};
use sign::SignMode;
use statement::{Statement, MAX_SUBJECTS};

pub use verify::{verify_bundle, KeylessPolicy, Trust, Verified};
pub use verify_cmd::{verify_image, verify_layers, TrustArgs, VerifyArgs};

/// The record `attest` writes into `--out`.
pub const RECORD_FILE: &str = "attest.json";

/// The folder for the statements, bundles and attest.json when none is named.
pub const DEFAULT_OUT: &str = "cratemill-attest";

/// How to sign and where the bundles are kept: the flags `cratemill attest`, `cratemill publish
/// --attest` and `cratemill build --publish --attest` share (flattened into all three). The output
/// folder is not among them: `build` has an `--out` of its own, so each command names it
/// ([`AttestArgs::out`]).
#[derive(Debug, Clone, clap::Args)]
pub struct AttestOptions {
    /// How to sign: keyless (Sigstore, from the workflow's OIDC identity), key (--key), or none
    /// (write the unsigned statement only).
    #[arg(long, value_enum, default_value_t = SignMode::Keyless)]
    pub sign: SignMode,
    /// PEM PKCS#8 P-256 private key for --sign key.
    #[arg(long, value_name = "PATH")]
    pub key: Option<PathBuf>,
    /// Sigstore instance for keyless signing: public-good (Fulcio and Rekor), github (GitHub's
    /// Fulcio and timestamp authority, for private repositories), or auto (from the token's
    /// repository_visibility).
    #[arg(long, value_enum, default_value_t = Instance::Auto)]
    pub instance: Instance,
    #[command(flatten)]
    pub endpoints: Endpoints,
    /// Also store each bundle with the GitHub attestations API of GITHUB_REPOSITORY (GITHUB_TOKEN
    /// with `permissions: attestations: write`; GITHUB_API_URL honoured), where `gh attestation
    /// verify` finds it.
    #[arg(long)]
    pub github_api: bool,
}

impl AttestOptions {
    /// Whether any flag differs from its default (the endpoint URLs, which the environment may
    /// set, aside): `publish` and `build` refuse them without `--attest`.
    pub fn any_given(&self) -> Option<&'static str> {
        if self.sign != SignMode::Keyless {
            Some("--sign")
        } else if self.key.is_some() {
            Some("--key")
        } else if self.instance != Instance::Auto {
            Some("--instance")
        } else if self.github_api {
            Some("--github-api")
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct AttestArgs {
    /// Package folders written by `cratemill build` (or, with --batch, their result.json files).
    #[arg(value_name = "PACKAGE_DIR", required = true)]
    pub packages: Vec<PathBuf>,
    /// One statement for all the given packages (up to 1,024 subjects each; more are split into
    /// several statements, never truncated), instead of one per package.
    #[arg(long)]
    pub batch: bool,
    #[command(flatten)]
    pub options: AttestOptions,
    /// Folder for the statements, bundles and attest.json.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_OUT)]
    pub out: PathBuf,
    /// Also attach each bundle to its packages' pushed images (the binary reference in each
    /// publish.json) as an OCI referrer, with the `sha256-<hex>` fallback tag where the registry has
    /// no referrers API. Registry credentials as for publish.
    #[arg(long)]
    pub attach: bool,
    /// Talk plain HTTP to the registry for --attach (a loopback or lab registry).
    #[arg(long)]
    pub insecure_http: bool,
}

pub async fn run(args: AttestArgs) -> anyhow::Result<Exit> {
    let record = attest(&args).await?;
    announce(&record, &args);
    Ok(Exit::Ok)
}

/// The stdout lines of an attest run (one file per attestation) and the unsigned warning.
pub fn announce(record: &AttestRecord, args: &AttestArgs) {
    for a in &record.attestations {
        let file = a.bundle.as_deref().unwrap_or(&a.statement);
        crate::console::line(&args.out.join(file).display().to_string());
    }
    if args.options.sign == SignMode::None {
        crate::note!("warning: --sign none: the statements are NOT signed; nothing proves who made them");
    }
}

/// What [`preflight`] prepared: the signing key and the GitHub API client, when asked for.
#[derive(Debug)]
pub struct Ready {
    key: Option<sign::SigningKey>,
    github: Option<store::GithubApi>,
}

/// The flag checks that need no package: the key is read, the flags agree, the OIDC token is
/// offered by the environment (not yet requested), `--github-api` has its token and repository.
/// `publish --attest` and `build --publish --attest` run them before pushing (and building). Call it inside the tokio runtime.
pub fn preflight(args: &AttestArgs) -> anyhow::Result<Ready> {
    let o = &args.options;
    let key = match (o.sign, &o.key) {
        (SignMode::Key, Some(path)) => Some(sign::SigningKey::from_pem_file(path)?),
        (SignMode::Key, None) => return Err(usage("--sign key needs --key PATH (a PEM PKCS#8 P-256 private key)")),
        (_, Some(_)) => return Err(usage("--key is only used with --sign key")),
        _ => None,
    };
    if (args.attach || o.github_api) && o.sign == SignMode::None {
        return Err(usage("--attach and --github-api need a signed bundle: use --sign keyless or --sign key"));
    }
    if o.sign == SignMode::Keyless && !oidc::offered(|k| std::env::var(k).ok()) {
        return Err(usage(oidc::NO_TOKEN));
    }
    let github = if o.github_api { Some(store::GithubApi::from_env(|k| std::env::var(k).ok())?) } else { None };
    Ok(Ready { key, github })
}

/// Attest the packages of `args`; returns the record written to `<out>/attest.json`.
pub async fn attest(args: &AttestArgs) -> anyhow::Result<AttestRecord> {
    attest_ready(args, preflight(args)?).await
}

/// [`attest`] after its [`preflight`].
pub async fn attest_ready(args: &AttestArgs, ready: Ready) -> anyhow::Result<AttestRecord> {
    let Ready { key, github } = ready;
    let o = &args.options;
    let inputs =
        args.packages.iter().map(|p| inputs::load(&inputs::package_dir(p))).collect::<anyhow::Result<Vec<_>>>()?;
    let (claims, token) = identity(o.sign).await?;
    let subjects: Vec<_> = inputs.iter().map(|i| i.subjects.clone()).collect();
    let groups = if args.batch {
        statement::batches(&subjects, MAX_SUBJECTS)?
    } else {
        statement::batches(&subjects, MAX_SUBJECTS)?;
        (0..inputs.len()).map(|i| vec![i]).collect()
    };
    let server = std::env::var("GITHUB_SERVER_URL").unwrap_or_else(|_| "https://github.com".to_string());
    let mut entries = Vec::new();
    for (n, group) in groups.iter().enumerate() {
        let mut predicate = predicate::github(&claims, &server);
        let members: Vec<_> = group.iter().map(|&i| (&inputs[i].package.result, inputs[i].facts.clone())).collect();
        predicate::add_packages(&mut predicate, &members);
        let subject = group.iter().flat_map(|&i| inputs[i].subjects.clone()).collect();
        let stmt = Statement::new(subject, predicate::SLSA_PREDICATE_V1, predicate);
        let name = if args.batch {
            format!("batch-{:04}", n + 1)
        } else {
            predicate::package_id(&inputs[group[0]].package.result)
        };
        let keys = group.iter().map(|&i| job_key(&inputs[i].package.result)).collect();
        let signed = sign_one(o, &stmt, key.as_ref(), &claims, token.as_deref()).await?;
        let bundle = signed.as_ref().map(|s| s.bundle_json.clone());
        let mut entry = write_outputs(&args.out, &name, &stmt, signed, keys)?;
        if let (Some(api), Some(bundle)) = (&github, &bundle) {
            entry.github_attestation_id = Some(api.store(bundle).await?);
        }
        if let (true, Some(bundle)) = (args.attach, bundle) {
            for &i in group {
                let digest = attach(&inputs[i].package.dir, bundle.as_bytes(), args.insecure_http).await?;
                entry.attached.push(digest);
            }
        }
        entries.push(entry);
    }
    let record = AttestRecord::new(entries);
    crate::schema::write(&args.out.join(RECORD_FILE), &record)?;
    Ok(record)
}

/// The claims the predicate is made from, and the OIDC token for keyless signing.
async fn identity(mode: SignMode) -> anyhow::Result<(Claims, Option<String>)> {
    let token = match mode {
        SignMode::Keyless => Some(oidc::token().await?),
        _ => std::env::var("SIGSTORE_ID_TOKEN").ok().filter(|t| !t.is_empty()),
    };
    let claims = match &token {
        Some(t) => claims::decode_jwt(t)?,
        None => claims::from_env(|k| std::env::var(k).ok())?,
    };
    if mode == SignMode::Keyless {
        claims::check_audience(&claims)?;
    }
    Ok((claims, token))
}

/// A signed bundle's JSON and how it was made.
struct Signed {
    bundle_json: String,
    mode: SignMode,
    instance: Option<Instance>,
}

async fn sign_one(
    args: &AttestOptions,
    stmt: &Statement,
    key: Option<&sign::SigningKey>,
    claims: &Claims,
    token: Option<&str>,
) -> anyhow::Result<Option<Signed>> {
    let (bundle, instance) = match args.sign {
        SignMode::None => return Ok(None),
        SignMode::Key => (sign::with_key(key.expect("checked in attest"), stmt)?, None),
        SignMode::Keyless => {
            let instance = args.instance.resolve(claims);
            let token = token.expect("keyless always has a token");
            let bundle = keyless::sign(stmt, token, instance, &args.endpoints.resolve(instance)).await?;
            (bundle, Some(instance))
        }
    };
    Ok(Some(Signed { bundle_json: bundle.to_json_pretty()?, mode: args.sign, instance }))
}

fn write_outputs(
    out: &Path,
    name: &str,
    stmt: &Statement,
    signed: Option<Signed>,
    packages: Vec<JobKey>,
) -> anyhow::Result<AttestEntry> {
    let statement_file = format!("{name}.intoto.json");
    let bytes = stmt.to_bytes();
    crate::schema::write_atomic(&out.join(&statement_file), &bytes)?;
    let mut entry = AttestEntry {
        statement: statement_file,
        statement_sha256: hex::encode(sha2::Sha256::digest(&bytes)),
        bundle: None,
        bundle_sha256: None,
        signed_with: signed.as_ref().map(|s| s.mode).unwrap_or(SignMode::None),
        instance: signed.as_ref().and_then(|s| s.instance).and_then(Instance::signed),
        subjects: stmt.subject.len(),
        packages,
        attached: Vec::new(),
        github_attestation_id: None,
    };
    if let Some(s) = signed {
        let file = format!("{name}.sigstore.json");
        crate::schema::write_atomic(&out.join(&file), s.bundle_json.as_bytes())?;
        entry.bundle_sha256 = Some(hex::encode(sha2::Sha256::digest(s.bundle_json.as_bytes())));
        entry.bundle = Some(file);
    }
    Ok(entry)
}

/// Attach a bundle to the binary image recorded in a package's publish.json; returns the referrer
/// manifest's reference.
async fn attach(dir: &Path, bundle: &[u8], insecure: bool) -> anyhow::Result<String> {
    use crate::schema::publish::{PublishRecord, ReferenceKind};
    let path = dir.join(crate::package::PUBLISH_FILE);
    if !path.is_file() {
        return Err(usage(format!("--attach: {} has no publish.json: run `cratemill publish` first", dir.display())));
    }
    let record: PublishRecord = crate::schema::read(&path)?;
    let image = record
        .references
        .iter()
        .find(|r| r.kind == ReferenceKind::Binary)
        .ok_or_else(|| usage(format!("--attach: {} lists no binary image", path.display())))?;
    let image_ref: crate::oci::ImageRef = image.reference.parse().map_err(|e| {
        usage(format!("--attach: {} lists `{}`, not an image reference: {e}", path.display(), image.reference))
    })?;
    let (host, repo) =
        image_ref.remote().map_err(|_| usage("--attach works with registries only, not local OCI layouts"))?;
    let creds = crate::oci::Credentials::from_env();
    let c = crate::oci::RegistryClient::connect(host, repo, insecure, creds, crate::oci::Tuning::default()).await?;
    let (manifest, _) =
        referrer::get(&c, &image.digest, crate::oci::manifest::MANIFEST_MEDIA_TYPE).await?.ok_or_else(|| {
            crate::error::failed(format!("{}@{} is gone from the registry", image.reference, image.digest))
        })?;
    let subject = referrer::Subject {
        media_type: crate::oci::manifest::MANIFEST_MEDIA_TYPE.to_string(),
        digest: image.digest.clone(),
        size: manifest.len() as u64,
    };
    let done = referrer::attach(&c, &subject, bundle, predicate::SLSA_PREDICATE_V1).await?;
    Ok(format!("{host}/{repo}@{}", done.digest))
}

fn job_key(r: &crate::schema::result::BuildResult) -> JobKey {
    JobKey::new(&r.crate_name, &r.version, &r.target)
}
