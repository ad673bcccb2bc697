//! The publish plan: from a verified package and a destination to the two artifacts to store (the
//! `-srcbuild-` source archive first, then the binary package that links to it), with their
//! references and exact manifest bytes. Pure: nothing is read or sent here.

use std::path::PathBuf;

use crate::error::usage;
use crate::oci::manifest::{self, FileLayer, PACKAGE_ARTIFACT_TYPE, SRCBUILD_ARTIFACT_TYPE};
use crate::oci::reference::{self, ImageRef, RegistryPrefix, Repository, Scheme};
use crate::oci::{annotations, Artifact};
use crate::package::{PackageFile, VerifiedPackage, CHECKSUMS_FILE, SRCBUILD_DIR};
use crate::schema::publish::{PushedLayer, ReferenceKind};

/// Where the package goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Registry {
        prefix: RegistryPrefix,
        insecure: bool,
    },
    /// Root of the local layouts: one image layout per repository under it.
    Layout(PathBuf),
}

impl Destination {
    /// As recorded in `publish.json`: `host/path`, or `oci:<dir>`.
    pub fn describe(&self) -> String {
        match self {
            Destination::Registry { prefix, .. } => prefix.to_string(),
            Destination::Layout(dir) => format!("oci:{}", dir.display()),
        }
    }
}

/// One artifact to store under one reference.
#[derive(Debug, Clone)]
pub struct Planned {
    pub kind: ReferenceKind,
    pub image: ImageRef,
    pub artifact: Artifact,
    pub layers: Vec<PushedLayer>,
}

impl Planned {
    /// The tag to store the artifact under (a plan names its images by tag, [`ImageRef::tagged`]).
    pub fn tag(&self) -> &str {
        self.image.pin.as_str()
    }
}

#[derive(Debug, Clone)]
pub struct PublishPlan {
    pub build_id: String,
    pub scheme: Scheme,
    /// In push order: the source archive, then the binary.
    pub artifacts: Vec<Planned>,
}

/// Plan the publish of `pkg`. Fails (usage) when the package has no `-srcbuild-` archive or its
/// names cannot form valid references.
pub fn plan(pkg: &VerifiedPackage, dest: &Destination, scheme: Scheme, build_id: &str) -> anyhow::Result<PublishPlan> {
    let r = &pkg.result;
    let Some(src) = pkg.srcbuild() else {
        return Err(usage(format!(
            "{} has no source archive {SRCBUILD_DIR}/{}: refusing to publish binaries without the -srcbuild- source they were built from",
            pkg.dir.display(),
            crate::package::srcbuild_file_name(&r.crate_name, &r.version)
        )));
    };
    let names = reference::names(scheme, &r.crate_name, &r.version, &r.target, build_id)?;
    let repository = match dest {
        Destination::Registry { prefix, .. } => Repository::remote(prefix, scheme, names.repository_suffix.as_deref())?,
        Destination::Layout(root) => Repository::layout(root, names.repository_suffix.as_deref()),
    };
    let src_image = ImageRef::tagged(repository.clone(), &names.srcbuild_tag);
    let bin_image = ImageRef::tagged(repository, &names.binary_tag);
    src_image.check().map_err(|e| usage(e.to_string()))?;
    bin_image.check().map_err(|e| usage(e.to_string()))?;

    let src_layers = vec![layer(src, None)];
    let src_artifact = manifest::artifact(SRCBUILD_ARTIFACT_TYPE, &src_layers, annotations::srcbuild(r, build_id));

    let mut bin_layers = Vec::new();
    for exe in &r.executables {
        let file = pkg.file(&exe.path).ok_or_else(|| {
            usage(format!("{} lists {} but the package lacks it", crate::package::RESULT_FILE, exe.path))
        })?;
        bin_layers.push(layer(file, Some(exe.name.clone())));
    }
    for file in &pkg.files {
        let is_exe = r.executables.iter().any(|e| e.path == file.path);
        if !is_exe && !file.path.starts_with(&format!("{SRCBUILD_DIR}/")) {
            bin_layers.push(layer(file, None));
        }
    }
    bin_layers.push(layer(&pkg.checksums, None));
    debug_assert_eq!(pkg.checksums.path, CHECKSUMS_FILE);
    let bin_annotations =
        annotations::binary(r, build_id, &src_image.to_string(), &names.srcbuild_tag, &src_artifact.digest);
    let bin_artifact = manifest::artifact(PACKAGE_ARTIFACT_TYPE, &bin_layers, bin_annotations);

    Ok(PublishPlan {
        build_id: build_id.to_string(),
        scheme,
        artifacts: vec![
            Planned {
                kind: ReferenceKind::Srcbuild,
                image: src_image,
                layers: pushed_layers(&src_layers),
                artifact: src_artifact,
            },
            Planned {
                kind: ReferenceKind::Binary,
                image: bin_image,
                layers: pushed_layers(&bin_layers),
                artifact: bin_artifact,
            },
        ],
    })
}

fn layer(file: &PackageFile, executable: Option<String>) -> FileLayer {
    FileLayer {
        path: file.path.clone(),
        abs: file.abs.clone(),
        sha256: file.digests.sha256.clone(),
        size: file.digests.size,
        media_type: manifest::media_type_for(&file.path).to_string(),
        executable,
    }
}

fn pushed_layers(layers: &[FileLayer]) -> Vec<PushedLayer> {
    layers
        .iter()
        .map(|l| PushedLayer {
            title: l.path.clone(),
            media_type: l.media_type.clone(),
            digest: format!("sha256:{}", l.sha256),
            size: l.size,
        })
        .collect()
}
