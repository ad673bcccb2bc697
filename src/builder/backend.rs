//! Build backends: `cargo` (native), `cross` (containers) and `cargo-zigbuild` (zig as the linker).
//! Each turns the same [`BuildRequest`] into a command line ([`command`]); the dependency fetch
//! before the attempts is [`fetch_command`]. Both take the toolchain's part of the line (`+name`,
//! `-Zbuild-std`) from one [`CargoToolchain`], so the fetch and the build cannot drift apart. None of
//! them runs anything. Pure: `--backend auto` decides from [`HostTools`], gathered by
//! `toolchain::probe_backends`; `--auditable` ([`DepList::decide`]) decides whether the build runs
//! under `cargo auditable`, which embeds the dependency list (`.dep-v0`) in every executable, and
//! [`tools`] names the programs a sandboxed build needs mounted.

use std::path::PathBuf;

use super::process::CommandLine;
use crate::error::usage;
use crate::schema::result::{StdOrigin, Toolchain};
use crate::schema::Channel;
use crate::target::{Libc, Linker, Target};

/// The backend named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendChoice {
    /// `cargo` when the host can build the target natively, `cross` otherwise.
    Auto,
    Cross,
    Zigbuild,
    Cargo,
}

/// A concrete backend (the documents' type).
pub use crate::schema::Backend;

/// Who links for a backend: zig for cargo-zigbuild, the target's default linker otherwise.
pub fn linker(backend: Backend) -> Linker {
    match backend {
        Backend::Zigbuild => Linker::Zig,
        Backend::Cargo | Backend::Cross => Linker::Default,
    }
}

/// What a backend needs to run and report itself.
pub trait BackendTool {
    /// The program and the version query of the backend's own tool, when it is not plain cargo.
    fn tool_version_command(self) -> Option<(&'static str, &'static [&'static str])>;
}

impl BackendTool for Backend {
    /// The program and the version query of the backend's own tool, when it is not plain cargo.
    fn tool_version_command(self) -> Option<(&'static str, &'static [&'static str])> {
        match self {
            Backend::Cargo => None,
            Backend::Cross => Some(("cross", &["--version"])),
            Backend::Zigbuild => Some(("cargo-zigbuild", &["--version"])),
        }
    }
}

/// What the host offers for `--backend auto` (gathered by `toolchain::probe_backends`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostTools {
    /// Targets whose std rustup has installed for the chosen channel.
    pub installed_targets: Vec<String>,
    /// A container engine answers (`docker info` / `podman info`): `cross` can run.
    pub container_engine: bool,
    /// `cargo-zigbuild` and zig are on PATH.
    pub zig: bool,
}

/// Pick the backend. `auto`: `cargo` for the host's target (or a native-architecture target whose std
/// is installed), else `cross` where a container engine answers, else `zigbuild` where zig is (musl
/// targets), else a one-line error naming what to install.
pub fn choose(choice: BackendChoice, target: &Target, host: &Target, tools: &HostTools) -> anyhow::Result<Backend> {
    let backend = match choice {
        BackendChoice::Cargo => Backend::Cargo,
        BackendChoice::Cross => Backend::Cross,
        BackendChoice::Zigbuild => Backend::Zigbuild,
        BackendChoice::Auto => {
            let native = target.triple == host.triple
                || (target.runs_natively_on(host) && tools.installed_targets.iter().any(|t| t == target.triple));
            if native {
                Backend::Cargo
            } else if tools.container_engine {
                Backend::Cross
            } else if tools.zig && target.libc == Libc::Musl {
                Backend::Zigbuild
            } else {
                return Err(anyhow::anyhow!(
                    "no backend can build {} here: install Docker or Podman (for cross){} (tests/setup/30-musl-targets.sh installs zig)",
                    target.triple,
                    if target.libc == Libc::Musl {
                        ", or zig and cargo-zigbuild (`pip install ziglang cargo-zigbuild`)"
                    } else {
                        " (zigbuild cannot make static glibc executables)"
                    }
                ));
            }
        }
    };
    if backend == Backend::Zigbuild && target.libc == Libc::Gnu {
        return Err(usage(format!(
            "the zigbuild backend cannot make static glibc executables ({}): use a *-linux-musl target or --backend cargo/cross",
            target.triple
        )));
    }
    Ok(backend)
}

/// `--auditable`: embed cargo-auditable's dependency list in every executable when cargo-auditable
/// is installed (`auto`, the default), always (`on`: refused without it), or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditableChoice {
    Auto,
    On,
    Off,
}

/// The cargo-auditable release cratemill is tested with; the fix of a missing one names it, and
/// tests/setup/40-cargo-auditable.sh and the action (dist/run.sh) install it.
pub const CARGO_AUDITABLE_VERSION: &str = "0.7.7";

/// What a build does about the dependency list (docs/build.md, "Dependency list").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepList {
    /// The build runs under `cargo auditable`: every executable gets a `.dep-v0` section.
    Embed,
    /// `--auditable off`.
    Off,
    /// Asked for, but `cross` builds in its own container image, which has no cargo-auditable.
    NotInCrossContainer,
    /// `--auditable auto` and no `cargo-auditable` on PATH.
    NotInstalled,
}

