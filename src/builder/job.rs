//! One build job from start to finish: runs the phases in order, times them, and always ends with a
//! `result.json` (built or failed) plus GitHub outputs. A failed job never leaves a package that looks
//! publishable: only `result.json` and `build.log` remain in the output folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::crates_io::{self, CrateSpec, Index, IndexVersion};
use crate::error::{self, Exit};
use crate::github::Runner;
use crate::package;
use crate::schema::result::{
    Attempt, BuildResult, Executable, Failure, FailureClass, SmokeStatus, Source, Status, StdOrigin,
};
use crate::schema::{Channel, Phase};
use crate::target::Target;

use super::args::{parse_features, BuildArgs};
use super::attempts::{self, Plan};
use super::backend::CommandLine;
use super::backend::{self, Backend, BackendChoice, BackendTool, BuildRequest};
use super::classify::{self, ExitInfo};
use super::collect::{self, Produced};
use super::group::{self, GroupKey, GroupOutcome};
use super::inspect;
use super::log::BuildLog;
use super::sandbox::{self, Bwrap, Policy, Sandbox};
use super::{env, manifest, prepare, runner, summary, toolchain};

/// A phase's failure: what to record and how to exit.
struct PhaseError {
    phase: Phase,
    error: anyhow::Error,
    default_class: FailureClass,
    evidence: Vec<String>,
}

fn phase_err(phase: Phase, default_class: FailureClass) -> impl FnOnce(anyhow::Error) -> PhaseError {
    move |error| PhaseError { phase, error, default_class, evidence: Vec::new() }
}

/// Everything that does not change once the inputs are validated.
struct Setup {
    /// What the invocation around this job decided (`multi`): its target, output and target folder.
    per_job: super::multi::PerJob,
    spec: CrateSpec,
    target: &'static Target,
    host: &'static Target,
    backend: Backend,
    toolchain: crate::schema::result::Toolchain,
    features: super::backend::Features,
    jobs: Option<u32>,
    /// `--timeout`, counted from the job's start (a leader's own ladder gets it afresh after a
    /// grouped build that failed).
    timeout: Duration,
    secret_values: Vec<String>,
    /// How long toolchain detection and backend choice took.
    setup_time: Duration,
    /// The checked bwrap, `None` only for `--sandbox none`.
    sandbox: Option<Bwrap>,
    /// Host folders the sandboxed build reads: the toolchain and the backend's own tools.
    tool_paths: Vec<PathBuf>,
}

/// One job in flight: the fixed setup, its folders, and the result and log every phase adds to.
/// Each phase is one method; [`Job::run_phases`] calls them in order.
struct Job<'a> {
    setup: &'a Setup,
    runner: &'a Runner,
    /// The package folder.
    out: PathBuf,
    /// The work folder (download, unpacked source, target dir), deleted with `_work_guard`.
    work: PathBuf,
    _work_guard: Option<tempfile::TempDir>,
    result: BuildResult,
    log: BuildLog,
    /// When the attempts must end: `--timeout` from the job's start, renewed for a leader whose
    /// grouped build failed.
    deadline: Instant,
    /// A leader's grouped build, handed to the invocation's other jobs.
    group_outcome: Option<Arc<GroupOutcome>>,
}

/// What the fetch phase leaves: the verified `.crate` and its unpacked root.
struct Fetched {
    crate_file: PathBuf,
    /// The index's sha256 of the `.crate`, verified at download.
    crate_sha256: String,
    root: PathBuf,
}

/// What the prepare phase decides for the build attempts.
struct Prepared {
    meta: crate::schema::result::PackageMeta,
    has_lock: bool,
    /// The preparation steps (without the vendoring line): the pristine archive must reproduce them.
    steps: Vec<String>,
    extras: Vec<String>,
    child_env: BTreeMap<String, String>,
    target_dir: PathBuf,
    /// Cargo's build-dir for the units, when it is not the target folder (a shared one on stable).
    build_dir: Option<PathBuf>,
}

impl Setup {
    /// The targets this job's builds are for: its own, and a group leader's other targets.
    fn build_targets(&self) -> Vec<&'static Target> {
        std::iter::once(self.target).chain(self.per_job.group.iter().copied()).collect()
    }
}

/// A job whose inputs are validated and whose version is resolved, not yet run ([`start`]).
pub struct Started {
    setup: Setup,
    resolved: Result<(Index, IndexVersion), PhaseError>,
    resolve_time: Duration,
    runner: Runner,
}

impl Started {
    /// What must match for this job to share a cargo invocation with others (`group`).
    pub fn group_key(&self) -> GroupKey {
        GroupKey::new(self.setup.backend, &self.setup.toolchain, self.setup.sandbox.is_some())
    }

    pub fn target(&self) -> &'static Target {
        self.setup.target
    }

    /// Make this job the leader of a grouped build with `others`.
    pub fn lead(&mut self, others: Vec<&'static Target>) {
        self.setup.per_job.group = others;
    }

    /// Let this job take its executables from the leader's grouped build, when that made them.
    pub fn follow(&mut self, outcome: Arc<GroupOutcome>) {
        self.setup.per_job.grouped = Some(outcome);
    }
}

/// What a finished job leaves: its exit code, its package folder and, from a group's leader, the
/// grouped build for the other jobs.
pub struct Done {
    pub exit: Exit,
    pub out: PathBuf,
    pub group: Option<Arc<GroupOutcome>>,
}

/// Validate the inputs and resolve the version (usage errors exit 2 here, before anything is built).
pub async fn start(args: &BuildArgs, per_job: super::multi::PerJob) -> anyhow::Result<Started> {
    let runner = Runner::from_env();
    let (setup, resolved, resolve_time) = validate_and_resolve(args, per_job, &runner, Instant::now()).await?;
    Ok(Started { setup, resolved, resolve_time, runner })
}

