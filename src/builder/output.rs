//! Output folder safety: `cratemill build --out DIR` may only replace what cratemill itself wrote.
//!
//! An existing, non-empty output folder is reused only when its `result.json` parses as a cratemill
//! build result, and then only the entries the package format names (`bin/`, `licenses/`,
//! `srcbuild/`, `build.log`, `result.json`, `CHECKSUMS`, `publish.json`) are removed. Any other entry
//! (a user's `src/`, `.git/`, a symlink where a folder should be) makes the build refuse before
//! anything is deleted (exit 2). A user who points `--out` at their project loses nothing.
//!
//! After the build the folder is filled and then sealed or cleared: [`write_srcbuild`] writes the
//! `-srcbuild-` source archive, [`seal`] a built package's CHECKSUMS and result.json (last), and
//! [`clear`] removes everything that could make a failed build's folder look publishable.
//!
//! [`decide`] is the pure decision core (entries in, a plan of removals or a refusal out);
//! [`claim`] is the I/O edge that lists the folder, reads `result.json` and applies the plan.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use crate::error;
use crate::package::{
    self, BIN_DIR, CHECKSUMS_FILE, LICENSES_DIR, LOG_FILE, PUBLISH_FILE, RESULT_FILE, SBOM_FILE, SRCBUILD_DIR,
};
use crate::schema::result::{BuildResult, FailureClass};
use crate::schema::Phase;

use super::log::BuildLog;
use super::setup::{ms, phase_err, phase_io, PhaseError};
use super::srcbuild;

/// What kind of thing an entry of the output folder is (symlinks are never followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    /// Symlinks, sockets, devices: cratemill never writes these.
    Other,
}

/// One top-level entry of an existing output folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub kind: EntryKind,
}

/// The state of the folder's `result.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// It parses as a cratemill build result: the folder is an earlier cratemill output.
    BuildResult,
    /// Missing, unreadable, or not a build result.
    Absent,
}

/// What to do with the folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Missing or empty: create it (if needed) and write into it.
    UseAsIs,
    /// An earlier cratemill output: remove exactly these entries first.
    Remove(Vec<Entry>),
}

/// Why the folder is not ours to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Non-empty, with no cratemill `result.json`.
    NotCratemill,
    /// A cratemill output, but with entries cratemill never writes: they would be lost.
    Foreign(Vec<String>),
}

/// The entries cratemill writes into a package folder, with the kind it writes them as.
pub const OURS: &[(&str, EntryKind)] = &[
    (BIN_DIR, EntryKind::Dir),
    (LICENSES_DIR, EntryKind::Dir),
    (SRCBUILD_DIR, EntryKind::Dir),
    (LOG_FILE, EntryKind::File),
    (RESULT_FILE, EntryKind::File),
    (SBOM_FILE, EntryKind::File),
    (CHECKSUMS_FILE, EntryKind::File),
    (PUBLISH_FILE, EntryKind::File),
];

fn is_ours(entry: &Entry) -> bool {
    OURS.iter().any(|(name, kind)| *name == entry.name && *kind == entry.kind)
}

/// Decide what to do with an existing folder holding `entries`. Pure.
pub fn decide(entries: &[Entry], marker: Marker) -> Result<Plan, Refusal> {
    if entries.is_empty() {
        return Ok(Plan::UseAsIs);
    }
    if marker != Marker::BuildResult {
        return Err(Refusal::NotCratemill);
    }
    let mut foreign: Vec<String> = entries.iter().filter(|e| !is_ours(e)).map(|e| e.name.clone()).collect();
    if !foreign.is_empty() {
        foreign.sort();
        return Err(Refusal::Foreign(foreign));
    }
    Ok(Plan::Remove(entries.to_vec()))
}

