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
//! After a failure, the attempt ladder may add a `-sys` crate of the lock graph as a pinned direct
//! dependency with its vendoring feature ([`plan_addition`], [`add_dependency`]; [`VENDORING`] is the
//! one table of vendoring features); the `-srcbuild-` archive replays that with [`apply_additions`].
//!
//! The decision logic is pure ([`vendoring_features`], [`plan_addition`], [`add_dependency`],
//! `super::harden`); [`prepare`] and [`apply_additions`] apply the file edits. It is deterministic: the `-srcbuild-` archive re-runs it on a fresh unpack of the
//! verified `.crate` to get the source exactly as it was fed to the build.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;

use crate::crates_io::IndexDep;
use crate::schema::result::ManifestAddition;

/// Files and folders removed from the crate root before building.
pub const REMOVED: &[&str] = &[".cargo", "rust-toolchain", "rust-toolchain.toml", "Cross.toml"];

/// A crate's feature that builds its native library from source instead of finding it on the
/// system. One row of [`VENDORING`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vendoring {
    pub krate: &'static str,
    pub feature: &'static str,
    /// The native library it links (`-lNAME`, pkg-config's name), for a `-sys` crate.
    pub library: Option<&'static str>,
    /// What building it needs on the builder, besides a C compiler.
    pub needs: &'static str,
}

const fn row(
    krate: &'static str,
    feature: &'static str,
    library: Option<&'static str>,
    needs: &'static str,
) -> Vendoring {
    Vendoring { krate, feature, library, needs }
}

/// The one vendoring table (docs/builder-environment.md, "Vendored system libraries", mirrors it).
/// A non-optional direct dependency named here gets its feature on every attempt
/// ([`vendoring_features`]); a `-sys` crate named here that a failure names and the lock graph holds
/// gets it through a direct dependency added to the manifest ([`plan_addition`]). A `-sys` crate not
/// named here qualifies through a feature named exactly `vendored` or `bundled`.
pub const VENDORING: &[Vendoring] = &[
    row("openssl", "vendored", None, "perl, make"),
    row("openssl-sys", "vendored", Some("ssl"), "perl, make"),
    row("git2", "vendored-libgit2", None, "-"),
    row("libgit2-sys", "vendored", Some("git2"), "-"),
    row("libssh2-sys", "vendored-openssl", Some("ssh2"), "perl, make"),
    row("rusqlite", "bundled", None, "-"),
    row("libsqlite3-sys", "bundled", Some("sqlite3"), "-"),
    row("curl", "static-curl", None, "-"),
    row("curl-sys", "static-curl", Some("curl"), "-"),
    row("libz-sys", "static", Some("z"), "-"),
    row("lzma-sys", "static", Some("lzma"), "-"),
    row("bzip2-sys", "static", Some("bz2"), "-"),
    row("pq-sys", "bundled", Some("pq"), "-"),
    row("mysqlclient-sys", "bundled", Some("mysqlclient"), "cmake, a C++ compiler"),
];

/// Features of a `-sys` crate outside [`VENDORING`] that build its library from source.
const CONVENTIONAL: &[&str] = &["vendored", "bundled"];

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
        if let Some(v) = VENDORING.iter().find(|v| v.krate == real) {
            out.push(format!("{}/{}", dep.name, v.feature));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The registry packages of a `Cargo.lock`: (name, version). Pure.
pub fn locked_packages(lock: &str) -> Vec<(String, String)> {
    let Ok(doc) = lock.parse::<toml::Table>() else { return Vec::new() };
    let Some(packages) = doc.get("package").and_then(|p| p.as_array()) else { return Vec::new() };
    let field = |p: &toml::Value, k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_string);
    packages
        .iter()
        .filter(|p| field(p, "source").is_some_and(|s| s.starts_with("registry+") || s.starts_with("sparse+")))
        .filter_map(|p| Some((field(p, "name")?, field(p, "version")?)))
        .collect()
}

