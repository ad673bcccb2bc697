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
    split_prefix(&value.trim().trim_end_matches('/').to_ascii_lowercase()).map_err(|why| bad(&why))
}

/// `host[:port]/path` or `path` (on ghcr.io), already lowercased and trimmed, into a prefix; the
/// reason when it is none. The name part of `--registry` and of an image reference.
fn split_prefix(v: &str) -> Result<RegistryPrefix, String> {
    if v.is_empty() {
        return Err("it is empty".into());
    }
    if v.contains("://") {
        return Err("give it as host/path without a scheme (add --insecure-http for plain HTTP)".into());
    }
    if v.contains('@') || v.rsplit('/').next().is_some_and(|last| last.contains(':') && v.contains('/')) {
        return Err("give a registry and path, not an image reference with a tag or digest".into());
    }
    let (first, rest) = v.split_once('/').unwrap_or((v, ""));
    let (host, path) = if first.contains('.') || first.contains(':') || first == "localhost" {
        (first.to_string(), rest.to_string())
    } else {
        (DEFAULT_REGISTRY_HOST.to_string(), v.to_string())
    };
    if !valid_host(&host) {
        return Err("the host part is not a host name with an optional port".into());
    }
    for component in path.split('/').filter(|_| !path.is_empty()) {
        if !valid_path_component(component) {
            return Err(format!("`{component}` is not a valid repository path component (a-z, 0-9, separated by `.`, `_`, `__` or dashes)"));
        }
    }
    if host == DEFAULT_REGISTRY_HOST && path.is_empty() {
        return Err("ghcr.io needs an owner: ghcr.io/<owner>".into());
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

/// What an image reference names in its repository: a tag, or a manifest by digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    Tag(String),
    /// `sha256:<64 hex>`.
    Digest(String),
}

impl Pin {
    /// The tag or digest as the registry's `/manifests/<reference>` takes it.
    pub fn as_str(&self) -> &str {
        match self {
            Pin::Tag(s) | Pin::Digest(s) => s,
        }
    }
}

/// An image: `host/name:tag` or `host/name@sha256:<hex>` on a registry, or `oci:<dir>:<tag>` (the
/// syntax skopeo reads) in an image layout. The one image-reference type: what publish plans and
/// records, what `report --push-index`, `install --index oci://`, `verify IMAGE` and
/// `attest --attach` read ([`str::parse`], then [`ImageRef::remote`] / [`ImageRef::tagged`] for
/// what each accepts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub repository: Repository,
    pub pin: Pin,
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (sep, pin) = match &self.pin {
            Pin::Tag(t) => (':', t),
            Pin::Digest(d) => ('@', d),
        };
        match &self.repository {
            Repository::Remote { host, name } => write!(f, "{host}/{name}{sep}{pin}"),
            Repository::Layout { dir } => write!(f, "oci:{}{sep}{pin}", dir.display()),
        }
    }
}

/// Why a text is not an image reference (a closed set; each reads as the reason, for the caller's
/// one error line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadRef {
    /// Neither `:tag` nor `@digest`.
    NoTag,
    /// A registry or owner without a repository (`127.0.0.1:5000:latest`).
    NoRepository,
    BadTag,
    BadDigest,
    /// The name part is not `host[:port]/path` (the reason of [`parse_registry`]).
    BadName(String),
    /// oci-client would read the text differently (or not at all).
    Misread(String),
    /// A layout reference where a registry is needed, or a digest where a tag is.
    Wrong(&'static str),
}

