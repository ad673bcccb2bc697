//! A build job before it runs: every input validated (usage errors exit 2 here, before anything is
//! built), the toolchain, backend, sandbox and dependency list (`--auditable`, which needs
//! cargo-auditable on PATH) settled, and the version resolved, side by side ([`start`]). What that
//! leaves ([`Setup`]) does not change while the job runs. Also the failure every phase of the job
//! returns ([`PhaseError`]). I/O edge: toolchain probes, the PATH and the index; the decisions it
//! calls (`backend::choose`, `backend::DepList::decide`, `toolchain::decide_std`) are pure.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::actions::Runner;
use crate::crates_io::{self, CrateSpec, Index, IndexVersion};
use crate::error::{self, Exit};
use crate::schema::result::{FailureClass, Toolchain};
use crate::schema::{Channel, Phase};
use crate::target::Target;

use super::args::{parse_features, BuildArgs, MAX_TIMEOUT};
use super::backend::{self, Backend, BackendChoice, BackendTool, DepList, Features};
use super::group::{GroupKey, GroupOutcome};
use super::invocation::{GroupRole, JobPlan};
use super::sandbox::{self, Bwrap, Sandbox};
use super::{emulator, process, toolchain};

/// A phase's failure: what to record and how to exit.
pub struct PhaseError {
    pub phase: Phase,
    pub error: anyhow::Error,
    pub default_class: FailureClass,
    pub evidence: Vec<String>,
}

/// A [`PhaseError`] of `phase` from any error, classed `default_class` unless it carries a class.
pub fn phase_err(phase: Phase, default_class: FailureClass) -> impl FnOnce(anyhow::Error) -> PhaseError {
    move |error| PhaseError { phase, error, default_class, evidence: Vec::new() }
}

/// An I/O error of `phase`: the disk is full or not writable.
pub fn phase_io(phase: Phase) -> impl FnOnce(std::io::Error) -> PhaseError {
    move |e| phase_err(phase, FailureClass::OutOfResources)(e.into())
}

/// A classified failure of `phase`.
pub fn classified(phase: Phase, class: FailureClass, message: String, evidence: Vec<String>) -> PhaseError {
    PhaseError { phase, error: error::classified(Exit::Failed, class, message), default_class: class, evidence }
}

/// Milliseconds, as result.json's timings count them.
pub fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// The job's own CARGO_HOME, inside the work folder.
const CARGO_HOME_DIR: &str = "cargo-home";

/// Everything that does not change once the inputs are validated.
pub struct Setup {
    /// What the invocation decided for this job ([`JobPlan`]): its target, output and shared folders.
    pub plan: JobPlan,
    /// The crate as asked for (`NAME[@VERSION]`), and parsed.
    pub asked: String,
    pub spec: CrateSpec,
    pub target: &'static Target,
    pub host: &'static Target,
    pub backend: Backend,
    pub toolchain: Toolchain,
    /// `--toolchain auto`: cratemill chose the toolchain and may retry on stable after a nightly
    /// breakage (`toolchain::stable_retry`).
    pub toolchain_auto: bool,
    pub features: Features,
    pub jobs: Option<u32>,
    /// `--timeout`, counted from the job's start (a leader's own ladder gets it afresh after a
    /// grouped build that failed).
    pub timeout: Duration,
    /// `--silence-timeout`: a build attempt that prints nothing for this long is killed.
    pub silence_timeout: Duration,
    pub keep_work: bool,
    pub quiet: bool,
    pub secret_values: Vec<String>,
    /// How long toolchain detection and backend choice took.
    pub setup_time: Duration,
    /// The checked bwrap, `None` only for `--sandbox none`.
    pub sandbox: Option<Bwrap>,
    /// Host folders the sandboxed build reads: the toolchain, the backend's own tools and
    /// cargo-auditable.
    pub tool_paths: Vec<PathBuf>,
    /// Whether the build embeds the dependency list (`--auditable` for this backend).
    pub dep_list: DepList,
}

impl Setup {
    /// The targets this job's builds are for: its own, and a group leader's other targets.
    pub fn build_targets(&self) -> Vec<&'static Target> {
        std::iter::once(self.target).chain(self.plan.group_others().iter().copied()).collect()
    }

    /// May the build use cargo's unstable flags (`--artifact-dir`, `-Zbuild-std`)? On nightly, and
    /// on a toolchain that builds std from source (it runs with `RUSTC_BOOTSTRAP=1`).
    pub fn unstable(&self) -> bool {
        toolchain::unstable(&self.toolchain)
    }

    /// The sandbox result.json records.
    pub fn sandbox_kind(&self) -> Sandbox {
        match (&self.sandbox, self.backend) {
            (None, _) => Sandbox::None,
            (Some(_), Backend::Cross) => Sandbox::CrossContainer,
            (Some(_), _) => Sandbox::Bwrap,
        }
    }

    /// The RUSTFLAGS of the target with this backend's linker.
    pub fn rustflags(&self) -> String {
        self.target.rustflags_for(backend::linker(self.backend)).join(" ")
    }

    /// The version line of the backend's own tool (cross, cargo-zigbuild), when it has one. I/O.
    pub async fn backend_tool_version(&self) -> Option<String> {
        let (program, args) = self.backend.tool_version_command()?;
        process::version_line(program, args).await
    }

    /// The job's `CARGO_HOME`: its own in the work folder, or the one the invocation's jobs share.
    pub fn cargo_home(&self, work: &Path) -> PathBuf {
        self.plan.shared_cargo_home.clone().unwrap_or_else(|| work.join(CARGO_HOME_DIR))
    }

    /// Make the job's `CARGO_HOME` ([`Setup::cargo_home`]); a job's own also gets the folder of its
    /// unpacked registry sources, which its builds may write (`sandbox::Policy::build`). I/O.
    pub fn make_cargo_home(&self, work: &Path) -> std::io::Result<PathBuf> {
        let home = self.cargo_home(work);
        std::fs::create_dir_all(&home)?;
        if self.plan.shared_cargo_home.is_none() {
            std::fs::create_dir_all(sandbox::registry_sources(&home))?;
        }
        Ok(home)
    }

    /// The time limit of a job (or a leader's own ladder) started at `started`.
    pub fn deadline_from(&self, started: Instant) -> Instant {
        started.checked_add(self.timeout).unwrap_or_else(|| started + MAX_TIMEOUT)
    }
}

