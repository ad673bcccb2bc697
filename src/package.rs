//! The package folder: its layout, its `CHECKSUMS` file, and the check that a folder is complete and
//! untampered before anything publishes it.
//!
//! Layout (see docs/package-format.md):
//! ```text
//! <out>/result.json                                  the job's outcome (always)
//! <out>/build.log                                    the timestamped build log (always)
//! <out>/bin/<exe>                                    each static executable (built only)
//! <out>/licenses/<file>                              license files of the crate (built only)
//! <out>/licenses/THIRD-PARTY-NOTICES.txt             every compiled package's license (built only)
//! <out>/licenses/third-party.json                    the same, machine-readable (built only)
//! <out>/sbom.cdx.json                                CycloneDX 1.6 SBOM (built only)
//! <out>/srcbuild/<crate>-<version>-srcbuild.tar.zst  the exact source compiled (built only)
//! <out>/CHECKSUMS                                    sha256 + blake3 of every other file (built only)
//! ```
//! A failed job leaves only `result.json` and `build.log`: nothing that looks publishable.
//!
//! A package folder is untrusted input to `publish` (it may come from a zip artifact a hostile build
//! job uploaded): every file is read through [`crate::untrusted`] (a regular file, no link, under
//! a cap), so a FIFO hangs nothing and a link to `/dev/zero` or a 3 GiB sparse file is refused
//! before a byte is read. Rendering and parsing `CHECKSUMS` are pure; the rest is the I/O edge.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::Digest;

use crate::error::usage;
use crate::schema::result::{BuildResult, Status};

pub const RESULT_FILE: &str = "result.json";
pub const LOG_FILE: &str = "build.log";
pub const CHECKSUMS_FILE: &str = "CHECKSUMS";
pub const BIN_DIR: &str = "bin";
pub const LICENSES_DIR: &str = "licenses";
pub const SRCBUILD_DIR: &str = "srcbuild";
/// The third-party notice of a built package (every compiled package's license texts).
pub const NOTICE_FILE: &str = "licenses/THIRD-PARTY-NOTICES.txt";
/// The CycloneDX SBOM of a built package.
pub const SBOM_FILE: &str = "sbom.cdx.json";
/// Written by `cratemill publish` after the package was checked; not part of the package itself.
pub const PUBLISH_FILE: &str = "publish.json";
const CHECKSUMS_HEADER: &str =
    "# cratemill CHECKSUMS v1: sha256 and blake3 of every file of this package, paths relative to it";

/// The largest file of a package `publish` and `attest` read by default, in MiB (publish's
/// `--max-layer-mib`): over any static executable or source archive cratemill makes, under what a
/// hostile package folder could make a runner push (a sparse multi-GiB `build.log`).
pub const DEFAULT_MAX_FILE_MIB: u64 = 1024;

/// A plain file name: not empty, not `.`/`..`, no `/`, `\`, NUL or other control characters
/// (terminal escape sequences, CR), at most 255 bytes.
pub fn valid_file_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 255
        && !name.chars().any(|c| c == '/' || c == '\\' || c.is_control())
}

/// The one rule for an executable's name, in `bin/<name>` of a package: what `publish` pushes and
/// `install` writes and prints. A plain file name ([`valid_file_name`]) that is not hidden (a
/// build's collection skips dot files, so no package has one).
pub fn valid_executable_name(name: &str) -> bool {
    valid_file_name(name) && !name.starts_with('.')
}

/// The name of the source archive inside `srcbuild/`.
pub fn srcbuild_file_name(crate_name: &str, version: &str) -> String {
    format!("{crate_name}-{version}-srcbuild.tar.zst")
}

/// Digests of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigests {
    pub size: u64,
    pub sha256: String,
    pub blake3: String,
}

/// sha256 and blake3 of a regular file (never through a link), streamed.
pub fn digest_file(path: &Path) -> std::io::Result<FileDigests> {
    digest_capped(path, u64::MAX)
}

