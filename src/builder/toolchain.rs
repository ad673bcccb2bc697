//! The Rust toolchain a build uses and where the target's std comes from, recorded in result.json.
//!
//! Channel: nightly when installed (for `--artifact-dir`), stable otherwise, or a rustup toolchain
//! named with `--toolchain NAME`. Std: prebuilt when the toolchain has it for the target (`rustup
//! target add`); otherwise built with `-Zbuild-std` from a toolchain whose own sysroot carries a std
//! source of its compiler's version (Debian's `rustc-web` + `rust-web-src`, linked as a rustup
//! toolchain, is one). The decision ([`decide_std`], [`source_matches`]) is pure; probing the
//! toolchains (processes, the sysroot's files) is the I/O edge around it.
//!
//! After a nightly breakage (the build saw nightly and switched on unstable features it rejects),
//! the ladder retries on stable ([`stable_retry`]): only under `--toolchain auto`, and only when the
//! `stable` toolchain has the target's std prebuilt (or `cross` brings it), since a std built from
//! source needs unstable features itself. The decision ([`decide_stable_retry`]) is pure.

use std::path::{Path, PathBuf};

use super::process::{find_on_path, output_lines, version_line, CommandLine, Output, Process};
use crate::schema::result::{StdOrigin, Toolchain};
use crate::schema::{Backend, Channel};
use crate::target::Target;

/// The toolchain named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolchainChoice {
    /// nightly when rustup has it, stable otherwise; a toolchain with std source when the target's
    /// std is not installed.
    Auto,
    Nightly,
    Stable,
    /// A rustup toolchain by name (`rustup toolchain list`), e.g. `debian-web`.
    Named(String),
}

/// Parse `--toolchain`: `auto`, `nightly`, `stable` or a rustup toolchain name.
pub fn parse_choice(s: &str) -> Result<ToolchainChoice, String> {
    Ok(match s {
        "auto" => ToolchainChoice::Auto,
        "nightly" => ToolchainChoice::Nightly,
        "stable" => ToolchainChoice::Stable,
        name if !name.is_empty()
            && name.len() <= 100
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            && !name.starts_with('-') =>
        {
            ToolchainChoice::Named(name.to_string())
        }
        _ => {
            return Err(format!(
                "`{}` is not auto, nightly, stable or a rustup toolchain name (see `rustup toolchain list`)",
                crate::target::printable(s)
            ))
        }
    })
}

/// `rustc` and `cargo` version lines of a rustup toolchain (`+name`), or of the default without one.
async fn versions_of(plus: Option<&str>) -> (Option<String>, Option<String>) {
    match plus {
        Some(p) => {
            let arg = format!("+{p}");
            let args = [arg.as_str(), "--version"];
            tokio::join!(version_line("rustc", &args), version_line("cargo", &args))
        }
        None => tokio::join!(version_line("rustc", &["--version"]), version_line("cargo", &["--version"])),
    }
}

fn toolchain(channel: Channel, rustc: String, cargo: String, name: Option<String>) -> Toolchain {
    Toolchain { channel, rustc, cargo, backend_tool: None, name, std: None, std_reason: None, emulator: None }
}

/// Resolve the channel and record versions. Nightly (or a named toolchain) asked for and missing is
/// an error.
pub async fn detect(choice: &ToolchainChoice) -> anyhow::Result<Toolchain> {
    if let ToolchainChoice::Named(name) = choice {
        return match versions_of(Some(name)).await {
            (Some(rustc), Some(cargo)) => {
                let channel = if rustc.contains("nightly") { Channel::Nightly } else { Channel::Stable };
                Ok(toolchain(channel, rustc, cargo, Some(name.clone())))
            }
            _ => Err(crate::error::usage(format!(
                "--toolchain {name}: `rustc +{name}` does not run here (see `rustup toolchain list`; link a local one with `rustup toolchain link {name} DIR`)"
            ))),
        };
    }
    // Ask both channels at once: each `--version` through rustup's proxy costs tens of milliseconds.
    let want_nightly = *choice != ToolchainChoice::Stable;
    let want_stable = *choice != ToolchainChoice::Nightly;
    let (nightly, stable) = tokio::join!(
        async {
            if want_nightly {
                versions_of(Some("nightly")).await
            } else {
                (None, None)
            }
        },
        async {
            if want_stable {
                versions_of(None).await
            } else {
                (None, None)
            }
        },
    );
    let (channel, (rustc, cargo)) = match nightly {
        (Some(rustc), Some(cargo)) => (Channel::Nightly, (Some(rustc), Some(cargo))),
        _ if *choice == ToolchainChoice::Nightly => {
            return Err(crate::error::usage("--toolchain nightly was asked for, but `rustc +nightly` does not run here (install it with `rustup toolchain install nightly`)"));
        }
        _ => (Channel::Stable, stable),
    };
    let rustc = rustc.ok_or_else(|| anyhow::anyhow!("`rustc --version` does not run: is Rust installed?"))?;
    let cargo = cargo.ok_or_else(|| anyhow::anyhow!("`cargo --version` does not run: is Rust installed?"))?;
    Ok(toolchain(channel, rustc, cargo, None))
}

