//! Finding what a build produced: the files in `--artifact-dir` (nightly) or the top of
//! `target/<triple>/release` (stable), keeping ELF executables of the target's architecture and
//! skipping everything else (`.d`, `.rlib`, `.so`, build-script outputs).
//!
//! The folder is in the work folder crate code wrote: it is read only when no folder on the way to
//! it is a link (a `release` replaced by a link to `/proc/self/cwd` would otherwise hand over
//! cratemill's own working folder), and each file through [`crate::untrusted`] (regular, capped).
//! The selection ([`is_candidate`]) is pure; listing and reading are the I/O edge.

use std::path::{Path, PathBuf};

use crate::elf::{inspect, ElfFacts};
use crate::target::Target;
use crate::untrusted::{self, EXECUTABLE_CAP};

/// One produced executable.
#[derive(Debug, Clone)]
pub struct Produced {
    pub name: String,
    pub path: PathBuf,
    pub facts: ElfFacts,
}

/// File name endings that are never executables.
const SKIP_SUFFIXES: &[&str] =
    &[".d", ".rlib", ".rmeta", ".so", ".a", ".dylib", ".dll", ".pdb", ".dwp", ".lock", ".json"];

/// Pure: could a file of this name be an executable the build produced?
pub fn is_candidate(name: &str) -> bool {
    !name.starts_with('.') && !SKIP_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Collect the executables among the regular files directly in `dir`, inside `work` (the folder
/// crate code could write; a `dir` outside it is a folder only cratemill writes). Files of another
/// architecture are returned separately with a reason, so a wrong-arch build is reported, not
/// silently dropped. A `dir` reached through a link is refused.
pub fn collect(work: &Path, dir: &Path, target: &Target) -> anyhow::Result<(Vec<Produced>, Vec<String>)> {
    let mut produced = Vec::new();
    let mut rejected = Vec::new();
    match untrusted::check_beneath(work, dir, true) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((produced, rejected)),
        Err(e) => anyhow::bail!("the build's output folder: {e}"),
        Ok(()) => {}
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok((produced, rejected)) };
    for entry in entries {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if !is_candidate(&name) {
            continue;
        }
        // One rule for an executable's name (publish and install refuse the same ones).
        if !crate::package::valid_executable_name(&name) {
            rejected.push(format!("{}: not a plain file name", untrusted::printable(&name)));
            continue;
        }
        let bytes = untrusted::read_regular(&entry.path(), EXECUTABLE_CAP, untrusted::deadline())?;
        let facts = match inspect(&bytes) {
            Ok(Some(f)) if f.is_executable() => f,
            Ok(_) => continue,
            Err(e) => {
                rejected.push(format!("{name}: {e}"));
                continue;
            }
        };
        if facts.machine != target.elf_machine || facts.bits != target.elf_bits {
            rejected.push(format!(
                "{name}: ELF machine {} ({}-bit), expected {} for {}",
                facts.machine, facts.bits, target.elf_machine, target.triple
            ));
            continue;
        }
        produced.push(Produced { name, path: entry.path(), facts });
    }
    produced.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((produced, rejected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_executables_and_skips_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy("/bin/true", dir.path().join("tool")).unwrap();
        std::fs::write(dir.path().join("tool.d"), "deps").unwrap();
        std::fs::write(dir.path().join("script"), "#!/bin/sh\n").unwrap();
        std::fs::create_dir(dir.path().join("deps")).unwrap();
        let host = Target::host();
        let (found, rejected) = collect(dir.path(), dir.path(), host).unwrap();
        assert_eq!(found.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["tool"]);
        assert!(rejected.is_empty());
        let arm = Target::parse("aarch64-unknown-linux-musl").unwrap();
        let (found, rejected) = collect(dir.path(), dir.path(), arm).unwrap();
        assert!(found.is_empty());
        assert!(rejected[0].starts_with("tool: ELF machine 62"), "{rejected:?}");
    }

    #[test]
    fn executables_with_names_publish_would_refuse_are_rejected_by_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy("/bin/true", dir.path().join("ok")).unwrap();
        std::fs::copy("/bin/true", dir.path().join("evil\x1b]0;pwned\x07")).unwrap();
        let (found, rejected) = collect(dir.path(), dir.path(), Target::host()).unwrap();
        assert_eq!(found.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["ok"]);
        assert_eq!(rejected, ["evil\\x1b]0;pwned\\x07: not a plain file name"]);
    }

    #[test]
    fn an_output_folder_replaced_by_a_link_is_refused() {
        let work = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::copy("/bin/true", elsewhere.path().join("secret-tool")).unwrap();
        let release = work.path().join("target/x86_64-unknown-linux-musl/release");
        std::fs::create_dir_all(release.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), &release).unwrap();
        let err = collect(work.path(), &release, Target::host()).unwrap_err();
        assert!(err.to_string().contains("release` on the way to it is a symbolic link"), "{err}");
        // A link higher up (the target folder itself) is refused the same way.
        std::fs::remove_file(&release).unwrap();
        std::fs::remove_dir_all(work.path().join("target")).unwrap();
        std::os::unix::fs::symlink("/proc/self/cwd", work.path().join("target")).unwrap();
        assert!(collect(work.path(), &release, Target::host()).is_err());
    }
}