/// [`digest_file`] of a file of at most `cap` bytes: a larger one is refused before it is read.
pub fn digest_capped(path: &Path, cap: u64) -> std::io::Result<FileDigests> {
    let (mut file, _) = crate::untrusted::open_regular(path, cap)?;
    let mut sha = sha2::Sha256::new();
    let mut b3 = blake3::Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        b3.update(&buf[..n]);
        size += n as u64;
        if size > cap {
            return Err(crate::untrusted::refused(path, crate::untrusted::Refusal::Grew { cap }));
        }
    }
    Ok(FileDigests { size, sha256: hex::encode(sha.finalize()), blake3: b3.finalize().to_hex().to_string() })
}

/// Render `CHECKSUMS` for the given files (relative path -> digests). BSD-tagged lines, which
/// `sha256sum -c` reads (it warns about, and skips, the BLAKE3 lines).
pub fn render_checksums(files: &BTreeMap<String, FileDigests>) -> String {
    let mut out = String::from(CHECKSUMS_HEADER);
    out.push('\n');
    for (path, d) in files {
        out.push_str(&format!("SHA256 ({path}) = {}\n", d.sha256));
    }
    for (path, d) in files {
        out.push_str(&format!("BLAKE3 ({path}) = {}\n", d.blake3));
    }
    out
}

/// Parse `CHECKSUMS` into relative path -> (sha256, blake3).
pub fn parse_checksums(text: &str) -> anyhow::Result<BTreeMap<String, (String, String)>> {
    let mut sha: BTreeMap<String, String> = BTreeMap::new();
    let mut b3: BTreeMap<String, String> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let parsed = (|| {
            let (algo, rest) = line.split_once(" (")?;
            let (path, hexdigest) = rest.rsplit_once(") = ")?;
            Some((algo, path.to_string(), hexdigest.to_string()))
        })();
        let Some((algo, path, digest)) = parsed else {
            anyhow::bail!("CHECKSUMS line {} is malformed", n + 1);
        };
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            anyhow::bail!("CHECKSUMS line {} has a malformed digest", n + 1);
        }
        match algo {
            "SHA256" => sha.insert(path, digest),
            "BLAKE3" => b3.insert(path, digest),
            other => anyhow::bail!("CHECKSUMS line {} uses unknown algorithm {other}", n + 1),
        };
    }
    let mut out = BTreeMap::new();
    for (path, s) in sha {
        let b = b3.remove(&path).with_context(|| format!("CHECKSUMS lists no BLAKE3 for {path}"))?;
        out.insert(path, (s, b));
    }
    if let Some(path) = b3.keys().next() {
        anyhow::bail!("CHECKSUMS lists no SHA256 for {path}");
    }
    Ok(out)
}

