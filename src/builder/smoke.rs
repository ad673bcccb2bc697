//! Smoke runs: prove each built executable starts. `--version`, then `--help`, each with a timeout, in
//! an empty folder with an empty environment; under `qemu-<arch>` for foreign architectures when it is
//! installed, otherwise recorded as not run. A crash (killed by a signal) fails the build.
//!
//! The executable is hostile code: with a sandbox, each run happens inside bwrap (no network, no other
//! process, everything killed with its PID namespace, read-only except a fresh scratch folder), and
//! the caller passes a *copy* of the packaged bytes, never the packaged file itself. I/O edge; the
//! decision from the runs' outcomes ([`decide`]) is pure.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::emulator::{self, runner_for};
use super::process::{CommandLine, Env, Outcome, Output, Process};
use super::sandbox::{self, Bwrap, Policy};
use crate::schema::result::{Smoke, SmokeStatus};
use crate::target::Target;

/// How long one smoke run may take.
pub const SMOKE_TIMEOUT: Duration = Duration::from_secs(10);
const OUTPUT_CAP: usize = 64 * 1024;

/// Decide the smoke status from the `--version` and `--help` runs. Pure.
pub fn decide(version: &Outcome, help: Option<&Outcome>) -> (SmokeStatus, usize) {
    let status_of = |r: &Outcome| {
        if r.timed_out {
            SmokeStatus::TimedOut
        } else if r.signal.is_some() {
            SmokeStatus::Crashed
        } else if r.code == Some(0) {
            SmokeStatus::Passed
        } else {
            SmokeStatus::ExitedNonzero
        }
    };
    let first = status_of(version);
    match (first, help) {
        (SmokeStatus::Passed | SmokeStatus::Crashed, _) | (_, None) => (first, 0),
        (_, Some(h)) => match status_of(h) {
            SmokeStatus::Passed | SmokeStatus::Crashed => (status_of(h), 1),
            // Neither passed: report the first run's behaviour.
            _ => (first, 0),
        },
    }
}

/// Smoke-run one executable, inside `sandbox` when given.
pub async fn smoke(exe: &Path, target: &Target, host: &Target, sandbox: Option<&Bwrap>) -> Smoke {
    let runner = match runner_for(target, host) {
        Ok(r) => r,
        Err(note) => {
            return Smoke {
                status: SmokeStatus::NotRun,
                args: vec![],
                runner: None,
                exit_code: None,
                signal: None,
                first_line: None,
                note: Some(note),
            };
        }
    };
    let runner_name = runner.as_ref().map(|r| r.file_name().unwrap_or_default().to_string_lossy().into_owned());
    let version = run_once(exe, runner.as_deref(), "--version", sandbox).await;
    let version = match version {
        Ok(v) => v,
        Err(e) => return not_run(runner_name, format!("could not start: {e}")),
    };
    let help = if matches!(decide(&version, None).0, SmokeStatus::Passed | SmokeStatus::Crashed) {
        None
    } else {
        match run_once(exe, runner.as_deref(), "--help", sandbox).await {
            Ok(h) => Some(h),
            Err(e) => return not_run(runner_name, format!("could not start: {e}")),
        }
    };
    let (status, which) = decide(&version, help.as_ref());
    let (arg, run) = if which == 0 { ("--version", &version) } else { ("--help", help.as_ref().expect("help ran")) };
    // stdout's lines, then stderr's.
    let first_line = run
        .lines
        .iter()
        .chain(&run.stderr)
        .map(|l| l.trim())
        .find(|l| !l.is_empty())
        .map(|l| crate::actions::truncate_utf8(l, 200).to_string());
    let note = match status {
        SmokeStatus::Crashed => Some(format!("killed by signal {}", run.signal.unwrap_or_default())),
        SmokeStatus::TimedOut => {
            Some(format!("still running after {}s (waits for input or serves): it starts", SMOKE_TIMEOUT.as_secs()))
        }
        _ => None,
    };
    let smoke = Smoke {
        status,
        args: vec![arg.to_string()],
        runner: runner_name,
        exit_code: run.code,
        signal: run.signal,
        first_line,
        note,
    };
    emulator::review(smoke, target, runner.as_deref()).await
}

