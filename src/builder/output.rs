//! Output folder safety: `cratemill build --out DIR` may only replace what cratemill itself wrote.
//!
//! An existing, non-empty output folder is reused only when its `result.json` parses as a cratemill
//! build result, and then only the entries the package format names (`bin/`, `licenses/`,
//! `srcbuild/`, `build.log`, `result.json`, `CHECKSUMS`, `publish.json`) are removed. Any other entry
//! (a user's `src/`, `.git/`, a symlink where a folder should be) makes the build refuse before
//! anything is deleted (exit 2). A user who points `--out` at their project loses nothing.
//!
//! [`decide`] is the pure decision core (entries in, a plan of removals or a refusal out);
//! [`claim`] is the I/O edge that lists the folder, reads `result.json` and applies the plan.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::error;
use crate::package::{BIN_DIR, CHECKSUMS_FILE, LICENSES_DIR, LOG_FILE, PUBLISH_FILE, RESULT_FILE, SRCBUILD_DIR};
use crate::schema::result::BuildResult;

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
