//! Reading what gets attested: package folders (checked like `publish` checks them) and the
//! `Cargo.lock` inside each `-srcbuild-` archive. I/O edge; the decisions are in [`super::statement`]
//! and [`super::predicate`].

use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::Digest;

use super::predicate::{package_id, PackageFacts};
use super::statement::Subject;
use crate::error::usage;
use crate::package::{self, VerifiedPackage};

/// One package ready to attest.
#[derive(Debug, Clone)]
pub struct Input {
    pub package: VerifiedPackage,
    pub subjects: Vec<Subject>,
    pub facts: PackageFacts,
}

/// `--batch` takes result files; plain arguments are package folders. Either way: the folder.
pub fn package_dir(arg: &Path) -> PathBuf {
    if arg.file_name().is_some_and(|n| n == package::RESULT_FILE) && arg.is_file() {
        arg.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
    } else {
        arg.to_path_buf()
    }
}

/// Check a package folder and collect its subjects and facts.
pub fn load(dir: &Path) -> anyhow::Result<Input> {
    if !dir.join(package::RESULT_FILE).is_file() {
        return Err(usage(format!(
            "{} has no result.json: give the package folder `cratemill build` wrote (or its result.json)",
            dir.display()
        )));
    }
    let pkg = package::verify(dir).with_context(|| format!("checking package {}", dir.display()))?;
    let id = package_id(&pkg.result);
    let mut subjects: Vec<Subject> =
        pkg.files.iter().map(|f| Subject::new(format!("{id}/{}", f.path), f.digests.sha256.clone())).collect();
    subjects.push(Subject::new(format!("{id}/{}", pkg.checksums.path), pkg.checksums.digests.sha256.clone()));
    let facts = PackageFacts {
        cargo_lock_sha256: match pkg.srcbuild() {
            Some(src) => cargo_lock_digest(&src.abs, &pkg.result.crate_name, &pkg.result.version)?,
            None => None,
        },
        build_log_sha256: pkg.file(package::LOG_FILE).map(|f| f.digests.sha256.clone()),
    };
    Ok(Input { package: pkg, subjects, facts })
}

/// sha256 of `<crate>-<version>-srcbuild/source/Cargo.lock` in the archive, if it has one.
fn cargo_lock_digest(archive: &Path, crate_name: &str, version: &str) -> anyhow::Result<Option<String>> {
    let want = format!("{crate_name}-{version}-srcbuild/source/Cargo.lock");
    let (file, _) =
        crate::untrusted::open_regular(archive, u64::MAX).with_context(|| format!("opening {}", archive.display()))?;
    let mut tar = tar::Archive::new(zstd::Decoder::new(file)?);
    for entry in tar.entries().with_context(|| format!("reading {}", archive.display()))? {
        let mut entry = entry?;
        if entry.path()?.to_str() == Some(want.as_str()) {
            // Streamed: a hostile archive's entry can be any size; memory stays one buffer.
            let mut hasher = sha2::Sha256::new();
            std::io::copy(&mut entry, &mut hasher)?;
            return Ok(Some(hex::encode(hasher.finalize())));
        }
    }
    Ok(None)
}
