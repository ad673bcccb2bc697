//! Risk hints: will this crate's static build likely fail because something in its dependency tree
//! links a system library that a musl cross build does not have?
//!
//! The approximation (documented in docs/matrix.md):
//! - The tree is approximated by crate names: a crate depends on what its *candidate* version lists
//!   in `dependencies.csv` as normal dependencies that apply to Linux (platform-specific rows for
//!   windows/macos/... are ignored). Real resolution picks other versions.
//! - Optional dependencies: the job's crate is built with `--all-features`, so all of its own are
//!   followed. Below it, an optional dependency is followed when the dependent's `default` feature
//!   turns it on (directly, `dep:x`, `x/feature`, or through other features) and the edge into the
//!   dependent kept default features. Features an edge asks for by name are not expanded.
//! - A crate is *native* when its candidate has `links` set and either the value is a well-known
//!   system library ([`SYSTEM_LIBS`]) or the crate offers a vendoring feature (`vendored`,
//!   `bundled`, `static`) and is not in [`BUNDLES_WHEN_MISSING`]: both mean "links the system copy
//!   unless told otherwise". A `links` value without either (ring's `ring_core_*`) is a bundled C
//!   build and not a risk.
//! - An edge into a native crate is safe when it enables a vendoring feature, or when the dependent
//!   turns one on itself (`openssl/vendored`): at the job's crate any such feature (`--all-features`),
//!   below it only one its `default` feature reaches.
//! - The walk is depth-first from the job's crate, memoised per (crate, default features on/off), at
//!   most [`MAX_DEPTH`] deep; cycles count as "not risky". The first risky path found is the reason.

use super::collect::Collected;
use super::idmap::IdMap;
use crate::dump::encoding::set;

/// `links` values of libraries that are (almost) always taken from the system.
pub const SYSTEM_LIBS: &[&str] = &[
    "openssl", "sqlite3", "pq", "mysqlclient", "dbus", "udev", "asound", "X11", "xcb", "gtk-3", "gdk-3", "glib-2.0",
    "gobject-2.0", "gio-2.0", "cairo", "pango-1.0", "webkit2gtk-4.1", "wayland-client", "fontconfig", "freetype",
    "pulse", "jack", "usb-1.0", "pcap", "zmq", "hdf5", "gstreamer-1.0", "systemd", "xkbcommon", "python3",
];

/// `links` values of `-sys` crates that build their bundled copy when the system library is missing
/// (pkg-config finds nothing): a vendoring feature there is not a sign of risk.
pub const BUNDLES_WHEN_MISSING: &[&str] = &["z", "git2", "ssh2", "curl", "zstd", "lzma", "bz2", "nghttp2", "onig"];

/// How deep the walk goes.
pub const MAX_DEPTH: usize = 24;

/// Is this feature name a vendoring switch?
pub fn is_vendoring_feature(name: &str) -> bool {
    let name = name.rsplit('/').next().unwrap_or(name).trim_end_matches('?');
    name.contains("vendored") || name.contains("bundled") || name == "static" || name.starts_with("static-") || name.ends_with("-static")
}

/// Does a dependency row's `{a,b}` feature set turn a vendoring switch on?
pub fn enables_vendoring(features: &[u8]) -> bool {
    features.len() > 2 && std::str::from_utf8(features).is_ok_and(|f| set::any(f, is_vendoring_feature))
}

/// Does a version's features JSON define a vendoring feature (`"vendored":`)?
pub fn offers_vendoring(features: &[u8]) -> bool {
    [&b"\"vendored"[..], b"\"bundled", b"\"static\""].iter().any(|needle| contains(features, needle))
}

/// Does a version's features JSON turn a dependency's vendoring feature on (`"openssl/vendored"`)?
pub fn forwards_vendoring(features: &[u8]) -> bool {
    [&b"/vendored"[..], b"/bundled", b"/static\""].iter().any(|needle| contains(features, needle))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.len() >= needle.len() && hay.windows(needle.len()).any(|w| w == needle)
}

