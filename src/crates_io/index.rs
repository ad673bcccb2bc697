//! A sparse registry index (RFC 2789, as cargo reads it): `config.json` for the download
//! location, one file of JSON lines per crate at a prefix path derived from its name.
//! See <https://doc.rust-lang.org/cargo/reference/registry-index.html>.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Deserialize;

use super::spec::validate_name;
use crate::error::{classified, usage, Exit};
use crate::net;
use crate::schema::result::FailureClass;

/// crates.io's sparse index, the default `--index-url`.
pub const CRATES_IO_INDEX: &str = "sparse+https://index.crates.io/";

/// Largest `.crate` [`Index::download`] accepts unless told otherwise (crates.io's default upload
/// limit is 10 MiB; a few crates have a raised limit).
pub const DEFAULT_MAX_CRATE_BYTES: u64 = 512 * 1024 * 1024;

/// Largest index file [`Index::versions`] reads unless told otherwise (crates.io's index files are
/// far smaller); a hostile or broken index sending more is cut off here instead of being buffered.
pub const DEFAULT_MAX_INDEX_BYTES: u64 = 32 * 1024 * 1024;

/// Largest `config.json` read.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// One published version of a crate, as listed in the index (normalised; serialisable for caches).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct IndexVersion {
    pub name: String,
    pub vers: String,
    /// sha256 of the `.crate` file, lower-case hex.
    pub cksum: String,
    pub yanked: bool,
    /// `features` and `features2` merged.
    pub features: BTreeMap<String, Vec<String>>,
    pub deps: Vec<IndexDep>,
    pub links: Option<String>,
    pub rust_version: Option<String>,
}

/// One dependency of an [`IndexVersion`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct IndexDep {
    /// The name as used in the manifest (the rename, when renamed).
    pub name: String,
    /// The real crate name when the dependency is renamed.
    pub package: Option<String>,
    pub req: String,
    pub features: Vec<String>,
    pub optional: bool,
    pub default_features: bool,
    pub target: Option<String>,
    /// `normal`, `build` or `dev`; `None` means normal.
    pub kind: Option<String>,
}

/// An index line as published; unknown fields are ignored.
#[derive(Deserialize)]
struct RawVersion {
    name: String,
    vers: String,
    cksum: String,
    #[serde(default)]
    yanked: bool,
    #[serde(default)]
    features: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    features2: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    deps: Vec<RawDep>,
    #[serde(default)]
    links: Option<String>,
    #[serde(default)]
    rust_version: Option<String>,
}

#[derive(Deserialize)]
struct RawDep {
    name: String,
    #[serde(default)]
    package: Option<String>,
    req: String,
    #[serde(default)]
    features: Vec<String>,
    #[serde(default)]
    optional: bool,
    #[serde(default = "yes")]
    default_features: bool,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    kind: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct Config {
    dl: String,
    #[serde(default)]
    api: Option<String>,
    #[serde(default, rename = "auth-required")]
    auth_required: bool,
}

/// Parses the body of an index file: one JSON object per line. Lines this version of cratemill
/// cannot read (a future format) are skipped, as cargo does; a file with no readable line is an error.
pub(crate) fn parse_index_file(name: &str, body: &str) -> Result<Vec<IndexVersion>, String> {
    let mut versions = Vec::new();
    let mut first_error = None;
    for line in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match serde_json::from_str::<RawVersion>(line) {
            // Names and versions end up in file names: keep only lines that are really about
            // this crate and carry a valid version number.
            Ok(raw) if !raw.name.eq_ignore_ascii_case(name) || validate_name(&raw.name).is_err() => {
                first_error.get_or_insert(format!("a line names the crate `{}`", raw.name.escape_debug()));
            }
            Ok(raw) if semver::Version::parse(&raw.vers).is_err() => {
                first_error.get_or_insert(format!("`{}` is not a valid version", raw.vers.escape_debug()));
            }
            Ok(raw) => versions.push(raw.into_version()),
            Err(e) => {
                first_error.get_or_insert(e.to_string());
            }
        }
    }
    match (versions.is_empty(), first_error) {
        (true, Some(e)) => Err(format!("the index entry of `{name}` is not valid: {e}")),
        (true, None) => Err(format!("the index entry of `{name}` lists no versions")),
        _ => Ok(versions),
    }
}

