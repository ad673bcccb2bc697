//! One invocation, several targets: `cratemill build CRATE --target A --target B ...` runs the
//! per-target [`job`](super::job) once per target, in order, and writes one package folder (with its
//! own result.json, exactly as if built alone) per target. Every job is validated and resolved
//! first; when all of them settle alike ([`group::can_group`]), the first one builds every target
//! in one cargo invocation and the others take their executables from it ([`group`]).
//!
//! What the targets share: one cargo target folder, so the host-side artifacts (build scripts,
//! proc-macros), compiled once, serve every target; one `CARGO_HOME` with the fetched registry (it
//! must stay at one path, or the build scripts' `rerun-if-changed` paths into it look changed and
//! every host artifact is rebuilt per target); the verified `.crate`, downloaded once; and, with
//! `--cache-dir`, a target folder and `CARGO_HOME` that survive between crates on one machine
//! (each target's std and common dependencies under its own `<triple>/` subfolder), bounded by
//! `--cache-max-gib`. Planning ([`plan_targets`], [`out_for`], [`worst`], [`prune_plan`]) is pure; the
//! cache folder and the job loop are the I/O edge.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::Context;

use crate::error::{usage, Exit};
use crate::target::Target;

use super::args::BuildArgs;
use super::group::{self, GroupOutcome};
use super::log::BuildLog;

/// The marker cratemill writes in a cache folder it created; a folder without it is never used or
/// pruned.
pub const CACHE_MARKER: &str = "CRATEMILL-CACHE";

/// What the invocation decided for one job.
#[derive(Debug, Clone, Default)]
pub struct PerJob {
    /// The target triple (`None`: the host's).
    pub target: Option<String>,
    /// The package folder (`None`: `cratemill-out/<crate>-<version>-<target>`).
    pub out: Option<PathBuf>,
    /// A cargo target folder shared with other jobs (`None`: a private one in the work folder).
    pub shared_target_dir: Option<PathBuf>,
    /// A folder where the invocation's jobs leave the verified `.crate` for each other, so that
    /// several targets download it once (`None`: a single target).
    pub shared_downloads: Option<PathBuf>,
    /// A `CARGO_HOME` shared by the jobs of a shared target folder (`None`: the job's own). Its
    /// registry sources must stay at one path: a build script's `rerun-if-changed` paths name
    /// them, and a path that moved makes cargo rebuild every host artifact for each target.
    pub shared_cargo_home: Option<PathBuf>,
    /// A group leader's other targets, built with its own in one cargo invocation ([`group`]).
    pub group: Vec<&'static Target>,
    /// A group member's view of the leader's grouped build.
    pub grouped: Option<Arc<GroupOutcome>>,
}

impl PerJob {
    /// The job's target folder and, when it is not the shared one, cargo's `build-dir` for its
    /// units. The shared folder is the target folder only with `--artifact-dir` (unstable flags),
    /// which takes the executables out of it; otherwise they would be collected from
    /// `<target>/<triple>/release`, where another crate's could be. Then the target folder is
    /// private and the shared one is the build-dir (cargo 1.91 and later; older cargo ignores it
    /// and keeps everything in the private folder).
    pub fn target_dir_or(&self, private: &Path, artifact_dir: bool, log: &mut BuildLog) -> (PathBuf, Option<PathBuf>) {
        match &self.shared_target_dir {
            Some(dir) if artifact_dir => {
                log.note(&format!("shared target folder {}", dir.display()));
                (dir.clone(), None)
            }
            Some(dir) => {
                log.note(&format!(
                    "shared build folder {} (cargo's build-dir; the executables go to a private target folder)",
                    dir.display()
                ));
                (private.to_path_buf(), Some(dir.clone()))
            }
            None => (private.to_path_buf(), None),
        }
    }
}

/// The `--target` values, checked and de-duplicated in order (empty: the host's). Pure.
pub fn plan_targets(values: &[String]) -> anyhow::Result<Vec<Option<&'static str>>> {
    let mut out: Vec<Option<&'static str>> = Vec::new();
    for v in values {
        let t = Target::parse(v)?;
        if out.contains(&Some(t.triple)) {
            return Err(usage(format!("--target {} is given twice", t.triple)));
        }
        out.push(Some(t.triple));
    }
    if out.is_empty() {
        out.push(None);
    }
    Ok(out)
}

/// The package folder of one target: `--out` itself for one target, `--out/<triple>` for several. Pure.
pub fn out_for(out: Option<&Path>, triple: Option<&str>, several: bool) -> Option<PathBuf> {
    match (out, triple) {
        (Some(o), Some(t)) if several => Some(o.join(t)),
        (o, _) => o.map(Path::to_path_buf),
    }
}

