//! The Rust toolchain a build uses: nightly when installed (for `--artifact-dir`), stable otherwise,
//! with the version lines recorded in result.json.

use crate::schema::result::Toolchain;
use crate::schema::Channel;

/// The toolchain named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ToolchainChoice {
    /// nightly when rustup has it, stable otherwise.
    Auto,
    Nightly,
    Stable,
}

/// Run a command and return its first output line, `None` when it cannot run or fails.
pub async fn version_line(program: &str, args: &[&str]) -> Option<String> {
    let out =
        tokio::process::Command::new(program).args(args).stdin(std::process::Stdio::null()).output().await.ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).lines().next().map(|l| l.trim().to_string()).filter(|l| !l.is_empty())
}

/// Resolve the channel and record versions. Nightly asked for and missing is an error.
pub async fn detect(choice: ToolchainChoice) -> anyhow::Result<Toolchain> {
    // Ask both channels at once: each `--version` through rustup's proxy costs tens of milliseconds.
    let (nightly_rustc, nightly_cargo, stable_rustc, stable_cargo) = tokio::join!(
        async {
            if choice == ToolchainChoice::Stable {
                None
            } else {
                version_line("rustc", &["+nightly", "--version"]).await
            }
        },
        async {
            if choice == ToolchainChoice::Stable {
                None
            } else {
                version_line("cargo", &["+nightly", "--version"]).await
            }
        },
        async {
            if choice == ToolchainChoice::Nightly {
                None
            } else {
                version_line("rustc", &["--version"]).await
            }
        },
        async {
            if choice == ToolchainChoice::Nightly {
                None
            } else {
                version_line("cargo", &["--version"]).await
            }
        },
    );
    let (channel, rustc, cargo) = match (nightly_rustc, nightly_cargo) {
        (Some(rustc), Some(cargo)) => (Channel::Nightly, Some(rustc), Some(cargo)),
        _ if choice == ToolchainChoice::Nightly => {
            return Err(crate::error::usage("--toolchain nightly was asked for, but `rustc +nightly` does not run here (install it with `rustup toolchain install nightly`)"));
        }
        _ => (Channel::Stable, stable_rustc, stable_cargo),
    };
    let rustc = rustc.ok_or_else(|| anyhow::anyhow!("`rustc --version` does not run: is Rust installed?"))?;
    let cargo = cargo.ok_or_else(|| anyhow::anyhow!("`cargo --version` does not run: is Rust installed?"))?;
    Ok(Toolchain { channel, rustc, cargo, backend_tool: None })
}

/// The host folders a sandboxed build must be able to read: rustup's home (toolchains), the folder
/// `cargo` is found in (rustup's proxies), the chosen toolchain's sysroot, and the backend's own tools
/// (for zigbuild: `cargo-zigbuild` and `zig`, and the environment they are installed in). I/O.
pub async fn sandbox_paths(nightly: bool, backend: crate::schema::Backend) -> Vec<std::path::PathBuf> {
    use std::path::PathBuf;
    let mut paths: Vec<PathBuf> = Vec::new();
    match std::env::var_os("RUSTUP_HOME") {
        Some(home) => paths.push(home.into()),
        None => paths.extend(std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".rustup"))),
    }
    let args: &[&str] = if nightly { &["+nightly", "--print", "sysroot"] } else { &["--print", "sysroot"] };
    paths.extend(version_line("rustc", args).await.map(PathBuf::from));
    let mut tools = vec!["cargo"];
    if backend == crate::schema::Backend::Zigbuild {
        tools.extend(["cargo-zigbuild", "zig"]);
    }
    for tool in tools {
        let Some(found) = super::sandbox::find_on_path(tool) else { continue };
        paths.extend(found.parent().map(PathBuf::from));
        // A tool installed in a virtual environment (`.../venv/bin/tool` -> the venv's root).
        if let Ok(real) = std::fs::canonicalize(&found) {
            paths.extend(real.parent().and_then(|bin| bin.parent()).map(PathBuf::from));
        }
    }
    // Paths under /usr are mounted already, and a folder mounted twice is mounted once.
    // The user's home itself is never mounted (only folders under it).
    let home = std::env::var_os("HOME").map(PathBuf::from);
    paths.retain(|p| p.is_absolute() && !p.starts_with("/usr") && p.parent().is_some() && Some(p) != home.as_ref());
    paths.sort();
    paths.dedup();
    paths
}

/// Targets whose std rustup has installed for the chosen channel (empty without rustup).
pub async fn installed_targets(nightly: bool) -> Vec<String> {
    let args: &[&str] =
        if nightly { &["+nightly", "target", "list", "--installed"] } else { &["target", "list", "--installed"] };
    let Ok(out) = tokio::process::Command::new("rustup").args(args).output().await else { return Vec::new() };
    String::from_utf8_lossy(&out.stdout).lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stable_is_always_there() {
        let t = detect(ToolchainChoice::Stable).await.unwrap();
        assert_eq!(t.channel, Channel::Stable);
        assert!(t.rustc.starts_with("rustc "), "{}", t.rustc);
        assert!(t.cargo.starts_with("cargo "), "{}", t.cargo);
    }

    #[tokio::test]
    async fn missing_program_is_none() {
        assert_eq!(version_line("definitely-not-a-program-cratemill", &[]).await, None);
    }
}