impl RawVersion {
    fn into_version(self) -> IndexVersion {
        let mut features = self.features;
        for (k, v) in self.features2.unwrap_or_default() {
            features.entry(k).or_default().extend(v);
        }
        IndexVersion {
            name: self.name,
            vers: self.vers,
            cksum: self.cksum.to_ascii_lowercase(),
            yanked: self.yanked,
            features,
            deps: self
                .deps
                .into_iter()
                .map(|d| IndexDep {
                    name: d.name,
                    package: d.package,
                    req: d.req,
                    features: d.features,
                    optional: d.optional,
                    default_features: d.default_features,
                    target: d.target,
                    kind: d.kind,
                })
                .collect(),
            links: self.links,
            rust_version: self.rust_version,
        }
    }
}

/// The directory part of a crate's index path, in the name's own case (cargo's `{prefix}`):
/// `1`, `2`, `3/{c}`, or `{ab}/{cd}`.
pub fn prefix(name: &str) -> String {
    match name.len() {
        0 => String::new(),
        1 => "1".into(),
        2 => "2".into(),
        3 => format!("3/{}", &name[..1]),
        _ => format!("{}/{}", &name[..2], &name[2..4]),
    }
}

/// The other spellings crates.io treats as the same crate: every `-` as `_`, every `_` as `-`.
pub fn alternate_names(name: &str) -> Vec<String> {
    let mut names = Vec::new();
    for alternate in [name.replace('-', "_"), name.replace('_', "-")] {
        if alternate != name && !names.contains(&alternate) {
            names.push(alternate);
        }
    }
    names
}

/// Where a crate's file lives under the index root: `{lowerprefix}/{lowercase name}`,
/// e.g. `se/rd/serde`, `3/s/syn`, `2/cc`, `1/a`. The name must already be valid (ASCII).
pub fn index_path(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    format!("{}/{lower}", prefix(&lower))
}

/// A sparse index: its URL, where downloads come from, and the HTTP client used for both.
#[derive(Debug, Clone)]
pub struct Index {
    /// As shown to users: `sparse+<base>`.
    url: String,
    /// The HTTP(S) base, ending in `/`.
    base: String,
    pub(super) dl: String,
    api: Option<String>,
    pub(super) client: net::Client,
    pub(super) max_crate_bytes: u64,
    max_index_bytes: u64,
}

impl Index {
    /// Opens the index at `index_url` (`sparse+https://...` or plain `https://...`; `http` is
    /// accepted for local mirrors) and reads its `config.json`, retrying transient failures.
    ///
    /// Errors: a malformed URL or something that is not a sparse index (no `config.json`, bad
    /// JSON, authentication required) is a usage error (exit 2). An index that cannot be reached
    /// after retries is a network failure (exit 3; a build records it as `fetch-failed`, the
    /// class the fleet retries later).
    pub async fn open(index_url: &str) -> Result<Index> {
        Index::open_until(index_url, None).await
    }

    /// [`Index::open`] bounded by `deadline`: this and every later request of the index (index
    /// files, downloads) stops when it passes, with the `timeout` failure class.
    pub async fn open_until(index_url: &str, deadline: Option<std::time::Instant>) -> Result<Index> {
        Index::open_with(index_url, net::Client::new()?.with_deadline(deadline)).await
    }

    /// [`Index::open`] with an explicit client (timeouts, retry policy, deadline), used for every
    /// request of this index.
    pub async fn open_with(index_url: &str, client: net::Client) -> Result<Index> {
        let base = normalize_base(index_url)?;
        let url = format!("sparse+{base}");
        let config_url = format!("{base}config.json");
        let what = format!("opening index {url}");
        let body = client.get(&what, &config_url, MAX_CONFIG_BYTES).await?;
        if matches!(body.status.as_u16(), 404 | 410) {
            return Err(classified(
                Exit::Usage,
                FailureClass::NotFound,
                format!("{url} is not a sparse registry index: {config_url} answered {}", body.status),
            ));
        }
        if !body.status.is_success() {
            return Err(body.unexpected(&what));
        }
        let config: Config = serde_json::from_slice(&body.bytes)
            .map_err(|e| usage(format!("{url} is not a sparse registry index: its config.json is not valid: {e}")))?;
        if config.auth_required {
            return Err(usage(format!("index {url} requires authentication, which cratemill does not support")));
        }
        if !(config.dl.starts_with("https://") || config.dl.starts_with("http://")) {
            return Err(usage(format!("index {url}: config.json `dl` is not an http(s) URL: {}", config.dl)));
        }
        Ok(Index {
            url,
            base,
            dl: config.dl,
            api: config.api,
            client,
            max_crate_bytes: DEFAULT_MAX_CRATE_BYTES,
            max_index_bytes: DEFAULT_MAX_INDEX_BYTES,
        })
    }

    /// Sets the largest index file [`Index::versions`] reads.
    pub fn with_max_index_bytes(mut self, max: u64) -> Index {
        self.max_index_bytes = max;
        self
    }