/// The host folders a sandboxed build must be able to read: rustup's home (toolchains), the settled
/// toolchain's sysroot (also where a linked toolchain really lives: `rustup toolchain link` leaves a
/// symbolic link in rustup's home), and the folder each of `tools` is found in on PATH
/// (`backend::tools`: `cargo`, i.e. rustup's proxies; for zigbuild `cargo-zigbuild` and `zig`, and the
/// environment they are installed in; `cargo-auditable` when it embeds the dependency list). I/O.
pub async fn sandbox_paths(toolchain: &Toolchain, tools: &[&str]) -> Vec<std::path::PathBuf> {
    use std::path::PathBuf;
    let mut paths: Vec<PathBuf> = Vec::new();
    match std::env::var_os("RUSTUP_HOME") {
        Some(home) => paths.push(home.into()),
        None => paths.extend(std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".rustup"))),
    }
    let plus = plus_arg(toolchain).map(|p| format!("+{p}"));
    let mut args: Vec<&str> = plus.iter().map(String::as_str).collect();
    args.extend(["--print", "sysroot"]);
    if let Some(sysroot) = version_line("rustc", &args).await.map(PathBuf::from) {
        paths.extend(std::fs::canonicalize(&sysroot).ok().filter(|real| *real != sysroot));
        paths.push(sysroot);
    }
    for &tool in tools {
        let Some(found) = super::sandbox::find_on_path(tool) else { continue };
        paths.extend(found.parent().map(PathBuf::from));
        // A tool installed in a virtual environment (`.../venv/bin/tool` -> the venv's root), and only
        // then: `~/.cargo/bin/cargo`'s grandparent is the user's cargo home, credentials included.
        if let Ok(real) = std::fs::canonicalize(&found) {
            paths.extend(real.parent().map(PathBuf::from));
            let venv = real.parent().and_then(|bin| bin.parent()).filter(|v| is_venv(v)).map(PathBuf::from);
            // A venv's python is a link to its base interpreter (`home` in pyvenv.cfg): mount that too.
            paths.extend(venv.as_deref().and_then(venv_base_python));
            paths.extend(venv);
        }
        // A wrapper script (`zig` = `exec <venv>/bin/python -m ziglang`): the venv it names.
        paths.extend(wrapped_venv(&found).into_iter().flat_map(|v| venv_base_python(&v).into_iter().chain([v])));
    }
    // Paths under /usr are mounted already, and a folder mounted twice is mounted once.
    // The user's home itself is never mounted (only folders under it).
    let home = std::env::var_os("HOME").map(PathBuf::from);
    paths.retain(|p| p.is_absolute() && !p.starts_with("/usr") && p.parent().is_some() && Some(p) != home.as_ref());
    paths.sort();
    paths.dedup();
    paths
}

/// Is `dir` the root of a Python virtual environment (it has a `pyvenv.cfg`)? I/O.
fn is_venv(dir: &std::path::Path) -> bool {
    dir.join("pyvenv.cfg").is_file()
}

/// The installation a virtual environment's python comes from (`home = .../bin` in `pyvenv.cfg`).
fn venv_base_python(venv: &std::path::Path) -> Option<std::path::PathBuf> {
    let cfg = std::fs::read_to_string(venv.join("pyvenv.cfg")).ok()?;
    let home =
        cfg.lines().find_map(|l| l.strip_prefix("home").map(|r| r.trim_start().trim_start_matches('=').trim()))?;
    std::path::Path::new(home).parent().map(std::path::PathBuf::from)
}

