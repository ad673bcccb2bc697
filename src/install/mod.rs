//! `cratemill install CRATE[@VERSION] --from REGISTRY`: the consumer's side of the mirror. Resolve
//! the image (from the built index, or the tag scheme), fetch its manifest and only the executable
//! layers, check every digest, verify provenance ([`verify::check`]: the attestations attached to
//! the image, with `cratemill verify`'s checks), and write each executable
//! atomically with mode 0755: a failed or mismatched download leaves nothing behind. With
//! `--licenses` it prints the package's third-party notice instead ([`print_notice`]) and writes
//! nothing.
//!
//! I/O here; the decisions are in [`resolve`] (pure) and [`verify`]; the registry client is
//! [`crate::oci::pull`].

mod args;
pub mod resolve;
pub mod verify;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::crates_io::CrateSpec;
use crate::error::{usage, Exit};
use crate::oci::manifest::BUILT_INDEX_MEDIA_TYPE;
use crate::oci::reference::{self, ImageRef, Repository};
use crate::oci::RegistryClient;
use crate::schema::plan::BuiltIndex;
use crate::schema::Layout;

pub use args::InstallArgs;
use resolve::Miss;

/// The image to install from, once resolved.
struct Image {
    puller: RegistryClient,
    version: String,
    /// Tag, or the manifest digest when the index named it.
    reference: String,
    /// The manifest digest the index promises, if any.
    digest: Option<String>,
}

pub async fn run(args: InstallArgs) -> anyhow::Result<Exit> {
    let spec = CrateSpec::parse(&args.spec)?;
    verify::needs_signer(args.verify, &args.trust)?;
    let target = resolve::target(&args.target)?;
    let dir = if args.licenses { None } else { Some(install_dir(args.dir.clone())?) };
    let image = resolve_image(&args, &spec, target).await?;
    let manifest = match image.puller.manifest(&image.reference).await? {
        Some(m) => m,
        None => return Err(missing_version(&image, &spec, target, args.layout).await),
    };
    if let Some(want) = &image.digest {
        if &manifest.digest != want {
            return Err(usage(format!(
                "the manifest of {}@{} is {} but the index names {want}: nothing written (the index or the registry is stale; re-run `cratemill report`)",
                spec.name, image.version, manifest.digest
            )));
        }
    }
    let parsed: oci_client::manifest::OciImageManifest = serde_json::from_slice(&manifest.bytes).map_err(|e| {
        usage(format!("the image of {}@{} is not an OCI image manifest: {e}", spec.name, image.version))
    })?;
    let shown = format!("{}/{}:{}@{}", image.puller.host, image.puller.repository, image.version, manifest.digest);
    let Some(dir) = dir else {
        resolve::check_package(&parsed, &spec.name, target)?;
        let Some(notice) = resolve::notice(&parsed)? else {
            return Err(usage(format!(
                "{shown} has no {} layer: it was published before third-party notices; rebuild and republish it with this cratemill (its own license files are its licenses/ layers)",
                resolve::NOTICE_FILE
            )));
        };
        let verdict = verify::check(args.verify, &args.trust, &image.puller, &manifest, &shown).await?;
        print_notice(&image.puller, &notice, &shown).await?;
        say_verdict(&verdict, &shown);
        return Ok(Exit::Ok);
    };
    let layers = resolve::executables(&parsed, &spec.name, target, args.exe.as_deref())?;
    let verdict = verify::check(args.verify, &args.trust, &image.puller, &manifest, &shown).await?;
    std::fs::create_dir_all(&dir).map_err(|e| usage(format!("cannot create --dir {}: {e}", dir.display())))?;
    let mut written = Vec::new();
    for layer in &layers {
        written.push(fetch_executable(&image.puller, layer, &dir).await?);
    }
    for (layer, path) in layers.iter().zip(&written) {
        crate::console::line(&path.display().to_string());
        crate::note!(
            "installed {} {} ({target}) from {shown}: {} ({})",
            spec.name,
            image.version,
            path.display(),
            layer.digest
        );
    }
    say_verdict(&verdict, &shown);
    crate::note!("{} HTTP request(s) to {}", image.puller.requests(), image.puller.host);
    Ok(Exit::Ok)
}

/// What provenance verification found, on stderr.
fn say_verdict(verdict: &verify::Verdict, shown: &str) {
    match verdict {
        verify::Verdict::Verified(found) => {
            let signers: std::collections::BTreeSet<&str> = found.iter().map(|v| v.signer.as_str()).collect();
            let signers: Vec<&str> = signers.into_iter().collect();
            crate::note!("verified: {} layer(s) of {shown} attested, signed by {}", found.len(), signers.join(", "));
        }
        verify::Verdict::Unattested(why) => crate::note!("note: {why}"),
        verify::Verdict::Skipped => crate::note!("note: --verify off: provenance not checked"),
    }
}