impl fmt::Display for BadRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadRef::NoTag => f.write_str("no tag"),
            BadRef::NoRepository => f.write_str("no repository"),
            BadRef::BadTag => write!(f, "the tag is not a valid OCI tag (at most {MAX_TAG_LEN} of A-Z a-z 0-9 . _ -)"),
            BadRef::BadDigest => f.write_str("the digest is not sha256:<64 lowercase hex>"),
            BadRef::BadName(why) | BadRef::Misread(why) => f.write_str(why),
            BadRef::Wrong(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for BadRef {}

/// `sha256:<64 lowercase hex>`: the digests cratemill computes and compares.
pub fn valid_digest(d: &str) -> bool {
    d.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

impl std::str::FromStr for ImageRef {
    type Err = BadRef;

    /// `oci:<dir>:<tag>`, or `[host[:port]/]path(:tag|@digest)`: the host rule, the ghcr.io default
    /// and the lowercasing of [`parse_registry`]; the tag or digest kept as given, and checked.
    /// A registry reference must read the same to oci-client ([`ImageRef::check`]).
    fn from_str(value: &str) -> Result<ImageRef, BadRef> {
        if let Some(rest) = value.strip_prefix("oci:") {
            let (dir, tag) = rest.rsplit_once(':').ok_or(BadRef::NoTag)?;
            if dir.is_empty() {
                return Err(BadRef::Wrong("an image layout reference needs a folder: oci:<dir>:<tag>"));
            }
            if !valid_tag(tag) {
                return Err(BadRef::BadTag);
            }
            return Ok(ImageRef { repository: Repository::Layout { dir: dir.into() }, pin: Pin::Tag(tag.into()) });
        }
        let (name, pin) = match value.split_once('@') {
            Some((n, d)) if valid_digest(d) => (n, Pin::Digest(d.into())),
            Some(_) => return Err(BadRef::BadDigest),
            None => match value.rsplit_once(':') {
                Some((n, t)) if !t.contains('/') && !t.is_empty() => (n, Pin::Tag(t.into())),
                _ => return Err(BadRef::NoTag),
            },
        };
        if let Pin::Tag(t) = &pin {
            if !valid_tag(t) {
                return Err(BadRef::BadTag);
            }
        }
        let v = name.trim().trim_end_matches('/').to_ascii_lowercase();
        let prefix = split_prefix(&v).map_err(|why| BadRef::BadName(format!("invalid registry `{name}`: {why}")))?;
        if prefix.path.is_empty() {
            return Err(BadRef::NoRepository);
        }
        let image = ImageRef { repository: Repository::Remote { host: prefix.host, name: prefix.path }, pin };
        image.check()?;
        Ok(image)
    }
}

impl ImageRef {
    /// An image by tag.
    pub fn tagged(repository: Repository, tag: impl Into<String>) -> ImageRef {
        ImageRef { repository, pin: Pin::Tag(tag.into()) }
    }

    /// The tag, when the reference is by tag.
    pub fn tag(&self) -> Option<&str> {
        match &self.pin {
            Pin::Tag(t) => Some(t),
            Pin::Digest(_) => None,
        }
    }

    /// The registry host and repository name; [`BadRef::Wrong`] for a layout reference.
    pub fn remote(&self) -> Result<(&str, &str), BadRef> {
        match &self.repository {
            Repository::Remote { host, name } => Ok((host, name)),
            Repository::Layout { .. } => {
                Err(BadRef::Wrong("a local image layout (oci:<dir>:<tag>), not a registry reference"))
            }
        }
    }

    /// The registry host, repository name and tag; [`BadRef::Wrong`] for a layout or a digest.
    pub fn remote_tagged(&self) -> Result<(&str, &str, &str), BadRef> {
        let (host, name) = self.remote()?;
        let tag = self.tag().ok_or(BadRef::Wrong("a digest, where a tag is needed"))?;
        Ok((host, name, tag))
    }

    /// The `--registry` prefix that holds a per-crate repository: the name without its last
    /// component (`ghcr.io/acme/rg:1.0` -> `ghcr.io/acme`); `None` for a layout.
    pub fn registry_prefix(&self) -> Option<String> {
        let (host, name) = self.remote().ok()?;
        Some(match name.rsplit_once('/') {
            Some((parent, _)) => format!("{host}/{parent}"),
            None => host.to_string(),
        })
    }

    /// Check a remote reference the way oci-client parses it: it must round-trip unchanged.
    pub fn check(&self) -> Result<(), BadRef> {
        let Repository::Remote { host, name } = &self.repository else { return Ok(()) };
        let text = self.to_string();
        let parsed: oci_client::Reference =
            text.parse().map_err(|e| BadRef::Misread(format!("invalid image reference `{text}`: {e}")))?;
        let same_pin = match &self.pin {
            Pin::Tag(t) => parsed.tag() == Some(t.as_str()) && parsed.digest().is_none(),
            Pin::Digest(d) => parsed.digest() == Some(d.as_str()) && parsed.tag().is_none(),
        };
        if parsed.registry() != host || parsed.repository() != name || !same_pin {
            return Err(BadRef::Misread(format!(
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
        let r = ImageRef::tagged(repo, n.binary_tag);
        assert_eq!(r.to_string(), "ghcr.io/o/mirror:ripgrep-14.1.1-aarch64-unknown-linux-musl");
        r.check().unwrap();
        let owner_only = parse_registry("ghcr.io/o").unwrap();
        assert!(Repository::remote(&owner_only, Scheme::Single, None).is_err());
    }

    #[test]
    fn layout_refs_use_skopeo_syntax() {
        let repo = Repository::layout(Path::new("/tmp/oci"), Some("rg"));
        let r = ImageRef::tagged(repo, "1.0.0-x86_64-unknown-linux-musl");
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

    /// The three parsers this type replaced, verbatim, as oracles: `report::push::parse_ref`
    /// (`--push-index`, `install --index oci://`), `provenance::verify_cmd::split_reference`
    /// (`verify IMAGE`, `attest --attach`) and the per-crate `registry_of` of the report's site.
    mod old {
        use super::super::*;

        fn check(host: &str, name: &str, tag: &str) -> anyhow::Result<()> {
            let text = format!("{host}/{name}:{tag}");
            let parsed: oci_client::Reference =
                text.parse().map_err(|e| usage(format!("invalid image reference `{text}`: {e}")))?;
            if parsed.registry() != host || parsed.repository() != name || parsed.tag() != Some(tag) {
                return Err(usage(format!("image reference `{text}` would be read as `{parsed}`")));
            }
            Ok(())
        }

        pub fn parse_ref(value: &str) -> anyhow::Result<String> {
            let bad = |why: &str| usage(format!("invalid --push-index `{value}`: {why}"));
            let (name, tag) = match value.rsplit_once(':') {
                Some((n, t)) if !t.contains('/') && !t.is_empty() => (n, t),
                _ => return Err(bad("no tag")),
            };
            let prefix = parse_registry(name).map_err(|e| bad(&crate::error::one_line(&e)))?;
            if prefix.path.is_empty() {
                return Err(bad("no repository"));
            }
            if !valid_tag(tag) {
                return Err(bad("the tag is not a valid OCI tag"));
            }
            check(&prefix.host, &prefix.path, tag)?;
            Ok(format!("{}/{}:{tag}", prefix.host, prefix.path))
        }

        pub fn split_reference(reference: &str) -> anyhow::Result<(String, String, String)> {
            let bad = || usage(format!("{reference:?} is neither a file nor an image reference"));
            let (name, tag) = match reference.split_once('@') {
                Some((n, d)) => (n, d.to_string()),
                None => {
                    let slash = reference.rfind('/').ok_or_else(bad)?;
                    let colon = reference[slash..].rfind(':').map(|i| i + slash).ok_or_else(bad)?;
                    (&reference[..colon], reference[colon + 1..].to_string())
                }
            };
            let (host, repo) = name.split_once('/').ok_or_else(bad)?;
            if host.is_empty() || repo.is_empty() || tag.is_empty() {
                return Err(bad());
            }
            Ok((host.to_string(), repo.to_string(), tag))
        }

        pub fn registry_of(reference: &str) -> Option<&str> {
            reference.rsplit_once('/').map(|(prefix, _)| prefix)
        }
    }

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// How `verify IMAGE` / `attest --attach` (the old `split_reference`) and [`ImageRef`] compare
    /// on one input. `--push-index` (the old `parse_ref`) has no exceptions: the new parser accepts
    /// exactly what it did, with the same result.
    enum Verify {
        /// Both accept with the same host, repository and tag or digest, or both refuse.
        Same,
        /// The old one accepted; the new one refuses (the registry or the URL would have failed
        /// later, or the text is not a reference at all).
        Refused(&'static str),
        /// Both accept, the new one with the `--registry` rules: this host/repository.
        Reads(&'static str, &'static str, &'static str),
    }

    fn table() -> Vec<(String, Verify)> {
        let long_tag = format!("ghcr.io/a/b:{}", "t".repeat(129));
        let rows: Vec<(&str, Verify)> = vec![
            ("ghcr.io/acme/index:latest", Verify::Same),
            ("127.0.0.1:5000/mirror/index:v1", Verify::Same),
            ("localhost:5000/a/b:1.0.0-x86_64-unknown-linux-musl", Verify::Same),
            ("localhost/a:t", Verify::Same),
            ("registry.example.com/a/b/c:Tag_1.x", Verify::Same),
            ("ghcr.io/o:t", Verify::Same),
            ("ghcr.io/acme/rg@sha256:HEX", Verify::Same),
            ("127.0.0.1:5000/rg@sha256:HEX", Verify::Same),
            ("ghcr.io/acme/index", Verify::Same),
            ("127.0.0.1:5000:latest", Verify::Same),
            ("", Verify::Same),
            ("ghcr.io/a/b:", Verify::Same),
            ("ghcr.io/a/b@", Verify::Same),
            ("latest", Verify::Same),
            ("acme/index:latest", Verify::Reads("ghcr.io", "acme/index", "no host part: ghcr.io, as --registry")),
            ("GHCR.io/Acme/Index:Latest", Verify::Reads("ghcr.io", "acme/index", "names lowercased, as --registry")),
            ("ghcr.io/a/b:bad tag", Verify::Refused("not a valid tag")),
            ("ghcr.io/a/b@sha256:abc", Verify::Refused("not a sha256 digest")),
            ("ghcr.io/a/b@sha512:abc", Verify::Refused("not a sha256 digest")),
            ("ghcr.io/a/b:t@sha256:HEX", Verify::Refused("tag and digest together")),
            ("oci:/tmp/l/rg:1.0.0", Verify::Refused("a local layout, not a registry")),
            ("https://ghcr.io/a/b:t", Verify::Refused("a URL, not a reference")),
            ("ghcr.io/-a/b:t", Verify::Refused("not a repository name")),
            ("ghcr.io/a//b:t", Verify::Refused("not a repository name")),
            ("reg.io:port/x:t", Verify::Refused("not a host")),
        ];
        let mut out: Vec<(String, Verify)> = rows.into_iter().map(|(i, v)| (i.replace("HEX", HEX), v)).collect();
        out.push((long_tag, Verify::Refused("a tag over 128 characters")));
        out
    }

    #[test]
    fn one_parser_accepts_what_the_three_old_ones_did() {
        for (input, verify) in table() {
            // --push-index / --index oci://: exactly the old parser.
            let new = input.parse::<ImageRef>().ok().filter(|r| r.remote_tagged().is_ok()).map(|r| r.to_string());
            assert_eq!(new, old::parse_ref(&input).ok(), "--push-index {input:?}");
            // verify IMAGE / attest --attach: the old split, or the listed departure from it.
            let new = input.parse::<ImageRef>().ok().and_then(|r| {
                let (host, name) = r.remote().ok()?;
                Some((host.to_string(), name.to_string(), r.pin.as_str().to_string()))
            });
            let old = old::split_reference(&input).ok();
            match verify {
                Verify::Same => assert_eq!(new, old, "verify {input:?}"),
                Verify::Refused(why) => {
                    assert!(old.is_some() && new.is_none(), "verify {input:?} ({why}): old {old:?}, new {new:?}")
                }
                Verify::Reads(host, name, why) => {
                    let (_, _, pin) = old.expect("the old parser accepted it");
                    assert_eq!(new, Some((host.into(), name.into(), pin)), "verify {input:?} ({why})");
                }
            }
            // The site's `--from` of a per-crate reference.
            let new = input.parse::<ImageRef>().ok().and_then(|r| r.registry_prefix());
            if matches!(verify, Verify::Same) && new.is_some() {
                assert_eq!(new.as_deref(), old::registry_of(&input), "registry_of {input:?}");
            }
        }
    }

    #[test]
    fn references_print_as_they_parse() {
        for text in [
            "ghcr.io/acme/index:latest".to_string(),
            format!("127.0.0.1:5000/a/b@sha256:{HEX}"),
            "oci:/tmp/oci/rg:1.0.0-x86_64-unknown-linux-musl".to_string(),
        ] {
            assert_eq!(text.parse::<ImageRef>().unwrap().to_string(), text);
        }
        let layout: ImageRef = "oci:/tmp/oci/rg:1.0".parse().unwrap();
        assert_eq!(layout.repository, Repository::Layout { dir: "/tmp/oci/rg".into() });
        assert_eq!(layout.registry_prefix(), None, "a layout is no --from");
        assert!(layout.remote().is_err());
        let by_digest: ImageRef = format!("ghcr.io/a/b@sha256:{HEX}").parse().unwrap();
        assert_eq!(by_digest.tag(), None);
        assert_eq!(by_digest.remote_tagged().unwrap_err(), BadRef::Wrong("a digest, where a tag is needed"));
        assert_eq!("ghcr.io/a/b".parse::<ImageRef>().unwrap_err(), BadRef::NoTag);
        assert_eq!("127.0.0.1:5000:latest".parse::<ImageRef>().unwrap_err(), BadRef::NoRepository);
    }
}
