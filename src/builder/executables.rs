//! The inspect phase's trust boundary for what ships: each executable the build produced is read
//! out of the work folder once; those bytes are checked (`crate::elf`: an executable of the
//! target's machine), written into the package's `bin/` and hashed, and a copy of them is
//! smoke-run in the sandbox (`smoke`). Then dynamic or crashing executables fail the build
//! ([`check`], pure). I/O edge: the package and work folders.

use std::path::Path;

use crate::elf;
use crate::package;
use crate::schema::result::{Executable, FailureClass, SmokeStatus};
use crate::schema::Phase;

use super::collect::Produced;
use super::log::BuildLog;
use super::setup::{classified, phase_io, PhaseError, Setup};
use super::smoke;

/// The trust boundary for what ships: read the executable's bytes out of the work folder once;
/// inspect, write into the package and hash those bytes; smoke-run a copy of them in the sandbox.
pub async fn install(
    setup: &Setup,
    log: &mut BuildLog,
    work: &Path,
    bin_dir: &Path,
    p: &Produced,
) -> Result<Executable, PhaseError> {
    let bytes = crate::untrusted::read_regular(&p.path, crate::untrusted::EXECUTABLE_CAP, crate::untrusted::deadline())
        .map_err(phase_io(Phase::Package))?;
    let facts = match elf::inspect(&bytes) {
        Ok(Some(f)) if f.is_executable() && f.machine == setup.target.elf_machine => f,
        _ => {
            let why = format!("{} changed after the build: it is no longer a {} executable", p.name, setup.target.arch);
            return Err(classified(Phase::Inspect, FailureClass::Unknown, why, Vec::new()));
        }
    };
    let dest = bin_dir.join(&p.name);
    write_new_executable(&dest, &bytes).map_err(phase_io(Phase::Package))?;
    let digests = package::digest_file(&dest).map_err(phase_io(Phase::Package))?;
    // The smoke run gets its own copy: whatever it does to that file never reaches the package.
    let copy_dir = work.join("smoke").join(&p.name);
    std::fs::create_dir_all(&copy_dir).map_err(phase_io(Phase::Package))?;
    let copy = copy_dir.join(&p.name);
    write_new_executable(&copy, &bytes).map_err(phase_io(Phase::Package))?;
    let smoke = smoke::smoke(&copy, setup.target, setup.host, setup.sandbox.as_ref()).await;
    let linkage = if facts.is_static() {
        "static".to_string()
    } else {
        format!("dynamic (interpreter {:?}, needs {:?})", facts.interpreter, facts.needed)
    };
    let first = smoke.first_line.as_deref().map(|l| format!(": {l}")).unwrap_or_default();
    log.note(&format!("{}: {} bytes, {linkage}, smoke {:?}{first}", p.name, digests.size, smoke.status));
    Ok(Executable {
        name: p.name.clone(),
        path: format!("{}/{}", package::BIN_DIR, p.name),
        size: digests.size,
        sha256: digests.sha256,
        blake3: digests.blake3,
        arch: setup.target.arch.to_string(),
        is_static: facts.is_static(),
        interpreter: facts.interpreter.clone(),
        needed: facts.needed.clone(),
        smoke,
    })
}

/// Refuse executables that are not statically linked or that crashed when run. Pure.
pub fn check(executables: &[Executable]) -> Result<(), PhaseError> {
    let dynamic: Vec<String> = executables
        .iter()
        .filter(|e| !e.is_static)
        .map(|e| format!("{} needs {}", e.name, e.needed.join(", ")))
        .collect();
    if !dynamic.is_empty() {
        let msg = format!("not statically linked: {}", dynamic.join("; "));
        return Err(classified(Phase::Inspect, FailureClass::NotStatic, msg, dynamic));
    }
    let crashed: Vec<String> = executables
        .iter()
        .filter(|e| e.smoke.status == SmokeStatus::Crashed)
        .map(|e| format!("{} {}: {}", e.name, e.smoke.args.join(" "), e.smoke.note.clone().unwrap_or_default()))
        .collect();
    if !crashed.is_empty() {
        let msg = format!("crashed when run: {}", crashed.join("; "));
        return Err(classified(Phase::Inspect, FailureClass::SmokeCrashed, msg, crashed));
    }
    Ok(())
}

/// Write `bytes` to a new file (never through an existing file or link) with mode 0755.
fn write_new_executable(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o755).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