/// The exit code of the whole invocation: the most severe of its jobs'. Pure.
pub fn worst(exits: &[Exit]) -> Exit {
    let rank = |e: &Exit| match e {
        Exit::Ok => 0,
        Exit::Failed => 1,
        Exit::Usage => 2,
        Exit::Internal => 3,
    };
    exits.iter().copied().max_by_key(rank).unwrap_or(Exit::Ok)
}

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

/// Build every target; returns each job's exit and package folder, in target order.
pub async fn run(args: &BuildArgs) -> anyhow::Result<Vec<(Exit, PathBuf)>> {
    let targets = plan_targets(&args.targets)?;
    let several = targets.len() > 1;
    let cache = args.cache_dir.as_deref().map(|d| Cache::open(d, args.cache_max_gib)).transpose()?;
    if let Some(dir) = &args.cache_dir {
        crate::note!(
            "note: --cache-dir {} is shared, writable, by every crate built with it: use it only for crates you would build in one job (docs/security.md, \"Shared target folders\")",
            dir.display()
        );
    }
    // Several targets without a cache still share one target folder for this invocation.
    let scratch = if cache.is_none() && several {
        Some(
            tempfile::Builder::new()
                .prefix("cratemill-shared-")
                .tempdir()
                .context("creating a shared target folder")?,
        )
    } else {
        None
    };
    let shared = cache.as_ref().map(Cache::target_dir).or_else(|| scratch.as_ref().map(|d| d.path().to_path_buf()));
    // Only cratemill writes here (the jobs' sandboxes never see it), and every reuse is verified.
    let downloads = if several {
        Some(tempfile::Builder::new().prefix("cratemill-downloads-").tempdir().context("creating a downloads folder")?)
    } else {
        None
    };
    // The registry sources at one path for every job of the shared target folder: in the cache
    // (it outlives the invocation, like the target folder) or beside the shared downloads.
    let cargo_home = match (&cache, &downloads) {
        (Some(cache), _) => Some(cache.cargo_home()),
        (None, Some(d)) => Some(d.path().join("cargo-home")),
        (None, None) => None,
    };
    // Every job is validated and resolved before any builds, so that alike targets can be grouped.
    let mut jobs = Vec::new();
    for triple in targets {
        let per_job = PerJob {
            target: triple.map(str::to_string),
            out: out_for(args.out.as_deref(), triple, several),
            shared_target_dir: shared.clone(),
            shared_downloads: downloads.as_ref().map(|d| d.path().to_path_buf()),
            shared_cargo_home: cargo_home.clone(),
            ..PerJob::default()
        };
        jobs.push(super::job::start(args, per_job).await?);
    }
    let keys: Vec<_> = jobs.iter().map(super::job::Started::group_key).collect();
    if group::can_group(&keys) {
        let others = jobs[1..].iter().map(super::job::Started::target).collect();
        jobs[0].lead(others);
    }
    let mut done = Vec::new();
    let mut outcome: Option<Arc<GroupOutcome>> = None;
    for mut job in jobs {
        if let Some(o) = &outcome {
            job.follow(o.clone());
        }
        let finished = super::job::run(args, job).await?;
        outcome = outcome.or(finished.group);
        done.push((finished.exit, finished.out));
    }
    if let Some(cache) = &cache {
        for gone in cache.prune()? {
            crate::note!("cache over {} GiB: removed {gone}", args.cache_max_gib);
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn targets_are_checked_and_unique() {
        assert_eq!(plan_targets(&[]).unwrap(), vec![None]);
        let two = ["aarch64-unknown-linux-musl".to_string(), "riscv64gc-unknown-linux-musl".to_string()];
        assert_eq!(plan_targets(&two).unwrap().len(), 2);
        let twice = [two[0].clone(), two[0].clone()];
        assert_eq!(crate::error::exit_of(&plan_targets(&twice).unwrap_err()), Exit::Usage);
        assert!(plan_targets(&["x86_64-pc-windows-msvc".to_string()]).is_err());
    }

    #[test]
    fn several_targets_get_a_folder_each_under_out() {
        let out = Path::new("/o");
        assert_eq!(out_for(Some(out), Some("a-b-c"), true), Some(PathBuf::from("/o/a-b-c")));
        assert_eq!(out_for(Some(out), Some("a-b-c"), false), Some(PathBuf::from("/o")));
        assert_eq!(out_for(None, Some("a-b-c"), true), None);
    }

    #[test]
    fn worst_exit_wins() {
        assert_eq!(worst(&[Exit::Ok, Exit::Failed, Exit::Ok]), Exit::Failed);
        assert_eq!(worst(&[Exit::Internal, Exit::Failed]), Exit::Internal);
        assert_eq!(worst(&[]), Exit::Ok);
    }

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
