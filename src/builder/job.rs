//! One build job from start to finish: runs the phases in order, times them, and always ends with a
//! `result.json` (built or failed) plus GitHub outputs. A failed job never leaves a package that looks
//! publishable: only `result.json` and `build.log` remain in the output folder.

use std::path::{Path, PathBuf};
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
use super::backend::{self, Backend, BackendChoice, BackendTool, BuildRequest};
use super::classify::{self, ExitInfo};
use super::collect::{self, Produced};
use super::log::BuildLog;
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
    deadline: Instant,
    secret_values: Vec<String>,
}

/// Run the job for the target in `per_job`; returns the exit code and the package folder.
pub async fn run(args: &BuildArgs, per_job: super::multi::PerJob) -> anyhow::Result<(Exit, PathBuf)> {
    let runner = Runner::from_env();
    let started = Instant::now();

    // Validate every input before touching the network or the disk: usage errors exit 2 here.
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
    // The license store takes ~0.1 s to load: warm it while the crate is fetched and built.
    let license_store = tokio::task::spawn_blocking(crate::builder::license::warm_up);
    // Toolchain detection (local processes) and version resolution (the index) run side by side.
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
        anyhow::Ok((toolchain, backend, started.elapsed()))
    };
    let resolving = async {
        let t = Instant::now();
        (resolve(args, &spec).await, t.elapsed())
    };
    let (tools, (resolved, resolve_time)) = tokio::join!(tools, resolving);
    let (toolchain, backend, setup_time) = tools?;
    let setup = Setup {
        per_job,
        spec,
        target,
        host,
        backend,
        toolchain,
        features,
        jobs: args.jobs,
        deadline: started + args.timeout,
        secret_values,
    };

    let mut result =
        BuildResult::new(&setup.spec.name, setup.spec.version.as_deref().unwrap_or(""), target.triple, backend);
    result.toolchain = Some(setup.toolchain.clone());
    result.rustflags = target.rustflags_for(backend::linker(backend)).join(" ");
    result.timings_ms.insert("setup".into(), ms(setup_time));
    // The default output folder is named after the resolved version.
    let out = output_dir(args, &setup, resolved.as_ref().ok().map(|(_, v)| (v.name.as_str(), v.vers.as_str())))?;
    claim_output_dir(&out)?;
    let mut log = BuildLog::create(&out.join(package::LOG_FILE), !args.quiet)?;
    log.note(&format!(
        "cratemill {} building {} for {} with {} ({})",
        env!("CARGO_PKG_VERSION"),
        args.spec,
        target.triple,
        backend.name(),
        setup.toolchain.rustc
    ));

    let outcome = match resolved {
        Ok((index, version)) => {
            if version.name != setup.spec.name {
                log.note(&format!("`{}` is published as `{}`", setup.spec.name, version.name));
            }
            result.crate_name = version.name.clone();
            result.version = version.vers.clone();
            result.timings_ms.insert("resolve".into(), ms(resolve_time));
            build_resolved(args, &setup, &index, &version, &out, &mut result, &mut log, &runner).await
        }
        Err(e) => Err(e),
    };
    drop(license_store);
    result.timings_ms.insert("total".into(), ms(started.elapsed()));
    result.finished_at = crate::schema::now_rfc3339();

    let exit = match outcome {
        Ok(()) => {
            result.status = Status::Built;
            log.note(&format!(
                "built {} executable(s) in {:.1}s",
                result.executables.len(),
                started.elapsed().as_secs_f64()
            ));
            log.flush()?;
            // result.json is written last, so its presence with status built means the package is whole.
            package_files(&out, &mut result)?;
            Exit::Ok
        }
        Err(failure) => {
            let class = error::class_of(&failure.error).unwrap_or(failure.default_class);
            let message = error::one_line(&failure.error);
            log.note(&format!("failed in {}: {class}: {message}", failure.phase));
            log.flush()?;
            remove_publishable(&out)?;
            result.status = Status::Failed;
            result.failure =
                Some(Failure { class, phase: failure.phase, message: message.clone(), evidence: failure.evidence });
            crate::schema::write(&out.join(package::RESULT_FILE), &result)?;
            runner.error(
                &format!(
                    "cratemill build {}@{} ({}) failed: {class}",
                    result.crate_name, result.version, target.triple
                ),
                &message,
            );
            match error::exit_of(&failure.error) {
                Exit::Usage => Exit::Usage,
                Exit::Internal if error::class_of(&failure.error).is_none() => Exit::Internal,
                _ => Exit::Failed,
            }
        }
    };
    summary::report(&runner, &result, &out)?;
    Ok((exit, out))
}

