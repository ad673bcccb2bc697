//! `cratemill build`: one crate x one target, from crates.io to a package folder of static,
//! smoke-tested executables with licenses, checksums, build log, source archive and result.json.
//!
//! Pipeline (each step its own module): [`run`] plans the invocation ([`invocation`], with
//! [`cache`] for `--cache-dir`), validates and resolves every target's job ([`setup`]), and runs
//! them in order ([`job`], which always writes result.json). A job: [`output`] (claim the output
//! folder) -> resolve + fetch + verify + unpack (`crates_io`) -> [`prepare`] (with [`harden`]) ->
//! the attempt ladder ([`ladder`]: dependency fetch + offline attempts, with [`attempts`],
//! [`backend`], [`env`](mod@env), [`log`], [`classify`], alike targets in one cargo invocation by [`group`])
//! inside the [`sandbox`], every process started by [`process`] -> [`collect`] + [`executables`]
//! (`crate::elf`, [`smoke`] of a copy, in the sandbox) -> [`license`] -> [`srcbuild`] + `package`.
//! Chaining into `publish` (`build --publish`) is `crate::commands`' job, so this module never
//! depends on `publish` (which, like it, reads ELF files with `crate::elf`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

use crate::error::Exit;

pub mod args;
pub mod attempts;
pub mod backend;
pub mod cache;
pub mod classify;
pub mod collect;
pub mod compiled;
pub mod emulator;
pub mod env;
pub mod executables;
pub mod group;
pub mod harden;
pub mod invocation;
pub mod job;
pub mod ladder;
pub mod license;
pub mod lift;
pub mod limits;
pub mod log;
pub mod manifest;
pub mod notice;
pub mod output;
pub mod prepare;
pub mod process;
pub mod sandbox;
pub mod scrub;
pub mod setup;
pub mod smoke;
pub mod srcbuild;
pub mod summary;
pub mod toolchain;

pub use args::BuildArgs;

use cache::Cache;
use group::GroupOutcome;
use invocation::{GroupRole, JobPlan};

/// The folders the jobs of one invocation share ([`invocation`]), deleted with it (but the cache).
struct Shared {
    cache: Option<Cache>,
    /// Several targets without a cache still share one target folder for this invocation.
    scratch: Option<tempfile::TempDir>,
    /// Only cratemill writes here (the jobs' sandboxes never see it), and every reuse is verified.
    downloads: Option<tempfile::TempDir>,
}

impl Shared {
    fn create(args: &BuildArgs, several: bool) -> anyhow::Result<Shared> {
        let cache = args.cache_dir.as_deref().map(|d| Cache::open(d, args.cache_max_gib)).transpose()?;
        if let Some(dir) = &args.cache_dir {
            crate::note!(
                "note: --cache-dir {} is shared, writable, by every crate built with it: use it only for crates you would build in one job (docs/security.md, \"Shared target folders\")",
                dir.display()
            );
        }
        let temp = |prefix: &str, what: &str| {
            tempfile::Builder::new().prefix(prefix).tempdir().with_context(|| format!("creating {what}"))
        };
        let scratch =
            if cache.is_none() && several { Some(temp("cratemill-shared-", "a shared target folder")?) } else { None };
        let downloads = if several { Some(temp("cratemill-downloads-", "a downloads folder")?) } else { None };
        Ok(Shared { cache, scratch, downloads })
    }

    /// The plan of the job for `target`.
    fn plan(&self, args: &BuildArgs, target: &'static crate::target::Target, several: bool) -> JobPlan {
        let downloads = self.downloads.as_ref().map(|d| d.path().to_path_buf());
        JobPlan {
            target,
            out: invocation::out_for(args.out.as_deref(), target.triple, several),
            shared_target_dir: self
                .cache
                .as_ref()
                .map(Cache::target_dir)
                .or_else(|| self.scratch.as_ref().map(|d| d.path().to_path_buf())),
            // The registry sources at one path for every job of the shared target folder: in the
            // cache (it outlives the invocation, like the target folder) or beside the downloads.
            shared_cargo_home: match (&self.cache, &downloads) {
                (Some(cache), _) => Some(cache.cargo_home()),
                (None, Some(d)) => Some(d.join("cargo-home")),
                (None, None) => None,
            },
            shared_downloads: downloads,
            role: GroupRole::Alone,
        }
    }
}

/// Build every `--target`; returns each job's exit and package folder, in target order.
pub async fn run(args: &BuildArgs) -> anyhow::Result<Vec<(Exit, PathBuf)>> {
    let targets = invocation::plan_targets(&args.targets)?;
    let several = targets.len() > 1;
    let shared = Shared::create(args, several)?;
    // Every job is validated and resolved before any builds, so that alike targets can be grouped.
    let mut jobs = Vec::new();
    for target in targets {
        jobs.push(setup::start(args, shared.plan(args, target, several)).await?);
    }
    let keys: Vec<_> = jobs.iter().map(setup::Started::group_key).collect();
    if group::can_group(&keys) {
        let others = jobs[1..].iter().map(setup::Started::target).collect();
        jobs[0].lead(others);
    }
    let mut done = Vec::new();
    let mut outcome: Option<Arc<GroupOutcome>> = None;
    for mut job in jobs {
        if let Some(o) = &outcome {
            job.follow(o.clone());
        }
        let finished = job::run(job).await?;
        outcome = outcome.or(finished.group);
        done.push((finished.exit, finished.out));
    }
    if let Some(cache) = &shared.cache {
        for gone in cache.prune()? {
            crate::note!("cache over {} GiB: removed {gone}", args.cache_max_gib);
        }
    }
    Ok(done)
}