/// Run a started job; its time limit (`--timeout`) counts from here.
pub async fn run(args: &BuildArgs, started_job: Started) -> anyhow::Result<Done> {
    let Started { setup, resolved, resolve_time, runner } = started_job;
    let started = Instant::now();
    let target = setup.target;

    let mut result =
        BuildResult::new(&setup.spec.name, setup.spec.version.as_deref().unwrap_or(""), target.triple, setup.backend);
    result.toolchain = Some(setup.toolchain.clone());
    result.rustflags = target.rustflags_for(backend::linker(setup.backend)).join(" ");
    result.timings_ms.insert("setup".into(), ms(setup.setup_time));
    result.sandbox = Some(match (&setup.sandbox, setup.backend) {
        (None, _) => Sandbox::None,
        (Some(_), Backend::Cross) => Sandbox::CrossContainer,
        (Some(_), _) => Sandbox::Bwrap,
    });
    result.sandbox_limits = setup.sandbox.as_ref().map(|b| b.limits.clone());
    // The default output folder is named after the resolved version.
    let out = output_dir(&setup, resolved.as_ref().ok().map(|(_, v)| (v.name.as_str(), v.vers.as_str())))?;
    super::output::claim(&out)?;
    let mut log = BuildLog::create(&out.join(package::LOG_FILE), !args.quiet)?;
    log.note(&format!(
        "cratemill {} building {} for {} with {} ({})",
        env!("CARGO_PKG_VERSION"),
        args.spec,
        target.triple,
        setup.backend.name(),
        setup.toolchain.rustc
    ));

    let mut job = Job::new(&setup, &runner, out, args.keep_work, result, log)?;
    let outcome = match resolved {
        Ok((index, version)) => {
            job.resolved(&version, resolve_time);
            job.run_phases(&index, &version).await
        }
        Err(e) => Err(e),
    };
    let exit = job.finish(outcome, started)?;
    summary::report(&runner, &job.result, &job.out)?;
    Ok(Done { exit, out: job.out.clone(), group: job.group_outcome.take() })
}

/// The time limit of a job started at `started`.
fn deadline_from(started: Instant, timeout: Duration) -> Instant {
    started.checked_add(timeout).unwrap_or_else(|| started + super::args::MAX_TIMEOUT)
}

/// Validate every input before touching the network or the disk (usage errors exit 2 here), then
/// detect the toolchain and resolve the version side by side.
async fn validate_and_resolve(
    args: &BuildArgs,
    per_job: super::multi::PerJob,
    runner: &Runner,
    started: Instant,
) -> anyhow::Result<(Setup, Result<(Index, IndexVersion), PhaseError>, Duration)> {
    let spec = CrateSpec::parse(&args.spec)?;
    let host = Target::detect_host()?;
    let target = match &per_job.target {
        Some(t) => Target::parse(t)?,
        None => host,
    };
    let features = parse_features(&args.features)?;
    let secret_values: Vec<String> = args.secret_env.iter().filter_map(|name| std::env::var(name).ok()).collect();
    for secret in &secret_values {
        runner.mask(secret);
    }
    let tools = async {
        let toolchain = toolchain::detect(&args.toolchain).await?;
        let nightly = toolchain.channel == Channel::Nightly;
        // Only `auto` for a foreign triple needs to know what the host offers.
        let tools = if args.backend == BackendChoice::Auto && target.triple != host.triple {
            toolchain::probe_backends(nightly).await
        } else {
            backend::HostTools::default()
        };
        let backend = backend::choose(args.backend, target, host, &tools)?;
        let toolchain = toolchain::settle_std(toolchain, &args.toolchain, backend, target, host).await?;
        let limits = super::limits::Requested::from_flags(args.max_processes, args.max_memory_mib);
        let sandbox = sandbox::resolve(args.sandbox, &limits).await?;
        let tool_paths =
            if sandbox.is_some() { toolchain::sandbox_paths(&toolchain, backend).await } else { Vec::new() };
        anyhow::Ok((toolchain, backend, started.elapsed(), sandbox, tool_paths))
    };
    let resolving = async {
        let t = Instant::now();
        (resolve(args, &spec).await, t.elapsed())
    };
    let (tools, (resolved, resolve_time)) = tokio::join!(tools, resolving);
    let (toolchain, backend, setup_time, sandbox, tool_paths) = tools?;
    let setup = Setup {
        per_job,
        spec,
        target,
        host,
        backend,
        toolchain,
        features,
        jobs: args.jobs,
        timeout: args.timeout,
        secret_values,
        setup_time,
        sandbox,
        tool_paths,
    };
    Ok((setup, resolved, resolve_time))
}

async fn resolve(args: &BuildArgs, spec: &CrateSpec) -> Result<(Index, IndexVersion), PhaseError> {
    let index = Index::open_until(&args.index_url, Instant::now().checked_add(args.timeout))
        .await
        .map_err(phase_err(Phase::Resolve, FailureClass::FetchFailed))?;
    let versions = index.versions(&spec.name).await.map_err(phase_err(Phase::Resolve, FailureClass::FetchFailed))?;
    let chosen = crates_io::select_version(&versions, spec.version.as_deref(), args.allow_yanked)
        .map_err(phase_err(Phase::Resolve, FailureClass::NotFound))?
        .clone();
    Ok((index, chosen))
}

