//! The reference scheme: where a package of `<crate>@<version>` for `<target>` lives in a registry or a
//! local image layout, derived from the crate, version and target alone (see docs/publishing.md).
//!
//! ```text
//! per-crate  <registry>/<crate>:<version>-<target>                      binary
//!            <registry>/<crate>:<version>-<target>-srcbuild-<build-id>  source archive
//! single     <registry>:<crate>-<version>-<target>                      (<registry> names the repository)
//!            <registry>:<crate>-<version>-<target>-srcbuild-<build-id>
//! ```
//! Crate names become `[a-z0-9-]` (lowercase; `_` is `-`, which crates.io already treats as the same
//! name), semver `+` becomes `_` (not valid in a tag, and not otherwise used in versions). Pure logic.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::usage;

/// Registries without a host part (`--registry myorg`) default to GitHub's.
pub const DEFAULT_REGISTRY_HOST: &str = "ghcr.io";
/// Longest tag the OCI distribution spec allows.
pub const MAX_TAG_LEN: usize = 128;

/// How packages are spread over repositories: the documents' [`Layout`](crate::schema::Layout).
pub use crate::schema::Layout as Scheme;

/// A parsed `--registry` value: host and an optional path (owner, namespace or repository).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryPrefix {
    pub host: String,
    /// `/`-separated path components, lowercased; may be empty for per-crate on a generic registry.
    pub path: String,
}

impl fmt::Display for RegistryPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.host)
        } else {
            write!(f, "{}/{}", self.host, self.path)
        }
    }
}

/// Parse `--registry`: `host[:port]/path`, or just `path` for ghcr.io. The first component is a host
/// when it has a `.` or `:` or is `localhost` (Docker's rule). Lowercased, since GHCR needs that
/// and owners are case-insensitive.
pub fn parse_registry(value: &str) -> anyhow::Result<RegistryPrefix> {
    let bad = |why: &str| usage(format!("invalid registry `{value}`: {why}"));
    let v = value.trim().trim_end_matches('/').to_ascii_lowercase();
    if v.is_empty() {
        return Err(bad("it is empty"));
    }
    if v.contains("://") {
        return Err(bad("give it as host/path without a scheme (add --insecure-http for plain HTTP)"));
    }
    if v.contains('@') || v.rsplit('/').next().is_some_and(|last| last.contains(':') && v.contains('/')) {
        return Err(bad("give a registry and path, not an image reference with a tag or digest"));
    }
    let (first, rest) = v.split_once('/').unwrap_or((&v, ""));
    let (host, path) = if first.contains('.') || first.contains(':') || first == "localhost" {
        (first.to_string(), rest.to_string())
    } else {
        (DEFAULT_REGISTRY_HOST.to_string(), v.clone())
    };
    if !valid_host(&host) {
        return Err(bad("the host part is not a host name with an optional port"));
    }
    for component in path.split('/').filter(|_| !path.is_empty()) {
        if !valid_path_component(component) {
            return Err(bad(&format!("`{component}` is not a valid repository path component (a-z, 0-9, separated by `.`, `_`, `__` or dashes)")));
        }
    }
    if host == DEFAULT_REGISTRY_HOST && path.is_empty() {
        return Err(bad("ghcr.io needs an owner: ghcr.io/<owner>"));
    }
    Ok(RegistryPrefix { host, path })
}

fn valid_host(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (host, None),
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let name_ok = !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    port_ok && name_ok
}

/// One component of a repository name: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
pub fn valid_path_component(c: &str) -> bool {
    let bytes = c.as_bytes();
    if bytes.is_empty() || !is_alnum(bytes[0]) || !is_alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if is_alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !is_alnum(bytes[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_TAG_LEN
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-')
}

/// A crate name as a repository component / tag part: lowercase, `_` -> `-`.
pub fn crate_component(crate_name: &str) -> anyhow::Result<String> {
    let mapped = crate_name.to_ascii_lowercase().replace('_', "-");
    if !valid_path_component(&mapped) {
        return Err(usage(format!(
            "crate name `{crate_name}` cannot be mapped to an OCI repository name (`{mapped}`)"
        )));
    }
    Ok(mapped)
}

/// A semver version as a tag part: `+` -> `_`.
pub fn version_component(version: &str) -> anyhow::Result<String> {
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'+')
    {
        return Err(usage(format!("version `{version}` is not a semver version")));
    }
    Ok(version.replace('+', "_"))
}

/// Check a build id given with `--build-id`: `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`.
pub fn validate_build_id(id: &str) -> anyhow::Result<()> {
    let b = id.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || c == b'-');
    if ok {
        Ok(())
    } else {
        Err(usage(format!("invalid build id `{id}`: use 1-64 of A-Z a-z 0-9 . _ - (starting with a letter or digit)")))
    }
}

