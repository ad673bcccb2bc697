//! `result.json`: the outcome of one `cratemill build` job (one crate x one target), success or not.
//!
//! Written for every job, including failures, because the fleet report needs every outcome. Only a
//! result with `status: built` describes a publishable package.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Backend, Channel, Document, Phase, SCHEMA_VERSION};

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct BuildResult {
    pub schema_version: u32,
    pub kind: String,
    pub cratemill_version: String,
    #[serde(rename = "crate")]
    pub crate_name: String,
    /// Empty when the version could not be resolved.
    pub version: String,
    pub target: String,
    pub status: Status,
    /// The backend that ran (or would have run) the build.
    pub backend: Backend,
    pub started_at: String,
    pub finished_at: String,
    pub source: Option<Source>,
    pub package: Option<PackageMeta>,
    /// What was changed in the unpacked crate before building, in order.
    pub prepare: Vec<String>,
    /// Dependencies cratemill added to the crate's manifest (the job's copy; the `-srcbuild-`
    /// archive's `source/` has them too) to switch on a vendoring feature of a `-sys` crate in the
    /// lock graph through cargo's feature unification, after a failure that named it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifest_additions: Vec<ManifestAddition>,
    /// Packages of the shipped `Cargo.lock` lifted alone (`cargo update -p NAME@FROM`), every other
    /// pin kept, after a failure inside them or a known blocker of the target; in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lock_lifts: Vec<LockLift>,
    pub toolchain: Option<Toolchain>,
    /// The RUSTFLAGS given to the target's artifacts.
    pub rustflags: String,
    /// The cargo profile settings (`CARGO_PROFILE_RELEASE_*`) and other build variables set.
    pub build_env: BTreeMap<String, String>,
    /// Every build attempt, in order; `produced_binaries` marks the one whose output was packaged.
    pub attempts: Vec<Attempt>,
    /// The features of the attempt that produced the binaries.
    pub features_used: Option<String>,
    /// Milliseconds per phase (`fetch`, `prepare`, `build`, `inspect`, `license`, `package`, `total`).
    pub timings_ms: BTreeMap<String, u64>,
    pub executables: Vec<Executable>,
    pub licenses: Licenses,
    pub failure: Option<Failure>,
    /// Files of the package, relative to the package folder (built packages only).
    pub files: Vec<String>,
    /// Bytes of `build.log` kept when the build's output passed the log's cap (the rest was not
    /// kept; the log says where it was cut). Absent when the whole output was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_cut_at: Option<u64>,
    /// What the build and the smoke runs ran in (absent in results written before the sandbox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<Sandbox>,
    /// The limits the bwrap sandbox applied (absent without bwrap, and in older results).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_limits: Option<SandboxLimits>,
    /// Every package compiled into the executables for this target, with its license, and the
    /// notice, list and SBOM files written from them (built packages; absent in older results).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub third_party: Option<ThirdParty>,
    /// `--auditable`: whether the executables were to carry cargo-auditable's dependency list, and
    /// whether they do (read from their bytes; absent before the inspect phase and in older results).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auditable: Option<Auditable>,
}

/// The dependency list cargo-auditable embeds in an executable (its `.dep-v0` section, which
/// `cargo audit bin`, `rust-audit-info`, syft and trivy read); docs/build.md, "Dependency list".
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct Auditable {
    /// `--auditable on` (the default).
    pub asked: bool,
    /// Every executable carries a readable list (`executables[].dependency_list`).
    pub embedded: bool,
    /// Why it is not embedded although asked for (the cross backend, an executable without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One executable's embedded dependency list.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq, Eq)]
pub struct DependencyList {
    /// Bytes of the `.dep-v0` section (zlib-compressed JSON).
    pub section_bytes: u64,
    /// Packages it lists: the crate and every package of its build graph for the target (build-time
    /// ones marked `kind: build`).
    pub packages: u64,
}

/// What a redistributor owes (docs/licenses.md): the packages compiled for the target and
/// features the build used (`cargo metadata`'s resolution walked along normal dependencies: no
/// build-only or other-platform package), each with its license.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct ThirdParty {
    /// Every compiled package, the crate itself first, then by name and version.
    pub packages: Vec<CompiledPackage>,
    /// The human-readable notice in the package (`licenses/THIRD-PARTY-NOTICES.txt`).
    pub notice: String,
    /// The machine-readable list in the package (`licenses/third-party.json`).
    pub list: String,
    /// The CycloneDX 1.6 SBOM in the package (`sbom.cdx.json`).
    pub sbom: String,
}