/// The feature names of a manifest's `[features]`. Pure.
pub fn manifest_features(manifest: &str) -> Vec<String> {
    let doc = manifest.parse::<toml::Table>().unwrap_or_default();
    doc.get("features").and_then(|f| f.as_table()).map(|t| t.keys().cloned().collect()).unwrap_or_default()
}

/// The crates a failure names as the failing `-sys` crate: its summary's `NAME:` prefix, cargo's
/// `custom build command for `NAME vX``, pkg-config's `required by crate `NAME``, and the `-sys`
/// crate of [`VENDORING`] whose library the summary names (`'ssl'`, `-lssl`, or `libssl.so.3` that
/// an executable needs). Pure.
pub fn named_sys_crates(summary: &str, evidence: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let lines = std::iter::once(summary).chain(evidence.iter().map(String::as_str));
    for line in lines {
        for marker in ["custom build command for `", "required by crate `"] {
            if let Some((_, rest)) = line.split_once(marker) {
                out.extend(rest.split([' ', '`']).next().map(str::to_string));
            }
        }
    }
    out.extend(summary.split_once(": ").map(|(name, _)| name.to_string()));
    for v in VENDORING.iter() {
        let Some(lib) = v.library else { continue };
        // pkg-config's `'ssl'`, the linker's `-lssl`, or an executable that needs `libssl.so.3`.
        let so = format!("lib{lib}.so");
        if summary.contains(&format!("'{lib}'"))
            || summary.contains(&format!("-l{lib}"))
            || summary.split([' ', ',', ';']).any(|w| w.starts_with(&so))
        {
            out.push(v.krate.to_string());
        }
    }
    out.retain(|n| n.ends_with("-sys"));
    out.dedup();
    out
}

/// The dependency to add after a failure naming `failing` crates: the first that the lock graph
/// holds in exactly one version, with a vendoring feature ([`VENDORING`], else a feature in
/// `CONVENTIONAL` among `features_of(name, version)`), not added already. Pure.
pub fn plan_addition(
    failing: &[String],
    locked: &[(String, String)],
    features_of: &dyn Fn(&str, &str) -> Vec<String>,
    done: &[ManifestAddition],
) -> Option<ManifestAddition> {
    failing.iter().find_map(|name| {
        let mut versions = locked.iter().filter(|(n, _)| n == name).map(|(_, v)| v);
        let (Some(version), None) = (versions.next(), versions.next()) else { return None };
        let feature = match VENDORING.iter().find(|v| v.krate == name) {
            Some(v) => v.feature.to_string(),
            None => features_of(name, version).into_iter().find(|f| CONVENTIONAL.contains(&f.as_str()))?,
        };
        let addition = ManifestAddition {
            package: name.clone(),
            version: version.clone(),
            features: vec![feature],
            reason: String::new(),
        };
        (!done.iter().any(|d| d.package == addition.package)).then_some(addition)
    })
}

/// `manifest` with `addition` as a direct dependency (`NAME = { version = "=V", features = [..] }`
/// in `[dependencies]`); an error when the crate already has a dependency of that name there. Pure.
pub fn add_dependency(manifest: &str, addition: &ManifestAddition) -> anyhow::Result<String> {
    let mut doc: toml::Table = manifest.parse().context("parsing Cargo.toml")?;
    let deps = doc.entry("dependencies").or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let deps = deps.as_table_mut().context("`dependencies` in Cargo.toml is not a table")?;
    if deps.contains_key(&addition.package) {
        anyhow::bail!("{} is a direct dependency already", addition.package);
    }
    let mut dep = toml::Table::new();
    dep.insert("version".into(), toml::Value::String(format!("={}", addition.version)));
    let features = addition.features.iter().map(|f| toml::Value::String(f.clone())).collect();
    dep.insert("features".into(), toml::Value::Array(features));
    deps.insert(addition.package.clone(), toml::Value::Table(dep));
    toml::to_string(&doc).context("writing Cargo.toml")
}

