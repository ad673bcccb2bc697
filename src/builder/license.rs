//! License detection: find the crate's license files, identify each with askalono against the
//! bundled SPDX store (no download at run time, see assets/README.md), and copy them into the package;
//! then the same for every package the build compiled ([`third_party`]): their texts read from
//! their unpacked sources, the notice, list and SBOM written ([`super::notice`] decides what).
//!
//! The crate tree has been through the build (crate code could have replaced any file by a link, a
//! FIFO or a huge file), so every read goes through [`crate::untrusted`]: regular files only, no
//! link on the way, at most [`LICENSE_CAP`] bytes each. Finding and naming is pure; reading and
//! copying is the I/O edge.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::Context;
use askalono::{Store, TextData};

use super::compiled::{self, Compiled};
pub use super::notice::Subject;
use super::notice::{self, Found};
use crate::schema::result::{Executable, LicenseFile, Licenses, PackageRole, ThirdParty};
use crate::untrusted::{self, LICENSE_CAP};

static CACHE: &[u8] = include_bytes!("../../assets/askalono-spdx-cache.bin.zstd");

/// askalono's own threshold for a confident match.
pub const MATCH_THRESHOLD: f32 = 0.8;

fn store() -> anyhow::Result<&'static Store> {
    static STORE: OnceLock<Result<Store, String>> = OnceLock::new();
    STORE
        .get_or_init(|| Store::from_cache(CACHE).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| anyhow::anyhow!("loading the bundled SPDX license store: {e}"))
}

/// Load the bundled store now (from a background thread), so the license phase does not wait for it.
pub fn warm_up() {
    let _ = store();
}

/// Identify a license text: the SPDX id and askalono's score (0..1), `None` below the threshold.
pub fn identify(text: &str) -> anyhow::Result<(Option<String>, f32)> {
    let m = store()?.analyze(&TextData::from(text));
    Ok(((m.score >= MATCH_THRESHOLD).then(|| m.name.to_string()), m.score))
}

/// Is this file name a license file by convention?
pub fn is_license_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["LICENSE", "LICENCE", "COPYING", "UNLICENSE", "COPYRIGHT", "NOTICE"].iter().any(|p| upper.starts_with(p))
}