/// One package compiled into the executables.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct CompiledPackage {
    pub name: String,
    pub version: String,
    pub role: PackageRole,
    /// Where it came from: `crates.io`, another registry's index URL, `git+URL`, or `path`.
    pub source: String,
    /// The `.crate`'s sha256 from the lock (registry packages).
    pub checksum: Option<String>,
    /// The `license` expression from its manifest, as written.
    pub license: Option<String>,
    /// The license texts shipped for it, in the order written to the notice.
    pub texts: Vec<LicenseText>,
    /// What is wrong with its licensing (empty: nothing); flagged in the report, never a failure.
    pub problems: Vec<LicenseProblem>,
}

impl CompiledPackage {
    /// Its package URL: `pkg:cargo/NAME@VERSION`, with the registry (`repository_url`) or the git
    /// repository (`vcs_url`) when it is not from crates.io. Pure.
    pub fn purl(&self) -> String {
        let base = format!("pkg:cargo/{}@{}", self.name, self.version);
        match self.source.as_str() {
            "crates.io" | "path" => base,
            s if s.starts_with("git+") => format!("{base}?vcs_url={}", percent(s)),
            s => format!("{base}?repository_url={}", percent(s)),
        }
    }
}

/// Percent-encode a purl qualifier value (RFC 3986 unreserved characters kept). Pure.
fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Why a package is in the build.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, schemars::JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PackageRole {
    /// The crate that was built.
    Root,
    /// A library linked into the executables.
    Library,
    /// A procedural macro: run by the compiler, its output compiled in (listed as `cargo tree` does).
    ProcMacro,
}

/// One license text in the notice.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct LicenseText {
    /// The file in the package's source it came from; absent for an SPDX reference text.
    pub file: Option<String>,
    /// The SPDX id askalono matched (score at least 0.8), or the id whose reference text this is.
    pub spdx: Option<String>,
    pub confidence: f32,
    /// The text is the SPDX reference text for `spdx`: the package shipped no license file.
    pub reference: bool,
    /// sha256 of the text as written to the notice.
    pub sha256: String,
}

/// A licensing problem of one package (the report lists them; `--deny-license` is separate).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, schemars::JsonSchema, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum LicenseProblem {
    /// No `license` expression and no `license-file`.
    NoLicense,
    /// The `license` expression is not an SPDX expression (not even with the `/` crates.io once took).
    InvalidExpression,
    /// No license file in its source: the SPDX reference texts were used instead.
    NoLicenseFile,
    /// Its license files could not be read (a link, too large, vanished).
    UnreadableLicenseFile,
}

/// What bounded the crate's code inside the bwrap sandbox (docs/security.md, boundary 1).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq, Eq)]
pub struct SandboxLimits {
    /// The uid build scripts ran as, in a user namespace of their own, with every capability dropped
    /// (`--cap-drop ALL`) and no further user namespaces, even when cratemill runs as root.
    pub uid: u32,
    /// Size cap of the private `/tmp` (tmpfs), bytes.
    pub tmp_bytes: u64,
    /// Size cap of the private home (tmpfs), bytes.
    pub home_bytes: u64,
    /// The cgroup that bounded processes and memory; absent when none could be made here.
    pub cgroup: Option<CgroupLimits>,
    /// Why there was no cgroup (one line), when `cgroup` is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_unavailable: Option<String>,
}

/// The process and memory limits of the job's cgroup.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq, Eq)]
pub struct CgroupLimits {
    pub version: CgroupVersion,
    /// `pids.max`: processes and threads at once (`--max-processes`).
    pub max_processes: u64,
    /// `memory.max` (v2) or `memory.limit_in_bytes` (v1), bytes (`--max-memory-mib`).
    pub max_memory_bytes: u64,
}

/// The cgroup hierarchy the limits were set in.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, schemars::JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum CgroupVersion {
    V1,
    V2,
}

/// The isolation a build ran in.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, schemars::JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Sandbox {
    /// bubblewrap: new PID, network and mount namespaces, one writable tree (docs/security.md).
    Bwrap,
    /// The `cross` backend's container for the build (its own PID and mount namespaces); smoke runs in bwrap.
    CrossContainer,
    /// `--sandbox none`: build scripts ran with the user's rights.
    None,
}

impl Document for BuildResult {
    const KIND: &'static str = "cratemill.build-result";
}

