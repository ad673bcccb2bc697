//! `publish.json`: every OCI reference `cratemill publish` pushed for one package, with digests.

use serde::{Deserialize, Serialize};

use super::{Document, Layout, SCHEMA_VERSION};

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct PublishRecord {
    pub schema_version: u32,
    pub kind: String,
    #[serde(rename = "crate")]
    pub crate_name: String,
    pub version: String,
    pub target: String,
    /// `ghcr.io/<owner>` style registry prefix, or `oci:<dir>` for a local image layout.
    pub destination: String,
    pub published_at: String,
    /// The build id in the `-srcbuild-` tag (GitHub run id and attempt, or `local-<hex>`).
    #[serde(default)]
    pub build_id: String,
    /// How packages are spread over repositories (see docs/publishing.md).
    #[serde(default)]
    pub layout: Layout,
    pub references: Vec<PushedReference>,
}

impl Document for PublishRecord {
    const KIND: &'static str = "cratemill.publish-record";
}

impl PublishRecord {
    pub fn new(crate_name: &str, version: &str, target: &str, destination: &str) -> PublishRecord {
        PublishRecord {
            schema_version: SCHEMA_VERSION,
            kind: Self::KIND.to_string(),
            crate_name: crate_name.to_string(),
            version: version.to_string(),
            target: target.to_string(),
            destination: destination.to_string(),
            published_at: super::now_rfc3339(),
            build_id: String::new(),
            layout: Layout::default(),
            references: Vec::new(),
        }
    }
}

impl PublishRecord {
    /// The job's key.
    pub fn key(&self) -> super::JobKey {
        super::JobKey::new(&self.crate_name, &self.version, &self.target)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct PushedReference {
    /// Full reference, `registry/repository:tag`.
    pub reference: String,
    /// Manifest digest, `sha256:<hex>`.
    pub digest: String,
    pub kind: ReferenceKind,
    /// The manifest's `artifactType`.
    #[serde(default)]
    pub artifact_type: String,
    /// The tag already pointed at this digest: nothing was written.
    #[serde(default)]
    pub unchanged: bool,
    /// Blobs uploaded / already in the registry or layout.
    #[serde(default)]
    pub blobs_uploaded: usize,
    #[serde(default)]
    pub blobs_present: usize,
    /// Every layer: its title (package-relative path), digest and size.
    #[serde(default)]
    pub layers: Vec<PushedLayer>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct PushedLayer {
    pub title: String,
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, schemars::JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ReferenceKind {
    Binary,
    Srcbuild,
    Attestation,
}