/// The venv a small wrapper script executes (`exec "<venv>/bin/python" ...`), if it is one.
fn wrapped_venv(script: &std::path::Path) -> Option<std::path::PathBuf> {
    let text = std::fs::read(script).ok().filter(|b| b.len() < 4096 && b.starts_with(b"#!"))?;
    let text = String::from_utf8(text).ok()?;
    let python = text.split('"').find(|part| part.ends_with("/bin/python"))?;
    std::path::Path::new(python).parent()?.parent().map(std::path::PathBuf::from)
}

/// Targets whose std rustup has installed for the chosen channel (empty without rustup).
pub async fn installed_targets(nightly: bool) -> Vec<String> {
    let args: &[&str] =
        if nightly { &["+nightly", "target", "list", "--installed"] } else { &["target", "list", "--installed"] };
    output_lines("rustup", args).await
}

/// What `--backend auto` needs to know about the host (I/O: rustup, a container engine's `info`, PATH).
/// Only asked for a foreign target under `auto`; otherwise empty.
pub async fn probe_backends(nightly: bool) -> super::backend::HostTools {
    let engine = async {
        for engine in ["docker", "podman"] {
            let info = CommandLine::new(engine, ["info"]);
            let run = Process::new(&info).timeout(std::time::Duration::from_secs(10)).run(Output::Discard).await;
            if run.is_ok_and(|r| r.success()) {
                return true;
            }
        }
        false
    };
    let (installed_targets, container_engine) = tokio::join!(installed_targets(nightly), engine);
    let on_path = |name: &str| find_on_path(name).is_some();
    let zig = on_path("cargo-zigbuild") && (on_path("zig") || std::env::var_os("CARGO_ZIGBUILD_ZIG_PATH").is_some());
    super::backend::HostTools { installed_targets, container_engine, zig }
}

/// What a toolchain's sysroot holds, as far as the std decision cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysrootFacts {
    /// The rustup toolchain name (`+name`); `None` for the channel's default.
    pub name: Option<String>,
    pub rustc: String,
    /// A compiled std for the target is in the sysroot.
    pub has_target_std: bool,
    /// The std source is in the sysroot and of the compiler's version.
    pub matching_source: bool,
}

/// The std decision: which toolchain builds, where its std comes from, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StdDecision {
    /// `Some(i)`: switch to `candidates[i]`; `None`: keep the chosen toolchain.
    pub switch_to: Option<usize>,
    pub origin: StdOrigin,
    pub reason: String,
}

/// Decide where the std comes from. `chosen` is the toolchain picked by `--toolchain`; `candidates`
/// are the other toolchains, tried only when `--toolchain auto`. Pure.
pub fn decide_std(
    target: &Target,
    backend: Backend,
    chosen: &SysrootFacts,
    auto: bool,
    candidates: &[SysrootFacts],
) -> anyhow::Result<StdDecision> {
    let label = |f: &SysrootFacts| f.name.clone().unwrap_or_else(|| f.rustc.clone());
    let keep = |origin, reason: String| Ok(StdDecision { switch_to: None, origin, reason });
    if backend == Backend::Cross {
        return keep(StdOrigin::Prebuilt, "cross's container image carries the target's std".into());
    }
    if chosen.has_target_std {
        return keep(StdOrigin::Prebuilt, format!("{} has the std for {} installed", label(chosen), target.triple));
    }
    let from_source = |f: &SysrootFacts| {
        format!(
            "no prebuilt std for {} in {}; built with -Zbuild-std from {}'s own std source ({})",
            target.triple,
            label(chosen),
            label(f),
            f.rustc
        )
    };
    if chosen.matching_source {
        return keep(StdOrigin::BuiltFromSource, from_source(chosen));
    }
    if auto {
        if let Some(i) = candidates.iter().position(|c| c.has_target_std) {
            return Ok(StdDecision {
                switch_to: Some(i),
                origin: StdOrigin::Prebuilt,
                reason: format!("{} has the std for {} installed", label(&candidates[i]), target.triple),
            });
        }
        if let Some(i) = candidates.iter().position(|c| c.matching_source) {
            return Ok(StdDecision {
                switch_to: Some(i),
                origin: StdOrigin::BuiltFromSource,
                reason: from_source(&candidates[i]),
            });
        }
    }
    Err(anyhow::anyhow!(
        "no std for {t}: {} has none installed and no std source of its version; run `rustup target add {t}`, or \
         pass --toolchain NAME of a toolchain that carries its std source (tests/setup/30-musl-targets.sh links Debian's rustc-web as `debian-web`)",
        label(chosen),
        t = target.triple
    ))
}

