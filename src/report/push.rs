//! `report --push-index REF`: the built index as an OCI artifact in the registry (one layer,
//! `index.json`), so the next plan and `cratemill install` can fetch it from where the packages
//! are. Pushed with the same client and rules as packages (blob, manifest by digest, read back,
//! then the tag). I/O edge.

use std::path::Path;

use crate::error::usage;
use crate::oci::manifest::{artifact, FileLayer};
use crate::oci::reference::{parse_registry, ImageRef, Repository};
use crate::oci::{RegistryClient, Tuning};

/// `artifactType` of the pushed index, and its layer's media type.
pub const INDEX_ARTIFACT_TYPE: &str = "application/vnd.cratemill.built-index.v1";
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.cratemill.built-index.v1+json";

/// Parse `host/repository:tag` (the tag is required).
pub fn parse_ref(value: &str) -> anyhow::Result<ImageRef> {
    let bad = |why: &str| {
        usage(format!("invalid --push-index `{value}`: {why} (give host/repository:tag, e.g. ghcr.io/acme/cratemill-index:latest)"))
    };
    let (name, tag) = match value.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') && !t.is_empty() => (n, t),
        _ => return Err(bad("no tag")),
    };
    let prefix = parse_registry(name).map_err(|e| bad(&crate::error::one_line(&e)))?;
    if prefix.path.is_empty() {
        return Err(bad("no repository"));
    }
    if !crate::oci::reference::valid_tag(tag) {
        return Err(bad("the tag is not a valid OCI tag"));
    }
    let image = ImageRef { repository: Repository::Remote { host: prefix.host, name: prefix.path }, tag: tag.into() };
    image.check()?;
    Ok(image)
}

/// Push the index file at `path` to `image`; returns the manifest digest.
pub async fn push_index(image: &ImageRef, path: &Path, insecure: bool) -> anyhow::Result<String> {
    let Repository::Remote { host, name } = &image.repository else {
        unreachable!("parse_ref makes remote references")
    };
    let digests = crate::package::digest_file(path)?;
    let layer = FileLayer {
        path: "index.json".into(),
        abs: path.to_path_buf(),
        sha256: digests.sha256,
        size: std::fs::metadata(path)?.len(),
        media_type: INDEX_MEDIA_TYPE.into(),
        executable: None,
    };
    let art = artifact(INDEX_ARTIFACT_TYPE, &[layer], Default::default());
    let creds = crate::oci::Credentials::from_env();
    let client = RegistryClient::connect(host, name, insecure, creds, Tuning::default()).await?;
    Ok(crate::oci::push::push(&client, &image.tag, &art, crate::oci::push::TagRule::Move).await?.digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(parse_ref("ghcr.io/acme/index:latest").unwrap().to_string(), "ghcr.io/acme/index:latest");
        assert_eq!(parse_ref("127.0.0.1:5000/mirror/index:v1").unwrap().to_string(), "127.0.0.1:5000/mirror/index:v1");
        for bad in ["ghcr.io/acme/index", "127.0.0.1:5000:latest", "ghcr.io/a/b:bad tag"] {
            assert!(parse_ref(bad).is_err(), "{bad}");
        }
    }
}
