//! The `-srcbuild-` archive: a reproducible `tar.zst` of exactly what was compiled, so anyone can see
//! and rebuild it. Contents, in this order:
//!
//! ```text
//! <crate>-<version>-srcbuild/<crate>-<version>.crate   the verified download
//! <crate>-<version>-srcbuild/build-info.json           toolchain, flags, environment, prepare, attempts
//! <crate>-<version>-srcbuild/build.log                 the build log
//! <crate>-<version>-srcbuild/Cargo.lock                the lock the build resolved, when not the shipped one
//! <crate>-<version>-srcbuild/source/...                the prepared tree exactly as fed to the build
//! ```
//! `source/` is never the post-build tree: a build script may rewrite any file it can reach. It is
//! re-derived after the build ([`pristine`]) from the verified `.crate` (its sha256 checked again)
//! by running the same deterministic prepare step on a fresh unpack in a new folder that no crate
//! code has seen, and refused if that step does not record the same changes as the build's; the
//! dependencies the ladder added to the manifest (result.json's `manifest_additions`) are added again.
//! Same input, same bytes: entries sorted by path, mtime 0, uid/gid 0, no user names, modes
//! normalised to 0644/0755, zstd at a fixed level, single-threaded.
//!
//! Every file of the work folder read here (the `.crate`, the resolved `Cargo.lock`) goes through
//! [`crate::untrusted`]: a regular file, no link on the way, capped, so a FIFO, a link to
//! `/proc/self/environ` or a host file never reaches the archive. The `.crate` is read once, hashed
//! in memory and copied into the pristine folder; the archive takes it from there. The build log
//! (cratemill's own, capped by `BuildLog`) and the pristine tree are streamed, never read whole.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::error::Exit;
use crate::schema::result::FailureClass;
use crate::untrusted::{self, LOCK_CAP};

/// The largest `.crate` re-read after the build: the download's own default cap.
pub const CRATE_CAP: u64 = 512 * untrusted::MIB;

/// zstd level: a good ratio at a few MB/s; fixed because it is part of the output's identity.
pub const ZSTD_LEVEL: i32 = 12;

/// What goes into the archive.
pub struct Inputs<'a> {
    pub crate_name: &'a str,
    pub version: &'a str,
    /// The verified `.crate` as copied into the pristine folder ([`Pristine::crate_file`]).
    pub crate_file: &'a Path,
    /// The pristine prepared tree (see [`pristine`]), never the folder the build ran in.
    pub source_tree: &'a Path,
    /// The `Cargo.lock` the build resolved, when the shipped one was not used as is.
    pub resolved_lock: Option<&'a [u8]>,
    pub build_log: &'a Path,
    pub build_info: &'a serde_json::Value,
}

/// Write the archive to `dest`.
pub fn write(dest: &Path, inputs: &Inputs) -> anyhow::Result<()> {
    let top = format!("{}-{}-srcbuild", inputs.crate_name, inputs.version);
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::File::create(dest).with_context(|| format!("creating {}", dest.display()))?;
    let encoder = zstd::Encoder::new(file, ZSTD_LEVEL)?;
    let mut tar = tar::Builder::new(encoder);
    tar.follow_symlinks(false);

    let crate_name = format!("{top}/{}-{}.crate", inputs.crate_name, inputs.version);
    append_file(&mut tar, &crate_name, inputs.crate_file, CRATE_CAP, false)?;
    let mut info = serde_json::to_vec_pretty(inputs.build_info)?;
    info.push(b'\n');
    append_bytes(&mut tar, &format!("{top}/build-info.json"), &info, false)?;
    append_file(&mut tar, &format!("{top}/build.log"), inputs.build_log, crate::builder::log::MAX_FILE_BYTES, false)?;
    if let Some(lock) = inputs.resolved_lock {
        append_bytes(&mut tar, &format!("{top}/Cargo.lock"), lock, false)?;
    }

    let mut entries = Vec::new();
    walk(inputs.source_tree, inputs.source_tree, &mut entries)?;
    entries.sort();
    for rel in entries {
        let abs = inputs.source_tree.join(&rel);
        let meta = std::fs::symlink_metadata(&abs)?;
        let name = format!("{top}/source/{rel}");
        if meta.file_type().is_symlink() {
            let link = std::fs::read_link(&abs)?;
            let mut header = header(tar::EntryType::Symlink, 0, 0o777);
            tar.append_link(&mut header, &name, &link)?;
        } else if meta.is_dir() {
            let mut header = header(tar::EntryType::Directory, 0, 0o755);
            tar.append_data(&mut header, format!("{name}/"), std::io::empty())?;
        } else {
            use std::os::unix::fs::PermissionsExt;
            let executable = meta.permissions().mode() & 0o111 != 0;
            let max = crate::crates_io::UnpackLimits::default().max_file_bytes;
            append_file(&mut tar, &name, &abs, max, executable)?;
        }
    }
    let encoder = tar.into_inner()?;
    let mut file = encoder.finish()?;
    file.flush()?;
    file.sync_all()?;
    Ok(())
}

