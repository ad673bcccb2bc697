//! Risk hints: will this crate's static build likely fail because something in its dependency tree
//! links a system library that a musl cross build does not have?
//!
//! The approximation (documented in docs/matrix.md):
//! - The tree is approximated by crate names: a crate depends on what its *candidate* version lists
//!   in `dependencies.csv` as normal, non-optional dependencies that apply to Linux (platform-specific
//!   rows for windows/macos/... are ignored). Real resolution picks other versions and may enable
//!   optional dependencies (`--all-features` does).
//! - A crate is *native* when its candidate has `links` set and either the value is a well-known
//!   system library ([`SYSTEM_LIBS`]) or the crate offers a vendoring feature (`vendored`,
//!   `bundled`, `static`): both mean "links the system copy unless told otherwise". A `links` value
//!   without either (ring's `ring_core_*`) is a bundled C build and not a risk.
//! - An edge into a native crate is safe when it enables a vendoring feature, or when the dependent
//!   forwards one in its own features (`openssl/vendored`), which `--all-features` turns on.
//! - The walk is depth-first from the job's crate, memoised per crate, at most [`MAX_DEPTH`] deep;
//!   cycles count as "not risky". The first risky path found is the reason.

use super::collect::Collected;
use super::idmap::IdMap;
use crate::dump::encoding::set;

/// `links` values of libraries that are (almost) always taken from the system.
pub const SYSTEM_LIBS: &[&str] = &[
    "openssl", "sqlite3", "pq", "mysqlclient", "dbus", "udev", "asound", "X11", "xcb", "gtk-3", "gdk-3", "glib-2.0",
    "gobject-2.0", "gio-2.0", "cairo", "pango-1.0", "webkit2gtk-4.1", "wayland-client", "fontconfig", "freetype",
    "pulse", "jack", "usb-1.0", "pcap", "zmq", "hdf5", "gstreamer-1.0", "systemd", "xkbcommon", "python3",
];

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

/// The dependency graph of candidates and the memoised risk of each crate.
pub struct Risk<'a> {
    collected: &'a Collected,
    /// Out-edges per crate id.
    out: IdMap<Vec<(u32, bool)>>,
    memo: IdMap<Option<Vec<u32>>>,
}

impl<'a> Risk<'a> {
    pub fn new(collected: &'a Collected) -> Risk<'a> {
        let mut out: IdMap<Vec<(u32, bool)>> = IdMap::default();
        for e in &collected.edges {
            out.entry(e.from).or_default().push((e.to, e.vendored));
        }
        Risk { collected, out, memo: IdMap::default() }
    }

    fn name(&self, id: u32) -> &str {
        self.collected.names.get(&id).map_or("?", |n| n)
    }

    /// The native library `id` links from the system, if it is native.
    pub fn native(&self, id: u32) -> Option<&str> {
        let c = self.collected.candidates.get(&id)?;
        let links = c.links.as_deref()?;
        (SYSTEM_LIBS.contains(&links) || c.offers_vendoring).then_some(links)
    }

    /// Why building `id` is risky, or `None`.
    pub fn reason(&mut self, id: u32) -> Option<String> {
        if let Some(links) = self.native(id) {
            return Some(format!("links the system library `{links}` itself"));
        }
        let mut stack = Vec::new();
        self.path(id, &mut stack).map(|path| {
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
    fn path(&mut self, id: u32, stack: &mut Vec<u32>) -> Option<Vec<u32>> {
        if let Some(known) = self.memo.get(&id) {
            return known.clone();
        }
        if stack.len() >= MAX_DEPTH || stack.contains(&id) {
            return None;
        }
        stack.push(id);
        let forwards = self.collected.candidates.get(&id).is_some_and(|c| c.forwards_vendoring);
        let edges = self.out.get(&id).cloned().unwrap_or_default();
        let mut found = None;
        for (to, vendored) in edges {
            if self.native(to).is_some() {
                if !vendored && !forwards {
                    found = Some(vec![to]);
                    break;
                }
                continue;
            }
            if let Some(mut rest) = self.path(to, stack) {
                rest.insert(0, to);
                found = Some(rest);
                break;
            }
        }
        stack.pop();
        self.memo.insert(id, found.clone());
        found
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
    fn linux_relevance_of_targets() {
        assert!(applies_to_linux(b""));
        assert!(applies_to_linux(b"cfg(unix)"));
        assert!(applies_to_linux(b"cfg(not(windows))"));
        assert!(!applies_to_linux(b"cfg(windows)"));
        assert!(!applies_to_linux(b"cfg(target_os = \"macos\")"));
        assert!(!applies_to_linux(b"x86_64-pc-windows-msvc"));
    }
}