impl<'a> Job<'a> {
    fn new(
        setup: &'a Setup,
        runner: &'a Runner,
        out: PathBuf,
        keep_work: bool,
        result: BuildResult,
        mut log: BuildLog,
    ) -> anyhow::Result<Job<'a>> {
        let work = tempfile::Builder::new()
            .prefix("cratemill-work-")
            .tempdir()
            .context("creating the work folder (is the temporary folder writable and not full?)")?;
        // The guard deletes the work folder when the job is dropped, on success and on failure alike.
        let (work_path, guard) = if keep_work { (work.keep(), None) } else { (work.path().to_path_buf(), Some(work)) };
        if keep_work {
            log.note(&format!("work folder kept at {}", work_path.display()));
        }
        let deadline = deadline_from(Instant::now(), setup.timeout);
        Ok(Job { setup, runner, out, work: work_path, _work_guard: guard, result, log, deadline, group_outcome: None })
    }

    /// Record the resolved name and version.
    fn resolved(&mut self, version: &IndexVersion, resolve_time: Duration) {
        if version.name != self.setup.spec.name {
            self.log.note(&format!("`{}` is published as `{}`", self.setup.spec.name, version.name));
        }
        self.result.crate_name = version.name.clone();
        self.result.version = version.vers.clone();
        self.result.timings_ms.insert("resolve".into(), ms(resolve_time));
    }

    /// The phases in order, each timed.
    async fn run_phases(&mut self, index: &Index, version: &IndexVersion) -> Result<(), PhaseError> {
        let t = Instant::now();
        let fetched = self.fetch(index, version).await?;
        self.result.timings_ms.insert("fetch".into(), ms(t.elapsed()));

        let t = Instant::now();
        let prepared = self.prepare(version, &fetched.root).await?;
        self.result.timings_ms.insert("prepare".into(), ms(t.elapsed()));

        let t = Instant::now();
        let produced = self.build(&fetched.root, &prepared).await?;
        self.result.timings_ms.insert("build".into(), ms(t.elapsed()));

        let t = Instant::now();
        self.inspect(&produced).await?;
        self.result.timings_ms.insert("inspect".into(), ms(t.elapsed()));

        let t = Instant::now();
        self.license(&fetched.root, &prepared.meta)?;
        self.result.timings_ms.insert("license".into(), ms(t.elapsed()));

        let t = Instant::now();
        self.package(&fetched, &prepared.steps)?;
        self.result.timings_ms.insert("package".into(), ms(t.elapsed()));
        Ok(())
    }

    /// Download, verify against the index checksum, unpack.
    async fn fetch(&mut self, index: &Index, version: &IndexVersion) -> Result<Fetched, PhaseError> {
        let (name, vers) = (&version.name, &version.vers);
        self.log.group(self.runner, &format!("fetch {name} {vers}"));
        let download_dir = self.work.join("download");
        std::fs::create_dir_all(&download_dir)
            .map_err(|e| phase_err(Phase::Fetch, FailureClass::OutOfResources)(e.into()))?;
        let (downloaded, reused) = match self.setup.per_job.shared_downloads.as_deref() {
            Some(shared) => index.download_shared(version, &download_dir, shared).await,
            None => index.download(version, &download_dir).await.map(|d| (d, false)),
        }
        .map_err(phase_err(Phase::Fetch, FailureClass::FetchFailed))?;
        let how = if reused { "reused the download of an earlier target of" } else { "downloaded" };
        self.log.note(&format!(
            "{how} {} ({} bytes), sha256 {} matches the index",
            downloaded.url, downloaded.size, downloaded.sha256
        ));
        self.result.source = Some(Source {
            index_url: index.url().to_string(),
            download_url: downloaded.url.clone(),
            crate_sha256: downloaded.sha256.clone(),
            crate_size: downloaded.size,
            yanked: version.yanked,
        });
        let src_dir = self.work.join("src");
        std::fs::create_dir_all(&src_dir)
            .map_err(|e| phase_err(Phase::Fetch, FailureClass::OutOfResources)(e.into()))?;
        // Unsafe archives carry their own class; anything else here is an I/O problem.
        let (crate_file, unpack_into, n, v) = (downloaded.path.clone(), src_dir, name.clone(), vers.clone());
        let root = tokio::task::spawn_blocking(move || {
            crates_io::unpack(&crate_file, &unpack_into, &n, &v, &crates_io::UnpackLimits::default())
        })
        .await
        .map_err(|e| phase_err(Phase::Fetch, FailureClass::Unknown)(e.into()))?
        .map_err(phase_err(Phase::Fetch, FailureClass::Unknown))?;
        self.log.end_group(self.runner);
        Ok(Fetched { crate_file: downloaded.path, crate_sha256: downloaded.sha256, root })
    }

    /// Read the manifest, refuse libraries, apply the preparation steps and decide the environment.
    async fn prepare(&mut self, version: &IndexVersion, root: &Path) -> Result<Prepared, PhaseError> {
        let (name, vers) = (&version.name, &version.vers);
        let meta = manifest::read_meta(&root.join("Cargo.toml"))
            .map_err(phase_err(Phase::Prepare, FailureClass::CompileError))?;
        self.result.package = Some(meta.clone());
        if !manifest::declares_binaries(root).map_err(phase_err(Phase::Prepare, FailureClass::CompileError))? {
            let why = format!("{name} {vers} is a library: it has no binary targets to build");
            return Err(classified(Phase::Prepare, FailureClass::NoExecutables, why, Vec::new()));
        }
        let prepared = prepare::prepare(root).map_err(phase_err(Phase::Prepare, FailureClass::Unknown))?;
        let extras = prepare::vendoring_features(&version.features, &version.deps);
        self.result.prepare = prepared.steps.clone();
        if !extras.is_empty() {
            self.result.prepare.push(format!("vendoring features added: {}", extras.join(",")));
        }
        for step in &self.result.prepare {
            self.log.note(&format!("prepare: {step}"));
        }
        let private = self.work.join("target");
        let (target_dir, build_dir) = self.setup.per_job.target_dir_or(&private, unstable(self.setup), &mut self.log);
        let cargo_home = self.cargo_home();
        std::fs::create_dir_all(&cargo_home)
            .map_err(|e| phase_err(Phase::Prepare, FailureClass::OutOfResources)(e.into()))?;
        let index_url = self.result.source.as_ref().map(|s| s.index_url.clone()).unwrap_or_default();
        if let Some(config) = mirror_config(&index_url) {
            // The dependencies come from the same index as the crate (a mirror), never from elsewhere.
            std::fs::write(cargo_home.join("config.toml"), config)
                .map_err(|e| phase_err(Phase::Prepare, FailureClass::OutOfResources)(e.into()))?;
            self.log.note(&format!("dependencies resolve against {index_url} (source replacement for crates.io)"));
        } else if cargo_home.join("config.toml").exists() {
            // A shared CARGO_HOME may hold an earlier job's mirror config: not for this index.
            std::fs::remove_file(cargo_home.join("config.toml"))
                .map_err(|e| phase_err(Phase::Prepare, FailureClass::OutOfResources)(e.into()))?;
        }
        let child_env = self.child_env(&target_dir, build_dir.as_deref());
        if let Some((program, version_args)) = self.setup.backend.tool_version_command() {
            if let Some(tc) = self.result.toolchain.as_mut() {
                tc.backend_tool = toolchain::version_line(program, version_args).await;
            }
        }
        Ok(Prepared {
            meta,
            has_lock: prepared.has_lock,
            steps: prepared.steps,
            extras,
            child_env,
            target_dir,
            build_dir,
        })
    }

    /// The build child's environment: the allow-list plus cratemill's own variables (recorded).
    fn child_env(&mut self, target_dir: &Path, build_dir: Option<&Path>) -> BTreeMap<String, String> {
        let target = self.setup.target;
        let mut extra_env: Vec<(String, String)> =
            target.profile_env().into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        extra_env.push((target.rustflags_env_name(), self.result.rustflags.clone()));
        extra_env.extend(prepare::build_env());
        extra_env.push(("CARGO_TERM_COLOR".into(), "never".into()));
        extra_env.push(("CARGO_TERM_PROGRESS_WHEN".into(), "never".into()));
        extra_env.push(("CARGO_INCREMENTAL".into(), "0".into()));
        extra_env.extend(toolchain::build_env(&self.setup.toolchain));
        if self.setup.backend == Backend::Cross {
            if let Some(pass) = backend::cross_passthrough(&extra_env) {
                extra_env.push(("CROSS_BUILD_ENV_PASSTHROUGH".into(), pass));
            }
        }
        self.result.build_env = extra_env.iter().cloned().collect();
        extra_env.push(("CARGO_TARGET_DIR".into(), target_dir.display().to_string()));
        if let Some(dir) = build_dir {
            extra_env.push(("CARGO_BUILD_BUILD_DIR".into(), dir.display().to_string()));
        }
        // cratemill's own CARGO_HOME: the registry cache of the fetch and nothing else (no config.toml,
        // no credentials, no bin/).
        extra_env.push(("CARGO_HOME".into(), self.cargo_home().display().to_string()));
        env::scrub(&env::current(), &extra_env, &self.setup.secret_values)
    }

    /// The attempt ladder: run attempts until one produces executables or the ladder ends.
    async fn build(&mut self, root: &Path, prepared: &Prepared) -> Result<Vec<Produced>, PhaseError> {
        if let Some(dir) = self.follow_group() {
            return self.collect(&dir);
        }
        let mut plan = attempts::first(self.setup.features.clone(), prepared.extras.clone(), prepared.has_lock);
        let mut tried: Vec<Plan> = Vec::new();
        let mut fetched_locked: Option<(bool, bool)> = None;
        if !self.setup.per_job.group.is_empty() {
            if let Some(dir) = self.lead_group(&plan, root, prepared, &mut fetched_locked).await? {
                return self.collect(&dir);
            }
        }
        loop {
            tried.push(plan.clone());
            let n = tried.len();
            if plan.discard_lock {
                prepare::set_lock_aside(root, &mut self.log).map_err(phase_err(Phase::Build, FailureClass::Unknown))?;
            }
            let fetch_failed = if fetched_locked == Some((plan.locked, plan.discard_lock)) {
                None
            } else {
                fetched_locked = Some((plan.locked, plan.discard_lock));
                self.fetch_deps(&plan, root, prepared).await?
            };
            let end = match fetch_failed {
                Some((c, attempt)) => {
                    self.result.attempts.push(attempt);
                    AttemptEnd::Failed(c)
                }
                None => self.attempt(n, &plan, root, prepared).await?,
            };
            let failed = match end {
                AttemptEnd::Produced(dir) => return self.collect(&dir),
                AttemptEnd::Failed(c) => c,
            };
            let outcome = attempts::Outcome {
                class: failed.class,
                lock_outdated: failed.lock_outdated,
                feature_problem: failed.feature_problem,
                dependency_error: failed.in_registry_dependency(),
            };
            match attempts::next(&plan, &outcome, &tried) {
                Some(next) if Instant::now() < self.deadline => plan = next,
                _ => {
                    let message = format!("{} (after {n} attempt{})", failed.summary, if n == 1 { "" } else { "s" });
                    return Err(classified(Phase::Build, failed.class, message, failed.evidence));
                }
            }
        }
    }

    /// A group leader's first attempt: every target of the group in one cargo invocation
    /// ([`group`]). Returns this target's executables when it built; either way the outcome is kept
    /// for the other jobs, and a failure leaves this job's own ladder to start afresh.
    async fn lead_group(
        &mut self,
        plan: &Plan,
        root: &Path,
        prepared: &Prepared,
        fetched_locked: &mut Option<(bool, bool)>,
    ) -> Result<Option<PathBuf>, PhaseError> {
        let setup = self.setup;
        let Some(shared) = setup.per_job.shared_downloads.clone() else { return Ok(None) };
        if self.fetch_deps(plan, root, prepared).await?.is_some() {
            // Not an attempt of this target: its own ladder fetches again, for itself alone.
            self.log.note("fetching for every target of the group failed: each target builds alone");
            return Ok(None);
        }
        *fetched_locked = Some((plan.locked, plan.discard_lock));
        let others: Vec<&str> = setup.per_job.group.iter().map(|t| t.triple).collect();
        let command = group::command(&self.command_for(plan, root, None), &others);
        let grouped_dir = self.work.join("grouped");
        let dirs = (prepared.build_dir.as_deref().unwrap_or(&prepared.target_dir), grouped_dir.as_path());
        let env = group::env(&prepared.child_env, &setup.per_job.group, backend::linker(setup.backend), dirs);
        let title =
            format!("build attempt 1: {} and {} in one cargo invocation", setup.target.triple, others.join(", "));
        let run = self.run_build(&title, &command, &env, root).await?;
        let dirs = if run.success() {
            group::keep(&grouped_dir, &setup.build_targets(), &shared.join("grouped"))
                .map_err(phase_err(Phase::Build, FailureClass::OutOfResources))?
        } else {
            self.log.note(&format!("the grouped build failed (exit {:?}): each target builds alone", run.exit_code));
            self.deadline = deadline_from(Instant::now(), setup.timeout);
            BTreeMap::new()
        };
        let outcome = GroupOutcome {
            leader: setup.target.triple,
            command,
            features: plan.features.describe(&plan.extra_features),
            locked: plan.locked,
            fresh_lock: plan.discard_lock,
            duration: run.duration,
            lines: run.lines,
            dirs,
        };
        let mine = outcome.dir_for(setup.target.triple).map(Path::to_path_buf);
        if mine.is_some() {
            self.record_grouped(&outcome);
        }
        self.group_outcome = Some(Arc::new(outcome));
        Ok(mine)
    }

    /// A group member's executables from the leader's grouped build, with its output replayed into
    /// this job's log; `None` (build alone) when there is no group or it did not make them.
    fn follow_group(&mut self) -> Option<PathBuf> {
        let outcome = self.setup.per_job.grouped.clone()?;
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
        self.result.features_used = Some(outcome.features.clone());
        self.result.attempts.push(Attempt {
            features: outcome.features.clone(),
            locked: outcome.locked,
            fresh_lock: outcome.fresh_lock,
            command: outcome.command.display(),
            duration_ms: ms(outcome.duration),
            exit_code: Some(0),
            produced_binaries: true,
            failure: None,
        });
    }

    /// `cargo fetch` of the dependency graph (the shipped lock with `--locked`, else a fresh
    /// resolution) into cratemill's own CARGO_HOME, so that the build can run offline. Cargo runs no
    /// crate code here; it still runs in the sandbox, with the network. A failure is returned with
    /// its classification and the attempt to record (the ladder records it; a group's fetch is not
    /// an attempt of its leader).
    async fn fetch_deps(
        &mut self,
        plan: &Plan,
        root: &Path,
        prepared: &Prepared,
    ) -> Result<Option<(classify::Classification, Attempt)>, PhaseError> {
        let setup = self.setup;
        let mut args: Vec<String> = Vec::new();
        // The same toolchain the build uses: a named one (`--toolchain NAME`, debian-web) or nightly.
        match &setup.toolchain.name {
            Some(name) => args.push(format!("+{name}")),
            None if setup.toolchain.channel == Channel::Nightly => args.push("+nightly".into()),
            None => {}
        }
        args.extend(["fetch".into(), "--manifest-path".into(), root.join("Cargo.toml").display().to_string()]);
        // A std built from source has dependencies of its own: fetch them too, or the offline build
        // cannot find them (`no matching package named cfg-if`).
        if setup.toolchain.std == Some(StdOrigin::BuiltFromSource) {
            args.push("-Zbuild-std=std,panic_abort".into());
        }
        // Only the platforms the build needs: the target's (a group leader's: every target of the
        // group), and the host's for build scripts.
        let mut platforms: Vec<&str> = setup.build_targets().iter().map(|t| t.triple).collect();
        if !platforms.contains(&setup.host.triple) {
            platforms.push(setup.host.triple);
        }
        for triple in platforms {
            args.extend(["--target".into(), triple.into()]);
        }
        if plan.locked {
            args.push("--locked".into());
        }
        let command = CommandLine { program: "cargo".into(), args };
        let lock = if plan.locked { " (the shipped Cargo.lock)" } else { " (fresh resolution)" };
        self.log.group(self.runner, &format!("fetch dependencies{lock}"));
        self.log.note(&format!("$ {}", command.display().join(" ")));
        let wrapped = self.sandboxed(&command, root, true);
        let run = runner::run(&wrapped, &prepared.child_env, root, &mut self.log, self.deadline).await;
        self.log.end_group(self.runner);
        let run = run.map_err(phase_err(Phase::Fetch, FailureClass::FetchFailed))?;
        if run.success() {
            return Ok(None);
        }
        let exit = ExitInfo { code: run.exit_code, signal: run.signal, timed_out: run.timed_out };
        let c = classify::classify(&run.lines.join("\n"), exit);
        self.log.note(&format!("fetching the dependencies failed: {}: {}", c.class, c.summary));
        let attempt = Attempt {
            features: plan.features.describe(&plan.extra_features),
            locked: plan.locked,
            fresh_lock: plan.discard_lock,
            command: command.display(),
            duration_ms: ms(run.duration),
            exit_code: run.exit_code,
            produced_binaries: false,
            failure: Some(c.to_failure(Phase::Fetch)),
        };
        Ok(Some((c, attempt)))
    }

    /// The job's `CARGO_HOME`: its own in the work folder, or the one the invocation's jobs share.
    fn cargo_home(&self) -> PathBuf {
        self.setup.per_job.shared_cargo_home.clone().unwrap_or_else(|| self.work.join(CARGO_HOME_DIR))
    }

    /// `command` as it runs in this job's sandbox (unchanged with `--sandbox none`): the work folder
    /// writable, the fetched registry cache read-only unless this is the fetch (`network`).
    fn sandboxed(&self, command: &CommandLine, cwd: &Path, network: bool) -> CommandLine {
        let Some(bwrap) = &self.setup.sandbox else { return command.clone() };
        let cargo_home = self.cargo_home();
        let shared_home = self.setup.per_job.shared_cargo_home.is_some();
        let mut read_only = self.setup.tool_paths.clone();
        if shared_home && !network {
            read_only.push(cargo_home.clone());
        }
        let policy = Policy {
            system: Policy::host_system(network),
            read_only,
            writable: self.work.clone(),
            // The fetch writes the (shared) registry; the build the shared per-target folder of a
            // multi-target or cached build (`multi`), if any.
            cache: if shared_home && network {
                Some(cargo_home.clone())
            } else {
                self.setup.per_job.shared_target_dir.clone()
            },
            read_only_within: if network || shared_home { Vec::new() } else { vec![cargo_home] },
            home: std::env::var_os("HOME").map(PathBuf::from).filter(|h| sandbox::private_home_ok(h)),
            cwd: cwd.to_path_buf(),
            network,
        };
        bwrap.wrap(&policy, command)
    }

    /// One build attempt, recorded in `result.attempts`.
    async fn attempt(
        &mut self,
        n: usize,
        plan: &Plan,
        root: &Path,
        prepared: &Prepared,
    ) -> Result<AttemptEnd, PhaseError> {
        let setup = self.setup;
        let artifact_dir = unstable(setup).then(|| self.work.join(format!("artifacts-{n}")));
        let command = self.command_for(plan, root, artifact_dir.clone());
        let features_desc = plan.features.describe(&plan.extra_features);
        let locked_note = if plan.locked { ", --locked" } else { "" };
        let title = format!("build attempt {n}: features {features_desc}{locked_note}");
        let run = self.run_build(&title, &command, &prepared.child_env, root).await?;
        let mut attempt = Attempt {
            features: features_desc,
            locked: plan.locked,
            fresh_lock: plan.discard_lock,
            command: command.display(),
            duration_ms: ms(run.duration),
            exit_code: run.exit_code,
            produced_binaries: false,
            failure: None,
        };
        if run.success() {
            attempt.produced_binaries = true;
            self.result.features_used = Some(attempt.features.clone());
            self.result.attempts.push(attempt);
            let dir = artifact_dir.unwrap_or_else(|| prepared.target_dir.join(setup.target.triple).join("release"));
            return Ok(AttemptEnd::Produced(dir));
        }
        let text = run.lines.join("\n");
        let exit = ExitInfo { code: run.exit_code, signal: run.signal, timed_out: run.timed_out };
        let c = classify::classify(&text, exit);
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
    ) -> Result<runner::RunResult, PhaseError> {
        let setup = self.setup;
        self.log.group(self.runner, title);
        self.log.note(&format!("$ {}", command.display().join(" ")));
        let in_bwrap = setup.sandbox.is_some() && setup.backend != Backend::Cross;
        let wrapped = if in_bwrap { self.sandboxed(command, root, false) } else { command.clone() };
        let run = runner::run(&wrapped, env, root, &mut self.log, self.deadline).await;
        self.log.end_group(self.runner);
        let mut run = run.map_err(phase_err(Phase::Build, FailureClass::Unknown))?;
        if in_bwrap {
            (run.exit_code, run.signal) = sandbox::unwrap_status(run.exit_code, run.signal);
        }
        Ok(run)
    }

    /// The command line of an attempt with `plan`, offline: everything was fetched, and the build
    /// never touches the network (and cannot, in the sandbox).
    fn command_for(&self, plan: &Plan, root: &Path, artifact_dir: Option<PathBuf>) -> CommandLine {
        let setup = self.setup;
        let request = BuildRequest {
            manifest_path: root.join("Cargo.toml"),
            target: setup.target,
            features: plan.features.clone(),
            extra_features: plan.extra_features.clone(),
            locked: plan.locked,
            jobs: setup.jobs,
            artifact_dir,
            nightly: unstable(setup),
            toolchain: setup.toolchain.name.clone(),
            build_std: setup.toolchain.std == Some(StdOrigin::BuiltFromSource),
        };
        let mut command = backend::command(setup.backend, &request);
        command.args.push("--offline".into());
        command
    }

    /// The executables of the successful attempt; none is a failure with its reason.
    fn collect(&mut self, dir: &Path) -> Result<Vec<Produced>, PhaseError> {
        let target = self.setup.target;
        let (produced, rejected) =
            collect::collect(&self.work, dir, target).map_err(phase_err(Phase::Inspect, FailureClass::Unknown))?;
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

    /// Install each executable into `bin/`, smoke-run it, and refuse dynamic or crashing ones.
    async fn inspect(&mut self, produced: &[Produced]) -> Result<(), PhaseError> {
        let bin_dir = self.out.join(package::BIN_DIR);
        std::fs::create_dir_all(&bin_dir)
            .map_err(|e| phase_err(Phase::Package, FailureClass::OutOfResources)(e.into()))?;
        for p in produced {
            let exe = self.install(p, &bin_dir).await?;
            self.result.executables.push(exe);
        }
        let executables = &self.result.executables;
        let dynamic: Vec<String> = executables
            .iter()
            .filter(|e| !e.is_static)
            .map(|e| format!("{} needs {}", e.name, e.needed.join(", ")))
            .collect();
        if !dynamic.is_empty() {
            let msg = format!("not statically linked: {}", dynamic.join("; "));
            return Err(classified(Phase::Inspect, FailureClass::NotStatic, msg, dynamic));
        }
        let crashed: Vec<String> = executables
            .iter()
            .filter(|e| e.smoke.status == SmokeStatus::Crashed)
            .map(|e| format!("{} {}: {}", e.name, e.smoke.args.join(" "), e.smoke.note.clone().unwrap_or_default()))
            .collect();
        if !crashed.is_empty() {
            let msg = format!("crashed when run: {}", crashed.join("; "));
            return Err(classified(Phase::Inspect, FailureClass::SmokeCrashed, msg, crashed));
        }
        Ok(())
    }

    /// The trust boundary for what ships: read the executable's bytes out of the work folder once;
    /// inspect, write into the package and hash those bytes; smoke-run a copy of them in the sandbox.
    async fn install(&mut self, p: &Produced, bin_dir: &Path) -> Result<Executable, PhaseError> {
        let setup = self.setup;
        let io = |e: std::io::Error| phase_err(Phase::Package, FailureClass::OutOfResources)(e.into());
        let bytes = crate::untrusted::read_regular(
            &p.path,
            crate::untrusted::EXECUTABLE_CAP,
            crate::untrusted::grace(self.deadline),
        )
        .map_err(io)?;
        let facts = match inspect::inspect(&bytes) {
            Ok(Some(f)) if f.is_executable() && f.machine == setup.target.elf_machine => f,
            _ => {
                let why =
                    format!("{} changed after the build: it is no longer a {} executable", p.name, setup.target.arch);
                return Err(classified(Phase::Inspect, FailureClass::Unknown, why, Vec::new()));
            }
        };
        let dest = bin_dir.join(&p.name);
        write_new_executable(&dest, &bytes).map_err(io)?;
        let digests = package::digest_file(&dest).map_err(io)?;
        // The smoke run gets its own copy: whatever it does to that file never reaches the package.
        let copy_dir = self.work.join("smoke").join(&p.name);
        std::fs::create_dir_all(&copy_dir).map_err(io)?;
        let copy = copy_dir.join(&p.name);
        write_new_executable(&copy, &bytes).map_err(io)?;
        let smoke = crate::builder::smoke::smoke(&copy, setup.target, setup.host, setup.sandbox.as_ref()).await;
        let linkage = if facts.is_static() {
            "static".to_string()
        } else {
            format!("dynamic (interpreter {:?}, needs {:?})", facts.interpreter, facts.needed)
        };
        let first = smoke.first_line.as_deref().map(|l| format!(": {l}")).unwrap_or_default();
        self.log.note(&format!("{}: {} bytes, {linkage}, smoke {:?}{first}", p.name, digests.size, smoke.status));
        Ok(Executable {
            name: p.name.clone(),
            path: format!("{}/{}", package::BIN_DIR, p.name),
            size: digests.size,
            sha256: digests.sha256,
            blake3: digests.blake3,
            arch: setup.target.arch.to_string(),
            is_static: facts.is_static(),
            interpreter: facts.interpreter.clone(),
            needed: facts.needed.clone(),
            smoke,
        })
    }

    /// Detect licenses and copy the license files into the package.
    fn license(&mut self, root: &Path, meta: &crate::schema::result::PackageMeta) -> Result<(), PhaseError> {
        self.result.licenses = crate::builder::license::collect(
            &crate::untrusted::Tree::new(&self.work, self.deadline),
            root,
            meta.license.as_deref(),
            meta.license_file.as_deref(),
            &self.out.join(package::LICENSES_DIR),
        )
        .map_err(phase_err(Phase::License, FailureClass::Unknown))?;
        for lf in &self.result.licenses.files {
            self.log.note(&format!(
                "license {}: {} ({:.2})",
                lf.source_path,
                lf.spdx.as_deref().unwrap_or("unidentified"),
                lf.confidence
            ));
        }
        Ok(())
    }

    /// The `-srcbuild-` source archive (log flushed first so the archive carries it whole up to here).
    fn package(&mut self, fetched: &Fetched, steps: &[String]) -> Result<(), PhaseError> {
        let r = &self.result;
        let (name, vers) = (r.crate_name.clone(), r.version.clone());
        self.log.note("writing the -srcbuild- source archive");
        self.log.flush().map_err(|e| phase_err(Phase::Package, FailureClass::OutOfResources)(e.into()))?;
        let info = serde_json::json!({
            "crate": name, "version": vers, "target": self.setup.target.triple, "backend": self.setup.backend.name(),
            "toolchain": r.toolchain, "rustflags": r.rustflags, "build_env": r.build_env,
            "prepare": r.prepare, "attempts": r.attempts, "source": r.source,
        });
        let archive = self.out.join(package::SRCBUILD_DIR).join(package::srcbuild_file_name(&name, &vers));
        // The source part is re-derived from the verified .crate, never taken from the tree the build ran in.
        let pristine =
            crate::builder::srcbuild::pristine(&fetched.crate_file, &fetched.crate_sha256, &name, &vers, steps)
                .map_err(phase_err(Phase::Package, FailureClass::Unknown))?;
        let resolved_lock =
            pristine.resolved_lock(&crate::untrusted::Tree::new(&self.work, self.deadline), &fetched.root);
        crate::builder::srcbuild::write(
            &archive,
            &crate::builder::srcbuild::Inputs {
                crate_name: &name,
                version: &vers,
                crate_file: &pristine.crate_file,
                source_tree: &pristine.root,
                resolved_lock: resolved_lock.as_deref(),
                build_log: self.log.path(),
                build_info: &info,
            },
        )
        .map_err(phase_err(Phase::Package, FailureClass::OutOfResources))
    }

    /// Record the outcome: a whole package (CHECKSUMS, result.json last) or a failure with nothing
    /// publishable left behind. Returns the exit code.
    fn finish(&mut self, outcome: Result<(), PhaseError>, started: Instant) -> anyhow::Result<Exit> {
        self.result.timings_ms.insert("total".into(), ms(started.elapsed()));
        self.result.log_cut_at = self.log.cut_at();
        self.result.finished_at = crate::schema::now_rfc3339();
        let failure = match outcome {
            Ok(()) => {
                self.result.status = Status::Built;
                let secs = started.elapsed().as_secs_f64();
                self.log.note(&format!("built {} executable(s) in {secs:.1}s", self.result.executables.len()));
                self.log.flush()?;
                // result.json is written last, so its presence with status built means the package is whole.
                package_files(&self.out, &mut self.result)?;
                return Ok(Exit::Ok);
            }
            Err(failure) => failure,
        };
        let class = error::class_of(&failure.error).unwrap_or(failure.default_class);
        let message = error::one_line(&failure.error);
        self.log.note(&format!("failed in {}: {class}: {message}", failure.phase));
        self.log.flush()?;
        remove_publishable(&self.out)?;
        let r = &mut self.result;
        r.status = Status::Failed;
        r.failure = Some(Failure { class, phase: failure.phase, message: message.clone(), evidence: failure.evidence });
        crate::schema::write(&self.out.join(package::RESULT_FILE), r)?;
        let title = format!("cratemill build {}@{} ({}) failed: {class}", r.crate_name, r.version, r.target);
        self.runner.error(&title, &message);
        Ok(error::exit_in(&failure.error, Some(failure.phase)))
    }
}