/// Every regular file under `dir`, as sorted relative paths with `/` separators.
pub fn list_files(dir: &Path) -> anyhow::Result<Vec<String>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> anyhow::Result<()> {
        for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
            let entry = entry?;
            let kind = entry.file_type()?;
            let path = entry.path();
            if kind.is_dir() {
                walk(root, &path, out)?;
            } else if kind.is_file() {
                let rel = path.strip_prefix(root).expect("walk stays under root");
                let rel = rel.to_str().with_context(|| format!("non-UTF-8 file name {}", rel.display()))?;
                out.push(rel.replace(std::path::MAIN_SEPARATOR, "/"));
            } else {
                anyhow::bail!("{} is neither a file nor a folder", path.display());
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// Write `CHECKSUMS` for every file now in the package folder; returns the digests.
pub fn write_checksums(dir: &Path) -> anyhow::Result<BTreeMap<String, FileDigests>> {
    let mut digests = BTreeMap::new();
    for rel in list_files(dir)? {
        if rel == CHECKSUMS_FILE || rel == PUBLISH_FILE {
            continue;
        }
        let d = digest_file(&dir.join(&rel)).with_context(|| format!("hashing {rel}"))?;
        digests.insert(rel, d);
    }
    crate::schema::write_atomic(&dir.join(CHECKSUMS_FILE), render_checksums(&digests).as_bytes())?;
    Ok(digests)
}

/// One file of a verified package.
#[derive(Debug, Clone)]
pub struct PackageFile {
    /// Relative path with `/` separators (`bin/rg`).
    pub path: String,
    pub abs: PathBuf,
    pub digests: FileDigests,
}

/// A package folder that passed [`verify`]: built, complete, and matching its `CHECKSUMS`.
#[derive(Debug, Clone)]
pub struct VerifiedPackage {
    pub dir: PathBuf,
    pub result: BuildResult,
    /// Every file except `CHECKSUMS`, sorted by path.
    pub files: Vec<PackageFile>,
    pub checksums: PackageFile,
}

impl VerifiedPackage {
    pub fn file(&self, rel: &str) -> Option<&PackageFile> {
        self.files.iter().find(|f| f.path == rel)
    }

    /// The `-srcbuild-` archive, when the package has one.
    pub fn srcbuild(&self) -> Option<&PackageFile> {
        let name = srcbuild_file_name(&self.result.crate_name, &self.result.version);
        self.file(&format!("{SRCBUILD_DIR}/{name}"))
    }
}

/// `result.json` (a built result) and the text of `CHECKSUMS`, read as untrusted files.
fn read_result_and_checksums(dir: &Path) -> anyhow::Result<(BuildResult, String)> {
    use crate::untrusted::{deadline, read_regular, CHECKSUMS_CAP, RESULT_CAP};
    let shown = dir.display();
    let not_package = |e: &dyn std::fmt::Display| usage(format!("{shown} is not a package folder: {e}"));
    let result_bytes = read_regular(&dir.join(RESULT_FILE), RESULT_CAP, deadline()).map_err(|e| not_package(&e))?;
    let result: BuildResult =
        crate::schema::parse(&result_bytes).map_err(|e| not_package(&crate::error::one_line(&e)))?;
    if result.status != Status::Built {
        return Err(usage(format!(
            "{shown} holds a failed build of {}@{} ({}): there is nothing to publish",
            result.crate_name, result.version, result.target
        )));
    }
    let text = match read_regular(&dir.join(CHECKSUMS_FILE), CHECKSUMS_CAP, deadline()) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| usage(format!("{shown}/{CHECKSUMS_FILE} is not UTF-8")))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(usage(format!(
                "{shown} has no {CHECKSUMS_FILE} file: refusing to publish an unverified package"
            )))
        }
        Err(e) => return Err(usage(format!("{e}: refusing to publish"))),
    };
    Ok((result, text))
}

/// [`verify_capped`] with the default cap on a file's size ([`DEFAULT_MAX_FILE_MIB`]).
pub fn verify(dir: &Path) -> anyhow::Result<VerifiedPackage> {
    verify_capped(dir, DEFAULT_MAX_FILE_MIB * crate::untrusted::MIB)
}

