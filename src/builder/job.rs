//! One build job from start to finish: runs the phases in order, one method each, times them, and
//! always ends with a `result.json` (built or failed) plus GitHub outputs. A failed job never leaves
//! a package that looks publishable: only `result.json` and `build.log` remain in the output folder.
//! The phases' work is in their own modules: `setup` (validated and resolved before this runs),
//! fetch (`crates_io`), prepare (`prepare`, `env`), build (`ladder`), inspect (`executables`),
//! license (`license`), package (`srcbuild`, `package`). I/O edge: the work and output folders.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::actions::Runner;
use crate::crates_io::{self, Index, IndexVersion};
use crate::error::{self, Exit};
use crate::package;
use crate::schema::result::{BuildResult, Failure, FailureClass, Source, Status};
use crate::schema::Phase;

use super::collect::Produced;
use super::group::GroupOutcome;
use super::ladder::{Ladder, Prepared};
use super::log::BuildLog;
use super::setup::{classified, ms, phase_err, phase_io, PhaseError, Setup, Started};
use super::{env, executables, license, manifest, output, prepare, summary};

/// One job in flight: the fixed setup, its folders, and the result and log every phase adds to.
/// Each phase is one method; [`BuildJob::run_phases`] calls them in order.
struct BuildJob<'a> {
    setup: &'a Setup,
    runner: &'a Runner,
    /// The package folder.
    out: PathBuf,
    /// The work folder (download, unpacked source, target dir), deleted with `_work_guard`.
    work: PathBuf,
    _work_guard: Option<tempfile::TempDir>,
    result: BuildResult,
    log: BuildLog,
    /// When the attempts must end: `--timeout` from the job's start.
    deadline: Instant,
    /// A leader's grouped build, handed to the invocation's other jobs.
    group_outcome: Option<Arc<GroupOutcome>>,
    /// `cargo metadata` and `cargo tree` of the attempt that built: what the third-party list is
    /// made from.
    described: super::ladder::Described,
    /// How long asking cargo for them took (license phase time, though it runs in the ladder).
    described_in: Duration,
}

/// What the fetch phase leaves: the verified `.crate` and its unpacked root.
struct Fetched {
    crate_file: PathBuf,
    /// The index's sha256 of the `.crate`, verified at download.
    crate_sha256: String,
    root: PathBuf,
}

/// What the prepare phase decides: the package's metadata, the preparation steps (without the
/// vendoring line: the pristine archive must reproduce them), and the attempts' inputs.
struct PreparedJob {
    meta: crate::schema::result::PackageMeta,
    steps: Vec<String>,
    attempts: Prepared,
}

/// What a finished job leaves: its exit code, its package folder and, from a group's leader, the
/// grouped build for the other jobs.
pub struct Done {
    pub exit: Exit,
    pub out: PathBuf,
    pub group: Option<Arc<GroupOutcome>>,
}

