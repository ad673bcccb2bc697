//! The build cache of `--cache-dir`: one cargo target folder (each target's std and common
//! dependencies under its own `<triple>/` subfolder) and one `CARGO_HOME` that survive between
//! crates on one machine, created with a marker and bounded by `--cache-max-gib`. Which entries to
//! prune ([`prune_plan`]) is pure; opening, sizing and pruning the folder are the I/O edge.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;

use crate::error::usage;

/// The marker cratemill writes in a cache folder it created; a folder without it is never used or
/// pruned.
pub const CACHE_MARKER: &str = "CRATEMILL-CACHE";

/// One per-target subfolder of the cache's target folder: its name, size and last use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    pub name: String,
    pub bytes: u64,
    pub used: SystemTime,
}

/// Which entries to delete, least recently used first, until the rest fit in `max_bytes`. Pure.
pub fn prune_plan(entries: &[CacheEntry], max_bytes: u64) -> Vec<String> {
    let mut total: u64 = entries.iter().map(|e| e.bytes).sum();
    let mut by_age: Vec<&CacheEntry> = entries.iter().collect();
    by_age.sort_by_key(|e| e.used);
    let mut gone = Vec::new();
    for e in by_age {
        if total <= max_bytes {
            break;
        }
        total -= e.bytes;
        gone.push(e.name.clone());
    }
    gone
}

/// A cache folder cratemill owns (it carries [`CACHE_MARKER`]).
#[derive(Debug)]
pub struct Cache {
    root: PathBuf,
    max_bytes: u64,
}

impl Cache {
    /// Open or create the cache; a non-empty folder cratemill did not create is refused.
    pub fn open(root: &Path, max_gib: u64) -> anyhow::Result<Cache> {
        let marker = root.join(CACHE_MARKER);
        if root.exists() && !marker.is_file() {
            let empty =
                std::fs::read_dir(root).with_context(|| format!("reading {}", root.display()))?.next().is_none();
            if !empty {
                return Err(usage(format!(
                    "--cache-dir {} is not empty and is not a cratemill cache: name a new or empty folder",
                    root.display()
                )));
            }
        }
        std::fs::create_dir_all(root.join("target")).with_context(|| format!("creating {}", root.display()))?;
        std::fs::write(&marker, "cratemill build cache: cargo target folder under target/\n")?;
        Ok(Cache { root: root.to_path_buf(), max_bytes: max_gib.saturating_mul(1 << 30) })
    }

    pub fn target_dir(&self) -> PathBuf {
        self.root.join("target")
    }

    /// The `CARGO_HOME` the cached builds share (the fetched registry; no config, no credentials).
    pub fn cargo_home(&self) -> PathBuf {
        self.root.join("cargo-home")
    }

    /// Delete least recently used per-target subfolders (and the host's `release/`) until the cache
    /// fits; returns what was deleted (as paths under the cache). The shared `cargo-home/` counts
    /// towards the bound too; every cached build uses it, so it counts as used now and goes last.
    pub fn prune(&self) -> anyhow::Result<Vec<String>> {
        let dir = self.target_dir();
        let mut entries = Vec::new();
        for e in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?.flatten() {
            let meta = e.metadata()?;
            if meta.is_dir() {
                let name = format!("target/{}", e.file_name().to_string_lossy());
                entries.push(CacheEntry { name, bytes: tree_size(&e.path()), used: meta.modified()? });
            }
        }
        let home = self.cargo_home();
        if home.is_dir() {
            entries.push(CacheEntry { name: "cargo-home".into(), bytes: tree_size(&home), used: SystemTime::now() });
        }
        let gone = prune_plan(&entries, self.max_bytes);
        for name in &gone {
            std::fs::remove_dir_all(self.root.join(name)).with_context(|| format!("pruning cache entry {name}"))?;
        }
        Ok(gone)
    }
}

fn tree_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return 0 };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path).map(|rd| rd.flatten().map(|e| tree_size(&e.path())).sum()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Exit;
    use std::time::Duration;

    #[test]
    fn prune_removes_least_recently_used_until_it_fits() {
        let t0 = SystemTime::UNIX_EPOCH;
        let e = |name: &str, gib: u64, age: u64| CacheEntry {
            name: name.into(),
            bytes: gib << 30,
            used: t0 + Duration::from_secs(1000 - age),
        };
        let entries = [e("aarch64", 3, 10), e("riscv64gc", 3, 500), e("release", 1, 1), e("x86_64", 3, 100)];
        assert_eq!(prune_plan(&entries, 10 << 30), Vec::<String>::new());
        assert_eq!(prune_plan(&entries, 6 << 30), ["riscv64gc", "x86_64"]);
        assert_eq!(prune_plan(&entries, 0), ["riscv64gc", "x86_64", "aarch64", "release"]);
    }

    #[test]
    fn cache_refuses_a_folder_it_did_not_make_and_prunes_only_its_own() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("precious"), "x").unwrap();
        assert_eq!(crate::error::exit_of(&Cache::open(dir.path(), 1).unwrap_err()), Exit::Usage);
        assert!(dir.path().join("precious").exists());
        let root = dir.path().join("cache");
        let cache = Cache::open(&root, 0).unwrap();
        std::fs::create_dir_all(cache.target_dir().join("aarch64-unknown-linux-musl")).unwrap();
        std::fs::write(cache.target_dir().join("aarch64-unknown-linux-musl/lib.rlib"), vec![0u8; 4096]).unwrap();
        std::fs::create_dir_all(cache.cargo_home().join("registry")).unwrap();
        std::fs::write(cache.cargo_home().join("registry/x.crate"), vec![0u8; 4096]).unwrap();
        // The per-target folder goes first, the shared CARGO_HOME (counted too) last.
        assert_eq!(cache.prune().unwrap(), ["target/aarch64-unknown-linux-musl", "cargo-home"]);
        assert!(!cache.cargo_home().exists() && !cache.target_dir().join("aarch64-unknown-linux-musl").exists());
        assert!(root.join(CACHE_MARKER).is_file() && cache.target_dir().is_dir());
        assert!(Cache::open(&root, 1).is_ok(), "its own cache opens again");
    }
}
