//! The reduced dump that selection and risk hints share: per crate its [`Candidate`], the
//! dependency [`Edge`]s between candidates, and the row predicates both the collector and the risk
//! walk apply ([`applies_to_linux`], [`enables_vendoring`]). Data and pure functions only; it sits
//! below [`super::collect`] (which fills it) and [`super::risk`] (which walks it), so neither imports
//! the other.

use super::features::{self, is_vendoring_feature};
use super::idmap::{IdMap, IdSet};
use crate::dump::encoding::set;

/// The slug of the category that selects a crate without `bin_names`.
pub const CLI_SLUG: &str = "command-line-utilities";

/// The version a crate would be built at: its highest non-yanked version, any stable beating any
/// pre-release.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub version: semver::Version,
    pub version_id: u32,
    /// Unix seconds.
    pub created_at: i64,
    pub checksum: [u8; 32],
    /// The raw `{a,b}` set.
    pub bin_names: Box<str>,
    pub links: Option<Box<str>>,
    /// Its features offer a vendoring switch (`vendored`, `bundled`, `static`).
    pub offers_vendoring: bool,
    /// Its features turn on a dependency's vendoring switch (`openssl/vendored`), so `--all-features`
    /// builds vendor.
    pub forwards_vendoring: bool,
    /// What its `default` feature turns on (features and optional dependencies).
    pub default_on: features::DefaultOn,
}

/// Does `a` beat `b` as a candidate?
pub fn better(a: &semver::Version, b: &semver::Version) -> bool {
    (a.pre.is_empty(), a) > (b.pre.is_empty(), b)
}

/// One dependency edge between crates (through the dependent's candidate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    pub from: u32,
    pub to: u32,
    /// The edge turns on a vendoring feature of `to`.
    pub vendored: bool,
    /// An optional dependency (followed only when a feature turns it on).
    pub optional: bool,
    /// The edge keeps `to`'s default features.
    pub defaults: bool,
    /// Optional, and the dependent's `default` feature turns it on (by its name or rename).
    pub on_by_default: bool,
}

/// What the dump said, reduced.
pub struct Collected {
    pub names: IdMap<Box<str>>,
    pub candidates: IdMap<Candidate>,
    /// Crate ids in the CLI category.
    pub cli: IdSet,
    /// Sorted by `from`.
    pub edges: Vec<Edge>,
}

/// Does a dependency row's `{a,b}` feature set turn a vendoring switch on?
pub fn enables_vendoring(features: &[u8]) -> bool {
    features.len() > 2 && std::str::from_utf8(features).is_ok_and(|f| set::any(f, is_vendoring_feature))
}

/// Is a `target` column value (empty, a triple, or `cfg(...)`) relevant on Linux?
pub fn applies_to_linux(target: &[u8]) -> bool {
    if target.is_empty() {
        return true;
    }
    let Ok(target) = std::str::from_utf8(target) else { return true };
    if target.contains("not(") || target.contains("not(") || target.contains("linux") || target.contains("unix") {
        return true;
    }
    const ELSEWHERE: &[&str] =
        &["windows", "macos", "ios", "android", "wasm", "apple", "msvc", "freebsd", "redox", "fuchsia"];
    !ELSEWHERE.iter().any(|w| target.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use semver::Version;

    #[test]
    fn dependency_rows_that_enable_vendoring() {
        assert!(enables_vendoring(b"{std,vendored}"));
        assert!(enables_vendoring(b"{\"openssl/vendored\"}"));
        assert!(!enables_vendoring(b"{}"));
        assert!(!enables_vendoring(b"{std,statics}"));
    }

    #[test]
    fn linux_relevance_of_targets() {
        assert!(applies_to_linux(b""));
        assert!(applies_to_linux(b"cfg(unix)"));
        assert!(applies_to_linux(b"cfg(not(windows))"));
        assert!(!applies_to_linux(b"cfg(windows)"));
        assert!(!applies_to_linux(b"cfg(target_os = \"macos\")"));
        assert!(!applies_to_linux(b"x86_64-pc-windows-msvc"));
    }

    #[test]
    fn stable_beats_any_prerelease() {
        let v = |s| Version::parse(s).unwrap();
        assert!(better(&v("1.0.0"), &v("2.0.0-rc.1")));
        assert!(better(&v("1.0.1"), &v("1.0.0")));
        assert!(better(&v("0.1.0-beta.2"), &v("0.1.0-alpha.1")));
        assert!(!better(&v("2.0.0-rc.1"), &v("1.0.0")));
        assert!(!better(&v("1.0.0"), &v("1.0.0")));
    }
}
