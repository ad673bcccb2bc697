//! The attempt ladder of one build job: fetch the dependencies (in the sandbox, with the network,
//! running no crate code), then run offline build attempts, each in the sandbox until the job's
//! deadline, until one produces executables or the ladder (`attempts`) ends. A
//! group leader first builds every target of its group in one cargo invocation (`group`); a member
//! takes its executables from that build. Every attempt is recorded in result.json, classified
//! when it failed, with the toolchain it ran: after a nightly breakage the ladder asks once whether
//! stable can build the target (`toolchain::stable_retry`) and, if so, the next attempt runs on it;
//! if not, the failure says why. After a failure naming a `-sys` crate of the lock graph with a
//! vendoring feature (`prepare::plan_addition`, pure), the next attempt adds it to the crate's
//! manifest, pinned to its locked version, recorded in result.json (`manifest_additions`, a
//! `prepare` step) and replayed by the `-srcbuild-` archive; an attempt whose executables need a
//! shared library such a crate can build (`libz.so.1`: `libz-sys`) counts as a `not-static` failure
//! for that purpose. After a failure naming a package of
//! the shipped lock (or with a known blocker of the target in it: `lift::plan`, pure), the ladder
//! lifts that one package (`cargo update -p NAME@FROM`, with the network, run like the fetch),
//! records it (`lock_lifts`, a `prepare` step) and the next attempt uses that lock. I/O edge: runs cargo through `process`; the command lines
//! (`backend`, `group`), the next attempt (`attempts`) and the classification (`classify`) are pure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::actions::Runner;
use crate::schema::result::{Attempt, BuildResult, FailureClass, LockLift, ManifestAddition, Toolchain};
use crate::schema::{Backend, Phase};

use super::attempts::{self, Rung, ToolchainPick};
use super::backend::{self, BuildRequest, CargoToolchain, FetchRequest, Lock};
use super::classify;
use super::collect::{self, Produced};
pub use super::compiled::Described;
use super::compiled::METADATA_CAP;
use super::group::{self, GroupOutcome};
use super::invocation::GroupRole;
use super::lift;
use super::log::BuildLog;
use super::prepare;
use super::process::{self, CommandLine, Env, Outcome, Output, Process};
use super::sandbox::{self, JobFolders, Policy};
use super::scrub::{self, Manifests};
use super::setup::{classified, ms, phase_err, PhaseError, Setup};
use super::toolchain;

/// What the prepare phase decided for the attempts.
pub struct Prepared {
    pub has_lock: bool,
    /// Features added to every attempt (vendoring).
    pub extras: Vec<String>,
    pub child_env: BTreeMap<String, String>,
    pub target_dir: PathBuf,
    /// Cargo's build-dir for the units, when it is not the target folder (a shared one on stable).
    pub build_dir: Option<PathBuf>,
}

/// One job's ladder: what it reads (the setup), and the log and result it adds to.
pub struct Ladder<'a> {
    pub setup: &'a Setup,
    pub runner: &'a Runner,
    pub log: &'a mut BuildLog,
    pub result: &'a mut BuildResult,
    /// The job's work folder (the one writable tree of its sandbox).
    pub work: &'a Path,
    /// When the attempts must end: `--timeout` from the job's start, renewed for a leader whose
    /// grouped build failed.
    pub deadline: Instant,
    /// A leader's grouped build, handed to the invocation's other jobs.
    pub group: Option<Arc<GroupOutcome>>,
    /// The crate's manifests as they were before the first cargo call (before any crate code ran).
    pub manifests: Option<Manifests>,
    /// The features and lock of the attempt that built (this job's or its group's).
    pub built: Option<Rung>,
    /// What cargo said about the last attempt's packages, asked before it ran (before any crate
    /// code of that attempt): the job takes it when the attempt built.
    pub described: Option<Result<Described, PhaseError>>,
    /// How long asking took, over all attempts.
    pub described_in: std::time::Duration,
    /// The stable toolchain for a retry after a nightly breakage, or why there is none; asked at
    /// the first nightly breakage.
    pub stable: Option<Result<Toolchain, String>>,
}

