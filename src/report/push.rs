//! `report --push-index REF`: the built index as an OCI artifact in the registry (one layer,
//! `index.json`), so the next plan and `cratemill install` can fetch it from where the packages
//! are. Pushed with the same client and rules as packages (blob, manifest by digest, read back,
//! then the tag). I/O edge.

use std::path::Path;

use crate::error::usage;
use crate::oci::manifest::{artifact, FileLayer, BUILT_INDEX_ARTIFACT_TYPE, BUILT_INDEX_MEDIA_TYPE};
use crate::oci::reference::ImageRef;
use crate::oci::{RegistryClient, Tuning};

/// Parse `host/repository:tag` (a registry reference by tag, [`ImageRef`]'s grammar).
pub fn parse_ref(value: &str) -> anyhow::Result<ImageRef> {
    let bad = |why: &dyn std::fmt::Display| {
        usage(format!("invalid --push-index `{value}`: {why} (give host/repository:tag, e.g. ghcr.io/acme/cratemill-index:latest)"))
    };
    let image: ImageRef = value.parse().map_err(|e| bad(&e))?;
    image.remote_tagged().map_err(|e| bad(&e))?;
    Ok(image)
}

/// Push the index file at `path` to `image`; returns the manifest digest.
pub async fn push_index(image: &ImageRef, path: &Path, insecure: bool) -> anyhow::Result<String> {
    let (host, name, tag) = image.remote_tagged()?;
    let digests = crate::package::digest_file(path)?;
    let layer = FileLayer {
        path: "index.json".into(),
        abs: path.to_path_buf(),
        sha256: digests.sha256,
        size: std::fs::metadata(path)?.len(),
        media_type: BUILT_INDEX_MEDIA_TYPE.into(),
        executable: None,
    };
    let art = artifact(BUILT_INDEX_ARTIFACT_TYPE, &[layer], Default::default());
    let creds = crate::oci::Credentials::from_env();
    let client = RegistryClient::connect(host, name, insecure, creds, Tuning::default()).await?;
    Ok(crate::oci::push::push(&client, tag, &art, crate::oci::push::TagRule::Move).await?.digest)
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