    /// Sets the largest `.crate` [`Index::download`] accepts.
    pub fn with_max_crate_bytes(mut self, max: u64) -> Index {
        self.max_crate_bytes = max;
        self
    }

    /// The index URL as `sparse+<base>/` (what result.json records).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The `api` URL from `config.json`, when the index has one.
    pub fn api(&self) -> Option<&str> {
        self.api.as_deref()
    }

    /// Every version of `name` listed in the index, in index order. Like cargo, a name that is not
    /// in the index is also looked up with `-` and `_` swapped (`serde-json` finds `serde_json`);
    /// the entries carry the name as published.
    pub async fn versions(&self, name: &str) -> Result<Vec<IndexVersion>> {
        validate_name(name).map_err(|why| usage(format!("invalid crate name `{}`: {why}", name.escape_debug())))?;
        if let Some(found) = self.index_file(name).await? {
            return Ok(found);
        }
        for alternate in alternate_names(name) {
            if let Some(found) = self.index_file(&alternate).await? {
                return Ok(found);
            }
        }
        Err(classified(Exit::Usage, FailureClass::NotFound, format!("crate `{name}` is not in the index {}", self.url)))
    }

    /// The versions in `name`'s index file; `None` when the index has no such file.
    async fn index_file(&self, name: &str) -> Result<Option<Vec<IndexVersion>>> {
        let file_url = format!("{}{}", self.base, index_path(name));
        let what = format!("resolving `{name}` in {}", self.url);
        let body = self.client.get(&what, &file_url, self.max_index_bytes).await?;
        if matches!(body.status.as_u16(), 404 | 410 | 451) {
            return Ok(None);
        }
        if !body.status.is_success() {
            return Err(body.unexpected(&what));
        }
        let text = String::from_utf8_lossy(&body.bytes);
        parse_index_file(name, &text)
            .map(Some)
            .map_err(|why| classified(Exit::Failed, FailureClass::FetchFailed, format!("{what}: {why}")))
    }

    /// Where the `.crate` of `v` is downloaded from, by cargo's rules for `dl`: the markers
    /// `{crate}`, `{version}`, `{prefix}`, `{lowerprefix}`, `{sha256-checksum}` are replaced;
    /// with none of them, `/{crate}/{version}/download` is appended.
    pub fn download_url(&self, v: &IndexVersion) -> String {
        download_url(&self.dl, v)
    }
}

pub(crate) fn download_url(dl: &str, v: &IndexVersion) -> String {
    const MARKERS: [&str; 5] = ["{crate}", "{version}", "{prefix}", "{lowerprefix}", "{sha256-checksum}"];
    if !MARKERS.iter().any(|m| dl.contains(m)) {
        return format!("{}/{}/{}/download", dl.trim_end_matches('/'), v.name, v.vers);
    }
    let prefix = prefix(&v.name);
    dl.replace("{crate}", &v.name)
        .replace("{version}", &v.vers)
        .replace("{lowerprefix}", &prefix.to_ascii_lowercase())
        .replace("{prefix}", &prefix)
        .replace("{sha256-checksum}", &v.cksum)
}