/// `--licenses`: fetch the notice layer (digest checked as it streams) and print it. To a pipe or
/// file the bytes go as published; to a terminal, defanged (`untrusted::printable`), since license
/// texts come from crate authors and could carry terminal escapes.
async fn print_notice(puller: &RegistryClient, blob: &resolve::Blob, shown: &str) -> anyhow::Result<()> {
    use std::io::{IsTerminal, Write};
    let mut bytes = Vec::new();
    puller.blob_to(&blob.digest, blob.size, &mut bytes).await?;
    let mut out = std::io::stdout().lock();
    // stdout is a courtesy (console.rs): a closed pipe ends the output, not the command.
    let _ = if out.is_terminal() {
        out.write_all(crate::untrusted::printable(&String::from_utf8_lossy(&bytes)).as_bytes())
    } else {
        out.write_all(&bytes)
    };
    let _ = out.flush();
    crate::note!("the third-party notice of {shown} ({}, {} bytes)", blob.digest, blob.size);
    Ok(())
}

/// `--dir`, else `~/.local/bin`.
fn install_dir(dir: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match dir {
        Some(d) => Ok(d),
        None => match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            Some(home) => Ok(Path::new(&home).join(".local/bin")),
            None => Err(usage("HOME is not set, so there is no default install folder: pass --dir DIR")),
        },
    }
}

/// Which repository, version and reference to fetch.
async fn resolve_image(args: &InstallArgs, spec: &CrateSpec, target: &str) -> anyhow::Result<Image> {
    let prefix = reference::parse_registry(&args.from)?;
    let suffix = match args.layout {
        Layout::PerCrate => Some(reference::crate_component(&spec.name)?),
        Layout::Single => None,
    };
    let Repository::Remote { host, name } = Repository::remote(&prefix, args.layout, suffix.as_deref())? else {
        unreachable!("Repository::remote names a registry repository")
    };
    let creds = crate::oci::Credentials::from_env();
    let puller = RegistryClient::pull(&host, &name, args.insecure_http, creds, crate::net::Client::new()?)?;
    puller.prepare().await?;
    if let Some(source) = &args.index {
        let index = load_index(source, args.insecure_http).await?;
        let found = resolve::from_index(&index, &spec.name, spec.version.as_deref(), target)
            .map_err(|miss| miss_error(miss, spec, target, &args.from))?;
        let digest = found.manifest_digest.clone();
        return Ok(Image { puller, version: found.version, reference: digest.clone(), digest: Some(digest) });
    }
    let version = match &spec.version {
        Some(v) => v.clone(),
        None => newest_in_registry(&puller, spec, target, args).await?,
    };
    let tag = reference::names(args.layout, &spec.name, &version, target, "install")?.binary_tag;
    Ok(Image { puller, version, reference: tag, digest: None })
}

/// The newest version tagged for `target`, from the repository's tag list.
async fn newest_in_registry(
    puller: &RegistryClient,
    spec: &CrateSpec,
    target: &str,
    args: &InstallArgs,
) -> anyhow::Result<String> {
    let Some(tags) = puller.tags().await? else {
        return Err(no_crate(puller, spec, &args.from).await);
    };
    resolve::newest_tagged(args.layout, &spec.name, &tags, target).ok_or_else(|| {
        usage(format!(
            "the mirror {} has {} but no build of it for {target}: pass --target (e.g. x86_64-unknown-linux-musl) or check the report for its failure",
            args.from, spec.name
        ))
    })
}

/// The crate has no repository: name the nearest one the registry lists, if it lists them.
async fn no_crate(puller: &RegistryClient, spec: &CrateSpec, from: &str) -> anyhow::Error {
    let prefix = puller.repository.rsplit_once('/').map_or("", |(p, _)| p);
    let names: Vec<String> = puller
        .catalog()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter_map(
            |r| if prefix.is_empty() { Some(r) } else { r.strip_prefix(&format!("{prefix}/")).map(str::to_string) },
        )
        .collect();
    let hint = match resolve::nearest(&spec.name, names.iter().map(String::as_str)) {
        Some(n) => format!("did you mean `{n}`?"),
        None if names.is_empty() => "pass --index with the mirror's index.json to get the nearest name".to_string(),
        None => "no crate with a similar name either".to_string(),
    };
    usage(format!("the mirror {from} has no crate `{}`: {hint}", spec.name))
}

fn miss_error(miss: Miss, spec: &CrateSpec, target: &str, from: &str) -> anyhow::Error {
    match miss {
        Miss::NoCrate(Some(n)) => usage(format!("the mirror {from} has no crate `{}`: did you mean `{n}`?", spec.name)),
        Miss::NoCrate(None) => {
            usage(format!("the mirror {from} has no crate `{}` (nor one with a similar name)", spec.name))
        }
        Miss::NotBuilt(have) => usage(format!(
            "the mirror {from} has no build of {spec} for {target}; it has: {}",
            have.iter().take(10).cloned().collect::<Vec<_>>().join(", ")
        )),
    }
}