/// License files of an unpacked crate, relative to its root: conventional names at the root, every
/// file in a REUSE-style `LICENSES/` folder, and the manifest's `license-file`. Sorted, no duplicates.
pub fn find_license_files(root: &Path, license_file: Option<&str>) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root).with_context(|| format!("listing {}", root.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type()?;
        if kind.is_file() && is_license_name(&name) {
            found.push(name);
        } else if kind.is_dir() && name == "LICENSES" {
            for inner in std::fs::read_dir(entry.path())? {
                let inner = inner?;
                if inner.file_type()?.is_file() {
                    found.push(format!("LICENSES/{}", inner.file_name().to_string_lossy()));
                }
            }
        }
    }
    if let Some(lf) = license_file {
        let normal = lf.trim_start_matches("./");
        let safe = !normal.split('/').any(|c| c == ".." || c.is_empty()) && !normal.starts_with('/');
        let regular = std::fs::symlink_metadata(root.join(normal)).is_ok_and(|m| m.file_type().is_file());
        if safe && regular {
            found.push(normal.to_string());
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// The package file name for a license file: its path with `/` turned into `-`.
pub fn package_name(source_path: &str) -> String {
    source_path.replace('/', "-")
}

/// Detect and copy every license file of `crate_root` (inside `tree`, the job's work folder) into
/// `dest_dir` (`<package>/licenses`). A license file that is a link, not a regular file, larger than
/// [`LICENSE_CAP`] or reached through a link fails the phase: it names no license cratemill can ship.
pub fn collect(
    tree: &untrusted::Tree,
    crate_root: &Path,
    declared: Option<&str>,
    license_file: Option<&str>,
    dest_dir: &Path,
) -> anyhow::Result<Licenses> {
    let mut files = Vec::new();
    tree.check_dir(crate_root)?;
    let sources = find_license_files(crate_root, license_file)?;
    if !sources.is_empty() {
        std::fs::create_dir_all(dest_dir)?;
    }
    for source in sources {
        let path = crate_root.join(&source);
        let bytes = tree.read(&path, LICENSE_CAP)?.with_context(|| format!("{source} vanished after the build"))?;
        let (spdx, confidence) = identify(&String::from_utf8_lossy(&bytes))?;
        let name = package_name(&source);
        std::fs::write(dest_dir.join(&name), &bytes)?;
        let sha256 = crate::package::digest_file(&dest_dir.join(&name))?.sha256;
        files.push(LicenseFile {
            path: format!("{}/{name}", crate::package::LICENSES_DIR),
            source_path: source,
            sha256,
            spdx,
            confidence,
        });
    }
    Ok(Licenses { declared: declared.map(str::to_string), files })
}

/// The largest `.crate` hashed for the list (crates.io takes at most 10 MiB; a mirror may allow more).
const CRATE_CAP: u64 = 256 << 20;

/// What the third-party list of one package is made from.
pub struct ThirdPartyJob<'a> {
    /// `cargo metadata` and `cargo tree` of the build (target, features).
    pub described: &'a compiled::Described,
    pub root_manifest: &'a Path,
    /// Where a compiled package's source may be read: the work folder, and CARGO_HOME when it is
    /// outside it. A package elsewhere is listed with its texts unreadable.
    pub trees: &'a [untrusted::Tree],
    /// The package folder.
    pub out: &'a Path,
    pub subject: notice::Subject<'a>,
    pub executables: &'a [Executable],
    /// The verified `.crate`'s sha256 (the crate itself).
    pub crate_sha256: &'a str,
    /// The index the crate came from (cargo sees the crate itself as a path package).
    pub index_url: &'a str,
}

/// Every compiled package with its license texts; the notice, list and SBOM written into the
/// package folder. Licensing problems are recorded, never an error; an error is a metadata
/// document that is not one, or a package file that cannot be written.
pub fn third_party(job: &ThirdPartyJob) -> anyhow::Result<ThirdParty> {
    let packages = compiled::compiled(job.described, job.root_manifest)?;
    let mut known: std::collections::BTreeMap<Vec<u8>, (Option<String>, f32)> = Default::default();
    let mut assessed = Vec::new();
    for p in &packages {
        let tree = job.trees.iter().find(|t| p.root.starts_with(&t.root));
        let found = tree.map_or(Found { files: Vec::new(), unreadable: true }, |t| read_texts(t, p, &mut known));
        let (checksum, p) = match p.role {
            PackageRole::Root => {
                let source = compiled::source_label(Some(&format!("sparse+{}", job.index_url)));
                (Some(job.crate_sha256.to_string()), Compiled { source, ..p.clone() })
            }
            _ => (tree.and_then(|t| cached_sha256(t, &p.root)), p.clone()),
        };
        assessed.push(notice::assess(&p, checksum, &found));
    }
    let records: Vec<_> = assessed.iter().map(|(r, _)| r.clone()).collect();
    let notice_path = job.out.join(notice::NOTICE);
    std::fs::create_dir_all(notice_path.parent().expect("licenses/"))?;
    std::fs::write(&notice_path, notice::notice(&job.subject, &assessed))?;
    std::fs::write(job.out.join(notice::LIST), notice::list(&job.subject, &records))?;
    std::fs::write(job.out.join(notice::SBOM), notice::sbom(&records, job.executables))?;
    Ok(ThirdParty {
        packages: records,
        notice: notice::NOTICE.into(),
        list: notice::LIST.into(),
        sbom: notice::SBOM.into(),
    })
}

/// A compiled package's license files, read from its source (regular files, no link on the way,
/// capped), each identified once per distinct text (`known`).
fn read_texts(
    tree: &untrusted::Tree,
    p: &Compiled,
    known: &mut std::collections::BTreeMap<Vec<u8>, (Option<String>, f32)>,
) -> Found {
    let mut found = Found::default();
    let names = match tree.check_dir(&p.root).map_err(anyhow::Error::from) {
        Ok(()) => find_license_files(&p.root, p.license_file.as_deref()),
        Err(e) => Err(e),
    };
    let Ok(names) = names else {
        found.unreadable = true;
        return found;
    };
    for name in names {
        let Ok(Some(bytes)) = tree.read(&p.root.join(&name), LICENSE_CAP) else {
            found.unreadable = true;
            continue;
        };
        let id = match known.get(&bytes) {
            Some(id) => id.clone(),
            None => {
                let id = identify(&String::from_utf8_lossy(&bytes)).unwrap_or((None, 0.0));
                known.insert(bytes.clone(), id.clone());
                id
            }
        };
        found.files.push((name, bytes, id.0, id.1));
    }
    found
}

/// sha256 of the `.crate` cargo downloaded for a registry package (its registry cache, which the
/// build's sandbox could not write), `None` for another package or one not readable.
fn cached_sha256(tree: &untrusted::Tree, root: &Path) -> Option<String> {
    let path = compiled::cached_crate(root)?;
    untrusted::check_beneath(&tree.root, &path, false).ok()?;
    let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
    untrusted::copy_regular(&path, &mut hasher, CRATE_CAP, tree.deadline).ok()?;
    Some(hex::encode(sha2::Digest::finalize(hasher)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIT: &str = "MIT License\n\nCopyright (c) 2024 Someone\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\nof this software and associated documentation files (the \"Software\"), to deal\nin the Software without restriction, including without limitation the rights\nto use, copy, modify, merge, publish, distribute, sublicense, and/or sell\ncopies of the Software, and to permit persons to whom the Software is\nfurnished to do so, subject to the following conditions:\n\nThe above copyright notice and this permission notice shall be included in all\ncopies or substantial portions of the Software.\n\nTHE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR\nIMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,\nFITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE\nAUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER\nLIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,\nOUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE\nSOFTWARE.\n";

    #[test]
    fn identifies_mit_and_rejects_prose() {
        let (id, score) = identify(MIT).unwrap();
        assert_eq!(id.as_deref(), Some("MIT"), "score {score}");
        let (id, _) = identify("This is a README about a command-line tool.").unwrap();
        assert_eq!(id, None);
    }

    #[test]
    fn collects_conventional_and_reuse_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("c");
        std::fs::create_dir_all(root.join("LICENSES")).unwrap();
        std::fs::write(root.join("LICENSE-MIT"), MIT).unwrap();
        std::fs::write(root.join("LICENSES/MIT.txt"), MIT).unwrap();
        std::fs::write(root.join("README.md"), "readme").unwrap();
        let out = dir.path().join("pkg/licenses");
        let tree = untrusted::Tree::new(dir.path(), untrusted::deadline());
        let l = collect(&tree, &root, Some("MIT OR Apache-2.0"), Some("../../etc/passwd"), &out).unwrap();
        let paths: Vec<&str> = l.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["licenses/LICENSE-MIT", "licenses/LICENSES-MIT.txt"]);
        assert!(l.files.iter().all(|f| f.spdx.as_deref() == Some("MIT")));
        assert!(out.join("LICENSE-MIT").is_file());
    }

    #[test]
    fn a_license_file_replaced_by_a_link_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("c");
        std::fs::create_dir_all(&root).unwrap();
        std::os::unix::fs::symlink("/proc/self/environ", root.join("LICENSE")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("EVIL-LICENSE")).unwrap();
        let out = dir.path().join("pkg/licenses");
        let tree = untrusted::Tree::new(dir.path(), untrusted::deadline());
        // A link found by name is skipped; a declared license-file that is a link is not found either.
        let l = collect(&tree, &root, Some("MIT"), Some("EVIL-LICENSE"), &out).unwrap();
        assert!(l.files.is_empty(), "{:?}", l.files);
        // The crate root itself replaced by a link (to a folder with a real LICENSE) is refused.
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("LICENSE"), MIT).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &root).unwrap();
        let err = collect(&tree, &root, Some("MIT"), None, &out).unwrap_err();
        assert!(err.to_string().contains("is a symbolic link"), "{err}");
    }
}