/// The one-line error for a refusal (exit 2), naming the folder, what is in the way and the fix.
pub fn refusal_error(out: &Path, refusal: &Refusal) -> anyhow::Error {
    let shown = out.display();
    match refusal {
        Refusal::NotCratemill => error::usage(format!(
            "output folder {shown} is not empty and is not a cratemill output (no cratemill {RESULT_FILE}): \
             refusing to touch it; pass --out with a new or empty folder"
        )),
        Refusal::Foreign(names) => error::usage(format!(
            "output folder {shown} holds entries cratemill did not write ({}): refusing to replace it; move them \
             away or pass --out with a new or empty folder",
            names.iter().map(|n| crate::target::printable(n)).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// Make sure `out` is ours to write, clearing an earlier cratemill output. Nothing is deleted on refusal.
pub fn claim(out: &Path) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(anyhow::Error::new(e).context(format!("reading {}", out.display()))),
        Ok(_) if !out.is_dir() => {
            return Err(error::usage(format!(
                "output folder {} exists and is not a folder: pass --out with a new or empty folder",
                out.display()
            )))
        }
        Ok(_) => {
            let entries = list(out)?;
            let plan = decide(&entries, marker(out)).map_err(|r| refusal_error(out, &r))?;
            if let Plan::Remove(entries) = plan {
                remove(out, &entries)?;
            }
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    Ok(())
}

fn list(out: &Path) -> anyhow::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(out).with_context(|| format!("reading {}", out.display()))? {
        let entry = entry.with_context(|| format!("reading {}", out.display()))?;
        let kind = entry.file_type().with_context(|| format!("reading {}", entry.path().display()))?;
        let kind = if kind.is_dir() {
            EntryKind::Dir
        } else if kind.is_file() {
            EntryKind::File
        } else {
            EntryKind::Other
        };
        entries.push(Entry { name: entry.file_name().to_string_lossy().into_owned(), kind });
    }
    Ok(entries)
}

fn marker(out: &Path) -> Marker {
    let path = out.join(RESULT_FILE);
    let is_file = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file());
    if is_file && crate::schema::read::<BuildResult>(&path).is_ok() {
        Marker::BuildResult
    } else {
        Marker::Absent
    }
}

fn remove(out: &Path, entries: &[Entry]) -> anyhow::Result<()> {
    for entry in entries {
        let path: PathBuf = out.join(&entry.name);
        match entry.kind {
            EntryKind::Dir => std::fs::remove_dir_all(&path),
            _ => std::fs::remove_file(&path),
        }
        .with_context(|| format!("removing the earlier output {}", path.display()))?;
    }
    Ok(())
}

/// Where a package's source comes from: the verified `.crate`, its unpacked root, and the
/// preparation steps the pristine copy must reproduce.
pub struct Sources<'a> {
    pub crate_file: &'a Path,
    /// The index's sha256 of the `.crate`, verified at download.
    pub crate_sha256: &'a str,
    pub root: &'a Path,
    pub steps: &'a [String],
    /// The work folder the build ran in, read only through `untrusted` (its Cargo.lock).
    pub tree: &'a crate::untrusted::Tree,
}

/// The `-srcbuild-` source archive of the package in `out`, with the build log flushed first so
/// that the archive carries it whole up to here. The source part is re-derived from the verified
/// `.crate`, never taken from the tree the build ran in.
pub fn write_srcbuild(out: &Path, r: &BuildResult, log: &mut BuildLog, sources: &Sources) -> Result<(), PhaseError> {
    let (name, vers) = (r.crate_name.as_str(), r.version.as_str());
    log.note("writing the -srcbuild- source archive");
    log.flush().map_err(phase_io(Phase::Package))?;
    let info = serde_json::json!({
        "crate": name, "version": vers, "target": r.target, "backend": r.backend.name(),
        "toolchain": r.toolchain, "rustflags": r.rustflags, "build_env": r.build_env,
        "prepare": r.prepare, "manifest_additions": r.manifest_additions, "attempts": r.attempts, "source": r.source,
    });
    let archive = out.join(SRCBUILD_DIR).join(package::srcbuild_file_name(name, vers));
    let pristine = srcbuild::pristine(
        sources.crate_file,
        sources.crate_sha256,
        (name, vers),
        sources.steps,
        &r.manifest_additions,
    )
    .map_err(phase_err(Phase::Package, FailureClass::Unknown))?;
    let resolved_lock = pristine.resolved_lock(sources.tree, sources.root);
    srcbuild::write(
        &archive,
        &srcbuild::Inputs {
            crate_name: name,
            version: vers,
            crate_file: &pristine.crate_file,
            source_tree: &pristine.root,
            resolved_lock: resolved_lock.as_deref(),
            build_log: log.path(),
            build_info: &info,
        },
    )
    .map_err(phase_err(Phase::Package, FailureClass::OutOfResources))
}

/// Write CHECKSUMS and result.json (last) for a built package.
pub fn seal(out: &Path, result: &mut BuildResult) -> anyhow::Result<()> {
    let t = Instant::now();
    let mut files = package::list_files(out)?;
    files.retain(|f| f != RESULT_FILE && f != CHECKSUMS_FILE && f != PUBLISH_FILE);
    files.push(RESULT_FILE.to_string());
    files.push(CHECKSUMS_FILE.to_string());
    files.sort();
    result.files = files;
    if let Some(p) = result.timings_ms.get_mut(Phase::Package.name()) {
        *p += ms(t.elapsed());
    }
    // result.json first so CHECKSUMS covers it; an interrupted run leaves no CHECKSUMS, and
    // `package::verify` refuses a folder without one.
    crate::schema::write(&out.join(RESULT_FILE), result)?;
    package::write_checksums(out)?;
    Ok(())
}

/// Remove everything that could make a failed output look publishable.
pub fn clear(out: &Path) -> anyhow::Result<()> {
    for dir in [BIN_DIR, LICENSES_DIR, SRCBUILD_DIR] {
        let p = out.join(dir);
        if p.exists() {
            std::fs::remove_dir_all(&p).with_context(|| format!("removing {}", p.display()))?;
        }
    }
    for file in [CHECKSUMS_FILE, PUBLISH_FILE, SBOM_FILE] {
        let p = out.join(file);
        if p.exists() {
            std::fs::remove_file(&p)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(name: &str, kind: EntryKind) -> Entry {
        Entry { name: name.into(), kind }
    }

    #[test]
    fn empty_folder_is_used_as_is() {
        assert_eq!(decide(&[], Marker::Absent), Ok(Plan::UseAsIs));
    }

    #[test]
    fn a_log_file_alone_does_not_make_a_folder_ours() {
        let entries = [e("build.log", EntryKind::File), e("src", EntryKind::Dir), e(".git", EntryKind::Dir)];
        assert_eq!(decide(&entries, Marker::Absent), Err(Refusal::NotCratemill));
    }

    #[test]
    fn foreign_entries_next_to_a_result_are_refused() {
        let entries = [e("result.json", EntryKind::File), e("src", EntryKind::Dir), e(".git", EntryKind::Dir)];
        assert_eq!(decide(&entries, Marker::BuildResult), Err(Refusal::Foreign(vec![".git".into(), "src".into()])));
        // Our names with the wrong kind are not ours either (a symlinked or file `bin`).
        let entries = [e("result.json", EntryKind::File), e("bin", EntryKind::Other)];
        assert_eq!(decide(&entries, Marker::BuildResult), Err(Refusal::Foreign(vec!["bin".into()])));
    }

    #[test]
    fn an_earlier_output_is_cleared_entry_by_entry() {
        let entries = [e("result.json", EntryKind::File), e("bin", EntryKind::Dir), e("CHECKSUMS", EntryKind::File)];
        assert_eq!(decide(&entries, Marker::BuildResult), Ok(Plan::Remove(entries.to_vec())));
    }

    #[test]
    fn claim_refuses_without_deleting() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("p");
        std::fs::create_dir_all(out.join("src")).unwrap();
        std::fs::write(out.join("src/main.rs"), "fn main() {}\n").unwrap();
        std::fs::write(out.join("build.log"), "").unwrap();
        let err = claim(&out).unwrap_err();
        assert_eq!(error::exit_of(&err), error::Exit::Usage);
        assert!(error::one_line(&err).contains("is not a cratemill output (no cratemill result.json)"), "{err}");
        assert_eq!(std::fs::read_to_string(out.join("src/main.rs")).unwrap(), "fn main() {}\n");
    }
}