/// The default build id: `<run id>-<attempt>` under GitHub Actions, else `local-<first 12 hex of the
/// srcbuild archive's sha256>` (deterministic: the same package always gets the same id).
pub fn default_build_id(run_id: Option<&str>, run_attempt: Option<&str>, srcbuild_sha256: &str) -> String {
    match run_id.filter(|r| !r.is_empty()) {
        Some(run) => format!("{run}-{}", run_attempt.filter(|a| !a.is_empty()).unwrap_or("1")),
        None => format!("local-{}", &srcbuild_sha256[..12.min(srcbuild_sha256.len())]),
    }
}

/// The repository suffix (per-crate) and tags of one package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// `Some(<crate>)` in per-crate mode: appended to the registry path / layout folder.
    pub repository_suffix: Option<String>,
    pub binary_tag: String,
    pub srcbuild_tag: String,
}

/// Name the binary and the source archive of `<crate>@<version>` for `<target>`.
pub fn names(scheme: Scheme, crate_name: &str, version: &str, target: &str, build_id: &str) -> anyhow::Result<Names> {
    let krate = crate_component(crate_name)?;
    let ver = version_component(version)?;
    validate_build_id(build_id)?;
    if target.is_empty() || !target.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.') {
        return Err(usage(format!("target `{target}` cannot be part of a tag")));
    }
    let (suffix, base) = match scheme {
        Scheme::PerCrate => (Some(krate), format!("{ver}-{target}")),
        Scheme::Single => (None, format!("{krate}-{ver}-{target}")),
    };
    let srcbuild = format!("{base}-srcbuild-{build_id}");
    for tag in [&base, &srcbuild] {
        if !valid_tag(tag) {
            return Err(usage(format!("tag `{tag}` for {crate_name}@{version} is not a valid OCI tag (at most {MAX_TAG_LEN} of A-Z a-z 0-9 . _ -)")));
        }
    }
    Ok(Names { repository_suffix: suffix, binary_tag: base, srcbuild_tag: srcbuild })
}

/// Where one repository lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repository {
    /// `host` and repository `name` on a registry.
    Remote { host: String, name: String },
    /// An OCI image layout folder.
    Layout { dir: PathBuf },
}

impl Repository {
    /// The repository for a package under a registry prefix.
    pub fn remote(prefix: &RegistryPrefix, scheme: Scheme, suffix: Option<&str>) -> anyhow::Result<Repository> {
        let name = match (prefix.path.as_str(), suffix) {
            ("", Some(s)) => s.to_string(),
            (p, Some(s)) => format!("{p}/{s}"),
            ("", None) => {
                return Err(usage(format!(
                    "--layout single needs a repository in --registry (host/<path>), got `{prefix}`"
                )))
            }
            (p, None) => p.to_string(),
        };
        if prefix.host == DEFAULT_REGISTRY_HOST && scheme == Scheme::Single && !name.contains('/') {
            return Err(usage(format!(
                "--layout single on ghcr.io needs ghcr.io/<owner>/<repository>, got `{prefix}`"
            )));
        }
        if prefix.host.len() + 1 + name.len() > 255 {
            return Err(usage(format!("repository name `{}/{name}` is longer than 255 characters", prefix.host)));
        }
        Ok(Repository::Remote { host: prefix.host.clone(), name })
    }

    /// The image layout folder for a package under a layout root.
    pub fn layout(root: &Path, suffix: Option<&str>) -> Repository {
        Repository::Layout { dir: suffix.map_or_else(|| root.to_path_buf(), |s| root.join(s)) }
    }
}

/// A tagged image: `host/name:tag`, or `oci:<dir>:<tag>` (the syntax skopeo reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub repository: Repository,
    pub tag: String,
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repository {
            Repository::Remote { host, name } => write!(f, "{host}/{name}:{}", self.tag),
            Repository::Layout { dir } => write!(f, "oci:{}:{}", dir.display(), self.tag),
        }
    }
}