/// `sparse+https://host/path` or `https://host/path` -> `https://host/path/`.
fn normalize_base(index_url: &str) -> Result<String> {
    let raw = index_url.trim();
    let raw = raw.strip_prefix("sparse+").unwrap_or(raw);
    let parsed =
        url::Url::parse(raw).map_err(|e| usage(format!("invalid index URL `{}`: {e}", index_url.escape_debug())))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(usage(format!(
            "invalid index URL `{}`: a sparse index URL starts with sparse+https:// (git indexes are not supported)",
            index_url.escape_debug()
        )));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(usage("invalid index URL: credentials in the URL are not supported"));
    }
    let mut base = parsed.to_string();
    if !base.ends_with('/') {
        base.push('/');
    }
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit_of;

    #[test]
    fn alternate_spellings_swap_dashes_and_underscores() {
        assert_eq!(alternate_names("serde-json"), ["serde_json"]);
        assert_eq!(alternate_names("a_b-c"), ["a_b_c", "a-b-c"]);
        assert!(alternate_names("ripgrep").is_empty());
    }

    #[test]
    fn index_paths_follow_the_prefix_rules() {
        assert_eq!(index_path("a"), "1/a");
        assert_eq!(index_path("cc"), "2/cc");
        assert_eq!(index_path("syn"), "3/s/syn");
        assert_eq!(index_path("serde"), "se/rd/serde");
        assert_eq!(index_path("itoa"), "it/oa/itoa");
        assert_eq!(index_path("Inflector"), "in/fl/inflector");
        assert_eq!(index_path("FOO"), "3/f/foo");
        assert_eq!(prefix("Inflector"), "In/fl");
    }

    fn version(name: &str, vers: &str) -> IndexVersion {
        IndexVersion {
            name: name.into(),
            vers: vers.into(),
            cksum: "ab".repeat(32),
            yanked: false,
            features: BTreeMap::new(),
            deps: vec![],
            links: None,
            rust_version: None,
        }
    }

    #[test]
    fn download_urls_follow_cargo_dl_rules() {
        let v = version("Serde_x", "1.0.0");
        assert_eq!(
            download_url("https://static.crates.io/crates", &v),
            "https://static.crates.io/crates/Serde_x/1.0.0/download"
        );
        assert_eq!(download_url("http://h/dl/", &v), "http://h/dl/Serde_x/1.0.0/download");
        assert_eq!(
            download_url("https://m/{prefix}/{lowerprefix}/{crate}/{crate}-{version}.crate?sum={sha256-checksum}", &v),
            format!("https://m/Se/rd/se/rd/Serde_x/Serde_x-1.0.0.crate?sum={}", "ab".repeat(32))
        );
        assert_eq!(download_url("https://m/{crate}", &version("ab", "0.1.0")), "https://m/ab");
        assert_eq!(download_url("https://m/{prefix}/{crate}", &version("abc", "0.1.0")), "https://m/3/a/abc");
    }

    #[test]
    fn index_lines_parse_with_spaces_unknown_fields_and_features2() {
        let body = concat!(
            r#"{"name":"foo","vers":"1.0.0","deps":[],"cksum":"AB12","features":{},"yanked":false}"#,
            "\n\n",
            r#"{ "name" : "foo", "vers" : "1.1.0", "deps" : [ { "name" : "rn", "package" : "real", "req" : "^1", "features" : ["x"], "optional" : true, "default_features" : false, "target" : "cfg(unix)", "kind" : "normal", "registry" : null } ], "cksum" : "cd", "features" : { "a" : ["rn/x"] }, "features2" : { "a" : ["dep:rn"], "b" : [] }, "yanked" : true, "links" : "z", "v" : 2, "rust_version" : "1.70", "pubtime" : "2024-01-01T00:00:00Z" }"#,
            "\n",
            r#"{"name":"foo","vers":"9.0.0","v":99,"cksum":7}"#,
            "\n"
        );
        let versions = parse_index_file("foo", body).unwrap();
        assert_eq!(versions.len(), 2);
        assert_eq!(versions[0].cksum, "ab12");
        let v = &versions[1];
        assert!(v.yanked);
        assert_eq!(v.features["a"], vec!["rn/x".to_string(), "dep:rn".to_string()]);
        assert!(v.features.contains_key("b"));
        assert_eq!(v.links.as_deref(), Some("z"));
        assert_eq!(v.rust_version.as_deref(), Some("1.70"));
        let d = &v.deps[0];
        assert_eq!((d.name.as_str(), d.package.as_deref(), d.req.as_str()), ("rn", Some("real"), "^1"));
        assert!(d.optional && !d.default_features);
        assert_eq!(d.target.as_deref(), Some("cfg(unix)"));
        assert_eq!(d.kind.as_deref(), Some("normal"));
    }

    #[test]
    fn unreadable_index_files_are_errors() {
        assert!(parse_index_file("foo", "not json\n").unwrap_err().contains("not valid"));
        assert!(parse_index_file("foo", "\n").unwrap_err().contains("no versions"));
        let other = r#"{"name":"../bar","vers":"1.0.0","cksum":"ab"}"#;
        assert!(parse_index_file("foo", other).unwrap_err().contains("names the crate `../bar`"));
        let bad_vers = r#"{"name":"foo","vers":"1.0/../x","cksum":"ab"}"#;
        assert!(parse_index_file("foo", bad_vers).unwrap_err().contains("not a valid version"));
    }

    #[test]
    fn index_urls_are_normalized_or_refused() {
        assert_eq!(normalize_base(CRATES_IO_INDEX).unwrap(), "https://index.crates.io/");
        assert_eq!(normalize_base("http://127.0.0.1:9/index").unwrap(), "http://127.0.0.1:9/index/");
        for bad in ["registry+https://github.com/rust-lang/crates.io-index", "git://x/y", "not a url", "https://u:p@h/"]
        {
            assert_eq!(exit_of(&normalize_base(bad).unwrap_err()), Exit::Usage, "{bad}");
        }
    }
}