/// How one attempt ended: the folder its executables are in, or its classified failure.
enum AttemptEnd {
    Produced(PathBuf),
    Failed(classify::Classification),
}

/// Write `bytes` to a new file (never through an existing file or link) with mode 0755.
fn write_new_executable(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o755).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// The job's own CARGO_HOME, inside the work folder.
const CARGO_HOME_DIR: &str = "cargo-home";

/// A classified failure of `phase`.
fn classified(phase: Phase, class: FailureClass, message: String, evidence: Vec<String>) -> PhaseError {
    PhaseError { phase, error: error::classified(Exit::Failed, class, message), default_class: class, evidence }
}

/// Write CHECKSUMS and result.json (last) for a built package.
fn package_files(out: &Path, result: &mut BuildResult) -> anyhow::Result<()> {
    let t = Instant::now();
    let mut files = package::list_files(out)?;
    files.retain(|f| f != package::RESULT_FILE && f != package::CHECKSUMS_FILE && f != package::PUBLISH_FILE);
    files.push(package::RESULT_FILE.to_string());
    files.push(package::CHECKSUMS_FILE.to_string());
    files.sort();
    result.files = files;
    if let Some(p) = result.timings_ms.get_mut("package") {
        *p += ms(t.elapsed());
    }
    // result.json first so CHECKSUMS covers it; an interrupted run leaves no CHECKSUMS, and
    // `package::verify` refuses a folder without one.
    crate::schema::write(&out.join(package::RESULT_FILE), result)?;
    package::write_checksums(out)?;
    Ok(())
}