impl ImageRef {
    /// Check a remote reference the way oci-client parses it: it must round-trip unchanged.
    pub fn check(&self) -> anyhow::Result<()> {
        let Repository::Remote { host, name } = &self.repository else { return Ok(()) };
        let text = self.to_string();
        let parsed: oci_client::Reference =
            text.parse().map_err(|e| usage(format!("invalid image reference `{text}`: {e}")))?;
        if parsed.registry() != host || parsed.repository() != name || parsed.tag() != Some(self.tag.as_str()) {
            return Err(usage(format!(
                "image reference `{text}` would be read as `{parsed}`: choose another registry path"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_host_detection() {
        assert_eq!(parse_registry("myorg").unwrap(), RegistryPrefix { host: "ghcr.io".into(), path: "myorg".into() });
        assert_eq!(
            parse_registry("GHCR.io/MyOrg/").unwrap(),
            RegistryPrefix { host: "ghcr.io".into(), path: "myorg".into() }
        );
        assert_eq!(
            parse_registry("127.0.0.1:5000").unwrap(),
            RegistryPrefix { host: "127.0.0.1:5000".into(), path: "".into() }
        );
        assert_eq!(
            parse_registry("localhost/a/b").unwrap(),
            RegistryPrefix { host: "localhost".into(), path: "a/b".into() }
        );
    }

    #[test]
    fn invalid_registries_are_refused() {
        for bad in [
            "",
            "https://ghcr.io/o",
            "ghcr.io",
            "ghcr.io/o/x:tag",
            "ghcr.io/o@sha256:00",
            "ghcr.io/a b",
            "ghcr.io/-a",
            "reg.io:port/x",
            "ghcr.io/a//b",
        ] {
            let err = parse_registry(bad).unwrap_err();
            assert_eq!(crate::error::exit_of(&err), crate::error::Exit::Usage, "{bad}");
            assert!(err.to_string().starts_with("invalid registry"), "{bad}: {err}");
        }
    }

    #[test]
    fn path_components() {
        for ok in ["a", "a.b", "a_b", "a__b", "a---b", "0x"] {
            assert!(valid_path_component(ok), "{ok}");
        }
        for bad in ["", "A", "a_", "-a", "a___b", "a._b", "a..b", "a_-b"] {
            assert!(!valid_path_component(bad), "{bad}");
        }
    }

    #[test]
    fn per_crate_names() {
        let n = names(Scheme::PerCrate, "Foo_Bar", "1.2.3-rc.1+build.5", "x86_64-unknown-linux-musl", "123-1").unwrap();
        assert_eq!(n.repository_suffix.as_deref(), Some("foo-bar"));
        assert_eq!(n.binary_tag, "1.2.3-rc.1_build.5-x86_64-unknown-linux-musl");
        assert_eq!(n.srcbuild_tag, "1.2.3-rc.1_build.5-x86_64-unknown-linux-musl-srcbuild-123-1");
    }

    #[test]
    fn single_names_and_refs() {
        let n = names(Scheme::Single, "ripgrep", "14.1.1", "aarch64-unknown-linux-musl", "local-0123456789ab").unwrap();
        assert_eq!(n.repository_suffix, None);
        assert_eq!(n.binary_tag, "ripgrep-14.1.1-aarch64-unknown-linux-musl");
        let prefix = parse_registry("ghcr.io/o/mirror").unwrap();
        let repo = Repository::remote(&prefix, Scheme::Single, None).unwrap();
        let r = ImageRef { repository: repo, tag: n.binary_tag };
        assert_eq!(r.to_string(), "ghcr.io/o/mirror:ripgrep-14.1.1-aarch64-unknown-linux-musl");
        r.check().unwrap();
        let owner_only = parse_registry("ghcr.io/o").unwrap();
        assert!(Repository::remote(&owner_only, Scheme::Single, None).is_err());
    }

    #[test]
    fn layout_refs_use_skopeo_syntax() {
        let repo = Repository::layout(Path::new("/tmp/oci"), Some("rg"));
        let r = ImageRef { repository: repo, tag: "1.0.0-x86_64-unknown-linux-musl".into() };
        assert_eq!(r.to_string(), "oci:/tmp/oci/rg:1.0.0-x86_64-unknown-linux-musl");
    }

    #[test]
    fn over_long_tags_and_bad_ids_are_refused() {
        let long = format!("1.0.0-{}", "a".repeat(120));
        assert!(names(Scheme::PerCrate, "x", &long, "x86_64-unknown-linux-musl", "1").is_err());
        assert!(validate_build_id("../x").is_err());
        assert!(validate_build_id("").is_err());
        assert!(names(Scheme::PerCrate, "trailing_", "1.0.0", "x86_64-unknown-linux-musl", "1").is_err());
    }

    #[test]
    fn build_id_defaults() {
        assert_eq!(default_build_id(Some("987"), Some("2"), "ab"), "987-2");
        assert_eq!(default_build_id(Some("987"), None, "ab"), "987-1");
        assert_eq!(default_build_id(None, None, &"f".repeat(64)), "local-ffffffffffff");
    }
}
