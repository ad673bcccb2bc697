//! Preparing an unpacked crate for a hermetic static build, the way the earlier public pipeline did,
//! with each step recorded in result.json:
//!
//! 1. remove `.cargo/` (crate-local cargo config can set linkers, runners, rustflags, registries);
//! 2. remove `rust-toolchain` / `rust-toolchain.toml` (would make rustup fetch another toolchain);
//! 3. remove `Cross.toml` (could name an arbitrary container image or pre-build commands for `cross`);
//! 4. build `--locked` first when a `Cargo.lock` ships (the versions the author tested);
//! 5. turn on vendoring features: the crate's own features named like `vendored`/`bundled`, and the
//!    vendoring feature of well-known `-sys`-wrapping direct dependencies (e.g. `openssl/vendored`);
//! 6. `OPENSSL_STATIC=1`, `PKG_CONFIG_ALL_STATIC=1` in the build environment (see `build_env`);
//! 7. remove every nested `.cargo/` folder (cargo config in a subfolder: linkers, runners, `[env]`);
//! 8. harden every `Cargo.toml` of the crate (`super::harden`: `cargo-features`, profile rustflags,
//!    `[patch]`, `[replace]`, path dependencies leaving the crate) and refuse sources that read host
//!    files at compile time (`include_str!("/abs")`, `#[path = "/abs"]`). A `Cargo.toml` that is a
//!    symbolic link is replaced by a regular copy of its target first (a link to a file inside the
//!    crate), so it is hardened like any other; one that points outside the crate or nowhere refuses it.
//!
//! The decision logic is pure ([`vendoring_features`], `super::harden`); [`prepare`] applies the
//! file edits. It is deterministic: the `-srcbuild-` archive re-runs it on a fresh unpack of the
//! verified `.crate` to get the source exactly as it was fed to the build.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;

use crate::crates_io::IndexDep;

/// Files and folders removed from the crate root before building.
pub const REMOVED: &[&str] = &[".cargo", "rust-toolchain", "rust-toolchain.toml", "Cross.toml"];

/// Direct dependencies whose vendoring feature cratemill turns on: (crate, feature).
pub const VENDORING: &[(&str, &str)] = &[
    ("openssl", "vendored"),
    ("openssl-sys", "vendored"),
    ("git2", "vendored-libgit2"),
    ("libgit2-sys", "vendored"),
    ("rusqlite", "bundled"),
    ("libsqlite3-sys", "bundled"),
    ("curl", "static-curl"),
    ("curl-sys", "static-curl"),
    ("libz-sys", "static"),
];

