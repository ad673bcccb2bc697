//! `cratemill verify`: the command around [`super::verify`]. I/O edge: reads the file, bundle, key
//! and trusted root, prints the outcome. Image references are resolved through the registry.

use std::path::{Path, PathBuf};

use sigstore_verify::trust_root::TrustedRoot;
use sigstore_verify::types::DerPublicKey;

use super::referrer;
use super::verify::{parse_bundle, verify_bundle, KeylessPolicy, Trust, Verified};
use crate::error::{failed, usage, Exit};
use crate::oci::reference::{ImageRef, Pin};

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The file to check (with --bundle), or an image reference whose attestations to check.
    #[arg(value_name = "FILE|IMAGE_REF")]
    pub target: String,
    /// The Sigstore bundle (`*.sigstore.json`) that attests the file.
    #[arg(long, value_name = "PATH")]
    pub bundle: Option<PathBuf>,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Talk plain HTTP to the registry of an image reference (a loopback or lab registry).
    #[arg(long)]
    pub insecure_http: bool,
}

/// Whose signatures to accept: the flags `cratemill verify` and `cratemill install` share.
#[derive(Debug, Clone, clap::Args)]
pub struct TrustArgs {
    /// Public key (PEM) of a `--sign key` bundle; without it the bundle must be keyless.
    #[arg(long, value_name = "PATH")]
    pub key: Option<PathBuf>,
    /// Sigstore TrustedRoot JSON [default: built in: public-good for bundles with a Rekor entry,
    /// GitHub's for timestamped ones].
    #[arg(long, value_name = "PATH")]
    pub trusted_root: Option<PathBuf>,
    /// Regular expression the certificate's identity (the signing workflow's URI,
    /// `https://github.com/OWNER/REPO/.github/workflows/FILE@REF`) must match as a whole.
    #[arg(long, value_name = "REGEX")]
    pub identity: Option<String>,
    /// The OIDC issuer the certificate must name.
    #[arg(long, value_name = "URL", default_value = super::claims::GITHUB_ISSUER)]
    pub issuer: String,
    /// OWNER/NAME: the repository whose workflow must have signed.
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: Option<String>,
}

impl TrustArgs {
    /// Was any signer named (`--key`, `--identity` or `--repo`)?
    pub fn names_a_signer(&self) -> bool {
        self.key.is_some() || self.identity.is_some() || self.repo.is_some()
    }

    /// The trust policy the flags describe.
    pub fn trust(&self) -> anyhow::Result<Trust> {
        if let Some(path) = &self.key {
            if self.identity.is_some() || self.repo.is_some() || self.trusted_root.is_some() {
                return Err(usage(
                    "--key checks a key-signed bundle: it cannot be combined with --identity, --repo or --trusted-root",
                ));
            }
            let text = std::fs::read_to_string(path)
                .map_err(|e| usage(format!("cannot read --key {}: {e}", path.display())))?;
            let key = DerPublicKey::from_pem(&text)
                .map_err(|e| usage(format!("--key {} is not a PEM public key: {e}", path.display())))?;
            return Ok(Trust::Key(key));
        }
        let mut policy = KeylessPolicy::new(self.identity.as_deref(), self.repo.as_deref(), Some(&self.issuer))?;
        if let Some(path) = &self.trusted_root {
            policy.trusted_root =
                Some(TrustedRoot::from_file(path).map_err(|e| {
                    usage(format!("--trusted-root {} is not a Sigstore TrustedRoot: {e}", path.display()))
                })?);
        }
        Ok(Trust::Keyless(Box::new(policy)))
    }
}

pub async fn run(args: VerifyArgs) -> anyhow::Result<Exit> {
    let trust = args.trust.trust()?;
    let path = Path::new(&args.target);
    if path.exists() {
        let bundle = args
            .bundle
            .as_deref()
            .ok_or_else(|| usage("verifying a file needs --bundle PATH (its *.sigstore.json)"))?;
        let v = verify_file(path, bundle, &trust)?;
        crate::console::line(&format!(
            "verified: {} is {} ({}), {}",
            path.display(),
            v.subject,
            v.predicate_type,
            describe(&v)
        ));
        return Ok(Exit::Ok);
    }
    if args.bundle.is_some() {
        return Err(usage(format!("{} is not a file (--bundle checks a local file)", args.target)));
    }
    let found = verify_image(&args.target, args.insecure_http, &trust).await?;
    for v in &found {
        crate::console::line(&format!(
            "verified: {} layer {} ({}), {}",
            args.target,
            v.subject,
            v.predicate_type,
            describe(v)
        ));
    }
    Ok(Exit::Ok)
}