impl Ladder<'_> {
    /// The attempt ladder: run attempts until one produces executables or the ladder ends.
    pub async fn climb(&mut self, root: &Path, prepared: &Prepared) -> Result<Vec<Produced>, PhaseError> {
        if let Some(dir) = self.follow_group() {
            let rung = self.built.clone().expect("a member follows its group's rung");
            self.describe(root, &rung, prepared).await?;
            return self.collect(&dir);
        }
        let mut rung = attempts::first(self.setup.features.clone(), prepared.extras.clone(), prepared.has_lock);
        let mut tried: Vec<Rung> = Vec::new();
        let mut fetched: Option<Fetched> = None;
        if !self.setup.plan.group_others().is_empty() {
            if let Some(dir) = self.lead_group(&rung, root, prepared, &mut fetched).await? {
                return self.collect(&dir);
            }
        }
        loop {
            tried.push(rung.clone());
            let n = tried.len();
            if rung.lock == Lock::Fresh {
                prepare::set_lock_aside(root, self.log).map_err(phase_err(Phase::Build, FailureClass::Unknown))?;
            }
            self.add_dependencies(root, &rung.additions)?;
            let key = (rung.lock, rung.toolchain, rung.lifts.len());
            let fetch_failed = if fetched == Some(key) {
                None
            } else {
                fetched = Some(key);
                self.fetch_deps(&rung, root, prepared).await?
            };
            let end = match fetch_failed {
                Some((c, attempt)) => {
                    self.result.attempts.push(attempt);
                    AttemptEnd::Failed(c)
                }
                None => {
                    self.describe(root, &rung, prepared).await?;
                    self.attempt(n, &rung, root, prepared).await?
                }
            };
            let failed = match end {
                AttemptEnd::Produced(dir) => {
                    let produced = self.collect(&dir)?;
                    match self.dynamic_but_vendorable(&produced, root, &rung) {
                        Some(c) => c,
                        None => return Ok(produced),
                    }
                }
                AttemptEnd::Failed(c) => c,
            };
            let broke = failed.class == FailureClass::NightlyBreakage && rung.toolchain == ToolchainPick::Chosen;
            let hints = self.hints_after(&failed, broke, root, (&rung, n), prepared).await?;
            match attempts::next(&rung, &hints, &tried) {
                Some(next) if Instant::now() < self.deadline => {
                    if next.retry > 0 {
                        let how = if next.one_job { ", with one job" } else { "" };
                        let (k, max) = (next.retry, attempts::SPURIOUS_RETRIES);
                        self.log.note(&format!(
                            "{} is spurious: the same attempt again{how} (retry {k} of {max})",
                            failed.class
                        ));
                    }
                    if next.toolchain != rung.toolchain {
                        let rustc = self.toolchain_for(&next).rustc.clone();
                        self.log.note(&format!("nightly broke the build: the next attempt runs on stable ({rustc})"));
                    }
                    rung = next;
                }
                _ => return Err(self.gave_up(&failed, n, broke)),
            }
        }
    }

    /// What the failure `failed` of attempt `n` on `rung` says about the next attempt; when the
    /// nightly retry and vendoring do not apply, a package of the shipped lock it names is lifted
    /// first ([`Ladder::lift_for`]).
    async fn hints_after(
        &mut self,
        failed: &classify::Classification,
        broke: bool,
        root: &Path,
        (rung, n): (&Rung, usize),
        prepared: &Prepared,
    ) -> Result<attempts::Hints, PhaseError> {
        let stable_available = broke && self.stable_toolchain().await.is_ok();
        let vendor = self.vendoring_for(failed, root, &rung.additions);
        let lift = if stable_available || vendor.is_some() || !prepared.has_lock || n >= attempts::MAX_ATTEMPTS {
            None
        } else {
            self.lift_for(failed, root, rung, prepared).await?
        };
        Ok(attempts::Hints {
            class: failed.class,
            lock_outdated: failed.lock_outdated,
            feature_problem: failed.feature_problem,
            dependency_error: failed.in_registry_dependency(),
            stable_available,
            vendor,
            lift,
        })
    }

    /// The registry packages of the crate's `Cargo.lock` as it is now, read through the one
    /// no-follow reader (crate code has run); `None` when there is none to read.
    fn lock_now(&self, root: &Path) -> Option<Vec<(String, String)>> {
        let work = crate::untrusted::Tree::new(self.work, self.deadline);
        let lock = work.read(&root.join("Cargo.lock"), crate::untrusted::LOCK_CAP).ok()??;
        Some(prepare::locked_packages(&String::from_utf8_lossy(&lock)))
    }

    /// Lift one package of the shipped lock that `failed` names (or a known blocker of the target,
    /// `lift::plan`) alone: `cargo update -p NAME@FROM [--precise V]`, which has the network, so it
    /// runs like the fetch: after [`Ladder::before_cargo`], in the sandbox's fetch policy. The lift,
    /// when it moved the package, is recorded (result.json `lock_lifts`, a `prepare` step, the log)
    /// and returned for the next attempt; a failed or empty update only leaves a note. What crate
    /// code can steer here: which locked package is lifted (the log is its output), never where
    /// cargo goes: the sources are the manifests' (checked unchanged by `before_cargo`), a lock
    /// entry of another source is not used, and `--precise` comes from `lift::BLOCKERS`.
    async fn lift_for(
        &mut self,
        failed: &classify::Classification,
        root: &Path,
        rung: &Rung,
        prepared: &Prepared,
    ) -> Result<Option<LockLift>, PhaseError> {
        use FailureClass::{BuildScriptFailed, CompileError, DependsOn, LinkError, UnsupportedTarget};
        let liftable =
            matches!(failed.class, CompileError | DependsOn | UnsupportedTarget | BuildScriptFailed | LinkError);
        if !liftable || rung.lock == Lock::Fresh || Instant::now() >= self.deadline {
            return Ok(None);
        }
        let Some(before) = self.lock_now(root) else { return Ok(None) };
        let Some(lift) = lift::plan(&failed.named, &before, self.setup.target.triple, &rung.lifts) else {
            return Ok(None);
        };
        let command =
            backend::update_command(&root.join("Cargo.toml"), &CargoToolchain::of(self.toolchain_for(rung)), &lift);
        let title = format!("lift {} alone in Cargo.lock", lift.spec());
        let run = self.run_as_fetch(&command, &title, root, rung, prepared).await?;
        let after = if run.success() { self.lock_now(root) } else { None };
        let Some((done, changed)) = after.and_then(|after| lift::record(&lift, &before, &after, &failed.summary))
        else {
            let why = run.lines.iter().rev().find(|l| l.contains("error")).cloned().unwrap_or_default();
            self.log.note(&format!("lifting {} alone did not move it: {why}", lift.spec()));
            return Ok(None);
        };
        let step = lift::step(&done);
        self.log.note(&format!("prepare: {step}, after: {} (changed: {})", done.reason, changed.join(", ")));
        self.result.prepare.push(step);
        self.result.lock_lifts.push(done.clone());
        Ok(Some(done))
    }

    /// The ladder's end after `n` attempts, the last of which failed as `failed`; after a nightly
    /// breakage that stable did not retry, the message says why not.
    fn gave_up(&self, failed: &classify::Classification, n: usize, broke: bool) -> PhaseError {
        let mut message = format!("{} (after {n} attempt{})", failed.summary, if n == 1 { "" } else { "s" });
        if let (true, Some(Err(why))) = (broke, &self.stable) {
            message.push_str(&format!("; no retry on stable: {why}"));
        }
        classified(Phase::Build, failed.class, message, failed.evidence.clone())
    }

    /// An attempt whose executables need a shared library that a `-sys` crate of the lock graph can
    /// build from source (`libz.so.1`: `libz-sys` with `static`), as a failed attempt (`not-static`,
    /// recorded on the attempt): the ladder adds that vendoring feature and builds again. `None`
    /// when every executable is static or nothing can vendor what they need (inspect then refuses
    /// them as before).
    fn dynamic_but_vendorable(
        &mut self,
        produced: &[Produced],
        root: &Path,
        rung: &Rung,
    ) -> Option<classify::Classification> {
        let facts = produced.iter().map(|p| (p.name.as_str(), p.facts.is_static(), &p.facts.needed[..]));
        let (summary, evidence) = super::executables::not_static(facts)?;
        let failed = classify::Classification {
            class: FailureClass::NotStatic,
            summary,
            evidence,
            lock_outdated: false,
            feature_problem: false,
            named: Vec::new(),
        };
        self.vendoring_for(&failed, root, &rung.additions)?;
        if let Some(last) = self.result.attempts.last_mut() {
            last.produced_binaries = false;
            last.failure = Some(failed.to_failure(Phase::Inspect));
        }
        self.log.note(&format!("{}: a -sys crate of the lock graph can build it from source", failed.summary));
        Some(failed)
    }

    /// The dependency to add after `failed`, when it names a `-sys` crate of the lock graph (the
    /// crate's `Cargo.lock` as the failed attempt left it) with a vendoring feature; a `-sys` crate
    /// outside `prepare::VENDORING` is asked for its features in the job's registry sources.
    fn vendoring_for(
        &mut self,
        failed: &classify::Classification,
        root: &Path,
        done: &[ManifestAddition],
    ) -> Option<ManifestAddition> {
        use FailureClass::{BuildScriptFailed, LinkError, MissingSystemLibrary, NotStatic};
        if !matches!(failed.class, MissingSystemLibrary | BuildScriptFailed | LinkError | NotStatic) {
            return None;
        }
        // Crate code has run: the lock, the manifest and the registry sources (writable by the
        // build when CARGO_HOME is the job's own) are read through the one no-follow reader.
        let work = crate::untrusted::Tree::new(self.work, self.deadline);
        let cargo_home = self.setup.cargo_home(self.work);
        let home = crate::untrusted::Tree::new(&cargo_home, self.deadline);
        let locked = self.lock_now(root)?;
        let sources = sandbox::registry_sources(&cargo_home);
        let features_of = |name: &str, version: &str| {
            let listed = home.check_dir(&sources).and_then(|()| std::fs::read_dir(&sources));
            let dirs = listed.into_iter().flatten().flatten();
            let manifest = dirs
                .map(|d| d.path().join(format!("{name}-{version}")).join("Cargo.toml"))
                .find_map(|m| home.read(&m, crate::untrusted::DOCUMENT_CAP).ok().flatten());
            manifest.map(|m| prepare::manifest_features(&String::from_utf8_lossy(&m))).unwrap_or_default()
        };
        let failing = prepare::named_sys_crates(&failed.summary, &failed.evidence);
        let mut addition = prepare::plan_addition(&failing, &locked, &features_of, done)?;
        let manifest = work.read(&root.join("Cargo.toml"), crate::untrusted::DOCUMENT_CAP).ok()??;
        let manifest = String::from_utf8_lossy(&manifest).into_owned();
        if let Err(e) = prepare::add_dependency(&manifest, &addition) {
            self.log.note(&format!("{} could vendor its library, but cannot be added: {e}", addition.package));
            return None;
        }
        addition.reason = failed.summary.clone();
        Some(addition)
    }

    /// Add to the crate's manifest the dependencies of `additions` not added yet (checked first:
    /// crate code did not change the manifests), each recorded in result.json and the log; the
    /// manifests as they are then are the ones later cargo calls check against.
    fn add_dependencies(&mut self, root: &Path, additions: &[ManifestAddition]) -> Result<(), PhaseError> {
        let new = &additions[self.result.manifest_additions.len().min(additions.len())..];
        if new.is_empty() {
            return Ok(());
        }
        self.before_cargo(root, Phase::Build)?;
        let tree = crate::untrusted::Tree::new(self.work, self.deadline);
        prepare::apply_additions(&tree, root, new).map_err(phase_err(Phase::Build, FailureClass::Unknown))?;
        for addition in new {
            let step = prepare::addition_step(addition);
            self.log.note(&format!("prepare: {step}, after: {}", addition.reason));
            self.result.prepare.push(step);
            self.result.manifest_additions.push(addition.clone());
        }
        self.manifests = Some(Manifests::take(root));
        Ok(())
    }

    /// The stable toolchain for a retry after a nightly breakage (asked once), or why there is none.
    async fn stable_toolchain(&mut self) -> Result<&Toolchain, &String> {
        if self.stable.is_none() {
            let setup = self.setup;
            let chosen = self.result.toolchain.as_ref().unwrap_or(&setup.toolchain);
            let found = toolchain::stable_retry(chosen, setup.toolchain_auto, setup.backend, setup.target).await;
            if let Err(why) = &found {
                self.log.note(&format!("nightly broke the build, and stable cannot retry it: {why}"));
            }
            self.stable = Some(found);
        }
        self.stable.as_ref().expect("asked above").as_ref()
    }

    /// The toolchain an attempt on `rung` runs.
    fn toolchain_for(&self, rung: &Rung) -> &Toolchain {
        match (rung.toolchain, &self.stable) {
            (ToolchainPick::Stable, Some(Ok(stable))) => stable,
            _ => &self.setup.toolchain,
        }
    }

    /// The target folder of an attempt on `rung`: the prepared one, or the job's private one when
    /// a stable attempt (no `--artifact-dir`) would otherwise leave its executables in a shared
    /// folder (the shared one is then its build-dir).
    fn target_dir_for(&self, rung: &Rung, prepared: &Prepared) -> PathBuf {
        let shared = prepared.build_dir.is_none() && self.setup.plan.shared_target_dir.is_some();
        if shared && !toolchain::unstable(self.toolchain_for(rung)) {
            self.work.join("target")
        } else {
            prepared.target_dir.clone()
        }
    }

    /// The environment of an attempt on `rung`: the prepared one; on stable without
    /// `RUSTC_BOOTSTRAP`, and with its own target folder ([`Ladder::target_dir_for`]).
    fn env_for(&self, rung: &Rung, prepared: &Prepared) -> BTreeMap<String, String> {
        let mut env = prepared.child_env.clone();
        if rung.toolchain == ToolchainPick::Chosen {
            return env;
        }
        env.remove("RUSTC_BOOTSTRAP");
        let target_dir = self.target_dir_for(rung, prepared);
        if target_dir != prepared.target_dir {
            env.insert("CARGO_TARGET_DIR".into(), target_dir.display().to_string());
            env.insert("CARGO_BUILD_BUILD_DIR".into(), prepared.target_dir.display().to_string());
        }
        env
    }

    /// A group leader's first attempt: every target of the group in one cargo invocation
    /// ([`group`]). Returns this target's executables when it built; either way the outcome is kept
    /// for the other jobs, and a failure leaves this job's own ladder to start afresh.
    async fn lead_group(
        &mut self,
        rung: &Rung,
        root: &Path,
        prepared: &Prepared,
        fetched: &mut Option<Fetched>,
    ) -> Result<Option<PathBuf>, PhaseError> {
        let setup = self.setup;
        let Some(shared) = setup.plan.shared_downloads.clone() else { return Ok(None) };
        if self.fetch_deps(rung, root, prepared).await?.is_some() {
            // Not an attempt of this target: its own ladder fetches again, for itself alone.
            self.log.note("fetching for every target of the group failed: each target builds alone");
            return Ok(None);
        }
        *fetched = Some((rung.lock, rung.toolchain, rung.lifts.len()));
        self.describe(root, rung, prepared).await?;
        let others: Vec<&str> = setup.plan.group_others().iter().map(|t| t.triple).collect();
        let command = group::command(&self.command_for(rung, root, None), &others);
        let grouped_dir = self.work.join("grouped");
        let dirs = (prepared.build_dir.as_deref().unwrap_or(&prepared.target_dir), grouped_dir.as_path());
        let env = group::env(&prepared.child_env, setup.plan.group_others(), backend::linker(setup.backend), dirs);
        let title =
            format!("build attempt 1: {} and {} in one cargo invocation", setup.target.triple, others.join(", "));
        let run = self.run_build(&title, &command, &env, root).await?;
        let dirs = if run.success() {
            group::keep(&grouped_dir, &setup.build_targets(), &shared.join("grouped"))
                .map_err(phase_err(Phase::Build, FailureClass::OutOfResources))?
        } else {
            self.log.note(&format!("the grouped build failed (exit {:?}): each target builds alone", run.code));
            self.deadline = setup.deadline_from(Instant::now());
            BTreeMap::new()
        };
        let outcome = GroupOutcome {
            leader: setup.target.triple,
            command,
            features: rung.features.describe(&rung.extra_features),
            rung: rung.clone(),
            lock: rung.lock,
            duration: run.duration,
            lines: run.lines,
            dirs,
        };
        let mine = outcome.dir_for(setup.target.triple).map(Path::to_path_buf);
        if mine.is_some() {
            self.record_grouped(&outcome);
        }
        self.group = Some(Arc::new(outcome));
        Ok(mine)
    }

    /// A group member's executables from the leader's grouped build, with its output replayed into
    /// this job's log; `None` (build alone) when there is no group or it did not make them.
    fn follow_group(&mut self) -> Option<PathBuf> {
        let GroupRole::Member(outcome) = &self.setup.plan.role else { return None };
        let outcome = outcome.clone();
        let triple = self.setup.target.triple;
        let Some(dir) = outcome.dir_for(triple) else {
            self.log.note(&format!(
                "the grouped build (led by {}) did not build {triple}: building it alone",
                outcome.leader
            ));
            return None;
        };
        self.log
            .group(self.runner, &format!("build attempt 1: {triple} built in one cargo invocation with the others"));
        self.log.note(&format!("$ {}", outcome.command.display().join(" ")));
        self.log.note(&format!("it ran in the job for {}; its output follows", outcome.leader));
        for line in &outcome.lines {
            self.log.line(line);
        }
        self.log.end_group(self.runner);
        self.record_grouped(&outcome);
        Some(dir.to_path_buf())
    }

    /// The grouped build as this job's one, successful, attempt.
    fn record_grouped(&mut self, outcome: &GroupOutcome) {
        self.built = Some(outcome.rung.clone());
        self.result.features_used = Some(outcome.features.clone());
        self.result.attempts.push(Attempt {
            features: outcome.features.clone(),
            locked: outcome.lock.locked(),
            fresh_lock: outcome.lock.fresh(),
            command: outcome.command.display(),
            duration_ms: ms(outcome.duration),
            exit_code: Some(0),
            produced_binaries: true,
            failure: None,
            channel: Some(self.setup.toolchain.channel),
            rustc: Some(self.setup.toolchain.rustc.clone()),
            spurious_retry: false,
        });
    }

    /// `cargo fetch` of the dependency graph (the shipped lock with `--locked`, else a fresh
    /// resolution) into cratemill's own CARGO_HOME, so that the build can run offline. Cargo runs no
    /// crate code here; it still runs in the sandbox, with the network. A failure is returned with
    /// its classification and the attempt to record (the ladder records it; a group's fetch is not
    /// an attempt of its leader).
    async fn fetch_deps(
        &mut self,
        rung: &Rung,
        root: &Path,
        prepared: &Prepared,
    ) -> Result<Option<(classify::Classification, Attempt)>, PhaseError> {
        let setup = self.setup;
        // Only the platforms the build needs: the target's (a group leader's: every target of the
        // group), and the host's for build scripts.
        let mut platforms: Vec<&'static str> = setup.build_targets().iter().map(|t| t.triple).collect();
        if !platforms.contains(&setup.host.triple) {
            platforms.push(setup.host.triple);
        }
        // The same toolchain and std as the build: a std built from source has dependencies of its
        // own, or the offline build cannot find them (`no matching package named cfg-if`).
        let command = backend::fetch_command(&FetchRequest {
            manifest_path: root.join("Cargo.toml"),
            toolchain: CargoToolchain::of(self.toolchain_for(rung)),
            platforms,
            lock: rung.lock,
        });
        let lock = if rung.lock.locked() { " (the shipped Cargo.lock)" } else { " (fresh resolution)" };
        let run = self.run_as_fetch(&command, &format!("fetch dependencies{lock}"), root, rung, prepared).await?;
        if run.success() {
            return Ok(None);
        }
        let c = classify::classify(&run.lines.join("\n"), &run);
        self.log.note(&format!("fetching the dependencies failed: {}: {}", c.class, c.summary));
        let mut attempt = attempt_record(rung, self.toolchain_for(rung), &command, &run);
        attempt.failure = Some(c.to_failure(Phase::Fetch));
        Ok(Some((c, attempt)))
    }

    /// Before every cargo call: the crate folder is still a folder inside the work folder, nothing
    /// crate code left in the writable tree steers cargo or rustup
    /// (`scrub`: `.cargo`, `rust-toolchain`, `Cross.toml` at every level from the crate up to the
    /// work folder are removed), and the crate's manifests are as they were before the first call;
    /// a manifest that crate code changed ends the job, since the next fetch has the network.
    fn before_cargo(&mut self, root: &Path, phase: Phase) -> Result<(), PhaseError> {
        // The crate folder and every folder above it up to the work folder are real folders: a link
        // there would send the scrub and the manifest check (and cargo) to another tree.
        if let Err(e) = crate::untrusted::check_beneath(self.work, root, true) {
            let why = format!("the build replaced a folder of the crate by a link: {e}");
            return Err(classified(phase, FailureClass::BuildScriptFailed, why, Vec::new()));
        }
        let removed = scrub::remove_shadowing(self.work, root)
            .map_err(|e| phase_err(phase, FailureClass::OutOfResources)(e.into()))?;
        if !removed.is_empty() {
            let list: Vec<String> = removed.iter().map(|p| p.display().to_string()).collect();
            self.log.note(&format!("removed what crate code left to steer cargo: {}", list.join(", ")));
        }
        let now = Manifests::take(root);
        let Some(before) = &self.manifests else {
            self.manifests = Some(now);
            return Ok(());
        };
        let changed = before.changed(&now);
        if changed.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = changed.iter().map(|p| p.display().to_string()).collect();
        let why = format!(
            "the build changed the crate's manifests ({}): cratemill runs no further cargo command on a tree crate code has changed",
            list.join(", ")
        );
        Err(classified(phase, FailureClass::BuildScriptFailed, why, list))
    }

    /// `command` as it runs in this job's sandbox (unchanged with `--sandbox none`): the work folder
    /// writable, the fetched registry cache read-only unless this is the fetch (`network`).
    fn sandboxed(&self, command: &CommandLine, cwd: &Path, network: bool) -> CommandLine {
        let Some(bwrap) = &self.setup.sandbox else { return command.clone() };
        let folders = JobFolders {
            tools: self.setup.tool_paths.clone(),
            work: self.work.to_path_buf(),
            cargo_home: self.setup.cargo_home(self.work),
            shared_home: self.setup.plan.shared_cargo_home.is_some(),
            shared_target: self.setup.plan.shared_target_dir.clone(),
            cwd: cwd.to_path_buf(),
        };
        let policy = if network { Policy::fetch(&folders) } else { Policy::build(&folders) };
        bwrap.wrap(&policy, command)
    }

    /// One build attempt, recorded in `result.attempts`.
    async fn attempt(
        &mut self,
        n: usize,
        rung: &Rung,
        root: &Path,
        prepared: &Prepared,
    ) -> Result<AttemptEnd, PhaseError> {
        let tc = self.toolchain_for(rung).clone();
        let artifact_dir = toolchain::unstable(&tc).then(|| self.work.join(format!("artifacts-{n}")));
        let command = self.command_for(rung, root, artifact_dir.clone());
        let features_desc = rung.features.describe(&rung.extra_features);
        let locked_note = if rung.lock.locked() { ", --locked" } else { "" };
        let on =
            if rung.toolchain == ToolchainPick::Stable { format!(", on stable ({})", tc.rustc) } else { String::new() };
        let again = match (rung.retry, rung.one_job) {
            (0, _) => "",
            (_, true) => ", spurious retry, one job",
            (_, false) => ", spurious retry",
        };
        let title = format!("build attempt {n}: features {features_desc}{locked_note}{on}{again}");
        let env = self.env_for(rung, prepared);
        let run = self.run_build(&title, &command, &env, root).await?;
        let mut attempt = attempt_record(rung, &tc, &command, &run);
        if run.success() {
            attempt.produced_binaries = true;
            self.result.features_used = Some(attempt.features.clone());
            self.result.attempts.push(attempt);
            if rung.toolchain == ToolchainPick::Stable {
                self.result.toolchain = Some(tc);
            }
            self.built = Some(rung.clone());
            let release = self.target_dir_for(rung, prepared).join(self.setup.target.triple).join("release");
            return Ok(AttemptEnd::Produced(artifact_dir.unwrap_or(release)));
        }
        let c = classify::classify(&run.lines.join("\n"), &run);
        self.log.note(&format!("attempt {n} failed: {}: {}", c.class, c.summary));
        attempt.failure = Some(c.to_failure(Phase::Build));
        self.result.attempts.push(attempt);
        Ok(AttemptEnd::Failed(c))
    }

    /// Run a build command in a log group titled `title`: cargo and zigbuild in the job's sandbox,
    /// cross in its own container (docs/security.md), until the job's time limit.
    async fn run_build(
        &mut self,
        title: &str,
        command: &CommandLine,
        env: &BTreeMap<String, String>,
        root: &Path,
    ) -> Result<Outcome, PhaseError> {
        let setup = self.setup;
        self.before_cargo(root, Phase::Build)?;
        self.log.group(self.runner, title);
        self.log.note(&format!("$ {}", command.display().join(" ")));
        let in_bwrap = setup.sandbox.is_some() && setup.backend != Backend::Cross;
        let wrapped = if in_bwrap { self.sandboxed(command, root, false) } else { command.clone() };
        let run = self.run_logged(&wrapped, env, root, Some(setup.silence_timeout)).await;
        self.log.end_group(self.runner);
        let mut run = run.map_err(phase_err(Phase::Build, FailureClass::Unknown))?;
        if in_bwrap {
            (run.code, run.signal) = sandbox::unwrap_status(run.code, run.signal);
        }
        Ok(run)
    }

    /// Run a cargo command that has the network (the dependency fetch, a lift's `cargo update`) as
    /// the fetch runs: after the scrub and the manifest check, in the sandbox with the network,
    /// logged in a group titled `title`.
    async fn run_as_fetch(
        &mut self,
        command: &CommandLine,
        title: &str,
        root: &Path,
        rung: &Rung,
        prepared: &Prepared,
    ) -> Result<Outcome, PhaseError> {
        self.before_cargo(root, Phase::Fetch)?;
        self.log.group(self.runner, title);
        self.log.note(&format!("$ {}", command.display().join(" ")));
        let wrapped = self.sandboxed(command, root, true);
        let env = self.env_for(rung, prepared);
        let run = self.run_logged(&wrapped, &env, root, None).await;
        self.log.end_group(self.runner);
        run.map_err(phase_err(Phase::Fetch, FailureClass::FetchFailed))
    }

    /// Run `command` in `cwd` with exactly `env`, every line into the build log, until the job's
    /// time limit, or until it has printed nothing for `silence` (`--silence-timeout`, build attempts).
    async fn run_logged(
        &mut self,
        command: &CommandLine,
        env: &BTreeMap<String, String>,
        cwd: &Path,
        silence: Option<std::time::Duration>,
    ) -> anyhow::Result<Outcome> {
        let log = &mut *self.log;
        let mut sink = |line: &str| log.line(line);
        let mut process = Process::new(command).env(Env::Exactly(env)).cwd(cwd).deadline(self.deadline);
        if let Some(limit) = silence {
            process = process.silence(limit);
        }
        let run =
            process.run(Output::Stream(&mut sink)).await.map_err(|e| process::not_started(&command.program, &e))?;
        match run.silent_for {
            Some(quiet) => {
                let quiet = humantime::format_duration(quiet);
                self.log.note(&format!("the build printed nothing for {quiet} (--silence-timeout): killed it"));
            }
            None if run.timed_out => self.log.note("time limit reached: killed the build"),
            None => {}
        }
        Ok(run)
    }

    /// `cargo metadata` and `cargo tree` of an attempt on `rung`, asked after its fetch and before
    /// it runs, in the sandbox like the build (cargo runs no crate code for them; before the first
    /// attempt no crate code has run at all, so a build script cannot steer what they read):
    /// what [`super::compiled`] reads the compiled packages from, kept in `described`. A failed
    /// query is kept too, and fails the job only if this attempt builds (a package must carry its
    /// notice); a changed manifest ends the job, as before any cargo call.
    async fn describe(&mut self, root: &Path, rung: &Rung, prepared: &Prepared) -> Result<(), PhaseError> {
        let started = Instant::now();
        let env = &self.env_for(rung, prepared);
        self.before_cargo(root, Phase::License)?;
        let request = self.request_for(rung, root, None);
        let (metadata, tree) = (backend::metadata_command(&request), backend::tree_command(&request));
        let described = match self.query(&metadata, root, env, Output::Document { cap: METADATA_CAP }).await {
            Ok(m) => match self.query(&tree, root, env, Output::Capture { cap: METADATA_CAP }).await {
                Ok(t) => Ok(Described { metadata: m.document, tree: t.lines }),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        self.described = Some(described);
        self.described_in += started.elapsed();
        Ok(())
    }

    /// Run one cargo query in the sandbox; its output in full, or the job's failure.
    async fn query(
        &mut self,
        command: &CommandLine,
        root: &Path,
        env: &BTreeMap<String, String>,
        output: Output<'_>,
    ) -> Result<Outcome, PhaseError> {
        self.log.note(&format!("$ {}", command.display().join(" ")));
        let wrapped = self.sandboxed(command, root, false);
        let process = Process::new(&wrapped).env(Env::Exactly(env)).cwd(root).deadline(self.deadline);
        let run = process.run(output).await;
        let run =
            run.map_err(|e| phase_err(Phase::License, FailureClass::Unknown)(process::not_started("cargo", &e)))?;
        let (code, _) = sandbox::unwrap_status(run.code, run.signal);
        let what = command.args.iter().find(|a| !a.starts_with('+')).cloned().unwrap_or_default();
        let why = if run.document_cut {
            format!("`cargo {what}` wrote more than {METADATA_CAP} bytes: the compiled packages cannot be listed")
        } else if code != Some(0) {
            let said = run.stderr.iter().rev().take(3).rev().cloned().collect::<Vec<_>>().join(" / ");
            format!("`cargo {what}` failed (exit {code:?}), so the compiled packages cannot be listed: {said}")
        } else {
            return Ok(run);
        };
        Err(classified(Phase::License, FailureClass::Unknown, why, run.stderr))
    }

    /// The command line of an attempt on `rung`, offline: everything was fetched, and the build
    /// never touches the network (and cannot, in the sandbox).
    fn command_for(&self, rung: &Rung, root: &Path, artifact_dir: Option<PathBuf>) -> CommandLine {
        let mut command = backend::command(self.setup.backend, &self.request_for(rung, root, artifact_dir));
        command.args.push("--offline".into());
        command
    }

    /// What a backend needs for an attempt on `rung`.
    fn request_for(&self, rung: &Rung, root: &Path, artifact_dir: Option<PathBuf>) -> BuildRequest {
        let setup = self.setup;
        let tc = self.toolchain_for(rung);
        BuildRequest {
            manifest_path: root.join("Cargo.toml"),
            target: setup.target,
            features: rung.features.clone(),
            extra_features: rung.extra_features.clone(),
            lock: rung.lock,
            jobs: if rung.one_job { Some(1) } else { setup.jobs },
            artifact_dir,
            nightly: toolchain::unstable(tc),
            toolchain: CargoToolchain::of(tc),
            auditable: setup.dep_list == backend::DepList::Embed,
        }
    }

    /// The executables of the successful attempt; none is a failure with its reason.
    fn collect(&mut self, dir: &Path) -> Result<Vec<Produced>, PhaseError> {
        let target = self.setup.target;
        let (produced, rejected) =
            collect::collect(self.work, dir, target).map_err(phase_err(Phase::Inspect, FailureClass::Unknown))?;
        if let Some(last) = self.result.attempts.last_mut() {
            last.produced_binaries = !produced.is_empty();
        }
        if !produced.is_empty() {
            return Ok(produced);
        }
        let (class, why) = if rejected.is_empty() {
            (FailureClass::NoExecutables, "the build succeeded but produced no executables".to_string())
        } else {
            (FailureClass::UnsupportedTarget, format!("no executable for {}: {}", target.triple, rejected.join("; ")))
        };
        Err(classified(Phase::Inspect, class, why, rejected))
    }
}

/// What the last dependency fetch was for: the lock, the toolchain and how many lifts the lock had.
type Fetched = (Lock, ToolchainPick, usize);

/// How one attempt ended: the folder its executables are in, or its classified failure.
enum AttemptEnd {
    Produced(PathBuf),
    Failed(classify::Classification),
}

/// The record of one attempt on `rung` that ran `command` with `tc` and ended as `run` (no failure
/// yet). Pure.
fn attempt_record(rung: &Rung, tc: &Toolchain, command: &CommandLine, run: &Outcome) -> Attempt {
    Attempt {
        features: rung.features.describe(&rung.extra_features),
        locked: rung.lock.locked(),
        fresh_lock: rung.lock.fresh(),
        command: command.display(),
        duration_ms: ms(run.duration),
        exit_code: run.code,
        produced_binaries: false,
        failure: None,
        channel: Some(tc.channel),
        rustc: Some(tc.rustc.clone()),
        spurious_retry: rung.retry > 0,
    }
}