/// Add `additions` to the crate's `Cargo.toml` at `root` (the build's copy, and the `-srcbuild-`
/// archive's pristine one, which must come out the same). I/O.
/// `tree` is the folder crate code could write (the work folder, or the pristine unpack): the
/// manifest is read through it (regular, no link on the way, capped, inside its deadline) and
/// replaced, never written through: whatever is at the path is removed and a new file created.
pub fn apply_additions(
    tree: &crate::untrusted::Tree,
    root: &Path,
    additions: &[ManifestAddition],
) -> anyhow::Result<()> {
    let path = root.join("Cargo.toml");
    for addition in additions {
        let bytes = tree
            .read(&path, crate::untrusted::DOCUMENT_CAP)
            .context("reading Cargo.toml")?
            .context("Cargo.toml is gone")?;
        let text = add_dependency(&String::from_utf8(bytes).context("reading Cargo.toml")?, addition)?;
        remove_entry(&path).context("replacing Cargo.toml")?;
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
        std::io::Write::write_all(&mut file, text.as_bytes()).context("writing Cargo.toml")?;
    }
    Ok(())
}

/// The `prepare` step recorded for `addition`.
pub fn addition_step(addition: &ManifestAddition) -> String {
    format!(
        "Cargo.toml: added {} = {{ version = \"={}\", features = [\"{}\"] }} (vendoring through feature unification)",
        addition.package,
        addition.version,
        addition.features.join("\", \"")
    )
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
    fn a_failing_sys_crate_in_the_lock_graph_is_added_pinned_with_its_vendoring_feature() {
        let lock = "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n\n\
                    [[package]]\nname = \"fakeffi-sys\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n\
                    [[package]]\nname = \"openssl-sys\"\nversion = \"0.9.55\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
        let locked = locked_packages(lock);
        assert_eq!(locked.len(), 2, "the root package is not from a registry: {locked:?}");
        let features = |name: &str, _: &str| if name == "fakeffi-sys" { vec!["vendored".to_string()] } else { vec![] };
        let failing = named_sys_crates("fakeffi-sys: could not find system library 'fakeffi' (pkg-config)", &[]);
        let a = plan_addition(&failing, &locked, &features, &[]).unwrap();
        assert_eq!(
            (a.package.as_str(), a.version.as_str(), a.features.as_slice()),
            ("fakeffi-sys", "1.0.0", &["vendored".to_string()][..])
        );
        assert_eq!(plan_addition(&failing, &locked, &features, std::slice::from_ref(&a)), None, "added once");
        // A table crate found by the library an executable needs (not-static), and only that one.
        let failing = named_sys_crates("not statically linked: app needs libssl.so.3, libc.so.6", &[]);
        assert_eq!(failing, ["openssl-sys"]);
        assert_eq!(named_sys_crates("not statically linked: app needs libzstd.so.1", &[]), Vec::<String>::new());
        assert_eq!(
            named_sys_crates("not statically linked: a needs libz.so.1; b needs libsqlite3.so.0", &[]),
            ["libsqlite3-sys", "libz-sys"]
        );
        // A table crate found by the library the linker missed.
        let failing = named_sys_crates("app: the linker could not find library -lssl", &[]);
        assert_eq!(plan_addition(&failing, &locked, &features, &[]).unwrap().features, ["vendored"]);
        let manifest = "[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n[dependencies]\nmid = \"1\"\n";
        let added: toml::Table = add_dependency(manifest, &a).unwrap().parse().unwrap();
        let dep = &added["dependencies"]["fakeffi-sys"];
        assert_eq!(dep["version"].as_str(), Some("=1.0.0"));
        assert_eq!(dep["features"].as_array().unwrap()[0].as_str(), Some("vendored"));
        assert!(add_dependency(&toml::to_string(&added).unwrap(), &a).is_err(), "a direct dependency already");
        assert_eq!(
            addition_step(&a),
            "Cargo.toml: added fakeffi-sys = { version = \"=1.0.0\", features = [\"vendored\"] } (vendoring through feature unification)"
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