fn describe(v: &Verified) -> String {
    let when = if v.tlog {
        "logged in Rekor".to_string()
    } else if v.timestamps > 0 {
        format!("{} verified timestamp(s)", v.timestamps)
    } else {
        "no log entry (key-signed)".to_string()
    };
    format!("signed by {}, {when}", v.signer)
}

/// Verify a local file against a bundle file.
pub fn verify_file(file: &Path, bundle: &Path, trust: &Trust) -> anyhow::Result<Verified> {
    let digest =
        crate::package::digest_file(file).map_err(|e| usage(format!("cannot read {}: {e}", file.display())))?;
    let bytes = std::fs::read(bundle).map_err(|e| usage(format!("cannot read --bundle {}: {e}", bundle.display())))?;
    let bundle = parse_bundle(&bytes)?;
    verify_bundle(&digest.sha256, &bundle, trust).map_err(|e| e.context(format!("{} does not verify", file.display())))
}

/// Verify every attestation attached to an image: each layer of the image manifest must be a
/// subject of an attached bundle that verifies under `trust`. Returns one [`Verified`] per layer.
/// `reference` is `host[:port]/repository:tag` or `...@sha256:<hex>`. Read with pull access only
/// (the pull client, as `install`): a public image verifies anonymously; registry credentials, when
/// set, come from `CRATEMILL_REGISTRY_USER`/`_TOKEN` (else `GITHUB_ACTOR`/`GITHUB_TOKEN`).
pub async fn verify_image(reference: &str, insecure: bool, trust: &Trust) -> anyhow::Result<Vec<Verified>> {
    let image_ref = parse_image(reference)?;
    let (host, repo) = image_ref.remote()?;
    let creds = crate::oci::Credentials::from_env();
    let puller = crate::oci::RegistryClient::pull(host, repo, insecure, creds, crate::net::Client::new()?)?;
    puller.prepare().await?;
    let manifest =
        puller.manifest(image_ref.pin.as_str()).await?.ok_or_else(|| failed(format!("{reference} does not exist")))?;
    let digest = manifest.digest.clone();
    if matches!(&image_ref.pin, Pin::Digest(want) if *want != digest) {
        return Err(failed(format!("the registry returned a manifest with digest {digest} for {reference}")));
    }
    let image: serde_json::Value =
        serde_json::from_slice(&manifest.bytes).map_err(|e| failed(format!("{reference}: not a manifest: {e}")))?;
    let bundles = referrer::attached_bundles(&puller, &digest).await?;
    if bundles.is_empty() {
        return Err(failed(format!("no attestation is attached to {reference} ({digest})")));
    }
    verify_layers(reference, &image, &bundles, trust)
}

/// Each layer of `image` (a parsed image manifest) must be a subject of one of `bundles` that
/// verifies under `trust`: one [`Verified`] per layer, else the first layer that is not. Pure.
pub fn verify_layers(
    reference: &str,
    image: &serde_json::Value,
    bundles: &[sigstore_verify::types::Bundle],
    trust: &Trust,
) -> anyhow::Result<Vec<Verified>> {
    let layers = image["layers"].as_array().cloned().unwrap_or_default();
    let mut out = Vec::new();
    for layer in &layers {
        let d = layer["digest"].as_str().unwrap_or_default();
        let title = layer["annotations"]["org.opencontainers.image.title"].as_str().unwrap_or(d);
        let hex = d.strip_prefix("sha256:").unwrap_or(d);
        let mut last = None;
        let found = bundles.iter().find_map(|b| verify_bundle(hex, b, trust).map_err(|e| last = Some(e)).ok());
        match found {
            Some(v) => out.push(v),
            None => {
                let why = last.map(|e| crate::error::one_line(&e)).unwrap_or_default();
                return Err(failed(format!(
                    "layer {title} of {reference} is not attested by any attached bundle: {why}"
                )));
            }
        }
    }
    Ok(out)
}

/// `host/repo:tag` or `host/repo@sha256:hex`: a registry [`ImageRef`] by tag or digest.
pub fn parse_image(reference: &str) -> anyhow::Result<ImageRef> {
    let bad = |why: &dyn std::fmt::Display| {
        usage(format!(
            "{reference:?} is neither a file nor an image reference (host/repository:tag or @sha256:...): {why}"
        ))
    };
    let image: ImageRef = reference.parse().map_err(|e| bad(&e))?;
    image.remote().map_err(|e| bad(&e))?;
    Ok(image)
}