impl BuildResult {
    pub fn new(crate_name: &str, version: &str, target: &str, backend: Backend) -> BuildResult {
        BuildResult {
            schema_version: SCHEMA_VERSION,
            kind: Self::KIND.to_string(),
            cratemill_version: env!("CARGO_PKG_VERSION").to_string(),
            crate_name: crate_name.to_string(),
            version: version.to_string(),
            target: target.to_string(),
            status: Status::Failed,
            backend,
            started_at: super::now_rfc3339(),
            finished_at: String::new(),
            source: None,
            package: None,
            prepare: Vec::new(),
            manifest_additions: Vec::new(),
            lock_lifts: Vec::new(),
            toolchain: None,
            rustflags: String::new(),
            build_env: BTreeMap::new(),
            attempts: Vec::new(),
            features_used: None,
            timings_ms: BTreeMap::new(),
            executables: Vec::new(),
            licenses: Licenses::default(),
            failure: None,
            files: Vec::new(),
            log_cut_at: None,
            sandbox: None,
            sandbox_limits: None,
            third_party: None,
            auditable: None,
        }
    }
}

impl BuildResult {
    /// The job's key.
    pub fn key(&self) -> super::JobKey {
        super::JobKey::new(&self.crate_name, &self.version, &self.target)
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, schemars::JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Built,
    Failed,
}

/// Where the crate came from and how it was verified.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct Source {
    pub index_url: String,
    pub download_url: String,
    /// sha256 of the `.crate`, as listed in the index and verified after download.
    pub crate_sha256: String,
    pub crate_size: u64,
    pub yanked: bool,
}

/// Fields of the crate's `[package]` table, for annotations and the report.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct PackageMeta {
    pub description: Option<String>,
    pub license: Option<String>,
    pub license_file: Option<String>,
    pub homepage: Option<String>,
    pub repository: Option<String>,
    pub documentation: Option<String>,
    pub rust_version: Option<String>,
    pub edition: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct Toolchain {
    pub channel: Channel,
    pub rustc: String,
    pub cargo: String,
    /// The backend tool's own version line (`cross 0.2.5`, `cargo-zigbuild 0.20.1`), when not plain cargo.
    pub backend_tool: Option<String>,
    /// The rustup toolchain the build ran with when it is not the channel's default (`debian-web`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where the target's standard library came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std: Option<StdOrigin>,
    /// Why that toolchain and that std (one sentence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std_reason: Option<String>,
    /// The version line of the emulator that smoke-runs a foreign target's executables
    /// (`qemu-loongarch64 version 10.0.2 ...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emulator: Option<String>,
}

/// Where a build's target standard library came from.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, schemars::JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum StdOrigin {
    /// Installed for the target (`rustup target add`).
    Prebuilt,
    /// Compiled in the build with `-Zbuild-std` from the toolchain's own std source.
    BuiltFromSource,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct Attempt {
    /// `all`, `default`, or a comma-separated list, plus any vendoring features added.
    pub features: String,
    /// Was `--locked` passed (a shipped Cargo.lock was used as is)?
    pub locked: bool,
    /// The shipped `Cargo.lock` was set aside before this attempt: dependencies resolved fresh.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fresh_lock: bool,
    /// The command line, program first (environment not included).
    pub command: Vec<String>,
    pub duration_ms: u64,
    pub exit_code: Option<i32>,
    pub produced_binaries: bool,
    /// Why this attempt failed, when it did.
    pub failure: Option<Failure>,
    /// The channel of the toolchain this attempt ran (nightly, or stable after a nightly breakage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// That toolchain's `rustc --version` line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rustc: Option<String>,
    /// This attempt repeats the one before it after that one's spurious failure (`oom`: with one
    /// job); at most `SPURIOUS_RETRIES` per job (docs/build.md).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub spurious_retry: bool,
}

/// A direct dependency added to the crate's manifest, pinned to the version the lock graph has,
/// with a feature that builds its native library from source:
/// `fakeffi-sys = { version = "=1.0.0", features = ["vendored"] }`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq, Eq)]
pub struct ManifestAddition {
    /// The package (also the dependency's name in `[dependencies]`).
    pub package: String,
    /// The locked version, added as `=VERSION`.
    pub version: String,
    pub features: Vec<String>,
    /// The failure it answers (the failed attempt's summary).
    pub reason: String,
}