impl DepList {
    /// `--auditable` for `backend`, with `cargo-auditable` on PATH or not; an error for `on`
    /// without it. Pure.
    pub fn decide(choice: AuditableChoice, backend: Backend, installed: bool) -> anyhow::Result<DepList> {
        Ok(match (choice, backend) {
            (AuditableChoice::Off, _) => DepList::Off,
            (_, Backend::Cross) => DepList::NotInCrossContainer,
            (AuditableChoice::On, _) if !installed => return Err(missing_cargo_auditable()),
            (AuditableChoice::Auto, _) if !installed => DepList::NotInstalled,
            (AuditableChoice::On | AuditableChoice::Auto, Backend::Cargo | Backend::Zigbuild) => DepList::Embed,
        })
    }

    /// Why the list is not embedded although it was asked for (result.json's `auditable.note`).
    pub fn reason(self) -> Option<String> {
        match self {
            DepList::Embed | DepList::Off => None,
            DepList::NotInCrossContainer => Some(
                "not embedded: cross builds in its own container image, which has no cargo-auditable \
                 (--backend zigbuild or cargo embeds it)"
                    .into(),
            ),
            DepList::NotInstalled => Some(format!(
                "not embedded: cargo-auditable is not installed (`cargo install cargo-auditable --locked \
                 --version {CARGO_AUDITABLE_VERSION}`; --auditable on refuses to build without it)"
            )),
        }
    }
}

/// The programs a sandboxed build runs from the host, mounted read-only (`toolchain::sandbox_paths`):
/// cargo, the backend's own tools, and cargo-auditable when it embeds the dependency list. Pure.
pub fn tools(backend: Backend, dep_list: DepList) -> Vec<&'static str> {
    let mut tools = vec!["cargo"];
    if backend == Backend::Zigbuild {
        tools.extend(["cargo-zigbuild", "zig"]);
    }
    if dep_list == DepList::Embed {
        tools.push("cargo-auditable");
    }
    tools
}

/// The one-line error when the dependency list is asked for and `cargo-auditable` is not on PATH.
pub fn missing_cargo_auditable() -> anyhow::Error {
    anyhow::anyhow!(
        "--auditable on embeds the dependency list with cargo-auditable, which is not installed: run \
         `cargo install cargo-auditable --locked --version {CARGO_AUDITABLE_VERSION}` (or pass --auditable off)"
    )
}

/// Which features an attempt turns on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Features {
    All,
    Default,
    List(Vec<String>),
}

impl Features {
    pub fn describe(&self, extra: &[String]) -> String {
        let base = match self {
            Features::All => "all".to_string(),
            Features::Default => "default".to_string(),
            Features::List(list) => list.join(","),
        };
        if extra.is_empty() {
            base
        } else {
            format!("{base}+{}", extra.join(","))
        }
    }
}

/// What an attempt does with the crate's `Cargo.lock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// The shipped `Cargo.lock`, with `--locked`.
    Locked,
    /// No `--locked`: cargo resolves (no shipped lock) or updates the shipped one as it needs.
    Unlocked,
    /// The shipped `Cargo.lock` set aside before the attempt: every dependency resolved fresh.
    Fresh,
}

impl Lock {
    /// The attempt passes `--locked` (result.json's `locked`).
    pub fn locked(self) -> bool {
        self == Lock::Locked
    }

    /// The attempt resolves with the shipped lock set aside (result.json's `fresh_lock`).
    pub fn fresh(self) -> bool {
        self == Lock::Fresh
    }
}