/// The output folder: `--out`, or `./cratemill-out/<crate>-<version>-<target>`.
/// `--out`, or `cratemill-out/<crate>-<version>-<target>` with the crate's published name and the
/// resolved version.
fn output_dir(setup: &Setup, resolved: Option<(&str, &str)>) -> anyhow::Result<PathBuf> {
    let (name, version) = resolved.unwrap_or((&setup.spec.name, "unresolved"));
    Ok(match &setup.per_job.out {
        Some(dir) => dir.clone(),
        None => PathBuf::from("cratemill-out").join(format!("{name}-{version}-{}", setup.target.triple)),
    })
}

/// Remove everything that could make a failed output look publishable.
fn remove_publishable(out: &Path) -> anyhow::Result<()> {
    for dir in [package::BIN_DIR, package::LICENSES_DIR, package::SRCBUILD_DIR] {
        let p = out.join(dir);
        if p.exists() {
            std::fs::remove_dir_all(&p).with_context(|| format!("removing {}", p.display()))?;
        }
    }
    for file in [package::CHECKSUMS_FILE, package::PUBLISH_FILE] {
        let p = out.join(file);
        if p.exists() {
            std::fs::remove_file(&p)?;
        }
    }
    Ok(())
}

/// The job's CARGO_HOME `config.toml` when the index is not crates.io's: crates.io replaced by that
/// sparse index, so a mirror's crates build against the mirror's dependencies. Pure.
fn mirror_config(index_url: &str) -> Option<String> {
    let url = index_url.trim_start_matches("sparse+");
    if index_url.is_empty() || url == crates_io::CRATES_IO_INDEX.trim_start_matches("sparse+") {
        return None;
    }
    Some(format!(
        "[source.crates-io]\nreplace-with = \"cratemill-mirror\"\n\n[source.cratemill-mirror]\nregistry = \"sparse+{url}\"\n"
    ))
}

/// May the build use cargo's unstable flags (`--artifact-dir`, `-Zbuild-std`)? On nightly, and on a
/// toolchain that builds std from source (it runs with `RUSTC_BOOTSTRAP=1`).
fn unstable(setup: &Setup) -> bool {
    setup.toolchain.channel == Channel::Nightly || setup.toolchain.std == Some(StdOrigin::BuiltFromSource)
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::mirror_config;

    #[test]
    fn a_mirror_index_replaces_crates_io_and_crates_io_itself_needs_no_config() {
        assert_eq!(mirror_config("sparse+https://index.crates.io/"), None);
        assert_eq!(mirror_config("https://index.crates.io/"), None);
        assert_eq!(mirror_config(""), None);
        let config = mirror_config("sparse+http://127.0.0.1:8080/index/").unwrap();
        assert!(config.contains("replace-with = \"cratemill-mirror\""), "{config}");
        assert!(config.contains("registry = \"sparse+http://127.0.0.1:8080/index/\""), "{config}");
    }
}