/// The source exactly as it was fed to the build, in a temporary folder deleted on drop.
pub struct Pristine {
    _dir: tempfile::TempDir,
    /// The crate root (`<crate>-<version>/`) in it.
    pub root: PathBuf,
    /// The verified `.crate`, copied here from the bytes that were hashed.
    pub crate_file: PathBuf,
}

impl Pristine {
    /// The build's `Cargo.lock` (in the tree it ran in, `built`, inside the work folder `tree`),
    /// when it is not the shipped one. Read as an untrusted file: a lock that is a link, a FIFO, or
    /// larger than [`LOCK_CAP`] is not archived (noted in the log by the caller's absence of it).
    pub fn resolved_lock(&self, tree: &untrusted::Tree, built: &Path) -> Option<Vec<u8>> {
        let lock = tree.read(&built.join("Cargo.lock"), LOCK_CAP).ok().flatten()?;
        let shipped =
            untrusted::read_regular_opt(&self.root.join("Cargo.lock"), LOCK_CAP, tree.deadline).ok().flatten();
        (Some(&lock) != shipped.as_ref()).then_some(lock)
    }
}

/// The verified `.crate` unpacked afresh and prepared again, in a new temporary folder: the source
/// exactly as it was fed to the build. Fails when the `.crate` no longer has `sha256` or the prepare
/// step records other changes than `steps` (what the build's prepare recorded). The dependencies
/// the ladder added to the manifest (`additions`, result.json's `manifest_additions`) are added
/// again the same way.
pub fn pristine(
    crate_file: &Path,
    sha256: &str,
    (crate_name, version): (&str, &str),
    steps: &[String],
    additions: &[crate::schema::result::ManifestAddition],
) -> anyhow::Result<Pristine> {
    // Something during the build rewrote what was verified or prepared: the crate's doing, not cratemill's.
    let tampered = |msg: String| crate::error::classified(Exit::Failed, FailureClass::UnsafeArchive, msg);
    // A FIFO, a link or a huge file in its place is refused at once, never waited on.
    let bytes = untrusted::read_regular(crate_file, CRATE_CAP, untrusted::deadline())
        .map_err(|e| tampered(format!("the verified .crate after the build: {e}")))?;
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    if digest != sha256 {
        return Err(tampered(format!(
            "the verified {} changed during the build (sha256 {digest} instead of {sha256}): refusing to archive it",
            crate_file.display(),
        )));
    }
    let dir = tempfile::Builder::new().prefix("cratemill-pristine-").tempdir()?;
    let copy = dir.path().join(format!("{crate_name}-{version}.crate"));
    write_new(&copy, &bytes).with_context(|| format!("writing {}", copy.display()))?;
    let limits = crate::crates_io::UnpackLimits::default();
    let root = crate::crates_io::unpack(&copy, dir.path(), crate_name, version, &limits)?;
    let again = super::prepare::prepare(&root)?;
    if again.steps != steps {
        return Err(tampered(format!(
            "preparing the source again recorded [{}] instead of [{}]: refusing to archive a source that is not what was built",
            again.steps.join("; "),
            steps.join("; ")
        )));
    }
    let tree = crate::untrusted::Tree::new(root.parent().unwrap_or(&root), crate::untrusted::deadline());
    super::prepare::apply_additions(&tree, &root, additions)?;
    Ok(Pristine { _dir: dir, root, crate_file: copy })
}

fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(bytes)
}

/// Append a regular file of at most `cap` bytes, streamed (no link followed, nothing read whole).
fn append_file<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    path: &Path,
    cap: u64,
    executable: bool,
) -> anyhow::Result<()> {
    let (file, size) = untrusted::open_regular(path, cap)?;
    let mut h = header(tar::EntryType::Regular, size, if executable { 0o755 } else { 0o644 });
    // The size in the header is the size read: a file that changed length fails the tar write.
    tar.append_data(&mut h, name, file.take(size)).with_context(|| format!("archiving {}", path.display()))?;
    Ok(())
}

fn append_bytes<W: Write>(tar: &mut tar::Builder<W>, name: &str, bytes: &[u8], executable: bool) -> anyhow::Result<()> {
    let mut h = header(tar::EntryType::Regular, bytes.len() as u64, if executable { 0o755 } else { 0o644 });
    tar.append_data(&mut h, name, bytes)?;
    Ok(())
}

/// Relative paths of everything under `dir` (folders included, so empty ones survive).
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let rel = path.strip_prefix(root).expect("under root").to_string_lossy().into_owned();
        let kind = entry.file_type()?;
        out.push(rel);
        if kind.is_dir() {
            walk(root, &path, out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(dir: &Path, out: &str) -> Vec<u8> {
        let crate_file = dir.join("x-1.0.0.crate");
        let log = dir.join("build.log");
        let info = serde_json::json!({"rustflags": "-C target-feature=+crt-static"});
        write(
            &dir.join(out),
            &Inputs {
                crate_name: "x",
                version: "1.0.0",
                crate_file: &crate_file,
                source_tree: &dir.join("src-tree"),
                resolved_lock: None,
                build_log: &log,
                build_info: &info,
            },
        )
        .unwrap();
        std::fs::read(dir.join(out)).unwrap()
    }

    #[test]
    fn pristine_refuses_a_crate_file_changed_during_the_build() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x-1.0.0.crate");
        std::fs::write(&file, b"rewritten by a build script").unwrap();
        let err = pristine(&file, &"0".repeat(64), ("x", "1.0.0"), &[], &[]).err().expect("refused");
        assert_eq!(crate::error::class_of(&err), Some(FailureClass::UnsafeArchive));
        assert!(err.to_string().contains("changed during the build"), "{err}");
    }

    #[test]
    fn same_input_same_bytes_and_readable() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("x-1.0.0.crate"), b"crate bytes").unwrap();
        std::fs::write(d.join("build.log"), b"[+0.001s] log\n").unwrap();
        std::fs::create_dir_all(d.join("src-tree/src")).unwrap();
        std::fs::write(d.join("src-tree/Cargo.toml"), "[package]\n").unwrap();
        std::fs::write(d.join("src-tree/src/main.rs"), "fn main(){}\n").unwrap();
        std::os::unix::fs::symlink("src/main.rs", d.join("src-tree/link")).unwrap();
        let a = make(d, "a.tar.zst");
        // Touch the files: mtimes change, bytes must not.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        std::fs::write(d.join("src-tree/src/main.rs"), "fn main(){}\n").unwrap();
        let b = make(d, "b.tar.zst");
        assert_eq!(a, b);

        let decoded = zstd::decode_all(&a[..]).unwrap();
        let mut archive = tar::Archive::new(&decoded[..]);
        let names: Vec<String> =
            archive.entries().unwrap().map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(
            names,
            [
                "x-1.0.0-srcbuild/x-1.0.0.crate",
                "x-1.0.0-srcbuild/build-info.json",
                "x-1.0.0-srcbuild/build.log",
                "x-1.0.0-srcbuild/source/Cargo.toml",
                "x-1.0.0-srcbuild/source/link",
                "x-1.0.0-srcbuild/source/src/",
                "x-1.0.0-srcbuild/source/src/main.rs",
            ]
        );
    }
}