/// The names a version's `default` feature turns on, transitively: features, `dep:x` (as `x`)
/// and `x/f` (as both `x/f` and `x`), sorted. Empty when the features JSON has no `default` or does not parse.
pub fn default_on(features: &[u8]) -> Box<[Box<str>]> {
    if !contains(features, b"\"default\"") {
        return Box::default();
    }
    // Borrowed first (no allocation per name); escaped strings need the owned form.
    if let Ok(map) = serde_json::from_slice::<std::collections::HashMap<&str, Vec<&str>>>(features) {
        return expand_default(|f| map.get(f).map(|l| l.as_slice()));
    }
    let Ok(map) = serde_json::from_slice::<std::collections::HashMap<String, Vec<String>>>(features) else {
        return Box::default();
    };
    let map: std::collections::HashMap<&str, Vec<&str>> =
        map.iter().map(|(k, v)| (k.as_str(), v.iter().map(String::as_str).collect())).collect();
    expand_default(|f| map.get(f).map(|l| l.as_slice()))
}

fn expand_default<'m>(get: impl Fn(&str) -> Option<&'m [&'m str]>) -> Box<[Box<str>]> {
    let mut on: Vec<Box<str>> = Vec::new();
    let mut todo: Vec<&str> = vec!["default"];
    while let Some(f) = todo.pop() {
        let name = f.strip_prefix("dep:").unwrap_or(f);
        let name = match name.split_once('/') {
            Some((dep, _)) if dep.ends_with('?') => continue,
            Some((dep, _)) => dep,
            None => name,
        };
        if f.contains('/') && !on.iter().any(|n| &**n == f) {
            on.push(f.into());
        }
        if on.iter().any(|n| &**n == name) {
            continue;
        }
        on.push(name.into());
        if !f.starts_with("dep:") && !f.contains('/') {
            if let Some(list) = get(name) {
                todo.extend(list.iter().copied());
            }
        }
    }
    on.sort();
    on.into_boxed_slice()
}

/// What a candidate keeps of [`default_on`]: 32-bit hashes of the names (a collision can only turn
/// an optional dependency on), and whether a vendoring feature is among them.
#[derive(Debug, Clone, Default)]
pub struct DefaultOn {
    hashes: Box<[u32]>,
    pub vendors: bool,
}

impl DefaultOn {
    pub fn of(features: &[u8]) -> DefaultOn {
        let names = default_on(features);
        let mut hashes: Vec<u32> = names.iter().map(|n| hash(n)).collect();
        hashes.sort_unstable();
        hashes.dedup();
        DefaultOn { hashes: hashes.into_boxed_slice(), vendors: names.iter().any(|n| is_vendoring_feature(n)) }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.hashes.binary_search(&hash(name)).is_ok()
    }
}

/// FNV-1a, 32 bits.
fn hash(name: &str) -> u32 {
    name.bytes().fold(0x811c_9dc5, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
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
    const ELSEWHERE: &[&str] = &["windows", "macos", "ios", "android", "wasm", "apple", "msvc", "freebsd", "redox", "fuchsia"];
    !ELSEWHERE.iter().any(|w| target.contains(w))
}

/// One out-edge of the risk graph.
#[derive(Debug, Clone, Copy)]
struct Out {
    to: u32,
    vendored: bool,
    /// Optional and not turned on by the dependent's `default` feature.
    off_by_default: bool,
    /// Optional: followed only from the job's crate (`--all-features`) or when on by default.
    optional: bool,
    /// The edge keeps `to`'s default features.
    defaults: bool,
}

/// The dependency graph of candidates and the memoised risk of each crate, per "default features
/// on/off" state.
pub struct Risk<'a> {
    collected: &'a Collected,
    /// Out-edges per crate id.
    out: IdMap<Vec<Out>>,
    /// Index 1: reached with default features on; 0: off.
    memo: [IdMap<Option<Vec<u32>>>; 2],
}

