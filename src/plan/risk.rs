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

use super::graph::{Collected, Edge};
use super::idmap::IdMap;

/// `links` values of libraries that are (almost) always taken from the system.
pub const SYSTEM_LIBS: &[&str] = &[
    "openssl",
    "sqlite3",
    "pq",
    "mysqlclient",
    "dbus",
    "udev",
    "asound",
    "X11",
    "xcb",
    "gtk-3",
    "gdk-3",
    "glib-2.0",
    "gobject-2.0",
    "gio-2.0",
    "cairo",
    "pango-1.0",
    "webkit2gtk-4.1",
    "wayland-client",
    "fontconfig",
    "freetype",
    "pulse",
    "jack",
    "usb-1.0",
    "pcap",
    "zmq",
    "hdf5",
    "gstreamer-1.0",
    "systemd",
    "xkbcommon",
    "python3",
];

/// `links` values of `-sys` crates that build their bundled copy when the system library is missing
/// (pkg-config finds nothing): a vendoring feature there is not a sign of risk.
pub const BUNDLES_WHEN_MISSING: &[&str] = &["z", "git2", "ssh2", "curl", "zstd", "lzma", "bz2", "nghttp2", "onig"];

/// How deep the walk goes.
pub const MAX_DEPTH: usize = 24;

/// The dependency graph of candidates and the memoised risk of each crate, per "default features
/// on/off" state.
pub struct Risk<'a> {
    collected: &'a Collected,
    /// Per crate id, the answer of [`Risk::path`]: an index into `paths`, or [`NOT_RISKY`].
    /// Index 1: reached with default features on; 0: off.
    memo: [IdMap<u32>; 2],
    /// Every risky path found, once (most crates are not risky: 4 bytes per memo entry, not 24).
    paths: Vec<Box<[u32]>>,
}

const NOT_RISKY: u32 = u32::MAX;

impl<'a> Risk<'a> {
    /// `collected.edges` must be finished ([`Collected`]'s are).
    pub fn new(collected: &'a Collected) -> Risk<'a> {
        Risk { collected, memo: [IdMap::default(), IdMap::default()], paths: Vec::new() }
    }

    /// The out-edges of `id`, in dump order.
    fn out(&self, id: u32) -> impl Iterator<Item = Edge> + 'a {
        let collected: &'a Collected = self.collected;
        collected.edges_of(id)
    }

    fn name(&self, id: u32) -> &str {
        self.collected.names.get(&id).unwrap_or("?")
    }

    /// The native library `id` links from the system, if it is native.
    pub fn native(&self, id: u32) -> Option<&str> {
        let c = self.collected.candidates.get(&id)?;
        let links = c.links.as_deref()?;
        (SYSTEM_LIBS.contains(&links) || (c.offers_vendoring && !BUNDLES_WHEN_MISSING.contains(&links)))
            .then_some(links)
    }

    /// Why building `id` is risky, or `None`.
    pub fn reason(&mut self, id: u32) -> Option<String> {
        if let Some(links) = self.native(id) {
            return Some(format!("links the system library `{links}` itself"));
        }
        let mut stack = vec![id];
        let forwards = self.collected.candidates.get(&id).is_some_and(|c| c.forwards_vendoring);
        // The job's crate is built with `--all-features`: every optional dependency is on.
        let edges = self.out(id);
        self.first_risky(edges, true, false, forwards, &mut stack).map(|path| {
            let (last, links) = path
                .split_last()
                .map(|(l, _)| (*l, self.native(*l).unwrap_or("?").to_string()))
                .expect("non-empty path");
            let via: Vec<&str> = path.iter().map(|&c| self.name(c)).collect();
            format!(
                "depends on {} (links `{links}`) without a vendored/bundled/static feature: {} -> {}",
                self.name(last),
                self.name(id),
                via.join(" -> ")
            )
        })
    }

    /// The risky path below `id` (excluding `id`), as crate ids, returned as an index into `paths`.
    /// Every answer is memoised, also one cut short by the depth bound or a cycle: linear time, at
    /// the price of exactness.
    fn path(&mut self, id: u32, defaults: bool, stack: &mut Vec<u32>) -> Option<u32> {
        if let Some(&known) = self.memo[usize::from(defaults)].get(&id) {
            return (known != NOT_RISKY).then_some(known);
        }
        if stack.len() >= MAX_DEPTH || stack.contains(&id) {
            return None;
        }
        stack.push(id);
        // Below the job's crate only default features are on: forwarding counts when `default`
        // turns a vendoring feature on (`vendored`, or `openssl/vendored` itself).
        let forwards = defaults && self.collected.candidates.get(&id).is_some_and(|c| c.default_on.vendors);
        let found = self.first_risky(self.out(id), false, defaults, forwards, stack).map(|path| {
            self.paths.push(path.into_boxed_slice());
            (self.paths.len() - 1) as u32
        });
        stack.pop();
        self.memo[usize::from(defaults)].insert(id, found.unwrap_or(NOT_RISKY));
        found
    }

    /// The first risky path through `edges` (of the crate on top of `stack`). Optional edges count
    /// when `all_optional` (the job's crate, `--all-features`), or when the crate was reached with
    /// its `defaults` on and its `default` feature turns them on.
    fn first_risky(
        &mut self,
        edges: impl Iterator<Item = Edge>,
        all_optional: bool,
        defaults: bool,
        forwards: bool,
        stack: &mut Vec<u32>,
    ) -> Option<Vec<u32>> {
        for e in edges.filter(|e| all_optional || !e.optional || (defaults && e.on_by_default)) {
            if self.native(e.to).is_some() {
                if !e.vendored && !forwards {
                    return Some(vec![e.to]);
                }
                continue;
            }
            if let Some(rest) = self.path(e.to, e.defaults, stack) {
                let mut path = vec![e.to];
                path.extend_from_slice(&self.paths[rest as usize]);
                return Some(path);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Crates 1.. by name; `links` and features JSON per crate; edges (from, to, optional,
    /// defaults, rename-free on-by-default computed from `from`'s features).
    fn graph(crates: &[(&str, &str, &str)], edges: &[(u32, u32, bool, bool)]) -> Collected {
        let mut c = Collected {
            names: Default::default(),
            candidates: Default::default(),
            cli: Default::default(),
            edges: Default::default(),
        };
        let mut scanner = super::super::features::Scanner::default();
        for (i, (name, links, features)) in crates.iter().enumerate() {
            let id = i as u32 + 1;
            let facts = scanner.facts(features.as_bytes());
            c.names.insert(id, name);
            c.candidates.insert(
                id,
                super::super::graph::Candidate {
                    version: semver::Version::new(1, 0, 0),
                    version_id: id,
                    created_at: 0,
                    checksum: [0; 32],
                    bin_names: "{}".into(),
                    links: (!links.is_empty()).then(|| (*links).into()),
                    offers_vendoring: facts.offers_vendoring,
                    forwards_vendoring: facts.forwards_vendoring,
                    default_on: facts.default_on,
                },
            );
        }
        for &(from, to, optional, defaults) in edges {
            let name = c.names.get(&to).unwrap();
            let on_by_default = optional && c.candidates.get(&from).unwrap().default_on.contains(name);
            let slot = c.candidates.slot(&from).unwrap();
            c.edges.push(slot, super::super::graph::Edge { to, vendored: false, optional, defaults, on_by_default });
        }
        c.edges.finish();
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
            &[
                ("app", "", "{}"),
                ("http", "", r#"{"default":["tls"],"tls":["dep:native-tls"]}"#),
                ("native-tls", "", "{}"),
                ssl,
            ],
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
}