/// Everything a backend needs to form the command line of one build attempt.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    pub manifest_path: PathBuf,
    pub target: &'static Target,
    pub features: Features,
    /// Features added to every attempt (vendoring), e.g. `vendored`, `openssl/vendored`.
    pub extra_features: Vec<String>,
    pub lock: Lock,
    pub jobs: Option<u32>,
    /// `Some` with a nightly toolchain: `-Z unstable-options --artifact-dir DIR`.
    pub artifact_dir: Option<PathBuf>,
    /// Cargo's unstable flags may be used: the nightly channel, or `RUSTC_BOOTSTRAP=1` with a std
    /// built from source.
    pub nightly: bool,
    pub toolchain: CargoToolchain,
    /// Run under `cargo auditable` ([`DepList::Embed`]): `cargo auditable build|zigbuild ...`.
    pub auditable: bool,
}

/// The toolchain's part of a cargo command line, the same for the dependency fetch and the build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CargoToolchain {
    /// The rustup toolchain to run (`+name`): a named one, or `nightly` on the nightly channel;
    /// `None`: the default.
    pub plus: Option<String>,
    /// Build the target's std from source: `-Zbuild-std=std,panic_abort`.
    pub build_std: bool,
}

impl CargoToolchain {
    /// The settled toolchain's: its name or the nightly channel, and whether std is built from source.
    pub fn of(tc: &Toolchain) -> CargoToolchain {
        CargoToolchain {
            plus: tc.name.clone().or_else(|| (tc.channel == Channel::Nightly).then(|| "nightly".to_string())),
            build_std: tc.std == Some(StdOrigin::BuiltFromSource),
        }
    }

    /// The one rendering of both, for [`command`] and [`fetch_command`]: the `+toolchain` a cargo
    /// command starts with, and the `-Zbuild-std` it carries (a std built from source has
    /// dependencies of its own, so the fetch needs it as much as the build).
    pub fn render(&self) -> (Option<String>, Option<&'static str>) {
        (self.plus.as_ref().map(|p| format!("+{p}")), self.build_std.then_some("-Zbuild-std=std,panic_abort"))
    }
}

/// What the dependency fetch before the attempts needs.
#[derive(Debug, Clone)]
pub struct FetchRequest {
    pub manifest_path: PathBuf,
    pub toolchain: CargoToolchain,
    /// The platforms to fetch for: the build's targets and the host's (build scripts).
    pub platforms: Vec<&'static str>,
    pub lock: Lock,
}

/// `cargo fetch` of the dependency graph for `req`'s platforms. Pure.
pub fn fetch_command(req: &FetchRequest) -> CommandLine {
    let (plus, build_std) = req.toolchain.render();
    let mut args: Vec<String> = plus.into_iter().collect();
    args.extend(["fetch".into(), "--manifest-path".into(), req.manifest_path.display().to_string()]);
    args.extend(build_std.map(String::from));
    for triple in &req.platforms {
        args.extend(["--target".into(), triple.to_string()]);
    }
    if req.lock.locked() {
        args.push("--locked".into());
    }
    CommandLine::new("cargo", args)
}

/// `cargo update` of one package of the lock (`lift`): `-p NAME@FROM`, with `--precise V` when
/// set; cargo keeps every other pin. Pure.
pub fn update_command(
    manifest_path: &std::path::Path,
    toolchain: &CargoToolchain,
    lift: &super::lift::Lift,
) -> CommandLine {
    let (plus, _) = toolchain.render();
    let mut args: Vec<String> = plus.into_iter().collect();
    args.extend(["update".into(), "--manifest-path".into(), manifest_path.display().to_string()]);
    args.extend(["-p".into(), lift.spec()]);
    if let Some(v) = &lift.precise {
        args.extend(["--precise".into(), v.clone()]);
    }
    CommandLine::new("cargo", args)
}