async fn resolve(args: &BuildArgs, spec: &CrateSpec) -> Result<(Index, IndexVersion), PhaseError> {
    let index = Index::open(&args.index_url).await.map_err(phase_err(Phase::Resolve, FailureClass::FetchFailed))?;
    let versions = index.versions(&spec.name).await.map_err(phase_err(Phase::Resolve, FailureClass::FetchFailed))?;
    let chosen = crates_io::select_version(&versions, spec.version.as_deref(), args.allow_yanked)
        .map_err(phase_err(Phase::Resolve, FailureClass::NotFound))?
        .clone();
    Ok((index, chosen))
}

#[allow(clippy::too_many_arguments)]
async fn build_resolved(
    args: &BuildArgs,
    setup: &Setup,
    index: &Index,
    version: &IndexVersion,
    out: &Path,
    result: &mut BuildResult,
    log: &mut BuildLog,
    runner: &Runner,
) -> Result<(), PhaseError> {
    let work = tempfile::Builder::new()
        .prefix("cratemill-work-")
        .tempdir()
        .map_err(|e| phase_err(Phase::Setup, FailureClass::OutOfResources)(e.into()))?;
    // The guard deletes the work folder when this function returns, on success and on failure alike.
    let (work_path, _guard) =
        if args.keep_work { (work.keep(), None) } else { (work.path().to_path_buf(), Some(work)) };
    if args.keep_work {
        log.note(&format!("work folder kept at {}", work_path.display()));
    }
    let name = &version.name;
    let vers = &version.vers;

    // Fetch + verify + unpack.
    let t = Instant::now();
    log.group(runner, &format!("fetch {name} {vers}"));
    let download_dir = work_path.join("download");
    std::fs::create_dir_all(&download_dir)
        .map_err(|e| phase_err(Phase::Fetch, FailureClass::OutOfResources)(e.into()))?;
    let downloaded =
        index.download(version, &download_dir).await.map_err(phase_err(Phase::Fetch, FailureClass::FetchFailed))?;
    log.note(&format!(
        "downloaded {} ({} bytes), sha256 {} matches the index",
        downloaded.url, downloaded.size, downloaded.sha256
    ));
    result.source = Some(Source {
        index_url: index.url().to_string(),
        download_url: downloaded.url.clone(),
        crate_sha256: downloaded.sha256.clone(),
        crate_size: downloaded.size,
        yanked: version.yanked,
    });
    let src_dir = work_path.join("src");
    std::fs::create_dir_all(&src_dir).map_err(|e| phase_err(Phase::Fetch, FailureClass::OutOfResources)(e.into()))?;
    // Unsafe archives carry their own class; anything else here is an I/O problem.
    let (crate_file, unpack_into, n, v) = (downloaded.path.clone(), src_dir.clone(), name.clone(), vers.clone());
    let root = tokio::task::spawn_blocking(move || {
        crates_io::unpack(&crate_file, &unpack_into, &n, &v, &crates_io::UnpackLimits::default())
    })
    .await
    .map_err(|e| phase_err(Phase::Fetch, FailureClass::Unknown)(e.into()))?
    .map_err(phase_err(Phase::Fetch, FailureClass::Unknown))?;
    log.end_group(runner);
    result.timings_ms.insert("fetch".into(), ms(t.elapsed()));

    // Prepare.
    let t = Instant::now();
    let meta =
        manifest::read_meta(&root.join("Cargo.toml")).map_err(phase_err(Phase::Prepare, FailureClass::CompileError))?;
    result.package = Some(meta.clone());
    if !manifest::declares_binaries(&root).map_err(phase_err(Phase::Prepare, FailureClass::CompileError))? {
        return Err(PhaseError {
            phase: Phase::Prepare,
            error: error::classified(
                Exit::Failed,
                FailureClass::NoExecutables,
                format!("{name} {vers} is a library: it has no binary targets to build"),
            ),
            default_class: FailureClass::NoExecutables,
            evidence: Vec::new(),
        });
    }
    let prepared = prepare::prepare(&root).map_err(phase_err(Phase::Prepare, FailureClass::Unknown))?;
    let extras = prepare::vendoring_features(&version.features, &version.deps);
    result.prepare = prepared.steps.clone();
    if !extras.is_empty() {
        result.prepare.push(format!("vendoring features added: {}", extras.join(",")));
    }
    for step in &result.prepare {
        log.note(&format!("prepare: {step}"));
    }
    let mut extra_env: Vec<(String, String)> =
        setup.target.profile_env().into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    extra_env.push((setup.target.rustflags_env_name(), result.rustflags.clone()));
    extra_env.extend(prepare::build_env());
    extra_env.push(("CARGO_TERM_COLOR".into(), "never".into()));
    extra_env.push(("CARGO_TERM_PROGRESS_WHEN".into(), "never".into()));
    extra_env.push(("CARGO_INCREMENTAL".into(), "0".into()));
    extra_env.extend(toolchain::build_env(&setup.toolchain));
    if setup.backend == Backend::Cross {
        if let Some(pass) = backend::cross_passthrough(&extra_env) {
            extra_env.push(("CROSS_BUILD_ENV_PASSTHROUGH".into(), pass));
        }
    }
    result.build_env = extra_env.iter().cloned().collect();
    let target_dir = setup.per_job.target_dir_or(&work_path.join("target"), unstable(setup), log);
    extra_env.push(("CARGO_TARGET_DIR".into(), target_dir.display().to_string()));
    let child_env = env::scrub(&env::current(), &extra_env, &setup.secret_values);
    if let Some((program, version_args)) = setup.backend.tool_version_command() {
        if let Some(tc) = result.toolchain.as_mut() {
            tc.backend_tool = toolchain::version_line(program, version_args).await;
        }
    }
    result.timings_ms.insert("prepare".into(), ms(t.elapsed()));

    // Build attempts.
    let t = Instant::now();
    let produced = attempt_builds(
        setup,
        &root,
        &work_path,
        &target_dir,
        prepared.has_lock,
        extras,
        &child_env,
        result,
        log,
        runner,
    )
    .await?;
    result.timings_ms.insert("build".into(), ms(t.elapsed()));

    // Inspect + smoke.
    let t = Instant::now();
    inspect_and_install(setup, &produced, out, result, log).await?;
    result.timings_ms.insert("inspect".into(), ms(t.elapsed()));

    // Licenses.
    let t = Instant::now();
    result.licenses = crate::builder::license::collect(
        &root,
        meta.license.as_deref(),
        meta.license_file.as_deref(),
        &out.join(package::LICENSES_DIR),
    )
    .map_err(phase_err(Phase::License, FailureClass::Unknown))?;
    for lf in &result.licenses.files {
        log.note(&format!(
            "license {}: {} ({:.2})",
            lf.source_path,
            lf.spdx.as_deref().unwrap_or("unidentified"),
            lf.confidence
        ));
    }
    result.timings_ms.insert("license".into(), ms(t.elapsed()));

    // Source archive (log flushed first so the archive carries it whole up to here).
    let t = Instant::now();
    log.note("writing the -srcbuild- source archive");
    log.flush().map_err(|e| phase_err(Phase::Package, FailureClass::OutOfResources)(e.into()))?;
    let info = serde_json::json!({
        "crate": name, "version": vers, "target": setup.target.triple, "backend": setup.backend.name(),
        "toolchain": result.toolchain, "rustflags": result.rustflags, "build_env": result.build_env,
        "prepare": result.prepare, "attempts": result.attempts, "source": result.source,
    });
    let archive = out.join(package::SRCBUILD_DIR).join(package::srcbuild_file_name(name, vers));
    crate::builder::srcbuild::write(
        &archive,
        &crate::builder::srcbuild::Inputs {
            crate_name: name,
            version: vers,
            crate_file: &downloaded.path,
            source_tree: &root,
            build_log: log.path(),
            build_info: &info,
        },
    )
    .map_err(phase_err(Phase::Package, FailureClass::OutOfResources))?;
    result.timings_ms.insert("package".into(), ms(t.elapsed()));
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn attempt_builds(
    setup: &Setup,
    root: &Path,
    work: &Path,
    target_dir: &Path,
    has_lock: bool,
    extras: Vec<String>,
    child_env: &std::collections::BTreeMap<String, String>,
    result: &mut BuildResult,
    log: &mut BuildLog,
    runner: &Runner,
) -> Result<Vec<Produced>, PhaseError> {
    let nightly = unstable(setup);
    let mut plan = attempts::first(setup.features.clone(), extras, has_lock);
    let mut tried: Vec<Plan> = Vec::new();
    loop {
        let n = tried.len() + 1;
        let artifact_dir = nightly.then(|| work.join(format!("artifacts-{n}")));
        let request = BuildRequest {
            manifest_path: root.join("Cargo.toml"),
            target: setup.target,
            features: plan.features.clone(),
            extra_features: plan.extra_features.clone(),
            locked: plan.locked,
            jobs: setup.jobs,
            artifact_dir: artifact_dir.clone(),
            nightly,
            toolchain: setup.toolchain.name.clone(),
            build_std: setup.toolchain.std == Some(StdOrigin::BuiltFromSource),
        };
        let command = backend::command(setup.backend, &request);
        let features_desc = plan.features.describe(&plan.extra_features);
        log.group(
            runner,
            &format!("build attempt {n}: features {features_desc}{}", if plan.locked { ", --locked" } else { "" }),
        );
        log.note(&format!("$ {}", command.display().join(" ")));
        let run = runner::run(&command, child_env, root, log, setup.deadline).await;
        log.end_group(runner);
        let run = run.map_err(|e| PhaseError {
            phase: Phase::Build,
            error: e,
            default_class: FailureClass::Unknown,
            evidence: Vec::new(),
        })?;
        let mut attempt = Attempt {
            features: features_desc,
            locked: plan.locked,
            command: command.display(),
            duration_ms: ms(run.duration),
            exit_code: run.exit_code,
            produced_binaries: false,
            failure: None,
        };
        tried.push(plan.clone());
        if run.success() {
            let dir = artifact_dir.unwrap_or_else(|| target_dir.join(setup.target.triple).join("release"));
            let (produced, rejected) =
                collect::collect(&dir, setup.target).map_err(phase_err(Phase::Inspect, FailureClass::Unknown))?;
            attempt.produced_binaries = !produced.is_empty();
            result.features_used = Some(attempt.features.clone());
            result.attempts.push(attempt);
            if produced.is_empty() {
                let why = if rejected.is_empty() {
                    "the build succeeded but produced no executables".to_string()
                } else {
                    format!("no executable for {}: {}", setup.target.triple, rejected.join("; "))
                };
                let class =
                    if rejected.is_empty() { FailureClass::NoExecutables } else { FailureClass::UnsupportedTarget };
                return Err(PhaseError {
                    phase: Phase::Inspect,
                    error: error::classified(Exit::Failed, class, why),
                    default_class: class,
                    evidence: rejected,
                });
            }
            return Ok(produced);
        }
        let text = run.lines.join("\n");
        let c =
            classify::classify(&text, ExitInfo { code: run.exit_code, signal: run.signal, timed_out: run.timed_out });
        log.note(&format!("attempt {n} failed: {}: {}", c.class, c.summary));
        attempt.failure = Some(c.to_failure(Phase::Build));
        result.attempts.push(attempt);
        let outcome =
            attempts::Outcome { class: c.class, lock_outdated: c.lock_outdated, feature_problem: c.feature_problem };
        match attempts::next(&plan, &outcome, &tried) {
            Some(next) if Instant::now() < setup.deadline => plan = next,
            _ => {
                let message = format!("{} (after {n} attempt{})", c.summary, if n == 1 { "" } else { "s" });
                return Err(PhaseError {
                    phase: Phase::Build,
                    error: error::classified(Exit::Failed, c.class, message),
                    default_class: c.class,
                    evidence: c.evidence,
                });
            }
        }
    }
}

async fn inspect_and_install(
    setup: &Setup,
    produced: &[Produced],
    out: &Path,
    result: &mut BuildResult,
    log: &mut BuildLog,
) -> Result<(), PhaseError> {
    let bin_dir = out.join(package::BIN_DIR);
    std::fs::create_dir_all(&bin_dir).map_err(|e| phase_err(Phase::Package, FailureClass::OutOfResources)(e.into()))?;
    for p in produced {
        let dest = bin_dir.join(&p.name);
        // A copy, never a hard link: cargo's artifact dir links into its target dir.
        std::fs::copy(&p.path, &dest)
            .with_context(|| format!("copying {}", p.name))
            .map_err(phase_err(Phase::Package, FailureClass::OutOfResources))?;
        let smoke = crate::builder::smoke::smoke(&dest, setup.target, setup.host).await;
        let digests = package::digest_file(&dest)
            .map_err(|e| phase_err(Phase::Package, FailureClass::OutOfResources)(e.into()))?;
        log.note(&format!(
            "{}: {} bytes, {}, smoke {:?}{}",
            p.name,
            digests.size,
            if p.facts.is_static() {
                "static".to_string()
            } else {
                format!("dynamic (interpreter {:?}, needs {:?})", p.facts.interpreter, p.facts.needed)
            },
            smoke.status,
            smoke.first_line.as_deref().map(|l| format!(": {l}")).unwrap_or_default()
        ));
        result.executables.push(Executable {
            name: p.name.clone(),
            path: format!("{}/{}", package::BIN_DIR, p.name),
            size: digests.size,
            sha256: digests.sha256,
            blake3: digests.blake3,
            arch: setup.target.arch.to_string(),
            is_static: p.facts.is_static(),
            interpreter: p.facts.interpreter.clone(),
            needed: p.facts.needed.clone(),
            smoke,
        });
    }
    let dynamic: Vec<String> = result
        .executables
        .iter()
        .filter(|e| !e.is_static)
        .map(|e| format!("{} needs {}", e.name, e.needed.join(", ")))
        .collect();
    if !dynamic.is_empty() {
        let msg = format!("not statically linked: {}", dynamic.join("; "));
        return Err(PhaseError {
            phase: Phase::Inspect,
            error: error::classified(Exit::Failed, FailureClass::NotStatic, msg),
            default_class: FailureClass::NotStatic,
            evidence: dynamic,
        });
    }
    let crashed: Vec<String> = result
        .executables
        .iter()
        .filter(|e| e.smoke.status == SmokeStatus::Crashed)
        .map(|e| format!("{} {}: {}", e.name, e.smoke.args.join(" "), e.smoke.note.clone().unwrap_or_default()))
        .collect();
    if !crashed.is_empty() {
        let msg = format!("crashed when run: {}", crashed.join("; "));
        return Err(PhaseError {
            phase: Phase::Inspect,
            error: error::classified(Exit::Failed, FailureClass::SmokeCrashed, msg),
            default_class: FailureClass::SmokeCrashed,
            evidence: crashed,
        });
    }
    Ok(())
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
fn output_dir(_args: &BuildArgs, setup: &Setup, resolved: Option<(&str, &str)>) -> anyhow::Result<PathBuf> {
    let (name, version) = resolved.unwrap_or((&setup.spec.name, "unresolved"));
    Ok(match &setup.per_job.out {
        Some(dir) => dir.clone(),
        None => PathBuf::from("cratemill-out").join(format!("{name}-{version}-{}", setup.target.triple)),
    })
}

/// Make sure the output folder is ours to write: missing, empty, or an earlier cratemill output
/// (which is cleared). Anything else is refused rather than overwritten.
fn claim_output_dir(out: &Path) -> anyhow::Result<()> {
    if out.exists() {
        let mut entries = std::fs::read_dir(out).with_context(|| format!("reading {}", out.display()))?;
        let empty = entries.next().is_none();
        if !empty {
            if !out.join(package::RESULT_FILE).is_file() && !out.join(package::LOG_FILE).is_file() {
                return Err(error::usage(format!(
                    "output folder {} is not empty and is not a cratemill output: refusing to overwrite it",
                    out.display()
                )));
            }
            std::fs::remove_dir_all(out).with_context(|| format!("clearing {}", out.display()))?;
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    Ok(())
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

/// May the build use cargo's unstable flags (`--artifact-dir`, `-Zbuild-std`)? On nightly, and on a
/// toolchain that builds std from source (it runs with `RUSTC_BOOTSTRAP=1`).
fn unstable(setup: &Setup) -> bool {
    setup.toolchain.channel == Channel::Nightly || setup.toolchain.std == Some(StdOrigin::BuiltFromSource)
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}