fn not_run(runner: Option<String>, note: String) -> Smoke {
    Smoke {
        status: SmokeStatus::NotRun,
        args: vec![],
        runner,
        exit_code: None,
        signal: None,
        first_line: None,
        note: Some(note),
    }
}

/// The command line of one run: the executable (under its emulator, if any), wrapped in the sandbox.
fn run_command(exe: &Path, runner: Option<&Path>, arg: &str, scratch: &Path, sandbox: Option<&Bwrap>) -> CommandLine {
    let mut line = match runner {
        Some(r) => CommandLine::new(r.display().to_string(), [exe.display().to_string()]),
        None => CommandLine::new(exe.display().to_string(), Vec::<String>::new()),
    };
    line.args.push(arg.to_string());
    let Some(bwrap) = sandbox else { return line };
    let parents = [Some(exe), runner].into_iter().flatten().filter_map(Path::parent);
    bwrap.wrap(&Policy::smoke(parents.map(Path::to_path_buf).collect(), scratch), &line)
}

async fn run_once(exe: &Path, runner: Option<&Path>, arg: &str, sandbox: Option<&Bwrap>) -> std::io::Result<Outcome> {
    // It runs in a scratch folder, so a relative path must be made absolute first.
    let exe = &std::path::absolute(exe)?;
    let scratch = tempfile::tempdir()?;
    let line = run_command(exe, runner, arg, scratch.path(), sandbox);
    let env = BTreeMap::from([
        ("PATH".to_string(), "/usr/bin:/bin".to_string()),
        ("HOME".to_string(), scratch.path().display().to_string()),
        ("LANG".to_string(), "C.UTF-8".to_string()),
    ]);
    let process = Process::new(&line).env(Env::Exactly(&env)).cwd(scratch.path()).timeout(SMOKE_TIMEOUT);
    let mut run = process.run(Output::Capture { cap: OUTPUT_CAP }).await?;
    if run.timed_out {
        // Whatever it printed or how the kill ended it says nothing: it was still running.
        return Ok(Outcome { timed_out: true, duration: run.duration, ..Outcome::default() });
    }
    if sandbox.is_some() {
        (run.code, run.signal) = sandbox::unwrap_status(run.code, run.signal);
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(code: Option<i32>, signal: Option<i32>, timed_out: bool) -> Outcome {
        Outcome { code, signal, timed_out, ..Outcome::default() }
    }

    #[test]
    fn decisions() {
        assert_eq!(decide(&outcome(Some(0), None, false), None), (SmokeStatus::Passed, 0));
        assert_eq!(decide(&outcome(None, Some(11), false), None), (SmokeStatus::Crashed, 0));
        let help_ok = outcome(Some(0), None, false);
        assert_eq!(decide(&outcome(Some(2), None, false), Some(&help_ok)), (SmokeStatus::Passed, 1));
        let help_bad = outcome(Some(1), None, false);
        assert_eq!(decide(&outcome(Some(2), None, false), Some(&help_bad)), (SmokeStatus::ExitedNonzero, 0));
        assert_eq!(decide(&outcome(None, None, true), Some(&outcome(None, Some(6), false))), (SmokeStatus::Crashed, 1));
    }

    #[tokio::test]
    async fn real_programs() {
        let host = Target::host();
        let s = smoke(Path::new("/bin/true"), host, host, None).await;
        assert_eq!(s.status, SmokeStatus::Passed);
        let s = smoke(Path::new("/bin/false"), host, host, None).await;
        assert_eq!(s.status, SmokeStatus::ExitedNonzero);
    }

    #[tokio::test]
    async fn crash_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("crasher");
        std::fs::write(&script, "#!/bin/sh\nkill -SEGV $$\n").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let host = Target::host();
        let s = smoke(&script, host, host, None).await;
        assert_eq!(s.status, SmokeStatus::Crashed, "{s:?}");
        assert_eq!(s.signal, Some(11));
    }

    #[tokio::test]
    async fn sandboxed_runs_see_no_network_and_no_host() {
        let bwrap = Bwrap::probe().await.expect("bwrap works (tests/setup/20-bubblewrap.sh installs it)");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let probe = dir.path().join("probe");
        // Exit 0 only when the loopback listener, /root and the cratemill process are all out of sight.
        let script = format!(
            "#!/bin/sh\n(echo x > /dev/tcp/127.0.0.1/{port}) 2>/dev/null && exit 3\n\
             test -e /proc/{}/environ && exit 4\nls /root >/dev/null 2>&1 && exit 5\nexit 0\n",
            std::process::id()
        );
        std::fs::write(&probe, script.replace("#!/bin/sh", "#!/bin/bash")).unwrap();
        std::fs::set_permissions(&probe, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let host = Target::host();
        let s = smoke(&probe, host, host, Some(&bwrap)).await;
        assert_eq!((s.status, s.exit_code), (SmokeStatus::Passed, Some(0)), "{s:?}");
        // The same script outside the sandbox does see the host: the probe can fail.
        let s = smoke(&probe, host, host, None).await;
        assert_ne!(s.exit_code, Some(0), "{s:?}");
    }

    /// A minimal static aarch64 ELF executable running `code` (little-endian instruction words).
    fn tiny_aarch64_elf(code: &[u32]) -> Vec<u8> {
        let base = 0x40_0000u64;
        let entry = base + 64 + 56;
        let total = 64 + 56 + 4 * code.len() as u64;
        let mut b = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        b.extend(2u16.to_le_bytes()); // ET_EXEC
        b.extend(183u16.to_le_bytes()); // EM_AARCH64
        b.extend(1u32.to_le_bytes());
        b.extend(entry.to_le_bytes());
        b.extend(64u64.to_le_bytes()); // e_phoff
        b.extend(0u64.to_le_bytes()); // e_shoff
        b.extend(0u32.to_le_bytes());
        for v in [64u16, 56, 1, 64, 0, 0] {
            b.extend(v.to_le_bytes());
        }
        b.extend(1u32.to_le_bytes()); // PT_LOAD
        b.extend(5u32.to_le_bytes()); // R+X
        for v in [0u64, base, base, total, total, 0x1000] {
            b.extend(v.to_le_bytes());
        }
        for word in code {
            b.extend(word.to_le_bytes());
        }
        b
    }

    #[tokio::test]
    async fn foreign_architecture_runs_under_qemu() {
        let aarch64 = Target::parse("aarch64-unknown-linux-musl").unwrap();
        let host = Target::host();
        assert!(
            runner_for(aarch64, host).is_ok(),
            "qemu-aarch64-static is needed for this test (Debian package qemu-user-static; .ci/run installs it)"
        );
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, code: &[u32]| {
            let path = dir.path().join(name);
            std::fs::write(&path, tiny_aarch64_elf(code)).unwrap();
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
            path
        };
        // mov x0, #0; mov x8, #93 (exit); svc #0
        let ok = write("ok", &[0xd280_0000, 0xd280_0ba8, 0xd400_0001]);
        let facts = crate::elf::inspect(&std::fs::read(&ok).unwrap()).unwrap().unwrap();
        assert!(facts.is_executable() && facts.is_static() && facts.machine == aarch64.elf_machine);
        let s = smoke(&ok, aarch64, host, None).await;
        assert_eq!(s.status, SmokeStatus::Passed, "{s:?}");
        assert!(s.runner.as_deref().unwrap().starts_with("qemu-aarch64"));
        // udf #0: illegal instruction
        let bad = write("bad", &[0x0000_0000]);
        let s = smoke(&bad, aarch64, host, None).await;
        assert_eq!(s.status, SmokeStatus::Crashed, "{s:?}");
        assert_eq!(s.signal, Some(4));
    }
}