/// Is `src_version` (the source tree's `src/version`, or the rustup `rust-src` component's presence)
/// the compiler's own? `rustc_line` is `rustc 1.96.0 (ac68faa20 2026-05-25)`. Pure.
pub fn source_matches(rustc_line: &str, src_version: Option<&str>, rustup_rust_src: bool) -> bool {
    if rustup_rust_src {
        return true; // rustup installs rust-src from the same release as the compiler.
    }
    let compiler = rustc_line.split_whitespace().nth(1).unwrap_or_default();
    matches!(src_version.map(str::trim), Some(v) if !v.is_empty() && v == compiler)
}

/// Probe one toolchain's sysroot (I/O: `rustc --print sysroot`, a few file reads).
pub async fn sysroot_facts(name: Option<&str>, rustc: String, target: &Target) -> Option<SysrootFacts> {
    let plus = name.map(|n| format!("+{n}"));
    let mut args: Vec<&str> = plus.iter().map(String::as_str).collect();
    args.extend(["--print", "sysroot"]);
    let sysroot = PathBuf::from(version_line("rustc", &args).await?);
    let rustlib = sysroot.join("lib/rustlib");
    let has_target_std = has_std_rlib(&rustlib.join(target.triple).join("lib"));
    let src = rustlib.join("src/rust");
    let src_version = std::fs::read_to_string(src.join("src/version")).ok();
    let rustup_rust_src = std::fs::read_to_string(rustlib.join("components"))
        .map(|c| c.lines().any(|l| l.trim() == "rust-src"))
        .unwrap_or(false);
    let matching_source =
        src.join("library/std/Cargo.toml").is_file() && source_matches(&rustc, src_version.as_deref(), rustup_rust_src);
    Some(SysrootFacts { name: name.map(str::to_string), rustc, has_target_std, matching_source })
}

fn has_std_rlib(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_str().is_some_and(|n| n.starts_with("libstd-") && n.ends_with(".rlib")))
        })
        .unwrap_or(false)
}

/// Every rustup toolchain's name (`rustup toolchain list`), empty without rustup.
async fn rustup_toolchains() -> Vec<String> {
    let lines = output_lines("rustup", &["toolchain", "list"]).await;
    lines.iter().filter_map(|l| l.split_whitespace().next()).map(str::to_string).collect()
}

/// Settle the std for `target`: keep the chosen toolchain or switch (auto only), and record the std's
/// origin and the reason in the [`Toolchain`].
pub async fn settle_std(
    mut chosen: Toolchain,
    choice: &ToolchainChoice,
    backend: Backend,
    target: &Target,
) -> anyhow::Result<Toolchain> {
    let plus = plus_arg(&chosen);
    let facts = sysroot_facts(plus.as_deref(), chosen.rustc.clone(), target)
        .await
        .ok_or_else(|| anyhow::anyhow!("`rustc --print sysroot` does not run for {}", chosen.rustc))?;
    let quick = decide_std(target, backend, &facts, false, &[]);
    let auto = *choice == ToolchainChoice::Auto;
    let (decision, candidates) = match quick {
        Ok(d) => (d, Vec::new()),
        Err(_) if auto => {
            let candidates = probe_others(plus.as_deref(), target).await;
            (decide_std(target, backend, &facts, true, &candidates)?, candidates)
        }
        Err(e) => return Err(e),
    };
    if let Some(i) = decision.switch_to {
        let name = candidates[i].name.clone().expect("candidates are named toolchains");
        chosen = detect(&ToolchainChoice::Named(name)).await?;
    }
    chosen.std = Some(decision.origin);
    chosen.std_reason = Some(decision.reason);
    Ok(chosen)
}