/// Check a package folder before publishing it: `result.json` says built, every file listed in
/// `CHECKSUMS` exists with the listed digests, no file is unlisted, no file is larger than
/// `max_file` bytes (publish's `--max-layer-mib`), and every executable in `result.json` is present
/// with its recorded sha256. Any problem is a usage error naming it.
pub fn verify_capped(dir: &Path, max_file: u64) -> anyhow::Result<VerifiedPackage> {
    let shown = dir.display();
    if !dir.is_dir() {
        return Err(usage(format!("package folder {shown} does not exist")));
    }
    let (result, text) = read_result_and_checksums(dir)?;
    let listed = parse_checksums(&text).map_err(|e| usage(format!("{shown}/{CHECKSUMS_FILE}: {e}")))?;
    // A symlink, socket or device in the folder is nothing `build` writes: bad input, not a bug.
    let present =
        list_files(dir).map_err(|e| usage(format!("{shown}: {}: refusing to publish", crate::error::one_line(&e))))?;
    let mut files = Vec::new();
    for rel in &present {
        if rel == CHECKSUMS_FILE || rel == PUBLISH_FILE {
            continue;
        }
        let Some((sha, b3)) = listed.get(rel) else {
            return Err(usage(format!("{shown}/{rel} is not listed in {CHECKSUMS_FILE}: refusing to publish")));
        };
        let abs = dir.join(rel);
        let digests = digest_capped(&abs, max_file)
            .map_err(|e| usage(format!("{e}: refusing to publish (a layer's size is capped by --max-layer-mib)")))?;
        if &digests.sha256 != sha || &digests.blake3 != b3 {
            return Err(usage(format!(
                "{shown}/{rel} does not match its checksum in {CHECKSUMS_FILE}: refusing to publish"
            )));
        }
        files.push(PackageFile { path: rel.clone(), abs, digests });
    }
    if let Some(missing) = listed.keys().find(|p| !present.contains(p)) {
        return Err(usage(format!("{shown}/{missing} is listed in {CHECKSUMS_FILE} but missing: refusing to publish")));
    }
    for exe in &result.executables {
        match files.iter().find(|f| f.path == exe.path) {
            Some(f) if f.digests.sha256 == exe.sha256 => {}
            Some(_) => {
                return Err(usage(format!("{shown}/{} does not match result.json: refusing to publish", exe.path)))
            }
            None => {
                return Err(usage(format!(
                    "{shown}/{} (an executable in result.json) is missing: refusing to publish",
                    exe.path
                )))
            }
        }
    }
    if result.executables.is_empty() {
        return Err(usage(format!("{shown} has no executables: refusing to publish")));
    }
    let checksums_path = dir.join(CHECKSUMS_FILE);
    let checksums = PackageFile {
        path: CHECKSUMS_FILE.to_string(),
        digests: digest_capped(&checksums_path, crate::untrusted::CHECKSUMS_CAP)?,
        abs: checksums_path,
    };
    Ok(VerifiedPackage { dir: dir.to_path_buf(), result, files, checksums })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_roundtrip() {
        let mut files = BTreeMap::new();
        files.insert("bin/a".to_string(), FileDigests { size: 1, sha256: "a".repeat(64), blake3: "b".repeat(64) });
        let text = render_checksums(&files);
        let parsed = parse_checksums(&text).unwrap();
        assert_eq!(parsed["bin/a"], ("a".repeat(64), "b".repeat(64)));
    }

    #[test]
    fn a_symlink_in_the_folder_is_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let r = BuildResult::new("x", "1.0.0", "x86_64-unknown-linux-musl", crate::schema::Backend::Cargo);
        let r = BuildResult { status: Status::Built, ..r };
        crate::schema::write(&dir.path().join(RESULT_FILE), &r).unwrap();
        std::fs::write(dir.path().join(CHECKSUMS_FILE), "").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("build.log")).unwrap();
        let err = verify(dir.path()).unwrap_err();
        assert_eq!(crate::error::exit_of(&err), crate::error::Exit::Usage, "{err}");
        assert!(crate::error::one_line(&err).contains("neither a file nor a folder"), "{err}");
    }

    #[test]
    fn executable_names_are_plain_visible_file_names() {
        for bad in ["", ".", "..", "../x", "a/b", ".hidden", "a\x1b[2Jb", "x\ry", "x\u{9b}y", &"n".repeat(256)] {
            assert!(!valid_executable_name(bad), "{bad:?}");
        }
        assert!(valid_executable_name("rg") && valid_executable_name("cargo-binstall"));
        assert!(valid_file_name(".hidden"));
    }

    #[test]
    fn malformed_checksums_are_rejected() {
        assert!(parse_checksums("SHA256 (x) = 123\n").is_err());
        assert!(parse_checksums(&format!("SHA256 (x) = {}\n", "a".repeat(64))).is_err(), "missing blake3");
        assert!(parse_checksums("garbage\n").is_err());
    }
}
