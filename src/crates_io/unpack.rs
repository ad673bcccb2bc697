//! Unpacking a verified `.crate` (gzip tar, one top folder `{name}-{version}/`) without trusting
//! it: every entry must stay inside the top folder, links must resolve inside it, devices and
//! FIFOs are refused, and sizes are capped by the bytes actually read, not by header claims.
//!
//! Everything is written into a hidden staging folder next to the destination and renamed into
//! place only when the whole archive passed; on any error nothing is left behind. Symbolic links
//! are created after all files, so no write can go through a link the archive made, and each
//! link is checked by resolving it on disk.

use std::cell::Cell;
use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use anyhow::Result;

use super::spec::{parse_exact_version, validate_name};
use crate::error::{classified, failed, Exit};
use crate::schema::result::FailureClass;

/// Caps applied while unpacking, counted on the bytes actually read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnpackLimits {
    /// Decompressed bytes of the whole tar stream (headers included).
    pub max_total_bytes: u64,
    /// Number of tar entries.
    pub max_entries: u64,
    /// Bytes of one file.
    pub max_file_bytes: u64,
}

impl Default for UnpackLimits {
    fn default() -> Self {
        UnpackLimits { max_total_bytes: 1 << 30, max_entries: 100_000, max_file_bytes: 512 << 20 }
    }
}

/// Unpacks `crate_file` into `dest/{name}-{version}` (which must not exist yet) and returns that
/// path. Unsafe or malformed archives are `classified(Failed, UnsafeArchive, ..)`; a full disk is
/// `OutOfResources`.
pub fn unpack(crate_file: &Path, dest: &Path, name: &str, version: &str, limits: &UnpackLimits) -> Result<PathBuf> {
    validate_name(name).map_err(|why| failed(format!("unpacking `{}`: {why}", name.escape_debug())))?;
    let canonical_version = parse_exact_version(version).map_err(|why| failed(format!("unpacking `{name}`: {why}")))?;
    if canonical_version != version {
        return Err(failed(format!("unpacking `{name}`: `{version}` is not a canonical version number")));
    }
    let top = format!("{name}-{version}");
    let what = format!("unpacking `{name}@{version}` from {}", crate_file.display());
    let target = dest.join(&top);
    if fs::symlink_metadata(&target).is_ok() {
        return Err(failed(format!("{what}: {} already exists", target.display())));
    }

    let staging = tempfile::Builder::new()
        .prefix(&format!(".{top}.unpack."))
        .tempdir_in(dest)
        .map_err(|e| write_error(&what, dest, e))?;
    let root = staging.path().join(&top);
    fs::create_dir(&root).map_err(|e| write_error(&what, &root, e))?;

    let file = fs::File::open(crate_file).map_err(|e| failed(format!("{what}: cannot open it: {e}")))?;
    let exceeded = Rc::new(Cell::new(false));
    let reader = CappedReader {
        inner: flate2::read::GzDecoder::new(io::BufReader::new(file)),
        read: 0,
        limit: limits.max_total_bytes,
        exceeded: exceeded.clone(),
    };
    let mut unpacker = Unpacker { root: &root, top: &top, what: &what, limits, links: Vec::new(), entries: 0 };
    let result = unpacker.extract_all(reader).and_then(|()| unpacker.create_links());
    if let Err(e) = result {
        if exceeded.get() {
            return Err(unsafe_archive(&what, format!("it expands past the {}-byte limit", limits.max_total_bytes)));
        }
        return Err(e);
    }
    fs::rename(&root, &target).map_err(|e| write_error(&what, &target, e))?;
    Ok(target)
}

fn unsafe_archive(what: &str, why: impl std::fmt::Display) -> anyhow::Error {
    classified(Exit::Failed, FailureClass::UnsafeArchive, format!("{what}: refused: {why}"))
}

fn write_error(what: &str, path: &Path, e: io::Error) -> anyhow::Error {
    let msg = format!("{what}: cannot write {}: {e}", path.display());
    match e.raw_os_error() {
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => classified(Exit::Failed, FailureClass::OutOfResources, msg),
        _ => failed(msg),
    }
}

/// Counts decompressed bytes and fails once more than `limit` have been read.
struct CappedReader<R> {
    inner: R,
    read: u64,
    limit: u64,
    exceeded: Rc<Cell<bool>>,
}

impl<R: Read> Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            self.exceeded.set(true);
            return Err(io::Error::other("archive size limit exceeded"));
        }
        Ok(n)
    }
}

