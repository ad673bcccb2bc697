//! Finding what a build produced: the files in `--artifact-dir` (nightly) or the top of
//! `target/<triple>/release` (stable), keeping ELF executables of the target's architecture and
//! skipping everything else (`.d`, `.rlib`, `.so`, build-script outputs).

use std::path::{Path, PathBuf};

use crate::elf::{inspect, ElfFacts};
use crate::target::Target;

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

/// Collect the executables among the regular files directly in `dir`. Files of another architecture
/// are returned separately with a reason, so a wrong-arch build is reported, not silently dropped.
pub fn collect(dir: &Path, target: &Target) -> anyhow::Result<(Vec<Produced>, Vec<String>)> {
    let mut produced = Vec::new();
    let mut rejected = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok((produced, rejected)) };
    for entry in entries {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || SKIP_SUFFIXES.iter().any(|s| name.ends_with(s)) {
            continue;
        }
        let bytes = std::fs::read(entry.path())?;
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
        let (found, rejected) = collect(dir.path(), host).unwrap();
        assert_eq!(found.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["tool"]);
        assert!(rejected.is_empty());
        let arm = Target::parse("aarch64-unknown-linux-musl").unwrap();
        let (found, rejected) = collect(dir.path(), arm).unwrap();
        assert!(found.is_empty());
        assert!(rejected[0].starts_with("tool: ELF machine 62"), "{rejected:?}");
    }
}