impl<'a> Risk<'a> {
    pub fn new(collected: &'a Collected) -> Risk<'a> {
        let mut out: IdMap<Vec<Out>> = IdMap::default();
        for e in &collected.edges {
            let off_by_default = e.optional && !e.on_by_default;
            out.entry(e.from).or_default().push(Out { to: e.to, vendored: e.vendored, off_by_default, optional: e.optional, defaults: e.defaults });
        }
        Risk { collected, out, memo: [IdMap::default(), IdMap::default()] }
    }

    fn name(&self, id: u32) -> &str {
        self.collected.names.get(&id).map_or("?", |n| n)
    }

    /// The native library `id` links from the system, if it is native.
    pub fn native(&self, id: u32) -> Option<&str> {
        let c = self.collected.candidates.get(&id)?;
        let links = c.links.as_deref()?;
        (SYSTEM_LIBS.contains(&links) || (c.offers_vendoring && !BUNDLES_WHEN_MISSING.contains(&links))).then_some(links)
    }

    /// Why building `id` is risky, or `None`.
    pub fn reason(&mut self, id: u32) -> Option<String> {
        if let Some(links) = self.native(id) {
            return Some(format!("links the system library `{links}` itself"));
        }
        let mut stack = vec![id];
        let forwards = self.collected.candidates.get(&id).is_some_and(|c| c.forwards_vendoring);
        // The job's crate is built with `--all-features`: every optional dependency is on.
        let edges = self.out.get(&id).cloned().unwrap_or_default();
        self.first_risky(&edges, forwards, &mut stack).map(|path| {
            let (last, links) = path.split_last().map(|(l, _)| (*l, self.native(*l).unwrap_or("?").to_string())).expect("non-empty path");
            let via: Vec<&str> = path.iter().map(|&c| self.name(c)).collect();
            format!(
                "depends on {} (links `{links}`) without a vendored/bundled/static feature: {} -> {}",
                self.name(last),
                self.name(id),
                via.join(" -> ")
            )
        })
    }

    /// The risky path below `id` (excluding `id`), as crate ids. Every answer is memoised, also one
    /// cut short by the depth bound or a cycle: linear time, at the price of exactness.
    fn path(&mut self, id: u32, defaults: bool, stack: &mut Vec<u32>) -> Option<Vec<u32>> {
        if let Some(known) = self.memo[usize::from(defaults)].get(&id) {
            return known.clone();
        }
        if stack.len() >= MAX_DEPTH || stack.contains(&id) {
            return None;
        }
        stack.push(id);
        // Below the job's crate only default features are on: forwarding counts when `default`
        // turns a vendoring feature on (`vendored`, or `openssl/vendored` itself).
        let forwards = defaults && self.collected.candidates.get(&id).is_some_and(|c| c.default_on.vendors);
        let edges: Vec<Out> = self
            .out
            .get(&id)
            .map(|all| all.iter().filter(|e| !e.optional || (defaults && !e.off_by_default)).copied().collect())
            .unwrap_or_default();
        let found = self.first_risky(&edges, forwards, stack);
        stack.pop();
        self.memo[usize::from(defaults)].insert(id, found.clone());
        found
    }

    /// The first risky path through `edges` (of the crate on top of `stack`).
    fn first_risky(&mut self, edges: &[Out], forwards: bool, stack: &mut Vec<u32>) -> Option<Vec<u32>> {
        for e in edges {
            if self.native(e.to).is_some() {
                if !e.vendored && !forwards {
                    return Some(vec![e.to]);
                }
                continue;
            }
            if let Some(mut rest) = self.path(e.to, e.defaults, stack) {
                rest.insert(0, e.to);
                return Some(rest);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendoring_names() {
        for yes in ["vendored", "bundled", "static", "vendored-openssl", "openssl/vendored", "static-curl", "zlib-static", "git2?/vendored-libgit2"] {
            assert!(is_vendoring_feature(yes), "{yes}");
        }
        for no in ["std", "statics", "default", "serde"] {
            assert!(!is_vendoring_feature(no), "{no}");
        }
        assert!(enables_vendoring(b"{std,vendored}"));
        assert!(!enables_vendoring(b"{}"));
        assert!(offers_vendoring(br#"{"vendored":["openssl-src"]}"#));
        assert!(forwards_vendoring(br#"{"tls":["openssl/vendored"]}"#));
        assert!(!forwards_vendoring(br#"{"default":["std"]}"#));
    }

    #[test]
    fn default_on_follows_features_transitively() {
        let f = br#"{"default":["tls","dep:zstd"],"tls":["dep:native-tls-crate","hyper/http2","git2?/https"],"x":["y"]}"#;
        let on = default_on(f);
        let on: Vec<&str> = on.iter().map(|s| &**s).collect();
        assert_eq!(on, ["default", "hyper", "hyper/http2", "native-tls-crate", "tls", "zstd"]);
        let kept = DefaultOn::of(f);
        assert!(kept.contains("native-tls-crate") && kept.contains("zstd") && !kept.contains("y") && !kept.vendors);
        assert!(DefaultOn::of(br#"{"default":["tls"],"tls":["openssl/vendored"]}"#).vendors);
        assert!(DefaultOn::of(br#"{"default":["a\u0062"],"ab":["dep:z"]}"#).contains("z"), "escaped names parse too");
        assert!(default_on(br#"{"x":["y"]}"#).is_empty());
        assert!(default_on(b"not json \"default\"").is_empty());
    }

    /// Crates 1.. by name; `links` and features JSON per crate; edges (from, to, optional,
    /// defaults, rename-free on-by-default computed from `from`'s features).
    fn graph(crates: &[(&str, &str, &str)], edges: &[(u32, u32, bool, bool)]) -> Collected {
        let mut c = Collected { names: IdMap::default(), candidates: IdMap::default(), cli: Default::default(), edges: Vec::new() };
        for (i, (name, links, features)) in crates.iter().enumerate() {
            let id = i as u32 + 1;
            c.names.insert(id, (*name).into());
            c.candidates.insert(
                id,
                super::super::collect::Candidate {
                    version: semver::Version::new(1, 0, 0),
                    version_id: id,
                    created_at: 0,
                    checksum: [0; 32],
                    bin_names: "{}".into(),
                    links: (!links.is_empty()).then(|| (*links).into()),
                    offers_vendoring: offers_vendoring(features.as_bytes()),
                    forwards_vendoring: forwards_vendoring(features.as_bytes()),
                    default_on: DefaultOn::of(features.as_bytes()),
                },
            );
        }
        for &(from, to, optional, defaults) in edges {
            let name = &c.names[&to];
            let on_by_default = optional && c.candidates[&from].default_on.contains(name);
            c.edges.push(super::super::collect::Edge { from, to, vendored: false, optional, defaults, on_by_default });
        }
        c
    }

    #[test]
    fn optional_dependencies_count_at_the_root_and_when_on_by_default() {
        let ssl = ("openssl-sys", "openssl", r#"{"vendored":["openssl-src"]}"#);
        // 1 app -> 2 http (optional at the root) -> 3 native-tls (optional, on by default) -> 4 openssl
        // (forwards vendoring, which is not on by default) -> 5 openssl-sys.
        let c = graph(
            &[
                ("app", "", "{}"),
                ("http", "", r#"{"default":["tls"],"tls":["dep:native-tls"]}"#),
                ("native-tls", "", r#"{"vendored":["openssl/vendored"]}"#),
                ("openssl", "", r#"{"vendored":["openssl-sys/vendored"]}"#),
                ssl,
            ],
            &[(1, 2, true, true), (2, 3, true, true), (3, 4, false, true), (4, 5, false, true)],
        );
        let reason = Risk::new(&c).reason(1).expect("risky");
        assert!(reason.ends_with("app -> http -> native-tls -> openssl -> openssl-sys"), "{reason}");

        // The same, but app turns http's default features off: tls is not on.
        let c = graph(
            &[("app", "", "{}"), ("http", "", r#"{"default":["tls"],"tls":["dep:native-tls"]}"#), ("native-tls", "", "{}"), ssl],
            &[(1, 2, false, false), (2, 3, true, true), (3, 4, false, true)],
        );
        assert_eq!(Risk::new(&c).reason(1), None);

        // An optional dependency nothing turns on, below the root, is not followed.
        let c = graph(&[("app", "", "{}"), ("http", "", "{}"), ssl], &[(1, 2, false, true), (2, 3, true, true)]);
        assert_eq!(Risk::new(&c).reason(1), None);
        // At the root it is (`--all-features`).
        assert!(Risk::new(&c).reason(2).is_some());
    }

    #[test]
    fn bundling_sys_crates_are_not_native_but_system_only_ones_are() {
        let c = graph(
            &[("app", "", "{}"), ("libz-sys", "z", r#"{"static":[]}"#), ("alsa-sys", "asound", "{}")],
            &[(1, 2, false, true)],
        );
        let mut risk = Risk::new(&c);
        assert_eq!(risk.native(2), None);
        assert_eq!(risk.native(3), Some("asound"));
        assert_eq!(risk.reason(1), None);
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
}