/// The command line for one attempt. With `auditable`, cargo runs `cargo auditable` (found on PATH
/// like any cargo subcommand), which runs the same cargo command with itself as
/// `RUSTC_WORKSPACE_WRAPPER`: the crate's executables are linked with the dependency list of their
/// target and features. cross is never wrapped ([`DepList::decide`]).
pub fn command(backend: Backend, req: &BuildRequest) -> CommandLine {
    let program = match backend {
        Backend::Cargo | Backend::Zigbuild => "cargo",
        Backend::Cross => "cross",
    };
    let (plus, build_std) = req.toolchain.render();
    let mut args: Vec<String> = plus.into_iter().collect();
    if req.auditable && backend != Backend::Cross {
        args.push("auditable".into());
    }
    args.push(if backend == Backend::Zigbuild { "zigbuild" } else { "build" }.into());
    args.extend(["--release".into(), "--target".into(), req.target.triple.into()]);
    args.extend(["--manifest-path".into(), req.manifest_path.display().to_string()]);
    if let (true, Some(dir)) = (req.nightly, &req.artifact_dir) {
        args.extend(["-Z".into(), "unstable-options".into(), "--artifact-dir".into(), dir.display().to_string()]);
    }
    args.extend(build_std.map(String::from));
    args.extend(feature_args(&req.features, &req.extra_features));
    if req.lock.locked() {
        args.push("--locked".into());
    }
    if let Some(jobs) = req.jobs {
        args.extend(["--jobs".into(), jobs.to_string()]);
    }
    args.extend(["--color".into(), "never".into()]);
    CommandLine { program: program.into(), args }
}

/// The feature flags of an attempt. Pure.
fn feature_args(features: &Features, extra: &[String]) -> Vec<String> {
    let mut args = Vec::new();
    match features {
        Features::All => args.push("--all-features".into()),
        Features::Default => {}
        Features::List(list) if !list.is_empty() => args.extend(["--features".into(), list.join(",")]),
        Features::List(_) => {}
    }
    if !extra.is_empty() {
        args.extend(["--features".into(), extra.join(",")]);
    }
    args
}

/// `cargo metadata` of what the attempt `req` built: its target's platform only, its features,
/// its lock, offline; always plain cargo with the attempt's toolchain (the backend's linker does
/// not matter to a resolution). Pure.
pub fn metadata_command(req: &BuildRequest) -> CommandLine {
    query_command(req, &["metadata", "--format-version", "1"], "--filter-platform")
}

/// `cargo tree` of the packages the attempt `req` compiled for its target along normal edges,
/// one `NAME vVERSION ...` line each: cargo's own feature resolver decides the set, which
/// `cargo metadata`'s resolution over-approximates (weak `dep?/feature` edges, features of other
/// platforms). Offline, plain cargo with the attempt's toolchain. Pure.
pub fn tree_command(req: &BuildRequest) -> CommandLine {
    query_command(req, &["tree", "--edges", "normal", "--prefix", "none", "--format", "{p}"], "--target")
}

/// A cargo query about the attempt `req`: `head`, then its manifest, its target after `platform`,
/// its features and lock, offline. Pure.
fn query_command(req: &BuildRequest, head: &[&str], platform: &str) -> CommandLine {
    let (plus, _) = req.toolchain.render();
    let mut args: Vec<String> = plus.into_iter().collect();
    args.extend(head.iter().map(|a| a.to_string()));
    args.extend(["--manifest-path".into(), req.manifest_path.display().to_string()]);
    args.extend([platform.to_string(), req.target.triple.into()]);
    args.extend(feature_args(&req.features, &req.extra_features));
    if req.lock.locked() {
        args.push("--locked".into());
    }
    args.extend(["--offline".into(), "--color".into(), "never".into()]);
    CommandLine::new("cargo", args)
}