/// Run a started job ([`setup::start`](super::setup::start)); its time limit (`--timeout`) counts
/// from here.
pub async fn run(started_job: Started) -> anyhow::Result<Done> {
    let Started { setup, resolved, resolve_time, runner } = started_job;
    let started = Instant::now();
    let target = setup.target;
    let mut result =
        BuildResult::new(&setup.spec.name, setup.spec.version.as_deref().unwrap_or(""), target.triple, setup.backend);
    result.toolchain = Some(setup.toolchain.clone());
    result.rustflags = setup.rustflags();
    record_time(&mut result, Phase::Setup, setup.setup_time);
    result.sandbox = Some(setup.sandbox_kind());
    result.sandbox_limits = setup.sandbox.as_ref().map(|b| b.limits.clone());
    // The default output folder is named after the resolved version.
    let out = output_dir(&setup, resolved.as_ref().ok().map(|(_, v)| (v.name.as_str(), v.vers.as_str())))?;
    output::claim(&out)?;
    let mut log = BuildLog::create(&out.join(package::LOG_FILE), !setup.quiet)?;
    log.note(&format!(
        "cratemill {} building {} for {} with {} ({})",
        env!("CARGO_PKG_VERSION"),
        setup.asked,
        target.triple,
        setup.backend.name(),
        setup.toolchain.rustc
    ));
    let mut job = BuildJob::new(&setup, &runner, out, result, log)?;
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

impl<'a> BuildJob<'a> {
    fn new(
        setup: &'a Setup,
        runner: &'a Runner,
        out: PathBuf,
        result: BuildResult,
        mut log: BuildLog,
    ) -> anyhow::Result<BuildJob<'a>> {
        let work = tempfile::Builder::new()
            .prefix("cratemill-work-")
            .tempdir()
            .context("creating the work folder (is the temporary folder writable and not full?)")?;
        // The guard deletes the work folder when the job is dropped, on success and on failure alike.
        let keep = setup.keep_work;
        let (work_path, guard) = if keep { (work.keep(), None) } else { (work.path().to_path_buf(), Some(work)) };
        if keep {
            log.note(&format!("work folder kept at {}", work_path.display()));
        }
        let deadline = setup.deadline_from(Instant::now());
        Ok(BuildJob {
            setup,
            runner,
            out,
            work: work_path,
            _work_guard: guard,
            result,
            log,
            deadline,
            group_outcome: None,
            described: Default::default(),
            described_in: Duration::ZERO,
        })
    }

    /// Record the resolved name and version.
    fn resolved(&mut self, version: &IndexVersion, resolve_time: Duration) {
        if version.name != self.setup.spec.name {
            self.log.note(&format!("`{}` is published as `{}`", self.setup.spec.name, version.name));
        }
        self.result.crate_name = version.name.clone();
        self.result.version = version.vers.clone();
        record_time(&mut self.result, Phase::Resolve, resolve_time);
    }

    /// The phases in order, each timed.
    async fn run_phases(&mut self, index: &Index, version: &IndexVersion) -> Result<(), PhaseError> {
        let t = Instant::now();
        let fetched = self.fetch(index, version).await?;
        record_time(&mut self.result, Phase::Fetch, t.elapsed());

        let t = Instant::now();
        let prepared = self.prepare(version, &fetched.root).await?;
        record_time(&mut self.result, Phase::Prepare, t.elapsed());

        let t = Instant::now();
        let produced = self.build(&fetched.root, &prepared.attempts).await?;
        record_time(&mut self.result, Phase::Build, t.elapsed().saturating_sub(self.described_in));

        let t = Instant::now();
        self.inspect(&produced).await?;
        record_time(&mut self.result, Phase::Inspect, t.elapsed());

        let t = Instant::now();
        self.license(&fetched.root, &prepared.meta)?;
        self.third_party(&fetched)?;
        record_time(&mut self.result, Phase::License, t.elapsed() + self.described_in);

        let t = Instant::now();
        self.package(&fetched, &prepared.steps)?;
        record_time(&mut self.result, Phase::Package, t.elapsed());
        Ok(())
    }

    /// Download, verify against the index checksum, unpack.
    async fn fetch(&mut self, index: &Index, version: &IndexVersion) -> Result<Fetched, PhaseError> {
        let (name, vers) = (&version.name, &version.vers);
        self.log.group(self.runner, &format!("fetch {name} {vers}"));
        let download_dir = self.work.join("download");
        std::fs::create_dir_all(&download_dir).map_err(phase_io(Phase::Fetch))?;
        let (downloaded, reused) = match self.setup.plan.shared_downloads.as_deref() {
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
        std::fs::create_dir_all(&src_dir).map_err(phase_io(Phase::Fetch))?;
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
    async fn prepare(&mut self, version: &IndexVersion, root: &Path) -> Result<PreparedJob, PhaseError> {
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
        let (target_dir, build_dir) = self.setup.plan.target_dir_or(&private, self.setup.unstable(), &mut self.log);
        let cargo_home = self.setup.make_cargo_home(&self.work).map_err(phase_io(Phase::Prepare))?;
        let index_url = self.result.source.as_ref().map(|s| s.index_url.clone()).unwrap_or_default();
        if let Some(config) = mirror_config(&index_url) {
            // The dependencies come from the same index as the crate (a mirror), never from elsewhere.
            std::fs::write(cargo_home.join("config.toml"), config).map_err(phase_io(Phase::Prepare))?;
            self.log.note(&format!("dependencies resolve against {index_url} (source replacement for crates.io)"));
        } else if cargo_home.join("config.toml").exists() {
            // A shared CARGO_HOME may hold an earlier job's mirror config: not for this index.
            std::fs::remove_file(cargo_home.join("config.toml")).map_err(phase_io(Phase::Prepare))?;
        }
        let child_env = self.child_env(&target_dir, build_dir.as_deref());
        let backend_tool = self.setup.backend_tool_version().await;
        if let Some(tc) = self.result.toolchain.as_mut() {
            tc.backend_tool = backend_tool;
        }
        let attempts = Prepared { has_lock: prepared.has_lock, extras, child_env, target_dir, build_dir };
        Ok(PreparedJob { meta, steps: prepared.steps, attempts })
    }

    /// The build child's environment: the allow-list plus cratemill's own variables (recorded).
    fn child_env(&mut self, target_dir: &Path, build_dir: Option<&Path>) -> BTreeMap<String, String> {
        let cargo_home = self.setup.cargo_home(&self.work);
        let vars = env::BuildVars {
            target: self.setup.target,
            backend: self.setup.backend,
            rustflags: &self.result.rustflags,
            toolchain: &self.setup.toolchain,
            target_dir,
            build_dir,
            cargo_home: &cargo_home,
        };
        self.result.build_env = vars.recorded().into_iter().collect();
        env::scrub(&env::current(), &vars.all(), &self.setup.secret_values)
    }

    /// The attempt ladder ([`ladder`](super::ladder)); a leader's grouped build is kept for the
    /// invocation's other jobs, whatever the ladder's end.
    async fn build(&mut self, root: &Path, prepared: &Prepared) -> Result<Vec<Produced>, PhaseError> {
        let mut ladder = Ladder {
            setup: self.setup,
            runner: self.runner,
            log: &mut self.log,
            result: &mut self.result,
            work: &self.work,
            deadline: self.deadline,
            group: None,
            manifests: None,
            built: None,
            described: None,
            described_in: Duration::ZERO,
            stable: None,
        };
        let produced = ladder.climb(root, prepared).await;
        self.group_outcome = ladder.group.take();
        self.described_in = ladder.described_in;
        let produced = produced?;
        let described = ladder.described.take();
        self.described = described.unwrap_or_else(|| {
            let why = "the packages of the attempt that built were not asked for".to_string();
            Err(classified(Phase::License, FailureClass::Unknown, why, Vec::new()))
        })?;
        Ok(produced)
    }

    /// Install each executable into `bin/`, smoke-run it, and refuse dynamic or crashing ones.
    async fn inspect(&mut self, produced: &[Produced]) -> Result<(), PhaseError> {
        let bin_dir = self.out.join(package::BIN_DIR);
        std::fs::create_dir_all(&bin_dir).map_err(phase_io(Phase::Package))?;
        for p in produced {
            let exe = executables::install(self.setup, &mut self.log, &self.work, &bin_dir, p).await?;
            self.result.executables.push(exe);
        }
        self.result.auditable = Some(executables::auditable(self.setup.dep_list, &self.result.executables));
        executables::check(&self.result.executables)
    }

    /// Detect licenses and copy the license files into the package.
    fn license(&mut self, root: &Path, meta: &crate::schema::result::PackageMeta) -> Result<(), PhaseError> {
        self.result.licenses = license::collect(
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

    /// Every compiled package's license, and the notice, list and SBOM ([`license::third_party`]).
    fn third_party(&mut self, fetched: &Fetched) -> Result<(), PhaseError> {
        let cargo_home = self.setup.cargo_home(&self.work);
        let trees = [
            crate::untrusted::Tree::new(&self.work, self.deadline),
            crate::untrusted::Tree::new(&cargo_home, self.deadline),
        ];
        let r = &self.result;
        let job = license::ThirdPartyJob {
            described: &self.described,
            root_manifest: &fetched.root.join("Cargo.toml"),
            trees: &trees,
            out: &self.out,
            subject: license::Subject { crate_name: &r.crate_name, version: &r.version, target: &r.target },
            executables: &r.executables,
            crate_sha256: &fetched.crate_sha256,
            index_url: r.source.as_ref().map_or("", |s| s.index_url.as_str()),
        };
        let third = license::third_party(&job).map_err(phase_err(Phase::License, FailureClass::Unknown))?;
        let flagged = third.packages.iter().filter(|p| !p.problems.is_empty()).count();
        self.log.note(&format!(
            "third-party licenses: {} compiled packages, {flagged} flagged; {}, {}, {}",
            third.packages.len(),
            third.notice,
            third.list,
            third.sbom
        ));
        self.result.third_party = Some(third);
        Ok(())
    }

    /// The `-srcbuild-` source archive ([`output::write_srcbuild`]).
    fn package(&mut self, fetched: &Fetched, steps: &[String]) -> Result<(), PhaseError> {
        let sources = output::Sources {
            crate_file: &fetched.crate_file,
            crate_sha256: &fetched.crate_sha256,
            root: &fetched.root,
            steps,
            tree: &crate::untrusted::Tree::new(&self.work, self.deadline),
        };
        output::write_srcbuild(&self.out, &self.result, &mut self.log, &sources)
    }

    /// Record the outcome: a whole package (CHECKSUMS, result.json last) or a failure with nothing
    /// publishable left behind. Returns the exit code.
    fn finish(&mut self, outcome: Result<(), PhaseError>, started: Instant) -> anyhow::Result<Exit> {
        self.result.timings_ms.insert(TOTAL.into(), ms(started.elapsed()));
        self.result.log_cut_at = self.log.cut_at();
        self.result.finished_at = crate::schema::now_rfc3339();
        let failure = match outcome {
            Ok(()) => {
                self.result.status = Status::Built;
                let secs = started.elapsed().as_secs_f64();
                self.log.note(&format!("built {} executable(s) in {secs:.1}s", self.result.executables.len()));
                self.log.flush()?;
                // result.json is written last, so its presence with status built means the package is whole.
                output::seal(&self.out, &mut self.result)?;
                return Ok(Exit::Ok);
            }
            Err(failure) => failure,
        };
        let class = error::class_of(&failure.error).unwrap_or(failure.default_class);
        let message = error::one_line(&failure.error);
        self.log.note(&format!("failed in {}: {class}: {message}", failure.phase));
        self.log.flush()?;
        output::clear(&self.out)?;
        let r = &mut self.result;
        r.status = Status::Failed;
        r.failure = Some(Failure { class, phase: failure.phase, message: message.clone(), evidence: failure.evidence });
        crate::schema::write(&self.out.join(package::RESULT_FILE), r)?;
        let title = format!("cratemill build {}@{} ({}) failed: {class}", r.crate_name, r.version, r.target);
        self.runner.error(&title, &message);
        Ok(error::exit_in(&failure.error, Some(failure.phase)))
    }
}

/// The output folder: `--out`, or `./cratemill-out/<crate>-<version>-<target>`.
/// `--out`, or `cratemill-out/<crate>-<version>-<target>` with the crate's published name and the
/// resolved version.
fn output_dir(setup: &Setup, resolved: Option<(&str, &str)>) -> anyhow::Result<PathBuf> {
    let (name, version) = resolved.unwrap_or((&setup.spec.name, "unresolved"));
    Ok(match &setup.plan.out {
        Some(dir) => dir.clone(),
        None => PathBuf::from("cratemill-out").join(format!("{name}-{version}-{}", setup.target.triple)),
    })
}

/// The timing of the whole job in result.json's `timings_ms` (the others are its phases').
const TOTAL: &str = "total";

/// Record how long `phase` took, under its name.
fn record_time(result: &mut BuildResult, phase: Phase, took: Duration) {
    result.timings_ms.insert(phase.name().into(), ms(took));
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