/// The tag is not there: say which versions are.
async fn missing_version(image: &Image, spec: &CrateSpec, target: &str, layout: Layout) -> anyhow::Error {
    let tags = image.puller.tags().await.ok().flatten().unwrap_or_default();
    let mut versions: Vec<String> =
        tags.iter().filter_map(|t| resolve::version_of_tag(layout, &spec.name, t, target)).collect();
    versions.sort_by(|a, b| {
        if crate::crates_io::newer(a, b) {
            std::cmp::Ordering::Less
        } else {
            std::cmp::Ordering::Greater
        }
    });
    let have = if versions.is_empty() { "none for this target".to_string() } else { versions.join(", ") };
    usage(format!("the mirror has no {}@{} for {target}; versions it has: {have}", spec.name, image.version))
}

/// The largest built index install reads (a mirror of every crates.io executable is a few MiB).
pub const INDEX_CAP: u64 = crate::untrusted::DOCUMENT_CAP;

/// Read the built index from a file, an http(s) URL, or `oci://REF` (pushed by `report --push-index`).
async fn load_index(source: &str, insecure: bool) -> anyhow::Result<BuiltIndex> {
    let bytes = if let Some(reference) = source.strip_prefix("oci://") {
        pull_index(reference, insecure).await?
    } else if source.starts_with("https://") || source.starts_with("http://") {
        // Through the network layer: its timeouts, retries and size cap.
        let body = crate::net::Client::new()?.get(&format!("fetching --index {source}"), source, INDEX_CAP).await?;
        if !body.status.is_success() {
            return Err(usage(format!("--index {source}: HTTP {}", body.status)));
        }
        body.bytes.to_vec()
    } else {
        let deadline = crate::untrusted::deadline();
        crate::untrusted::read_regular(Path::new(source), INDEX_CAP, deadline)
            .map_err(|e| usage(format!("--index {source}: {e}")))?
    };
    crate::schema::parse(&bytes).map_err(|e| usage(format!("--index {source}: {}", crate::error::one_line(&e))))
}

/// The index artifact's one layer.
async fn pull_index(reference: &str, insecure: bool) -> anyhow::Result<Vec<u8>> {
    let bad = |why: &dyn std::fmt::Display| {
        usage(format!("invalid --index oci://{reference}: {why} (give oci://host/repository:tag, as pushed by `cratemill report --push-index`)"))
    };
    let image: ImageRef = reference.parse().map_err(|e| bad(&e))?;
    let (host, name, tag) = image.remote_tagged().map_err(|e| bad(&e))?;
    let creds = crate::oci::Credentials::from_env();
    let puller = RegistryClient::pull(host, name, insecure, creds, crate::net::Client::new()?)?;
    puller.prepare().await?;
    let Some(m) = puller.manifest(tag).await? else {
        return Err(usage(format!("--index oci://{reference}: the registry has no such tag")));
    };
    let parsed: oci_client::manifest::OciImageManifest = serde_json::from_slice(&m.bytes)
        .map_err(|e| usage(format!("--index oci://{reference}: not a manifest: {e}")))?;
    let Some(layer) = parsed.layers.iter().find(|l| l.media_type == BUILT_INDEX_MEDIA_TYPE) else {
        return Err(usage(format!(
            "--index oci://{reference} is not a cratemill index (no {} layer)",
            BUILT_INDEX_MEDIA_TYPE
        )));
    };
    let size = layer.size.max(0) as u64;
    if size > INDEX_CAP {
        return Err(usage(format!(
            "--index oci://{reference}: its index layer is {size} bytes, over the {INDEX_CAP}-byte limit of an index"
        )));
    }
    let mut bytes = Vec::new();
    puller.blob_to(&layer.digest, size, &mut bytes).await?;
    Ok(bytes)
}

/// Download one executable next to its destination, check it, and rename it into place.
async fn fetch_executable(puller: &RegistryClient, layer: &resolve::ExeLayer, dir: &Path) -> anyhow::Result<PathBuf> {
    let dest = dir.join(&layer.name);
    if dest.symlink_metadata().is_ok_and(|m| !m.is_file()) {
        return Err(usage(format!("{} exists and is not a regular file: refusing to replace it", dest.display())));
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", layer.name))
        .tempfile_in(dir)
        .map_err(|e| usage(format!("cannot write in {}: {e}", dir.display())))?;
    puller.blob_to(&layer.digest, layer.size, tmp.as_file_mut()).await?;
    tmp.as_file().sync_all()?;
    tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o755))?;
    tmp.persist(&dest).map_err(|e| e.error).with_context(|| format!("installing {}", dest.display()))?;
    Ok(dest)
}