/// A job whose inputs are validated and whose version is resolved, not yet run ([`start`]).
pub struct Started {
    pub setup: Setup,
    pub resolved: Result<(Index, IndexVersion), PhaseError>,
    pub resolve_time: Duration,
    pub runner: Runner,
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
        self.setup.plan.role = GroupRole::Leader(others);
    }

    /// Let this job take its executables from the leader's grouped build, when that made them.
    pub fn follow(&mut self, outcome: Arc<GroupOutcome>) {
        self.setup.plan.role = GroupRole::Member(outcome);
    }
}

/// Validate the inputs and resolve the version (usage errors exit 2 here, before anything is built).
pub async fn start(args: &BuildArgs, plan: JobPlan) -> anyhow::Result<Started> {
    let runner = Runner::from_env();
    let (setup, resolved, resolve_time) = validate_and_resolve(args, plan, &runner, Instant::now()).await?;
    Ok(Started { setup, resolved, resolve_time, runner })
}

/// What settling the tools decides.
struct Tools {
    toolchain: Toolchain,
    backend: Backend,
    sandbox: Option<Bwrap>,
    tool_paths: Vec<PathBuf>,
    dep_list: DepList,
}

/// Detect the toolchain, choose the backend, settle the std and probe the emulator and the sandbox;
/// a dependency list asked for needs `cargo-auditable` on PATH (one line naming the fix, exit 3).
async fn settle_tools(args: &BuildArgs, target: &'static Target, host: &'static Target) -> anyhow::Result<Tools> {
    let toolchain = toolchain::detect(&args.toolchain).await?;
    let nightly = toolchain.channel == Channel::Nightly;
    // Only `auto` for a foreign triple needs to know what the host offers.
    let tools = if args.backend == BackendChoice::Auto && target.triple != host.triple {
        toolchain::probe_backends(nightly).await
    } else {
        backend::HostTools::default()
    };
    let backend = backend::choose(args.backend, target, host, &tools)?;
    let mut toolchain = toolchain::settle_std(toolchain, &args.toolchain, backend, target).await?;
    toolchain.emulator = emulator::emulator_version(target, host).await;
    let limits = super::limits::Requested::from_flags(args.max_processes, args.max_memory_mib);
    let sandbox = sandbox::resolve(args.sandbox, &limits).await?;
    let installed = process::find_on_path("cargo-auditable").is_some();
    let dep_list = DepList::decide(args.auditable, backend, installed)?;
    let tool_paths = match sandbox {
        Some(_) => toolchain::sandbox_paths(&toolchain, &backend::tools(backend, dep_list)).await,
        None => Vec::new(),
    };
    Ok(Tools { toolchain, backend, sandbox, tool_paths, dep_list })
}

/// Validate every input before touching the network or the disk (usage errors exit 2 here), then
/// detect the toolchain and resolve the version side by side.
async fn validate_and_resolve(
    args: &BuildArgs,
    plan: JobPlan,
    runner: &Runner,
    started: Instant,
) -> anyhow::Result<(Setup, Result<(Index, IndexVersion), PhaseError>, Duration)> {
    let spec = CrateSpec::parse(&args.spec)?;
    let host = Target::detect_host()?;
    let target = plan.target;
    let features = parse_features(&args.features)?;
    let secret_values: Vec<String> = args.secret_env.iter().filter_map(|name| std::env::var(name).ok()).collect();
    for secret in &secret_values {
        runner.mask(secret);
    }
    let tools = async {
        let tools = settle_tools(args, target, host).await?;
        anyhow::Ok((tools, started.elapsed()))
    };
    let resolving = async {
        let t = Instant::now();
        (resolve(args, &spec).await, t.elapsed())
    };
    let (tools, (resolved, resolve_time)) = tokio::join!(tools, resolving);
    let (Tools { toolchain, backend, sandbox, tool_paths, dep_list }, setup_time) = tools?;
    let setup = Setup {
        plan,
        asked: args.spec.clone(),
        spec,
        target,
        host,
        backend,
        toolchain,
        toolchain_auto: args.toolchain == toolchain::ToolchainChoice::Auto,
        features,
        jobs: args.jobs,
        timeout: args.timeout,
        silence_timeout: args.silence_timeout,
        keep_work: args.keep_work,
        quiet: args.quiet,
        secret_values,
        setup_time,
        sandbox,
        tool_paths,
        dep_list,
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
