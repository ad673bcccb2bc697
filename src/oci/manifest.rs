//! OCI 1.1 artifact manifests: cratemill's artifact types, the media type of each file, the empty
//! config, and the exact manifest bytes (and so the digest) of an artifact. Pure logic: files are
//! described by their already-computed digests, never read here.

use std::collections::BTreeMap;
use std::path::PathBuf;

use oci_client::manifest::{OciDescriptor, OciImageManifest, OCI_IMAGE_MEDIA_TYPE};
use sha2::Digest;

use super::annotations::{EXECUTABLE, TITLE};

/// `artifactType` of a binary package (executables, licenses, CHECKSUMS, result.json, build log).
pub const PACKAGE_ARTIFACT_TYPE: &str = "application/vnd.cratemill.package.v1";
/// `artifactType` of a `-srcbuild-` source archive.
pub const SRCBUILD_ARTIFACT_TYPE: &str = "application/vnd.cratemill.srcbuild.v1";
pub const MANIFEST_MEDIA_TYPE: &str = OCI_IMAGE_MEDIA_TYPE;
/// An OCI image index (a layout's `index.json`, a referrers list, the referrers fallback tag).
pub const IMAGE_INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// `artifactType` of the built index pushed by `report --push-index` (read by `install --index
/// oci://`), and the media type of its one layer, `index.json`.
pub const BUILT_INDEX_ARTIFACT_TYPE: &str = "application/vnd.cratemill.built-index.v1";
pub const BUILT_INDEX_MEDIA_TYPE: &str = "application/vnd.cratemill.built-index.v1+json";

pub const EXECUTABLE_MEDIA_TYPE: &str = "application/vnd.cratemill.executable.v1";
pub const SRCBUILD_MEDIA_TYPE: &str = "application/vnd.cratemill.srcbuild.v1.tar+zstd";
pub const RESULT_MEDIA_TYPE: &str = "application/vnd.cratemill.build-result.v1+json";
/// The CycloneDX SBOM (the media type CycloneDX registers for its JSON form).
pub const SBOM_MEDIA_TYPE: &str = "application/vnd.cyclonedx+json";
pub const TEXT_MEDIA_TYPE: &str = "text/plain; charset=utf-8";
pub const OCTET_MEDIA_TYPE: &str = "application/octet-stream";

/// The OCI 1.1 empty descriptor used as config of artifacts.
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
pub const EMPTY_BYTES: &[u8] = b"{}";
pub const EMPTY_DIGEST: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

/// Where a blob's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobSource {
    File(PathBuf),
    Bytes(Vec<u8>),
}

/// One blob of an artifact: its descriptor and its bytes.
#[derive(Debug, Clone)]
pub struct Blob {
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    pub size: u64,
    pub source: BlobSource,
}

impl Blob {
    pub fn empty_config() -> Blob {
        Blob {
            media_type: EMPTY_MEDIA_TYPE.into(),
            digest: EMPTY_DIGEST.into(),
            size: EMPTY_BYTES.len() as u64,
            source: BlobSource::Bytes(EMPTY_BYTES.to_vec()),
        }
    }

    /// The hex part of the digest.
    pub fn hex(&self) -> &str {
        self.digest.strip_prefix("sha256:").unwrap_or(&self.digest)
    }
}

/// A file of the package as a layer: its package-relative path becomes its title.
#[derive(Debug, Clone)]
pub struct FileLayer {
    pub path: String,
    pub abs: PathBuf,
    pub sha256: String,
    pub size: u64,
    pub media_type: String,
    /// The executable name, for `bin/*` layers.
    pub executable: Option<String>,
}

/// A manifest ready to push: its exact bytes, its digest and every blob it references (config first).
#[derive(Debug, Clone)]
pub struct Artifact {
    pub artifact_type: String,
    pub manifest: Vec<u8>,
    /// `sha256:<hex>` of `manifest`.
    pub digest: String,
    pub blobs: Vec<Blob>,
}