/// Variables `cross` must be told to forward into its container (it forwards `CARGO_*`, `CROSS_*` and
/// `RUSTFLAGS` by itself). Passed as `CROSS_BUILD_ENV_PASSTHROUGH`.
pub fn cross_passthrough(extra_env: &[(String, String)]) -> Option<String> {
    let names: Vec<&str> = extra_env
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !k.starts_with("CARGO_") && !k.starts_with("CROSS_") && *k != "RUSTFLAGS")
        .collect();
    if names.is_empty() {
        None
    } else {
        Some(names.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(target: &str) -> BuildRequest {
        BuildRequest {
            manifest_path: PathBuf::from("/w/src/rg-1.0.0/Cargo.toml"),
            target: Target::parse(target).unwrap(),
            features: Features::All,
            extra_features: vec![],
            lock: Lock::Locked,
            jobs: Some(2),
            artifact_dir: Some(PathBuf::from("/w/artifacts")),
            nightly: true,
            toolchain: CargoToolchain { plus: Some("nightly".into()), build_std: false },
            auditable: false,
        }
    }

    #[test]
    fn cross_command_for_musl_matches_the_seed_invocation() {
        let cmd = command(Backend::Cross, &req("aarch64-unknown-linux-musl"));
        assert_eq!(
            cmd.display().join(" "),
            "cross +nightly build --release --target aarch64-unknown-linux-musl --manifest-path /w/src/rg-1.0.0/Cargo.toml \
             -Z unstable-options --artifact-dir /w/artifacts --all-features --locked --jobs 2 --color never"
        );
    }

    #[test]
    fn stable_fallback_has_no_unstable_flags() {
        let mut r = req("x86_64-unknown-linux-gnu");
        r.nightly = false;
        r.toolchain = CargoToolchain::default();
        r.features = Features::Default;
        r.extra_features = vec!["vendored".into()];
        r.lock = Lock::Unlocked;
        let line = command(Backend::Cargo, &r).display().join(" ");
        assert_eq!(line, "cargo build --release --target x86_64-unknown-linux-gnu --manifest-path /w/src/rg-1.0.0/Cargo.toml --features vendored --jobs 2 --color never");
    }

    #[test]
    fn metadata_describes_the_attempts_resolution_for_its_target() {
        let mut r = req("x86_64-unknown-linux-musl");
        r.extra_features = vec!["vendored".into()];
        let line = metadata_command(&r).display().join(" ");
        assert_eq!(line, "cargo +nightly metadata --format-version 1 --manifest-path /w/src/rg-1.0.0/Cargo.toml --filter-platform x86_64-unknown-linux-musl --all-features --features vendored --locked --offline --color never");
        let line = tree_command(&r).display().join(" ");
        assert_eq!(line, "cargo +nightly tree --edges normal --prefix none --format {p} --manifest-path /w/src/rg-1.0.0/Cargo.toml --target x86_64-unknown-linux-musl --all-features --features vendored --locked --offline --color never");
    }

    #[test]
    fn zigbuild_uses_the_zigbuild_subcommand() {
        let cmd = command(Backend::Zigbuild, &req("x86_64-unknown-linux-musl"));
        assert_eq!(cmd.program, "cargo");
        assert_eq!(&cmd.args[..2], ["+nightly", "zigbuild"]);
    }

    #[test]
    fn the_dependency_list_wraps_cargo_and_zigbuild_in_cargo_auditable_but_not_cross() {
        let mut r = req("x86_64-unknown-linux-musl");
        r.auditable = true;
        let zig = command(Backend::Zigbuild, &r);
        assert_eq!(zig.program, "cargo");
        assert_eq!(&zig.args[..3], ["+nightly", "auditable", "zigbuild"]);
        r.toolchain = CargoToolchain::default();
        let cargo = command(Backend::Cargo, &r);
        assert_eq!(&cargo.args[..3], ["auditable", "build", "--release"]);
        assert!(!command(Backend::Cross, &r).args.iter().any(|a| a == "auditable"));
        let decide = |c, b, installed| DepList::decide(c, b, installed).unwrap();
        assert_eq!(decide(AuditableChoice::On, Backend::Zigbuild, true), DepList::Embed);
        assert_eq!(decide(AuditableChoice::Auto, Backend::Cargo, true), DepList::Embed);
        assert_eq!(decide(AuditableChoice::Off, Backend::Zigbuild, true), DepList::Off);
        let missing = decide(AuditableChoice::Auto, Backend::Zigbuild, false);
        assert!(missing.reason().is_some_and(|r| r.contains("not installed")), "{missing:?}");
        assert!(DepList::decide(AuditableChoice::On, Backend::Cargo, false).is_err());
        let cross = decide(AuditableChoice::On, Backend::Cross, false);
        assert!(cross.reason().is_some_and(|r| r.contains("cross")), "{cross:?}");
        assert_eq!(tools(Backend::Zigbuild, DepList::Embed), ["cargo", "cargo-zigbuild", "zig", "cargo-auditable"]);
        assert_eq!(tools(Backend::Cargo, DepList::Off), ["cargo"]);
        let err = missing_cargo_auditable().to_string();
        assert!(err.contains(&format!("cargo install cargo-auditable --locked --version {CARGO_AUDITABLE_VERSION}")));
        assert!(err.contains("--auditable off") && !err.contains('\n'), "{err}");
    }

    #[test]
    fn auto_chooses_native_then_cross_then_zigbuild() {
        let host = Target::parse("x86_64-unknown-linux-gnu").unwrap();
        let musl = Target::parse("x86_64-unknown-linux-musl").unwrap();
        let arm = Target::parse("aarch64-unknown-linux-musl").unwrap();
        let arm_gnu = Target::parse("aarch64-unknown-linux-gnu").unwrap();
        let docker = HostTools { container_engine: true, zig: true, ..HostTools::default() };
        let zig = HostTools { zig: true, ..HostTools::default() };
        let none = HostTools::default();
        let auto = |t, tools: &HostTools| choose(BackendChoice::Auto, t, host, tools);
        assert_eq!(auto(host, &none).unwrap(), Backend::Cargo);
        assert_eq!(auto(musl, &docker).unwrap(), Backend::Cross);
        let musl_std = HostTools { installed_targets: vec![musl.triple.to_string()], ..HostTools::default() };
        assert_eq!(auto(musl, &musl_std).unwrap(), Backend::Cargo);
        let arm_std = HostTools { installed_targets: vec![arm.triple.to_string()], ..docker.clone() };
        assert_eq!(auto(arm, &arm_std).unwrap(), Backend::Cross);
        assert_eq!(auto(arm, &zig).unwrap(), Backend::Zigbuild);
        let err = auto(arm, &none).unwrap_err().to_string();
        assert!(err.contains("cargo-zigbuild") && err.contains("Docker"), "{err}");
        let err = auto(arm_gnu, &zig).unwrap_err().to_string();
        assert!(err.contains("glibc"), "zig cannot do static glibc: {err}");
        assert!(choose(BackendChoice::Zigbuild, host, host, &none).is_err());
    }

    #[test]
    fn std_from_source_names_the_toolchain_and_build_std() {
        let mut r = req("riscv64gc-unknown-linux-musl");
        r.nightly = false;
        r.artifact_dir = None;
        r.toolchain = CargoToolchain { plus: Some("debian-web".into()), build_std: true };
        let line = command(Backend::Zigbuild, &r).display().join(" ");
        assert!(
            line.starts_with("cargo +debian-web zigbuild --release --target riscv64gc-unknown-linux-musl"),
            "{line}"
        );
        assert!(line.contains(" -Zbuild-std=std,panic_abort "), "{line}");
    }

    fn toolchain(channel: Channel, name: Option<&str>, std: StdOrigin) -> Toolchain {
        Toolchain {
            channel,
            rustc: "rustc 1.96.0".into(),
            cargo: "cargo 1.96.0".into(),
            backend_tool: None,
            name: name.map(String::from),
            std: Some(std),
            std_reason: None,
            emulator: None,
        }
    }

    #[test]
    fn the_fetch_and_the_build_run_the_same_toolchain_with_the_same_std() {
        let cases = [
            (toolchain(Channel::Stable, None, StdOrigin::Prebuilt), None, false),
            (toolchain(Channel::Nightly, None, StdOrigin::Prebuilt), Some("+nightly"), false),
            // A nightly building std from source is still nightly (the build once dropped `+nightly`).
            (toolchain(Channel::Nightly, None, StdOrigin::BuiltFromSource), Some("+nightly"), true),
            (toolchain(Channel::Stable, Some("debian-web"), StdOrigin::BuiltFromSource), Some("+debian-web"), true),
        ];
        for (tc, plus, build_std) in cases {
            let cargo = CargoToolchain::of(&tc);
            let mut r = req("riscv64gc-unknown-linux-musl");
            r.nightly = tc.channel == Channel::Nightly || build_std;
            r.toolchain = cargo.clone();
            let build = command(Backend::Zigbuild, &r).args;
            let fetch = fetch_command(&FetchRequest {
                manifest_path: r.manifest_path.clone(),
                toolchain: cargo,
                platforms: vec!["riscv64gc-unknown-linux-musl", "x86_64-unknown-linux-gnu"],
                lock: Lock::Fresh,
            })
            .args;
            for args in [&build, &fetch] {
                assert_eq!(args.first().filter(|a| a.starts_with('+')).map(String::as_str), plus, "{args:?}");
                assert_eq!(args.iter().any(|a| a == "-Zbuild-std=std,panic_abort"), build_std, "{args:?}");
            }
            assert!(!fetch.contains(&"--locked".to_string()), "a fresh resolution is not --locked");
        }
    }

    #[test]
    fn cross_is_told_about_non_cargo_variables() {
        let env = vec![
            ("OPENSSL_STATIC".to_string(), "1".to_string()),
            ("CARGO_PROFILE_RELEASE_LTO".to_string(), "fat".to_string()),
        ];
        assert_eq!(cross_passthrough(&env).as_deref(), Some("OPENSSL_STATIC"));
    }
}
