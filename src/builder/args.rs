//! The flags of `cratemill build`, parsed and validated once into a [`BuildArgs`].

use std::path::PathBuf;
use std::time::Duration;

use super::backend::{AuditableChoice, BackendChoice};
use super::sandbox::SandboxChoice;
use super::toolchain::ToolchainChoice;

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The crate to build: `NAME` (newest non-yanked stable version) or `NAME@VERSION`.
    #[arg(value_name = "CRATE[@VERSION]")]
    pub spec: String,

    /// Rust target triple [default: the host's]. Repeat it to build several targets in one job (one
    /// package folder and result.json per target, sharing the download and the caches).
    #[arg(long = "target", value_name = "TRIPLE")]
    pub targets: Vec<String>,

    /// How to build: `cargo` natively, `cross` in a container, or `zigbuild`; `auto` picks cargo for
    /// the host's target, cross where a container engine answers, zigbuild where zig is.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,

    /// Embed the dependency list (cargo-auditable's `.dep-v0` section, read by `cargo audit bin` and
    /// `rust-audit-info`) in every executable: `auto` when `cargo-auditable` is on PATH (result.json's
    /// `auditable` says when it was not), `on` refuses to build without it, `off` builds without.
    /// The cross backend cannot embed it (result.json's `auditable` says so).
    #[arg(long, value_enum, default_value_t = AuditableChoice::Auto)]
    pub auditable: AuditableChoice,

    /// Features: `all` (falls back to `default` when that fails), `default`, or a comma-separated list.
    #[arg(long, default_value = "all", value_name = "all|default|LIST")]
    pub features: String,

    /// Toolchain: nightly (enables `--artifact-dir`), stable, a rustup toolchain NAME (e.g. `debian-web`),
    /// or auto (nightly when installed; for a target without prebuilt std, a toolchain that carries
    /// its own std source, built with -Zbuild-std).
    #[arg(long, value_name = "auto|nightly|stable|NAME", default_value = "auto", value_parser = super::toolchain::parse_choice)]
    pub toolchain: ToolchainChoice,

    /// Output folder [default: ./cratemill-out/<crate>-<version>-<target>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Sparse registry index to resolve and download from (its config.json names the download URL).
    #[arg(long, value_name = "URL", default_value = crate::crates_io::CRATES_IO_INDEX, env = "CRATEMILL_INDEX_URL")]
    pub index_url: String,

    /// Parallel rustc jobs [default: cargo's].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=512))]
    pub jobs: Option<u32>,

    /// Wall-clock limit for the whole build, e.g. `45m`, `2h`.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Kill a build attempt that prints nothing for this long (a hung build script or compiler):
    /// class `timeout`, saying so; retried like any spurious failure while `--timeout` allows.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_duration)]
    pub silence_timeout: Duration,

    /// Build a yanked version when it is asked for explicitly.
    #[arg(long)]
    pub allow_yanked: bool,

    /// A build cache that survives between invocations on this machine: one cargo target folder
    /// (per-target std and dependencies), created with a marker and never shared with other tools.
    #[arg(long, value_name = "DIR", env = "CRATEMILL_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Size bound of --cache-dir in GiB (the shared CARGO_HOME included): least recently used
    /// per-target folders go first.
    #[arg(long, value_name = "GIB", default_value_t = 8)]
    pub cache_max_gib: u64,

    /// Keep the work folder (unpacked source, target dir) instead of deleting it.
    #[arg(long)]
    pub keep_work: bool,

    /// Names of environment variables whose values are secrets: never passed to the build even if allowed.
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub secret_env: Vec<String>,

    /// Build sandbox: `auto` and `bwrap` run build scripts and smoke runs inside bubblewrap (no network,
    /// no other process, one writable folder) and refuse to build when it does not work here; `none`
    /// runs them with your rights (only for disposable machines).
    #[arg(long, value_enum, default_value_t = SandboxChoice::Auto)]
    pub sandbox: SandboxChoice,

    /// Processes and threads the sandbox may hold at once (a cgroup's `pids.max`; applied when
    /// cratemill can make a cgroup, i.e. as root: result.json's `sandbox_limits` says).
    #[arg(long, value_name = "N", default_value_t = super::limits::DEFAULT_MAX_PROCESSES,
          value_parser = clap::value_parser!(u64).range(16..))]
    pub max_processes: u64,

    /// Memory the sandbox may use, tmpfs included, in MiB (a cgroup's memory limit, as
    /// `--max-processes`); 0 = three quarters of this machine's memory.
    #[arg(long, value_name = "MIB", default_value_t = 0)]
    pub max_memory_mib: u64,

    /// Do not echo the build log to the console (it is still written to build.log).
    #[arg(long, short)]
    pub quiet: bool,
}

/// The longest `--timeout` accepted: a week (a self-hosted runner's job limit is 5 days).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("`{s}` is not a duration like 30m or 2h: {e}"))?;
    if d < Duration::from_secs(1) {
        return Err(format!("`{s}` is too short a timeout"));
    }
    if d > MAX_TIMEOUT {
        return Err(format!("`{s}` is longer than the longest timeout, 7d"));
    }
    Ok(d)
}

/// The `--features` value, parsed.
pub fn parse_features(s: &str) -> anyhow::Result<super::backend::Features> {
    use super::backend::Features;
    match s.trim() {
        "all" => Ok(Features::All),
        "default" => Ok(Features::Default),
        list => {
            let items: Vec<String> = list.split([',', ' ']).filter(|f| !f.is_empty()).map(str::to_string).collect();
            let valid = |f: &str| {
                !f.is_empty() && f.len() <= 128 && f.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_/+.".contains(&b))
            };
            if items.is_empty() || !items.iter().all(|f| valid(f)) {
                return Err(crate::error::usage(format!(
                    "--features `{}` is not `all`, `default` or a comma-separated list of feature names",
                    crate::target::printable(s)
                )));
            }
            Ok(Features::List(items))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::backend::Features;

    #[test]
    fn feature_values() {
        assert_eq!(parse_features("all").unwrap(), Features::All);
        assert_eq!(parse_features("a,b/c").unwrap(), Features::List(vec!["a".into(), "b/c".into()]));
        assert!(parse_features("x;rm -rf /").is_err());
        assert!(parse_features(",").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("584000000000y").is_err());
        assert!(parse_duration("8d").is_err());
        assert_eq!(parse_duration("7d").unwrap(), MAX_TIMEOUT);
    }
}