/// The media type of a package file, from its path.
pub fn media_type_for(path: &str) -> &'static str {
    if path.starts_with("bin/") {
        EXECUTABLE_MEDIA_TYPE
    } else if path.starts_with("srcbuild/") {
        SRCBUILD_MEDIA_TYPE
    } else if path == crate::package::RESULT_FILE {
        RESULT_MEDIA_TYPE
    } else if path == crate::package::SBOM_FILE {
        SBOM_MEDIA_TYPE
    } else if path.starts_with("licenses/")
        || path == crate::package::LOG_FILE
        || path == crate::package::CHECKSUMS_FILE
    {
        TEXT_MEDIA_TYPE
    } else {
        OCTET_MEDIA_TYPE
    }
}

pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// Build an artifact manifest with an empty config and one layer per file, in the given order.
pub fn artifact(artifact_type: &str, layers: &[FileLayer], annotations: BTreeMap<String, String>) -> Artifact {
    let config = Blob::empty_config();
    let mut blobs = vec![config.clone()];
    let mut descriptors = Vec::new();
    for layer in layers {
        let mut ann = BTreeMap::from([(TITLE.to_string(), layer.path.clone())]);
        if let Some(exe) = &layer.executable {
            ann.insert(EXECUTABLE.to_string(), exe.clone());
        }
        let digest = format!("sha256:{}", layer.sha256);
        descriptors.push(descriptor(&layer.media_type, &digest, layer.size, Some(ann)));
        blobs.push(Blob {
            media_type: layer.media_type.clone(),
            digest,
            size: layer.size,
            source: BlobSource::File(layer.abs.clone()),
        });
    }
    let manifest = OciImageManifest {
        schema_version: 2,
        media_type: Some(MANIFEST_MEDIA_TYPE.to_string()),
        config: descriptor(&config.media_type, &config.digest, config.size, None),
        layers: descriptors,
        subject: None,
        artifact_type: Some(artifact_type.to_string()),
        annotations: Some(annotations),
    };
    let bytes = serde_json::to_vec(&manifest).expect("a manifest always serializes");
    Artifact { artifact_type: artifact_type.to_string(), digest: sha256_digest(&bytes), manifest: bytes, blobs }
}

fn descriptor(
    media_type: &str,
    digest: &str,
    size: u64,
    annotations: Option<BTreeMap<String, String>>,
) -> OciDescriptor {
    OciDescriptor {
        media_type: media_type.to_string(),
        digest: digest.to_string(),
        size: size as i64,
        urls: None,
        annotations,
        artifact_type: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_digest_is_right() {
        assert_eq!(sha256_digest(EMPTY_BYTES), EMPTY_DIGEST);
    }

    #[test]
    fn manifest_shape_and_determinism() {
        let layers = vec![FileLayer {
            path: "bin/rg".into(),
            abs: "/x/bin/rg".into(),
            sha256: "a".repeat(64),
            size: 3,
            media_type: media_type_for("bin/rg").into(),
            executable: Some("rg".into()),
        }];
        let ann = BTreeMap::from([("k".to_string(), "v".to_string())]);
        let a = artifact(PACKAGE_ARTIFACT_TYPE, &layers, ann.clone());
        let b = artifact(PACKAGE_ARTIFACT_TYPE, &layers, ann);
        assert_eq!(a.manifest, b.manifest);
        assert_eq!(a.digest, sha256_digest(&a.manifest));
        let v: serde_json::Value = serde_json::from_slice(&a.manifest).unwrap();
        assert_eq!(v["schemaVersion"], 2);
        assert_eq!(v["mediaType"], MANIFEST_MEDIA_TYPE);
        assert_eq!(v["artifactType"], PACKAGE_ARTIFACT_TYPE);
        assert_eq!(v["config"]["digest"], EMPTY_DIGEST);
        assert_eq!(v["layers"][0]["annotations"][TITLE], "bin/rg");
        assert_eq!(v["layers"][0]["mediaType"], EXECUTABLE_MEDIA_TYPE);
        assert_eq!(a.blobs.len(), 2);
    }

    #[test]
    fn media_types_by_path() {
        assert_eq!(media_type_for("result.json"), RESULT_MEDIA_TYPE);
        assert_eq!(media_type_for("licenses/LICENSE-MIT"), TEXT_MEDIA_TYPE);
        assert_eq!(media_type_for("srcbuild/x-1-srcbuild.tar.zst"), SRCBUILD_MEDIA_TYPE);
        assert_eq!(media_type_for("other"), OCTET_MEDIA_TYPE);
    }
}
