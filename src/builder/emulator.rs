//! The emulator behind smoke runs of foreign executables (qemu-user): which one runs a target's
//! executables here ([`runner_for`]), its version, and whether a crash under it says something
//! about the executable or only about the emulator.
//!
//! qemu learns new instructions release by release: bookworm's qemu 7.2 kills every loongarch64
//! binary built for rustc's and zig's default LSX baseline with SIGILL in musl's start code (LSX
//! arrived in qemu 8.1). Such a run proves nothing about the build, so it is reported as
//! "not run: emulator too old" instead of a crash. [`verdict`] is the pure decision; finding the
//! emulator on PATH and reading its version are the I/O edge.

use std::path::{Path, PathBuf};

use super::process::{self, find_in};

use crate::schema::result::{Smoke, SmokeStatus};
use crate::target::Target;

/// A qemu release, `major.minor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct QemuVersion {
    pub major: u32,
    pub minor: u32,
}

impl std::fmt::Display for QemuVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

const SIGILL: i32 = 4;

/// Below this release, a SIGILL under qemu is taken to be qemu's missing instruction rather than the
/// executable's: the releases before it lack extensions today's default baselines use.
pub const RECENT_QEMU: QemuVersion = QemuVersion { major: 9, minor: 0 };

/// The first qemu release that runs an architecture's default baseline, where one is known.
pub fn minimum_for(arch: &str) -> Option<QemuVersion> {
    match arch {
        "loongarch64" => Some(QemuVersion { major: 8, minor: 1 }), // LSX
        _ => None,
    }
}

/// `qemu-loongarch64 version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)` -> 10.0. Pure.
pub fn parse_version(line: &str) -> Option<QemuVersion> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "version")?;
    let mut parts = words.get(at + 1)?.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().unwrap_or("0").parse().ok()?;
    Some(QemuVersion { major, minor })
}

/// Why a smoke run under `qemu` proves nothing about the executable, or `None` when its status
/// stands. Only crashes are reconsidered: a pass under any qemu is a pass. Pure.
pub fn verdict(arch: &str, qemu: Option<QemuVersion>, status: SmokeStatus, signal: Option<i32>) -> Option<String> {
    if status != SmokeStatus::Crashed {
        return None;
    }
    let qemu = qemu?;
    if let Some(min) = minimum_for(arch).filter(|min| qemu < *min) {
        return Some(format!(
            "not run: emulator too old (qemu {qemu} cannot run {arch}'s default baseline, which needs qemu {min} or newer; install qemu-user-static from bookworm-backports)"
        ));
    }
    (signal == Some(SIGILL) && qemu < RECENT_QEMU).then(|| {
        format!("not run: emulator too old (illegal instruction under qemu {qemu}; qemu {RECENT_QEMU} or newer is needed to tell)")
    })
}

/// The emulator's `--version` line (I/O).
pub async fn version_line(runner: &Path) -> Option<String> {
    process::version_line(&runner.to_string_lossy(), &["--version"]).await
}

/// Find the program that runs `target` executables here: none needed, a qemu-user binary, or nothing.
pub fn runner_for(target: &Target, host: &Target) -> Result<Option<PathBuf>, String> {
    runner_in(target, host, std::env::var_os("PATH").as_deref())
}

/// [`runner_for`] with the search path given.
pub fn runner_in(
    target: &Target,
    host: &Target,
    path_var: Option<&std::ffi::OsStr>,
) -> Result<Option<PathBuf>, String> {
    if target.runs_natively_on(host) {
        return Ok(None);
    }
    for name in [format!("{}-static", target.qemu), target.qemu.to_string()] {
        if let Some(path) = find_in(&name, path_var) {
            return Ok(Some(path));
        }
    }
    Err(format!(
        "{} executables need {}-static (Debian package qemu-user-static), which is not installed",
        target.arch, target.qemu
    ))
}

/// The version line of the emulator that runs `target` executables here, `None` when they run
/// natively or no emulator is installed (the emulator probe; recorded in the toolchain).
pub async fn emulator_version(target: &Target, host: &Target) -> Option<String> {
    let runner = runner_for(target, host).ok().flatten()?;
    version_line(&runner).await
}

/// Reconsider a finished smoke run under `runner`: a crash that only shows the emulator is too old
/// becomes [`SmokeStatus::EmulatorTooOld`], with the reason as its note.
pub async fn review(mut smoke: Smoke, target: &Target, runner: Option<&Path>) -> Smoke {
    let Some(runner) = runner else { return smoke };
    if smoke.status != SmokeStatus::Crashed {
        return smoke;
    }
    let qemu = version_line(runner).await.as_deref().and_then(parse_version);
    if let Some(note) = verdict(target.arch, qemu, smoke.status, smoke.signal) {
        smoke.status = SmokeStatus::EmulatorTooOld;
        smoke.note = Some(note);
    }
    smoke
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(major: u32, minor: u32) -> Option<QemuVersion> {
        Some(QemuVersion { major, minor })
    }

    #[test]
    fn missing_emulator_is_not_run_with_a_reason() {
        let s390 = Target::parse("s390x-unknown-linux-musl").unwrap();
        let err = runner_in(s390, Target::host(), Some(std::ffi::OsStr::new(""))).unwrap_err();
        assert!(err.contains("qemu-s390x-static"), "{err}");
        assert_eq!(runner_in(Target::host(), Target::host(), None), Ok(None), "native needs no emulator");
    }

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("qemu-loongarch64 version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)"), v(10, 0));
        assert_eq!(parse_version("qemu-aarch64 version 7.2.17 (Debian 1:7.2+dfsg-7+deb12u18)"), v(7, 2));
        assert_eq!(parse_version("garbage"), None);
    }

    #[test]
    fn loongarch64_under_qemu_7_is_the_emulators_fault() {
        let note = verdict("loongarch64", v(7, 2), SmokeStatus::Crashed, Some(4)).unwrap();
        assert!(note.starts_with("not run: emulator too old") && note.contains("8.1"), "{note}");
        // The same crash under a qemu that knows LSX is the executable's.
        assert_eq!(verdict("loongarch64", v(10, 0), SmokeStatus::Crashed, Some(4)), None);
    }

    #[test]
    fn sigill_under_an_old_qemu_is_not_run_other_crashes_stand() {
        assert!(verdict("riscv64", v(7, 2), SmokeStatus::Crashed, Some(4)).is_some());
        assert_eq!(verdict("riscv64", v(7, 2), SmokeStatus::Crashed, Some(11)), None, "a segfault is a crash");
        assert_eq!(verdict("riscv64", v(10, 0), SmokeStatus::Crashed, Some(4)), None);
        assert_eq!(verdict("loongarch64", v(7, 2), SmokeStatus::Passed, None), None, "a pass is a pass");
        assert_eq!(verdict("loongarch64", None, SmokeStatus::Crashed, Some(4)), None, "unknown emulator");
    }
}