/// One package of the shipped `Cargo.lock` moved to another version, alone: `cargo update -p
/// NAME@FROM` (to its newest semver-compatible release) or with `--precise TO` (the first release
/// that supports the target, from cratemill's table of known blockers, docs/build.md).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq, Eq)]
pub struct LockLift {
    pub package: String,
    /// The version the shipped lock pinned.
    pub from: String,
    /// The version the lock holds after the lift.
    pub to: String,
    /// `--precise TO` was asked for (a known blocker); otherwise the newest compatible release.
    pub precise: bool,
    /// Every package whose locked version the lift changed (the package itself, and its own
    /// dependencies only when it could not move without them).
    pub changed: Vec<String>,
    /// The failure it answers (the failed attempt's summary).
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct Executable {
    pub name: String,
    /// Path inside the package folder (`bin/<name>`).
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub blake3: String,
    pub arch: String,
    /// No `PT_INTERP` and no `DT_NEEDED`.
    #[serde(rename = "static")]
    pub is_static: bool,
    pub interpreter: Option<String>,
    pub needed: Vec<String>,
    pub smoke: Smoke,
    /// The cargo-auditable dependency list it carries, read from its bytes; absent when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependency_list: Option<DependencyList>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct Smoke {
    pub status: SmokeStatus,
    /// The arguments of the run that decided the status (`--version`, then `--help`).
    pub args: Vec<String>,
    /// `qemu-aarch64-static` etc. when emulated.
    pub runner: Option<String>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// The first line of what it printed, when it passed.
    pub first_line: Option<String>,
    /// Why it was not run, or what went wrong.
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, schemars::JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SmokeStatus {
    /// `--version` or `--help` exited 0.
    Passed,
    /// It ran and exited non-zero without crashing (it does not take those flags).
    ExitedNonzero,
    /// It was still running at the timeout (waits for input or serves): it started, so it runs.
    TimedOut,
    /// Killed by a signal (segfault, abort, illegal instruction): a failed build.
    Crashed,
    /// Could not run here (foreign architecture and no qemu).
    NotRun,
    /// Not run: the emulator here is too old for this architecture's instructions (qemu < 8.1 and
    /// loongarch64's LSX baseline); the executable itself was not shown to be broken.
    EmulatorTooOld,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct Licenses {
    /// The crate's declared `license` expression from Cargo.toml.
    pub declared: Option<String>,
    pub files: Vec<LicenseFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct LicenseFile {
    /// Path inside the package folder (`licenses/<name>`).
    pub path: String,
    /// Path inside the crate it was copied from.
    pub source_path: String,
    pub sha256: String,
    /// The SPDX id askalono matched, if its score reached the threshold.
    pub spdx: Option<String>,
    pub confidence: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct Failure {
    pub class: FailureClass,
    /// The phase that failed.
    pub phase: Phase,
    pub message: String,
    /// The log lines that show the failure (at most a few dozen).
    pub evidence: Vec<String>,
}

/// Why a job failed, from its log or from cratemill's own checks. Stable names: the report and the
/// matrix's incremental skip depend on them.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, schemars::JsonSchema, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum FailureClass {
    /// A native library or pkg-config package was not found.
    MissingSystemLibrary,
    /// A build script (`build.rs`) exited with an error for another reason.
    BuildScriptFailed,
    /// rustc reported errors in the crate or a dependency.
    CompileError,
    /// The linker failed.
    LinkError,
    /// The code does not support this target or architecture.
    UnsupportedTarget,
    /// The crate has no binary targets (library only).
    NoExecutables,
    /// The build exceeded `--timeout`.
    Timeout,
    /// Out of memory or disk space, not told apart: cratemill's own file work (unpacking, the work
    /// folder) and results written before `oom` and `no-space`; a build's log says which (`oom`,
    /// `no-space`). Spurious.
    OutOfResources,
    /// The `.crate` or a dependency could not be downloaded, or dependencies could not be resolved.
    FetchFailed,
    /// The downloaded `.crate` did not match the index checksum.
    ChecksumMismatch,
    /// The archive was unsafe (path traversal, links outside, devices, too large).
    UnsafeArchive,
    /// The crate needs a newer Rust than the toolchain used.
    RustVersion,
    /// A binary was built but is dynamically linked.
    NotStatic,
    /// A binary was built but crashed when run.
    SmokeCrashed,
    /// The crate or version does not exist, or is yanked.
    NotFound,
    /// None of the known patterns matched; the evidence holds the last error lines.
    Unknown,
    /// A feature asked for with `--features` does not exist in the crate (bad input: exit 2).
    UnknownFeature,
    /// The shipped `Cargo.lock` pins a version the index does not serve (yanked, or newer than a
    /// mirror's snapshot); the build retries with a fresh resolution.
    LockedVersionUnavailable,
    /// The build ran on nightly, saw it (a build script asking `rustc --version`, or probing) and
    /// switched on unstable features that this nightly rejects: an unknown or removed feature, an
    /// attribute reserved for the compiler. Retried on stable when a stable toolchain has the
    /// target's std.
    NightlyBreakage,
    /// Out of memory: an allocation failed, LLVM or rustc ran out, or a process was killed by
    /// SIGKILL (the kernel's or the job cgroup's out-of-memory killer). Spurious: retried with one job.
    Oom,
    /// Out of disk space: `No space left on device`, a quota, a linker's SIGBUS on a full disk. Spurious.
    NoSpace,
    /// A build script (or proc macro) tried to reach the network, which a build has none of: a name
    /// that did not resolve, an unreachable network. Spurious, as crater counts it: not the code's
    /// failure to compile; not retried as is (the sandbox stays offline).
    NetworkAccess,
    /// The compiler crashed (`internal compiler error`, rustc panicked). Spurious: retried.
    Ice,
    /// rustc reported errors inside a registry dependency's sources, not the crate's own; the
    /// message names the dependency and its version (`inside dependency libc 0.2.149: ...`).
    DependsOn,
    /// The crate cannot be resolved as published: an invalid manifest or lock, a dependency or a
    /// version that does not exist or is yanked.
    Broken,
}

impl FailureClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::MissingSystemLibrary => "missing-system-library",
            FailureClass::BuildScriptFailed => "build-script-failed",
            FailureClass::CompileError => "compile-error",
            FailureClass::LinkError => "link-error",
            FailureClass::UnsupportedTarget => "unsupported-target",
            FailureClass::NoExecutables => "no-executables",
            FailureClass::Timeout => "timeout",
            FailureClass::OutOfResources => "out-of-resources",
            FailureClass::FetchFailed => "fetch-failed",
            FailureClass::ChecksumMismatch => "checksum-mismatch",
            FailureClass::UnsafeArchive => "unsafe-archive",
            FailureClass::RustVersion => "rust-version",
            FailureClass::NotStatic => "not-static",
            FailureClass::SmokeCrashed => "smoke-crashed",
            FailureClass::NotFound => "not-found",
            FailureClass::Unknown => "unknown",
            FailureClass::UnknownFeature => "unknown-feature",
            FailureClass::LockedVersionUnavailable => "locked-version-unavailable",
            FailureClass::NightlyBreakage => "nightly-breakage",
            FailureClass::Oom => "oom",
            FailureClass::NoSpace => "no-space",
            FailureClass::NetworkAccess => "network-access",
            FailureClass::Ice => "ice",
            FailureClass::DependsOn => "depends-on",
            FailureClass::Broken => "broken",
        }
    }

    /// A failure of the build's circumstances, not of the code (crater's spurious results): the
    /// runner's memory, disk or time, a build reaching for the network, a compiler crash. The
    /// ladder retries them a bounded number of times (`attempts::SPURIOUS_RETRIES`); every other
    /// class is real and never retried as is.
    pub fn is_spurious(self) -> bool {
        matches!(
            self,
            FailureClass::Timeout
                | FailureClass::OutOfResources
                | FailureClass::Oom
                | FailureClass::NoSpace
                | FailureClass::NetworkAccess
                | FailureClass::Ice
        )
    }

    /// Worth retrying the same version later without any change (network, runner limits): the
    /// spurious classes, a failed download, and what was not recognised.
    pub fn is_transient(self) -> bool {
        self.is_spurious() || matches!(self, FailureClass::FetchFailed | FailureClass::Unknown)
    }
}

impl std::fmt::Display for FailureClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Documents for other modules' unit tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::{Executable, Smoke, SmokeStatus};

