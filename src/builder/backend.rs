//! Build backends: `cargo` (native), `cross` (containers) and `cargo-zigbuild` (zig as the linker).
//! Each turns the same [`BuildRequest`] into a command line; none of them runs anything. Pure.

use std::path::PathBuf;

use crate::error::usage;
use crate::target::{Libc, Target};

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

/// Pick the backend: `auto` builds natively when the target is the host's or its std is installed for
/// the host's architecture, and with `cross` otherwise.
pub fn choose(
    choice: BackendChoice,
    target: &Target,
    host: &Target,
    installed_targets: &[String],
) -> anyhow::Result<Backend> {
    let backend = match choice {
        BackendChoice::Cargo => Backend::Cargo,
        BackendChoice::Cross => Backend::Cross,
        BackendChoice::Zigbuild => Backend::Zigbuild,
        BackendChoice::Auto => {
            let native = target.triple == host.triple
                || (target.runs_natively_on(host) && installed_targets.iter().any(|t| t == target.triple));
            if native {
                Backend::Cargo
            } else {
                Backend::Cross
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

/// Everything a backend needs to form the command line of one build attempt.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    pub manifest_path: PathBuf,
    pub target: &'static Target,
    pub features: Features,
    /// Features added to every attempt (vendoring), e.g. `vendored`, `openssl/vendored`.
    pub extra_features: Vec<String>,
    pub locked: bool,
    pub jobs: Option<u32>,
    /// `Some` with a nightly toolchain: `-Z unstable-options --artifact-dir DIR`.
    pub artifact_dir: Option<PathBuf>,
    pub nightly: bool,
}

/// A command line: program and arguments. The environment is decided separately (see `env`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub program: String,
    pub args: Vec<String>,
}

impl CommandLine {
    pub fn display(&self) -> Vec<String> {
        std::iter::once(self.program.clone()).chain(self.args.iter().cloned()).collect()
    }
}

/// The command line for one attempt.
pub fn command(backend: Backend, req: &BuildRequest) -> CommandLine {
    let program = match backend {
        Backend::Cargo | Backend::Zigbuild => "cargo",
        Backend::Cross => "cross",
    };
    let mut args: Vec<String> = Vec::new();
    if req.nightly {
        args.push("+nightly".into());
    }
    args.push(if backend == Backend::Zigbuild { "zigbuild" } else { "build" }.into());
    args.extend(["--release".into(), "--target".into(), req.target.triple.into()]);
    args.extend(["--manifest-path".into(), req.manifest_path.display().to_string()]);
    if let (true, Some(dir)) = (req.nightly, &req.artifact_dir) {
        args.extend(["-Z".into(), "unstable-options".into(), "--artifact-dir".into(), dir.display().to_string()]);
    }
    match &req.features {
        Features::All => args.push("--all-features".into()),
        Features::Default => {}
        Features::List(list) if !list.is_empty() => args.extend(["--features".into(), list.join(",")]),
        Features::List(_) => {}
    }
    if !req.extra_features.is_empty() {
        args.extend(["--features".into(), req.extra_features.join(",")]);
    }
    if req.locked {
        args.push("--locked".into());
    }
    if let Some(jobs) = req.jobs {
        args.extend(["--jobs".into(), jobs.to_string()]);
    }
    args.extend(["--color".into(), "never".into()]);
    CommandLine { program: program.into(), args }
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
            locked: true,
            jobs: Some(2),
            artifact_dir: Some(PathBuf::from("/w/artifacts")),
            nightly: true,
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
        r.features = Features::Default;
        r.extra_features = vec!["vendored".into()];
        r.locked = false;
        let line = command(Backend::Cargo, &r).display().join(" ");
        assert_eq!(line, "cargo build --release --target x86_64-unknown-linux-gnu --manifest-path /w/src/rg-1.0.0/Cargo.toml --features vendored --jobs 2 --color never");
    }

    #[test]
    fn zigbuild_uses_the_zigbuild_subcommand() {
        let cmd = command(Backend::Zigbuild, &req("x86_64-unknown-linux-musl"));
        assert_eq!(cmd.program, "cargo");
        assert_eq!(&cmd.args[..2], ["+nightly", "zigbuild"]);
    }

    #[test]
    fn auto_chooses_native_or_cross() {
        let host = Target::parse("x86_64-unknown-linux-gnu").unwrap();
        let musl = Target::parse("x86_64-unknown-linux-musl").unwrap();
        let arm = Target::parse("aarch64-unknown-linux-musl").unwrap();
        assert_eq!(choose(BackendChoice::Auto, host, host, &[]).unwrap(), Backend::Cargo);
        assert_eq!(choose(BackendChoice::Auto, musl, host, &[]).unwrap(), Backend::Cross);
        assert_eq!(choose(BackendChoice::Auto, musl, host, &[musl.triple.to_string()]).unwrap(), Backend::Cargo);
        assert_eq!(choose(BackendChoice::Auto, arm, host, &[arm.triple.to_string()]).unwrap(), Backend::Cross);
        assert!(choose(BackendChoice::Zigbuild, host, host, &[]).is_err());
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