struct Unpacker<'a> {
    root: &'a Path,
    top: &'a str,
    what: &'a str,
    limits: &'a UnpackLimits,
    /// (path inside the top folder, link target), created after all files.
    links: Vec<(PathBuf, PathBuf)>,
    entries: u64,
}

impl Unpacker<'_> {
    fn refuse(&self, why: impl std::fmt::Display) -> anyhow::Error {
        unsafe_archive(self.what, why)
    }

    fn malformed(&self, e: io::Error) -> anyhow::Error {
        self.refuse(format!("it is not a readable gzip tar archive ({e})"))
    }

    fn extract_all(&mut self, reader: impl Read) -> Result<()> {
        let mut archive = tar::Archive::new(reader);
        for entry in archive.entries().map_err(|e| self.malformed(e))? {
            let mut entry = entry.map_err(|e| self.malformed(e))?;
            self.entries += 1;
            if self.entries > self.limits.max_entries {
                return Err(self.refuse(format!("it has more than {} entries", self.limits.max_entries)));
            }
            self.extract(&mut entry)?;
        }
        Ok(())
    }

    fn extract<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<()> {
        let kind = entry.header().entry_type();
        if kind == tar::EntryType::XGlobalHeader {
            return Ok(());
        }
        let raw_path = entry.path().map_err(|e| self.malformed(e))?.into_owned();
        let rel = self.inside_top(&raw_path)?;
        let shown = raw_path.display();
        let dest = self.root.join(&rel);
        match kind {
            tar::EntryType::Directory => {
                fs::create_dir_all(&dest).map_err(|e| self.create_error(&dest, e))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if rel.as_os_str().is_empty() {
                    return Err(self.refuse(format!("`{shown}` is a file where the top folder should be")));
                }
                self.write_file(entry, &dest, &shown.to_string())?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(|e| self.malformed(e))?
                    .ok_or_else(|| self.refuse(format!("symbolic link `{shown}` has no target")))?;
                self.check_link_target(&rel, &target, &shown.to_string())?;
                self.links.push((rel, target.into_owned()));
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(|e| self.malformed(e))?
                    .ok_or_else(|| self.refuse(format!("hard link `{shown}` has no target")))?;
                let source_rel = self.inside_top(&target).map_err(|_| {
                    self.refuse(format!(
                        "hard link `{shown}` points outside the crate folder, to `{}`",
                        target.display()
                    ))
                })?;
                let source = self.root.join(&source_rel);
                let is_file = fs::symlink_metadata(&source).map(|m| m.is_file()).unwrap_or(false);
                if !is_file {
                    return Err(self.refuse(format!(
                        "hard link `{shown}` points to `{}`, which is not a file unpacked before it",
                        target.display()
                    )));
                }
                self.ensure_parent(&dest)?;
                fs::copy(&source, &dest).map_err(|e| write_error(self.what, &dest, e))?;
            }
            tar::EntryType::Char | tar::EntryType::Block => {
                return Err(self.refuse(format!("`{shown}` is a device file")));
            }
            tar::EntryType::Fifo => return Err(self.refuse(format!("`{shown}` is a FIFO"))),
            other => {
                return Err(self.refuse(format!("`{shown}` has an unsupported entry type {other:?}")));
            }
        }
        Ok(())
    }

    /// The path of an archive entry relative to the top folder; refuses absolute paths, `..`,
    /// and anything not under `{name}-{version}/`.
    fn inside_top(&self, path: &Path) -> Result<PathBuf> {
        let shown = path.display();
        let mut components = path.components().filter(|c| !matches!(c, Component::CurDir));
        match components.next() {
            Some(Component::Normal(first)) if first == self.top => {}
            Some(Component::RootDir) | Some(Component::Prefix(_)) => {
                return Err(self.refuse(format!("entry `{shown}` has an absolute path")))
            }
            _ if path.components().any(|c| c == Component::ParentDir) => {
                return Err(self.refuse(format!("entry `{shown}` contains `..`")))
            }
            _ => return Err(self.refuse(format!("entry `{shown}` is outside the top folder `{}/`", self.top))),
        }
        let mut rel = PathBuf::new();
        for c in components {
            match c {
                Component::Normal(part) => rel.push(part),
                Component::ParentDir => return Err(self.refuse(format!("entry `{shown}` contains `..`"))),
                _ => return Err(self.refuse(format!("entry `{shown}` has an absolute path"))),
            }
        }
        Ok(rel)
    }

    /// A link target must be relative and, resolved from the link's folder, stay inside the top
    /// folder (checked again on disk once every link exists).
    fn check_link_target(&self, rel: &Path, target: &Path, shown: &str) -> Result<()> {
        let outside = || {
            self.refuse(format!("symbolic link `{shown}` points outside the crate folder, to `{}`", target.display()))
        };
        let mut depth: Vec<&std::ffi::OsStr> = rel
            .parent()
            .map(|p| {
                p.components()
                    .filter_map(|c| match c {
                        Component::Normal(n) => Some(n),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        for c in target.components() {
            match c {
                Component::Normal(n) => depth.push(n),
                Component::CurDir => {}
                Component::ParentDir => {
                    depth.pop().ok_or_else(outside)?;
                }
                Component::RootDir | Component::Prefix(_) => return Err(outside()),
            }
        }
        if rel.as_os_str().is_empty() {
            return Err(self.refuse(format!("`{shown}` is a link where the top folder should be")));
        }
        Ok(())
    }

    fn ensure_parent(&self, dest: &Path) -> Result<()> {
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(|e| self.create_error(parent, e))?;
        }
        Ok(())
    }

    /// A folder that cannot be created because a file of the archive sits on its path is the
    /// archive's fault; anything else is the disk's.
    fn create_error(&self, path: &Path, e: io::Error) -> anyhow::Error {
        match e.raw_os_error() {
            Some(libc::ENOTDIR) | Some(libc::EEXIST) => {
                let rel = path.strip_prefix(self.root).unwrap_or(path);
                self.refuse(format!("`{}/{}` is both a file and a folder", self.top, rel.display()))
            }
            _ => write_error(self.what, path, e),
        }
    }

    fn write_file<R: Read>(&self, entry: &mut tar::Entry<R>, dest: &Path, shown: &str) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        self.ensure_parent(dest)?;
        if fs::symlink_metadata(dest).is_ok_and(|m| !m.is_file()) {
            return Err(self.refuse(format!("`{shown}` is both a file and a folder")));
        }
        let mut out = fs::File::create(dest).map_err(|e| write_error(self.what, dest, e))?;
        let max = self.limits.max_file_bytes;
        let copied = io::copy(&mut entry.by_ref().take(max + 1), &mut out).map_err(|e| match e.kind() {
            io::ErrorKind::Other | io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData => self.malformed(e),
            _ => write_error(self.what, dest, e),
        })?;
        if copied > max {
            return Err(self.refuse(format!("`{shown}` is larger than the {max}-byte file limit")));
        }
        // Keep the permission bits only: setuid, setgid and sticky are dropped; the owner can always
        // read and write what cratemill unpacked.
        let mode = (entry.header().mode().unwrap_or(0o644) & 0o777) | 0o600;
        fs::set_permissions(dest, fs::Permissions::from_mode(mode)).map_err(|e| write_error(self.what, dest, e))?;
        Ok(())
    }

    /// Creates the deferred symbolic links, none of them below another link, then resolves each
    /// on disk: it must exist and stay inside the top folder.
    fn create_links(&self) -> Result<()> {
        for (rel, target) in &self.links {
            let dest = self.root.join(rel);
            let mut walked = self.root.to_path_buf();
            for part in rel.parent().into_iter().flat_map(Path::components) {
                walked.push(part);
                if fs::symlink_metadata(&walked).is_ok_and(|m| m.file_type().is_symlink()) {
                    return Err(self.refuse(format!("symbolic link `{}` lies below another link", rel.display())));
                }
            }
            self.ensure_parent(&dest)?;
            if fs::symlink_metadata(&dest).is_ok() {
                return Err(self.refuse(format!("`{}` is both a link and another entry", rel.display())));
            }
            std::os::unix::fs::symlink(target, &dest).map_err(|e| write_error(self.what, &dest, e))?;
        }
        let root = fs::canonicalize(self.root).map_err(|e| write_error(self.what, self.root, e))?;
        for (rel, target) in &self.links {
            match fs::canonicalize(self.root.join(rel)) {
                Ok(resolved) if resolved.starts_with(&root) => {}
                Ok(_) => {
                    return Err(self.refuse(format!(
                        "symbolic link `{}` resolves outside the crate folder (through `{}`)",
                        rel.display(),
                        target.display()
                    )))
                }
                Err(_) => {
                    return Err(self.refuse(format!(
                        "symbolic link `{}` points to `{}`, which does not exist in the crate",
                        rel.display(),
                        target.display()
                    )))
                }
            }
        }
        Ok(())
    }
}