async fn probe_others(current: Option<&str>, target: &Target) -> Vec<SysrootFacts> {
    let mut out = Vec::new();
    for name in rustup_toolchains().await {
        if Some(name.as_str()) == current || current.is_none() && name.starts_with("stable") {
            continue;
        }
        if let Some(rustc) = version_line("rustc", &[&format!("+{name}"), "--version"]).await {
            out.extend(sysroot_facts(Some(&name), rustc, target).await);
        }
    }
    out
}

/// The rustup toolchain a stable retry runs (`cargo +stable`), named so that a default toolchain
/// set to nightly cannot stand in for it.
pub const STABLE: &str = "stable";

/// May the build use cargo's unstable flags (`--artifact-dir`, `-Zbuild-std`)? On nightly, and on
/// a toolchain that builds std from source (it runs with `RUSTC_BOOTSTRAP=1`). Pure.
pub fn unstable(tc: &Toolchain) -> bool {
    tc.channel == Channel::Nightly || tc.std == Some(StdOrigin::BuiltFromSource)
}

/// Can a nightly breakage on `chosen` be retried on stable? `stable` is the `stable` toolchain's
/// sysroot facts for the target (`None`: not installed). `Err` says in one line why not. Pure.
pub fn decide_stable_retry(
    chosen: &Toolchain,
    auto: bool,
    backend: Backend,
    target: &Target,
    stable: Option<&SysrootFacts>,
) -> Result<(), String> {
    let t = target.triple;
    if !unstable(chosen) {
        return Err(format!("the build ran on {}, which allows no unstable features", chosen.rustc));
    }
    if !auto {
        return Err("--toolchain names the toolchain, and cratemill does not swap it (pass --toolchain stable)".into());
    }
    let Some(stable) = stable else {
        return Err("no stable toolchain is installed (`rustup toolchain install stable`)".into());
    };
    if backend != Backend::Cross && !stable.has_target_std {
        return Err(format!(
            "stable has no prebuilt std for {t}, and building std from source (-Zbuild-std) needs unstable features itself (`rustup +stable target add {t}` allows the retry)"
        ));
    }
    Ok(())
}

/// The stable toolchain for a retry after a nightly breakage on `chosen` (its backend tool and
/// emulator kept), or why there is none (one line). I/O: `rustc +stable`, its sysroot.
pub async fn stable_retry(
    chosen: &Toolchain,
    auto: bool,
    backend: Backend,
    target: &Target,
) -> Result<Toolchain, String> {
    let (rustc, cargo) = versions_of(Some(STABLE)).await;
    let facts = match &rustc {
        Some(line) if !line.contains("nightly") => sysroot_facts(Some(STABLE), line.clone(), target).await,
        _ => None,
    };
    decide_stable_retry(chosen, auto, backend, target, facts.as_ref())?;
    let (Some(rustc), Some(cargo)) = (rustc, cargo) else { return Err("`cargo +stable` does not run".into()) };
    let mut stable = toolchain(Channel::Stable, rustc, cargo, Some(STABLE.to_string()));
    stable.backend_tool = chosen.backend_tool.clone();
    stable.emulator = chosen.emulator.clone();
    stable.std = Some(StdOrigin::Prebuilt);
    stable.std_reason = Some(format!(
        "retried on stable after nightly ({}) broke the build; stable has the std for {} installed",
        chosen.rustc, target.triple
    ));
    Ok(stable)
}

/// The toolchain a build command names with `+`, if any (the rule is `backend::CargoToolchain`'s).
pub fn plus_arg(tc: &Toolchain) -> Option<String> {
    super::backend::CargoToolchain::of(tc).plus
}