/// Environment variables that steer `-sys` crates toward static, vendored builds.
pub fn build_env() -> Vec<(String, String)> {
    [("OPENSSL_STATIC", "1"), ("PKG_CONFIG_ALL_STATIC", "1"), ("LIBZ_SYS_STATIC", "1")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Is this one of the crate's own features that vendors or bundles a native library?
pub fn is_vendoring_feature(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["vendored", "bundled"].iter().any(|w| {
        n == *w || n.starts_with(&format!("{w}-")) || n.ends_with(&format!("-{w}")) || n.starts_with(&format!("{w}_"))
    }) || n == "static-link"
        || n == "vendored-openssl"
}

/// The features to add to every attempt. Only features that exist: the crate's own (from the index)
/// and vendoring features of non-optional normal direct dependencies (an optional one would be
/// switched on by naming it).
pub fn vendoring_features(features: &BTreeMap<String, Vec<String>>, deps: &[IndexDep]) -> Vec<String> {
    let mut out: Vec<String> = features.keys().filter(|f| is_vendoring_feature(f)).cloned().collect();
    for dep in deps {
        let is_normal = dep.kind.as_deref().is_none_or(|k| k == "normal");
        if dep.optional || !is_normal || dep.target.is_some() {
            continue;
        }
        let real = dep.package.as_deref().unwrap_or(&dep.name);
        if let Some((_, feature)) = VENDORING.iter().find(|(c, _)| *c == real) {
            out.push(format!("{}/{feature}", dep.name));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// What [`prepare`] did and found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub steps: Vec<String>,
    pub has_lock: bool,
}

/// Source files larger than this are not scanned for compile-time reads (generated tables).
const MAX_SCANNED_SOURCE: u64 = 8 << 20;

/// Remove `path` if it is there: a folder with everything in it, anything else (a link included,
/// never followed) as itself. `true` when something was removed. I/O.
pub fn remove_entry(path: &Path) -> std::io::Result<bool> {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return Ok(false) };
    if meta.is_dir() {
        std::fs::remove_dir_all(path)?;
    } else {
        std::fs::remove_file(path)?;
    }
    Ok(true)
}

/// Apply the file steps to the unpacked crate at `root`. A crate that cannot be made safe is
/// refused with class `unsafe-archive`.
pub fn prepare(root: &Path) -> anyhow::Result<Prepared> {
    let mut steps = Vec::new();
    for name in REMOVED {
        if remove_entry(&root.join(name)).with_context(|| format!("removing {name} from the crate"))? {
            steps.push(format!("removed {name}"));
        }
    }
    let mut files = Vec::new();
    walk(root, Path::new(""), &mut files, &mut steps)?;
    for rel in files.iter().filter(|f| f.ends_with("Cargo.toml")) {
        harden_manifest_file(root, rel, &mut steps)?;
    }
    for rel in files.iter().filter(|f| f.ends_with(".rs")) {
        refuse_host_reads(root, rel)?;
    }
    let has_lock = root.join("Cargo.lock").is_file();
    steps.push(if has_lock {
        "Cargo.lock shipped: first attempt uses --locked".to_string()
    } else {
        "no Cargo.lock shipped: dependencies resolved fresh".to_string()
    });
    Ok(Prepared { steps, has_lock })
}

/// Remove the shipped `Cargo.lock` before an attempt that resolves fresh (idempotent). The
/// `-srcbuild-` archive still holds the shipped lock (its source is re-derived from the `.crate`) and,
/// beside it, the lock the build resolved.
pub fn set_lock_aside(root: &Path, log: &mut super::log::BuildLog) -> anyhow::Result<()> {
    let lock = root.join("Cargo.lock");
    if std::fs::symlink_metadata(&lock).is_ok() {
        std::fs::remove_file(&lock).context("setting the shipped Cargo.lock aside")?;
        log.note("prepare: shipped Cargo.lock set aside: this attempt resolves dependencies fresh");
    }
    Ok(())
}

fn unsafe_crate(why: impl std::fmt::Display) -> anyhow::Error {
    crate::error::classified(
        crate::error::Exit::Failed,
        crate::schema::result::FailureClass::UnsafeArchive,
        why.to_string(),
    )
}

/// Relative paths (`/`-separated) of the regular files under `root`, removing nested `.cargo/`
/// folders on the way (recorded in `steps`). Symlinks are neither followed nor listed.
fn walk(root: &Path, rel: &Path, files: &mut Vec<String>, steps: &mut Vec<String>) -> anyhow::Result<()> {
    let dir = root.join(rel);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("listing {}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let kind = entry.file_type()?;
        let child = rel.join(entry.file_name());
        let shown = child.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/");
        if entry.file_name() == ".cargo" {
            if kind.is_dir() { std::fs::remove_dir_all(entry.path()) } else { std::fs::remove_file(entry.path()) }
                .with_context(|| format!("removing {shown} from the crate"))?;
            steps.push(format!("removed {shown} (cargo config in a subfolder)"));
        } else if kind.is_dir() {
            walk(root, &child, files, steps)?;
        } else if kind.is_file() {
            files.push(shown);
        } else if kind.is_symlink() && entry.file_name() == "Cargo.toml" {
            replace_manifest_link(root, &shown)?;
            steps.push(format!("{shown}: a symbolic link, replaced by a copy of its target"));
            files.push(shown);
        }
    }
    Ok(())
}

/// Replace the manifest link `rel` by a regular file with its target's bytes, when the target is a
/// regular file inside the crate; refuse the crate otherwise (cargo would read a file it does not own).
fn replace_manifest_link(root: &Path, rel: &str) -> anyhow::Result<()> {
    let path = root.join(rel);
    let outside = || unsafe_crate(format!("{rel} is a symbolic link to a file outside the crate"));
    let real_root = std::fs::canonicalize(root).with_context(|| format!("resolving {}", root.display()))?;
    let target = std::fs::canonicalize(&path).map_err(|_| outside())?;
    if !target.starts_with(&real_root) {
        return Err(outside());
    }
    let bytes = crate::untrusted::read_regular(&target, crate::untrusted::DOCUMENT_CAP, crate::untrusted::deadline())
        .map_err(|e| unsafe_crate(format!("{rel} is a symbolic link: {e}")))?;
    std::fs::remove_file(&path).with_context(|| format!("replacing the link {rel}"))?;
    std::fs::write(&path, bytes).with_context(|| format!("replacing the link {rel}"))
}

/// Harden one `Cargo.toml` and write it back when anything changed. The root manifest must parse;
/// a nested one that does not is no manifest cargo would read.
fn harden_manifest_file(root: &Path, rel: &str, steps: &mut Vec<String>) -> anyhow::Result<()> {
    let path = root.join(rel);
    let bytes = crate::untrusted::read_regular(&path, crate::untrusted::DOCUMENT_CAP, crate::untrusted::deadline())
        .with_context(|| format!("reading {rel}"))?;
    let text = String::from_utf8(bytes).with_context(|| format!("reading {rel}"))?;
    let mut doc: toml::Table = match text.parse() {
        Ok(doc) => doc,
        Err(_) if rel != "Cargo.toml" => return Ok(()),
        Err(e) => return Err(anyhow::Error::new(e).context("parsing Cargo.toml")),
    };
    let edits = super::harden::harden_manifest(&mut doc, rel).map_err(unsafe_crate)?;
    if !edits.is_empty() {
        let text = toml::to_string(&doc).with_context(|| format!("writing the hardened {rel}"))?;
        std::fs::write(&path, text).with_context(|| format!("writing the hardened {rel}"))?;
        steps.extend(edits);
    }
    Ok(())
}

fn refuse_host_reads(root: &Path, rel: &str) -> anyhow::Result<()> {
    let path = root.join(rel);
    // Larger files (generated tables) are not scanned; unreadable ones are no source rustc reads.
    let Ok(bytes) = crate::untrusted::read_regular(&path, MAX_SCANNED_SOURCE, crate::untrusted::deadline()) else {
        return Ok(());
    };
    let Ok(text) = String::from_utf8(bytes) else { return Ok(()) };
    if let Some((line, read)) = super::harden::source_reads(rel, &text).into_iter().next() {
        let refusal = super::harden::Refusal::SourceReadOutside { file: rel.to_string(), line, path: read };
        return Err(unsafe_crate(refusal));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(name: &str, optional: bool) -> IndexDep {
        IndexDep {
            name: name.into(),
            package: None,
            req: "^1".into(),
            features: vec![],
            optional,
            default_features: true,
            target: None,
            kind: Some("normal".into()),
        }
    }

    #[test]
    fn vendoring_features_from_index_data() {
        let features: BTreeMap<String, Vec<String>> =
            ["vendored-openssl", "bundled", "default", "static", "openssl-vendored", "unvendored"]
                .iter()
                .map(|f| (f.to_string(), vec![]))
                .collect();
        let deps = vec![dep("openssl", false), dep("rusqlite", true), dep("serde", false)];
        assert_eq!(
            vendoring_features(&features, &deps),
            ["bundled", "openssl-vendored", "openssl/vendored", "vendored-openssl"]
        );
    }

    #[test]
    fn renamed_dependency_uses_its_local_name() {
        let mut d = dep("ssl", false);
        d.package = Some("openssl".into());
        assert_eq!(vendoring_features(&BTreeMap::new(), &[d]), ["ssl/vendored"]);
    }

    #[test]
    fn removes_toolchain_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join(".cargo")).unwrap();
        std::fs::write(root.join(".cargo/config.toml"), "[build]\nrustflags=['-Cevil']").unwrap();
        std::fs::write(root.join("rust-toolchain.toml"), "[toolchain]\nchannel='1.10'").unwrap();
        std::fs::write(root.join("Cargo.lock"), "").unwrap();
        let p = prepare(root).unwrap();
        assert!(p.has_lock);
        assert!(!root.join(".cargo").exists() && !root.join("rust-toolchain.toml").exists());
        assert_eq!(p.steps[..2], ["removed .cargo", "removed rust-toolchain.toml"]);
    }

    #[test]
    fn nested_cargo_config_and_manifest_overrides_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("sub/.cargo")).unwrap();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("sub/.cargo/config.toml"), "[target.x86_64-unknown-linux-gnu]\nlinker='/tmp/evil'")
            .unwrap();
        std::fs::write(
            root.join("Cargo.toml"),
            "cargo-features = ['profile-rustflags']\n[package]\nname='x'\nversion='1.0.0'\n[profile.release]\nrustflags=['-Clinker=/tmp/evil']\n",
        )
        .unwrap();
        std::fs::write(root.join("src/main.rs"), "fn main() {}\n").unwrap();
        let p = prepare(root).unwrap();
        assert!(!root.join("sub/.cargo").exists());
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        assert!(!manifest.contains("rustflags") && !manifest.contains("cargo-features"), "{manifest}");
        assert!(p.steps.contains(&"removed sub/.cargo (cargo config in a subfolder)".to_string()), "{:?}", p.steps);
        assert!(p.steps.contains(&"Cargo.toml: stripped profile.release.rustflags".to_string()), "{:?}", p.steps);
    }

    #[test]
    fn a_manifest_that_is_a_link_is_hardened_as_a_copy_or_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("x-1.0.0");
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(
            root.join("real.toml"),
            "cargo-features = ['profile-rustflags']\n[package]\nname='x'\nversion='1.0.0'\n[profile.release]\nrustflags=['-Clinker=/tmp/evil']\n",
        )
        .unwrap();
        std::os::unix::fs::symlink("real.toml", root.join("Cargo.toml")).unwrap();
        std::fs::write(root.join("src/main.rs"), "fn main() {}\n").unwrap();
        let p = prepare(&root).unwrap();
        let meta = std::fs::symlink_metadata(root.join("Cargo.toml")).unwrap();
        assert!(meta.file_type().is_file(), "the link was replaced by a regular file");
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        assert!(!manifest.contains("rustflags") && !manifest.contains("cargo-features"), "{manifest}");
        assert!(p.steps.contains(&"Cargo.toml: a symbolic link, replaced by a copy of its target".to_string()));

        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", root.join("sub/Cargo.toml")).unwrap();
        let err = prepare(&root).unwrap_err();
        assert_eq!(crate::error::class_of(&err), Some(crate::schema::result::FailureClass::UnsafeArchive));
        assert!(err.to_string().contains("sub/Cargo.toml is a symbolic link to a file outside the crate"), "{err}");
    }

    #[test]
    fn host_file_reads_are_refused_as_unsafe() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("Cargo.toml"), "[package]\nname='x'\nversion='1.0.0'\n").unwrap();
        std::fs::write(root.join("src/main.rs"), "fn main() { print!(\"{}\", include_str!(\"/etc/hostname\")); }\n")
            .unwrap();
        let err = prepare(root).unwrap_err();
        assert_eq!(crate::error::class_of(&err), Some(crate::schema::result::FailureClass::UnsafeArchive));
        assert!(err.to_string().contains("src/main.rs:1 reads `/etc/hostname`"), "{err}");
    }
}
