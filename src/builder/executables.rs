//! The inspect phase's trust boundary for what ships: each executable the build produced is read
//! out of the work folder once; those bytes are checked (`crate::elf`: an executable of the
//! target's machine; the dependency list cargo-auditable embedded, `.dep-v0`), written into the
//! package's `bin/` and hashed, and a copy of them is smoke-run in the sandbox (`smoke`). Then
//! dynamic or crashing executables fail the build ([`check`], pure), and whether every executable
//! carries the dependency list asked for is recorded, not enforced ([`auditable`], pure). I/O edge:
//! the package and work folders.

use std::path::Path;

use crate::elf;
use crate::package;
use crate::schema::result::{Auditable, DependencyList, Executable, FailureClass, SmokeStatus};
use crate::schema::Phase;

use super::backend::DepList;
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
    // The list is decoded from the same bytes that ship; a broken one is noted, not fatal.
    let dependency_list = match elf::dependency_list(&bytes) {
        Ok(list) => list.map(|l| DependencyList { section_bytes: l.section_bytes, packages: l.packages }),
        Err(e) => {
            log.note(&format!("{}: its dependency list is unreadable: {e}", p.name));
            None
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
    let list = match &dependency_list {
        Some(l) => format!("dependency list of {} packages ({} bytes)", l.packages, l.section_bytes),
        None => "no dependency list".to_string(),
    };
    log.note(&format!("{}: {} bytes, {linkage}, {list}, smoke {:?}{first}", p.name, digests.size, smoke.status));
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
        dependency_list,
    })
}

/// result.json's `auditable`: what was asked for, whether every executable carries a readable
/// dependency list, and why not when it was asked for. An executable without one does not fail the
/// build: it is as correct as it was, and the record says which. Pure.
pub fn auditable(dep_list: DepList, executables: &[Executable]) -> Auditable {
    let embedded = !executables.is_empty() && executables.iter().all(|e| e.dependency_list.is_some());
    let without: Vec<&str> =
        executables.iter().filter(|e| e.dependency_list.is_none()).map(|e| e.name.as_str()).collect();
    let note = match dep_list {
        DepList::Off => None,
        DepList::NotInCrossContainer | DepList::NotInstalled => dep_list.reason(),
        DepList::Embed if without.is_empty() => None,
        DepList::Embed => Some(format!(
            "cargo auditable ran, but {} carries no readable dependency list (build.log says why)",
            without.join(", ")
        )),
    };
    Auditable { asked: dep_list != DepList::Off, embedded, note }
}

/// The `not-static` failure's message and evidence for the executables (name, static, the shared
/// libraries it needs), or `None` when every one is static. Pure.
pub fn not_static<'a>(
    executables: impl IntoIterator<Item = (&'a str, bool, &'a [String])>,
) -> Option<(String, Vec<String>)> {
    let dynamic: Vec<String> = executables
        .into_iter()
        .filter(|(_, is_static, _)| !is_static)
        .map(|(name, _, needed)| format!("{name} needs {}", needed.join(", ")))
        .collect();
    (!dynamic.is_empty()).then(|| (format!("not statically linked: {}", dynamic.join("; ")), dynamic))
}

/// Refuse executables that are not statically linked or that crashed when run. Pure.
pub fn check(executables: &[Executable]) -> Result<(), PhaseError> {
    if let Some((msg, dynamic)) = not_static(executables.iter().map(|e| (e.name.as_str(), e.is_static, &e.needed[..])))
    {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::result::fixtures::executable;

    #[test]
    fn the_record_says_which_executables_lack_the_list_asked_for() {
        let with = Executable {
            dependency_list: Some(DependencyList { section_bytes: 600, packages: 40 }),
            ..executable("hexyl")
        };
        let all = auditable(DepList::Embed, std::slice::from_ref(&with));
        assert_eq!(all, Auditable { asked: true, embedded: true, note: None });
        let some = auditable(DepList::Embed, &[with.clone(), executable("helper")]);
        assert!(!some.embedded && some.note.as_deref().is_some_and(|n| n.contains("helper carries no")), "{some:?}");
        let off = auditable(DepList::Off, &[executable("hexyl")]);
        assert_eq!(off, Auditable { asked: false, embedded: false, note: None });
        let cross = auditable(DepList::NotInCrossContainer, &[executable("hexyl")]);
        assert!(cross.asked && !cross.embedded && cross.note.unwrap().contains("cross"));
    }
}