/// Variables a toolchain needs for the build: `RUSTC_BOOTSTRAP=1` lets a stable compiler take
/// `-Zbuild-std` when it builds std from source.
pub fn build_env(tc: &Toolchain) -> Vec<(String, String)> {
    if tc.std == Some(StdOrigin::BuiltFromSource) && tc.channel != Channel::Nightly {
        vec![("RUSTC_BOOTSTRAP".into(), "1".into())]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stable_is_always_there() {
        let t = detect(&ToolchainChoice::Stable).await.unwrap();
        assert_eq!(t.channel, Channel::Stable);
        assert!(t.rustc.starts_with("rustc "), "{}", t.rustc);
        assert!(t.cargo.starts_with("cargo "), "{}", t.cargo);
    }

    #[test]
    fn choice_names() {
        assert_eq!(parse_choice("auto").unwrap(), ToolchainChoice::Auto);
        assert_eq!(parse_choice("debian-web").unwrap(), ToolchainChoice::Named("debian-web".into()));
        assert!(parse_choice("--x").is_err());
        assert!(parse_choice("a b").is_err());
    }

    #[test]
    fn source_must_be_the_compilers_own() {
        let rustc = "rustc 1.96.0 (ac68faa20 2026-05-25) (built from a source tarball)";
        assert!(source_matches(rustc, Some("1.96.0\n"), false));
        assert!(!source_matches(rustc, Some("1.95.0"), false), "another release's std source");
        assert!(!source_matches(rustc, None, false), "no version file and not rustup's rust-src");
        assert!(source_matches("rustc 1.97.0-nightly (x 2026-11-30)", None, true));
    }

    fn facts(name: &str, std: bool, src: bool) -> SysrootFacts {
        SysrootFacts {
            name: Some(name.into()),
            rustc: format!("rustc of {name}"),
            has_target_std: std,
            matching_source: src,
        }
    }

    #[test]
    fn a_stable_retry_needs_auto_a_stable_toolchain_and_its_prebuilt_std() {
        let x86 = Target::parse("x86_64-unknown-linux-musl").unwrap();
        let mut nightly = toolchain(Channel::Nightly, "rustc 1.97.0-nightly".into(), "cargo".into(), None);
        let stable_with = facts("stable", true, false);
        let z = Backend::Zigbuild;
        assert_eq!(decide_stable_retry(&nightly, true, z, x86, Some(&stable_with)), Ok(()));
        let why = decide_stable_retry(&nightly, true, z, x86, Some(&facts("stable", false, true))).unwrap_err();
        assert!(why.contains("rustup +stable target add x86_64-unknown-linux-musl"), "{why}");
        assert_eq!(
            decide_stable_retry(&nightly, true, Backend::Cross, x86, Some(&facts("stable", false, false))),
            Ok(())
        );
        assert!(decide_stable_retry(&nightly, true, z, x86, None)
            .unwrap_err()
            .contains("rustup toolchain install stable"));
        assert!(decide_stable_retry(&nightly, false, z, x86, Some(&stable_with)).unwrap_err().contains("--toolchain"));
        // A stable compiler building std from source runs with RUSTC_BOOTSTRAP: unstable, retried.
        nightly.channel = Channel::Stable;
        assert!(decide_stable_retry(&nightly, true, z, x86, Some(&stable_with)).unwrap_err().contains("no unstable"));
        nightly.std = Some(StdOrigin::BuiltFromSource);
        assert_eq!(decide_stable_retry(&nightly, true, z, x86, Some(&stable_with)), Ok(()));
    }

    #[test]
    fn std_prebuilt_first_then_source_then_refuse() {
        let riscv = Target::parse("riscv64gc-unknown-linux-musl").unwrap();
        let z = Backend::Zigbuild;
        let d = decide_std(riscv, z, &facts("nightly", true, false), true, &[]).unwrap();
        assert_eq!((d.switch_to, d.origin), (None, StdOrigin::Prebuilt));
        let d = decide_std(riscv, z, &facts("nightly", false, true), true, &[]).unwrap();
        assert_eq!((d.switch_to, d.origin), (None, StdOrigin::BuiltFromSource));
        let others = [facts("stable", false, false), facts("debian-web", false, true)];
        let d = decide_std(riscv, z, &facts("nightly", false, false), true, &others).unwrap();
        assert_eq!((d.switch_to, d.origin), (Some(1), StdOrigin::BuiltFromSource));
        assert!(d.reason.contains("debian-web"), "{}", d.reason);
        // A named toolchain is never swapped behind the user's back.
        let err = decide_std(riscv, z, &facts("nightly", false, false), false, &others).unwrap_err().to_string();
        assert!(err.contains("rustup target add riscv64gc-unknown-linux-musl"), "{err}");
        let d = decide_std(riscv, Backend::Cross, &facts("nightly", false, false), false, &[]).unwrap();
        assert_eq!(d.origin, StdOrigin::Prebuilt);
    }
}
