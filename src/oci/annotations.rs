//! Manifest annotations: the standard `org.opencontainers.image.*` keys and cratemill's own
//! `io.cratemill.*` keys, computed from `result.json` alone so the same package always yields the
//! same manifest bytes (and re-publishing is a no-op). Pure logic.

use std::collections::BTreeMap;

use crate::schema::result::BuildResult;

pub const TITLE: &str = "org.opencontainers.image.title";
pub const DESCRIPTION: &str = "org.opencontainers.image.description";
pub const VERSION: &str = "org.opencontainers.image.version";
pub const LICENSES: &str = "org.opencontainers.image.licenses";
pub const CREATED: &str = "org.opencontainers.image.created";
pub const SOURCE: &str = "org.opencontainers.image.source";
pub const REVISION: &str = "org.opencontainers.image.revision";
pub const URL: &str = "org.opencontainers.image.url";
/// The tag of a manifest in an OCI image layout's `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

pub const CRATE: &str = "io.cratemill.crate";
pub const CRATE_VERSION: &str = "io.cratemill.version";
pub const TARGET: &str = "io.cratemill.target";
pub const BUILD_ID: &str = "io.cratemill.build-id";
pub const CRATEMILL_VERSION: &str = "io.cratemill.cratemill-version";
/// Comma-separated executable names, in `result.json` order.
pub const EXECUTABLES: &str = "io.cratemill.executables";
/// The `-srcbuild-` reference and its manifest digest (on the binary manifest).
pub const SRCBUILD: &str = "io.cratemill.srcbuild";
pub const SRCBUILD_DIGEST: &str = "io.cratemill.srcbuild.digest";
/// The `-srcbuild-` tag alone: same repository, so it survives copying the artifacts elsewhere.
pub const SRCBUILD_TAG: &str = "io.cratemill.srcbuild.tag";
/// On layers: the executable's name (on `bin/*` layers).
pub const EXECUTABLE: &str = "io.cratemill.executable";

/// `io.cratemill.executable.<name>.sha256`: the sha256 (hex) of one executable.
pub fn executable_sha256_key(name: &str) -> String {
    format!("io.cratemill.executable.{name}.sha256")
}

/// The crates.io page of a version.
pub fn crates_io_url(crate_name: &str, version: &str) -> String {
    format!("https://crates.io/crates/{crate_name}/{version}")
}

/// Annotations shared by the binary and the source archive.
fn common(result: &BuildResult, build_id: &str) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    let meta = result.package.clone().unwrap_or_default();
    let mut put = |k: &str, v: String| {
        if !v.is_empty() {
            a.insert(k.to_string(), v);
        }
    };
    put(VERSION, result.version.clone());
    put(CREATED, result.finished_at.clone());
    put(URL, crates_io_url(&result.crate_name, &result.version));
    put(SOURCE, meta.repository.clone().unwrap_or_else(|| format!("https://crates.io/crates/{}", result.crate_name)));
    put(LICENSES, result.licenses.declared.clone().or(meta.license.clone()).unwrap_or_default());
    put(DESCRIPTION, meta.description.clone().map(|d| crate::error::squash(&d)).unwrap_or_default());
    // crates.io identifies a published source by the sha256 of its .crate (a git revision, when
    // present in .cargo_vcs_info.json, is the publisher's claim and not verified).
    put(REVISION, result.source.as_ref().map(|s| format!("sha256:{}", s.crate_sha256)).unwrap_or_default());
    put(CRATE, result.crate_name.clone());
    put(CRATE_VERSION, result.version.clone());
    put(TARGET, result.target.clone());
    put(BUILD_ID, build_id.to_string());
    put(CRATEMILL_VERSION, result.cratemill_version.clone());
    a
}

/// Annotations of the `-srcbuild-` source archive manifest.
pub fn srcbuild(result: &BuildResult, build_id: &str) -> BTreeMap<String, String> {
    let mut a = common(result, build_id);
    a.insert(TITLE.into(), format!("{} {} source as built for {}", result.crate_name, result.version, result.target));
    a
}

/// Annotations of the binary package manifest, cross-linking the source archive.
pub fn binary(
    result: &BuildResult,
    build_id: &str,
    srcbuild_ref: &str,
    srcbuild_tag: &str,
    srcbuild_digest: &str,
) -> BTreeMap<String, String> {
    let mut a = common(result, build_id);
    a.insert(TITLE.into(), format!("{} {} for {}", result.crate_name, result.version, result.target));
    let names: Vec<&str> = result.executables.iter().map(|e| e.name.as_str()).collect();
    a.insert(EXECUTABLES.into(), names.join(","));
    for exe in &result.executables {
        a.insert(executable_sha256_key(&exe.name), exe.sha256.clone());
    }
    a.insert(SRCBUILD.into(), srcbuild_ref.to_string());
    a.insert(SRCBUILD_TAG.into(), srcbuild_tag.to_string());
    a.insert(SRCBUILD_DIGEST.into(), srcbuild_digest.to_string());
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::result::fixtures::executable;
    use crate::schema::result::{Executable, PackageMeta};

    fn result() -> BuildResult {
        let mut r = BuildResult::new("ripgrep", "14.1.1", "x86_64-unknown-linux-musl", crate::schema::Backend::Cargo);
        r.finished_at = "2026-01-02T03:04:05Z".into();
        r.package = Some(PackageMeta {
            description: Some("fast\n  grep".into()),
            license: Some("MIT OR Unlicense".into()),
            repository: Some("https://github.com/BurntSushi/ripgrep".into()),
            ..Default::default()
        });
        r.executables.push(Executable { sha256: "a".repeat(64), blake3: "b".repeat(64), ..executable("rg") });
        r
    }

    #[test]
    fn binary_annotations_carry_standard_and_own_keys() {
        let a = binary(&result(), "local-abc", "reg/rg:x-srcbuild-local-abc", "x-srcbuild-local-abc", "sha256:00");
        assert_eq!(a[VERSION], "14.1.1");
        assert_eq!(a[CREATED], "2026-01-02T03:04:05Z");
        assert_eq!(a[SOURCE], "https://github.com/BurntSushi/ripgrep");
        assert_eq!(a[LICENSES], "MIT OR Unlicense");
        assert_eq!(a[DESCRIPTION], "fast grep");
        assert_eq!(a[URL], "https://crates.io/crates/ripgrep/14.1.1");
        assert_eq!(a[EXECUTABLES], "rg");
        assert_eq!(a["io.cratemill.executable.rg.sha256"], "a".repeat(64));
        assert_eq!(a[SRCBUILD], "reg/rg:x-srcbuild-local-abc");
        assert_eq!(a[SRCBUILD_TAG], "x-srcbuild-local-abc");
        assert_eq!(a[TARGET], "x86_64-unknown-linux-musl");
        assert!(!a.contains_key(REVISION), "no source recorded, no revision");
    }

    #[test]
    fn annotations_are_deterministic() {
        assert_eq!(srcbuild(&result(), "1"), srcbuild(&result(), "1"));
    }
}
