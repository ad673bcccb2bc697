//! Preparing an unpacked crate for a hermetic static build, the way the earlier public pipeline did,
//! with each step recorded in result.json:
//!
//! 1. remove `.cargo/` (crate-local cargo config can set linkers, runners, rustflags, registries);
//! 2. remove `rust-toolchain` / `rust-toolchain.toml` (would make rustup fetch another toolchain);
//! 3. remove `Cross.toml` (could name an arbitrary container image or pre-build commands for `cross`);
//! 4. build `--locked` first when a `Cargo.lock` ships (the versions the author tested);
//! 5. turn on vendoring features: the crate's own features named like `vendored`/`bundled`, and the
//!    vendoring feature of well-known `-sys`-wrapping direct dependencies (e.g. `openssl/vendored`);
//! 6. `OPENSSL_STATIC=1`, `PKG_CONFIG_ALL_STATIC=1` in the build environment (see `build_env`).
//!
//! The decision logic is pure ([`vendoring_features`]); [`prepare`] applies the file removals.

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

/// Apply the file steps to the unpacked crate at `root`.
pub fn prepare(root: &Path) -> anyhow::Result<Prepared> {
    let mut steps = Vec::new();
    for name in REMOVED {
        let path = root.join(name);
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        if meta.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) }
            .with_context(|| format!("removing {name} from the crate"))?;
        steps.push(format!("removed {name}"));
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
}