    /// A static x86_64 executable `bin/<name>`, 1 byte, whose smoke run passed.
    pub fn executable(name: &str) -> Executable {
        Executable {
            name: name.into(),
            path: format!("bin/{name}"),
            size: 1,
            sha256: String::new(),
            blake3: String::new(),
            arch: "x86_64".into(),
            is_static: true,
            interpreter: None,
            needed: vec![],
            smoke: Smoke {
                status: SmokeStatus::Passed,
                args: vec![],
                runner: None,
                exit_code: Some(0),
                signal: None,
                first_line: None,
                note: None,
            },
            dependency_list: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_class_names_match_serde() {
        // Every variant, from the JSON Schema (a new class is covered without editing a list).
        crate::schema::assert_names_match_serde::<FailureClass>(|c| c.as_str());
    }

    #[test]
    fn roundtrip_and_kind_check() {
        let r = BuildResult::new("ripgrep", "14.1.1", "x86_64-unknown-linux-musl", Backend::Cross);
        let bytes = serde_json::to_vec(&r).unwrap();
        let back: BuildResult = crate::schema::parse(&bytes).unwrap();
        assert_eq!(back, r);
        let err = crate::schema::parse::<super::super::publish::PublishRecord>(&bytes).unwrap_err();
        assert!(err.to_string().contains("expected a `cratemill.publish-record` document"), "{err}");
    }
}
