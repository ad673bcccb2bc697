//! Before every cargo call after crate code may have run: nothing the crate left in the writable tree
//! may steer cargo. Cargo reads `.cargo/config.toml` in its working folder and every folder above it,
//! and rustup reads `rust-toolchain(.toml)` there; a build script can write them into the crate
//! folder or the work folder (a `rustc-wrapper` that then runs during the next dependency fetch,
//! which has the network). [`prepare`](super::prepare) removes the ones the crate ships; this module
//! removes any that appeared since, at every level from cargo's working folder up to the work folder,
//! and notices a changed manifest (a `[patch]` with a git URL would make the fetch reach any host).
//!
//! [`levels`] and [`Manifests::changed`] are the pure decision core; [`remove_shadowing`] and
//! [`Manifests::take`] are the I/O edge. Files are looked at without following links.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The names that steer cargo, rustup or cross from a folder: `prepare`'s list.
pub use super::prepare::REMOVED as SHADOWING;

/// The folders cargo and rustup look in for their configuration, from `cwd` up to and including
/// `work` (cratemill's work folder; above it nothing is writable by crate code). Empty when `cwd` is
/// not inside `work`. Pure.
pub fn levels(work: &Path, cwd: &Path) -> Vec<PathBuf> {
    if !cwd.starts_with(work) {
        return Vec::new();
    }
    cwd.ancestors().take_while(|dir| dir.starts_with(work)).map(Path::to_path_buf).collect()
}

/// Remove every [`SHADOWING`] entry at each of [`levels`]; returns what was removed. A link is
/// removed as a link (never followed), a folder with everything in it. I/O.
pub fn remove_shadowing(work: &Path, cwd: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for dir in levels(work, cwd) {
        for name in SHADOWING {
            let path = dir.join(name);
            if super::prepare::remove_entry(&path)? {
                removed.push(path);
            }
        }
    }
    Ok(removed)
}

/// Every `Cargo.toml` under a crate folder with what it holds: a sha256 of a regular file's bytes,
/// or `link:<target>` for a link (never followed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifests(BTreeMap<PathBuf, String>);

/// A walk of a crate folder stops after this many entries (a hostile tree cannot stall cratemill).
const MAX_ENTRIES: usize = 200_000;
/// A manifest larger than this is recorded by its size only (cargo refuses such files anyway).
const MAX_MANIFEST: u64 = 8 << 20;

impl Manifests {
    /// Look at the manifests under `root`. I/O.
    pub fn take(root: &Path) -> Manifests {
        let mut found = BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        let mut seen = 0usize;
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                seen += 1;
                if seen > MAX_ENTRIES {
                    found.insert(root.join("..."), format!("more than {MAX_ENTRIES} entries"));
                    return Manifests(found);
                }
                let Ok(kind) = entry.file_type() else { continue };
                let path = entry.path();
                if kind.is_dir() {
                    stack.push(path);
                } else if entry.file_name() == "Cargo.toml" {
                    found.insert(path.clone(), fingerprint(&path, kind.is_symlink()));
                }
            }
        }
        Manifests(found)
    }

    /// The manifests added, removed or changed in `now` since `self`. Pure.
    pub fn changed(&self, now: &Manifests) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = self.0.keys().chain(now.0.keys()).cloned().collect();
        paths.sort();
        paths.dedup();
        paths.retain(|p| self.0.get(p) != now.0.get(p));
        paths
    }
}

/// What a manifest holds, without following a link. I/O.
fn fingerprint(path: &Path, link: bool) -> String {
    if link {
        return format!("link:{}", std::fs::read_link(path).map(|t| t.display().to_string()).unwrap_or_default());
    }
    match crate::untrusted::read_regular(path, MAX_MANIFEST, crate::untrusted::deadline()) {
        Ok(bytes) => hex::encode(Sha256::digest(&bytes)),
        Err(e) => format!("unreadable: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_run_from_cargos_folder_up_to_the_work_folder() {
        let work = Path::new("/tmp/w");
        let got = levels(work, Path::new("/tmp/w/src/app-1.0.0"));
        let want: Vec<PathBuf> = ["/tmp/w/src/app-1.0.0", "/tmp/w/src", "/tmp/w"].iter().map(PathBuf::from).collect();
        assert_eq!(got, want);
        assert!(levels(work, Path::new("/home/u")).is_empty());
        assert!(levels(work, Path::new("/tmp/wx/src")).is_empty(), "a sibling with a longer name is not inside");
    }

    #[test]
    fn planted_configs_are_removed_at_every_level_and_links_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        let root = work.join("src/app-1.0.0");
        std::fs::create_dir_all(root.join(".cargo")).unwrap();
        std::fs::create_dir_all(work.join(".cargo")).unwrap();
        std::fs::write(work.join(".cargo/config.toml"), "[build]\nrustc-wrapper = '/tmp/evil'\n").unwrap();
        std::fs::write(work.join("src/rust-toolchain.toml"), "[toolchain]\npath = '/tmp/evil'\n").unwrap();
        // A link to a folder outside: the link goes, the folder it points at stays.
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("keep"), "x").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("Cross.toml")).unwrap();
        let removed = remove_shadowing(&work, &root).unwrap();
        assert_eq!(removed.len(), 4, "{removed:?}");
        for p in
            [root.join(".cargo"), work.join(".cargo"), work.join("src/rust-toolchain.toml"), root.join("Cross.toml")]
        {
            assert!(std::fs::symlink_metadata(&p).is_err(), "{} is still there", p.display());
        }
        assert!(outside.join("keep").exists(), "the link was followed");
        assert!(remove_shadowing(&work, &root).unwrap().is_empty());
    }

    #[test]
    fn a_changed_added_or_linked_manifest_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("member")).unwrap();
        std::fs::write(root.join("Cargo.toml"), "[package]\nname = 'app'\n").unwrap();
        std::fs::write(root.join("member/Cargo.toml"), "[package]\nname = 'm'\n").unwrap();
        let before = Manifests::take(root);
        assert!(before.changed(&Manifests::take(root)).is_empty());
        std::fs::write(
            root.join("Cargo.toml"),
            "[package]\nname = 'app'\n[patch.crates-io]\nx = { git = 'https://evil' }\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.join("new")).unwrap();
        std::fs::write(root.join("new/Cargo.toml"), "").unwrap();
        std::fs::remove_file(root.join("member/Cargo.toml")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("member/Cargo.toml")).unwrap();
        let changed = before.changed(&Manifests::take(root));
        let want: Vec<PathBuf> =
            ["Cargo.toml", "member/Cargo.toml", "new/Cargo.toml"].iter().map(|p| root.join(p)).collect();
        assert_eq!(changed, want);
    }
}
