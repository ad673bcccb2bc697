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

/// Crate ids above this do not fit an [`Edges`] entry (crates.io's are below 1 million); rows
/// naming one are skipped and counted when read.
pub use crate::dump::tables::dependencies::MAX_CRATE_ID;

const VENDORED_BIT: u32 = 1 << 31;
const OPTIONAL_BIT: u32 = 1 << 30;
const NO_DEFAULTS_BIT: u32 = 1 << 29;
const ON_BY_DEFAULT_BIT: u32 = 1 << 28;

impl Edge {
    fn pack(&self) -> u32 {
        let bit = |on: bool, bit: u32| if on { bit } else { 0 };
        self.to
            | bit(self.vendored, VENDORED_BIT)
            | bit(self.optional, OPTIONAL_BIT)
            | bit(!self.defaults, NO_DEFAULTS_BIT)
            // Only an optional edge is on by default (the risk walk asks no other), which leaves
            // "on by default, not optional" free to mark a run header in [`Edges`].
            | bit(self.optional && self.on_by_default, ON_BY_DEFAULT_BIT)
    }

    fn unpack(from: u32, packed: u32) -> Edge {
        Edge {
            from,
            to: packed & MAX_CRATE_ID,
            vendored: packed & VENDORED_BIT != 0,
            optional: packed & OPTIONAL_BIT != 0,
            defaults: packed & NO_DEFAULTS_BIT == 0,
            on_by_default: packed & ON_BY_DEFAULT_BIT != 0,
        }
    }
}

/// The dependency edges of candidates, 4 bytes each (the dependency's crate id, flags in the top
/// bits), in runs of one dependent: a version's rows are contiguous in `dependencies.csv`, so a run
/// costs one more 4-byte word, its header, about once per candidate. An edge identical to one
/// already in its run is not stored: it cannot change the risk walk's answer.
///
/// A header links to the dependent's previous run (the runs of one dependent form a chain, so
/// [`Edges::of`] gives its edges in dump order without sorting anything), and a map keeps each
/// dependent's last run. When the rows of a version are *not* contiguous (a dump sorted some other
/// way, or shuffled), each edge may be a run of its own: 8 bytes an edge, where a separate 12-byte
/// run record made it 16 (the `long-deps` dump with its `dependencies.csv` shuffled: 162 MiB with
/// run records, 107 MiB with headers; 88 MiB unshuffled).
#[derive(Debug, Default)]
pub struct Edges {
    /// Runs: a header (`HEADER` | 1 + the position of the dependent's previous run, or 0 for
    /// none), then its edges, packed.
    packed: Vec<u32>,
    /// Dependent -> the position of its last run.
    last: IdMap<u32>,
    /// The dependent whose run is at the end of `packed`, and where that run starts.
    open: Option<(u32, u32)>,
    runs: usize,
}

/// A run header: "on by default" without "optional", which no packed edge is ([`Edge::pack`]).
const HEADER: u32 = ON_BY_DEFAULT_BIT;
const HEADER_MASK: u32 = ON_BY_DEFAULT_BIT | OPTIONAL_BIT;

impl Edges {
    /// Room for this many dependents, allocated once (growing the map late in `dependencies.csv`
    /// held the old and the new table at the peak).
    pub fn reserve_dependents(&mut self, dependents: usize) {
        self.last.reserve(dependents);
    }

    /// Add an edge (`to` at most [`MAX_CRATE_ID`]).
    pub fn push(&mut self, edge: Edge) {
        debug_assert!(edge.to <= MAX_CRATE_ID);
        let packed = edge.pack();
        if let Some((from, start)) = self.open {
            if from == edge.from {
                if !self.packed[start as usize + 1..].contains(&packed) {
                    self.packed.push(packed);
                }
                return;
            }
        }
        let at = self.packed.len() as u32;
        assert!(at < MAX_CRATE_ID, "more than 268 million dependency edges of candidates");
        let previous = self.last.insert(edge.from, at).map_or(0, |run| run + 1);
        self.packed.extend([HEADER | previous, packed]);
        self.open = Some((edge.from, at));
        self.runs += 1;
    }

    /// Once every edge is in: give back spare capacity.
    pub fn finish(&mut self) {
        self.open = None;
        self.packed.shrink_to_fit();
        self.last.shrink_to_fit();
    }

    /// The edges out of `from`, in dump order.
    pub fn of(&self, from: u32) -> impl Iterator<Item = Edge> + '_ {
        let previous = |&run: &u32| (self.packed[run as usize] & MAX_CRATE_ID).checked_sub(1);
        let mut runs: Vec<u32> = std::iter::successors(self.last.get(&from).copied(), previous).collect();
        runs.reverse();
        runs.into_iter().flat_map(move |run| {
            let words = self.packed[run as usize + 1..].iter().take_while(|&&w| w & HEADER_MASK != HEADER);
            words.map(move |&p| Edge::unpack(from, p))
        })
    }

    pub fn len(&self) -> usize {
        self.packed.len() - self.runs
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Each crate's candidate, stored densely: a map from crate id to a slot in one vector (8 bytes a
/// crate) instead of a hash map of candidates, whose empty buckets cost a whole candidate each
/// (~40 MB instead of ~25 MB at 150,000 crates).
#[derive(Debug, Default)]
pub struct Candidates {
    slots: IdMap<u32>,
    list: Vec<(u32, Candidate)>,
}

impl Candidates {
    pub fn get(&self, crate_id: &u32) -> Option<&Candidate> {
        self.slots.get(crate_id).map(|&slot| &self.list[slot as usize].1)
    }

    /// Set `crate_id`'s candidate, replacing the one it had.
    pub fn insert(&mut self, crate_id: u32, candidate: Candidate) {
        match self.slots.get(&crate_id) {
            Some(&slot) => self.list[slot as usize].1 = candidate,
            None => {
                self.slots.insert(crate_id, self.list.len() as u32);
                self.list.push((crate_id, candidate));
            }
        }
    }

    /// Room for `crates` crates, allocated once.
    pub fn reserve(&mut self, crates: usize) {
        self.slots.reserve(crates);
        self.list.reserve_exact(crates);
    }

    /// Every candidate, mutably, in no particular order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Candidate> {
        self.list.iter_mut().map(|(_, c)| c)
    }

    /// (crate id, candidate), in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Candidate)> {
        self.list.iter().map(|(id, c)| (*id, c))
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// What the dump said, reduced.
pub struct Collected {
    pub names: IdMap<Box<str>>,
    pub candidates: Candidates,
    /// Crate ids in the CLI category.
    pub cli: IdSet,
    /// Finished ([`Edges::finish`]).
    pub edges: Edges,
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
    fn edges_pack_keep_dump_order_and_drop_duplicates() {
        let e = |from, to, optional| Edge {
            from,
            to,
            vendored: to % 2 == 0,
            optional,
            defaults: true,
            on_by_default: optional,
        };
        let mut edges = Edges::default();
        for edge in [e(5, 7, false), e(5, 3, true), e(5, 7, false), e(2, MAX_CRATE_ID, false), e(5, 9, false)] {
            edges.push(edge);
        }
        edges.finish();
        assert_eq!(edges.len(), 4, "the repeated 5 -> 7 is stored once");
        assert_eq!(edges.of(5).collect::<Vec<_>>(), [e(5, 7, false), e(5, 3, true), e(5, 9, false)]);
        assert_eq!(edges.of(2).collect::<Vec<_>>(), [e(2, MAX_CRATE_ID, false)]);
        assert_eq!(edges.of(3).count(), 0);
    }

    /// The chained runs against the simple version: a list of (dependent, edges) runs in push
    /// order, an edge dropped when its run already has it, a dependent's edges its runs in order.
    /// Rows contiguous per dependent, shuffled, and in between.
    #[test]
    fn chained_runs_equal_a_plain_list_of_runs_in_any_row_order() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move |n: u32| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            ((seed >> 33) % u64::from(n)) as u32
        };
        for stay in [0, 50, 95, 100] {
            let (mut edges, mut plain) = (Edges::default(), Vec::<(u32, Vec<Edge>)>::new());
            let mut from = 1;
            for _ in 0..5_000 {
                if next(100) >= stay {
                    from = 1 + next(300);
                }
                let optional = next(2) == 0;
                let edge = Edge {
                    from,
                    to: [0, 1, MAX_CRATE_ID, next(40)][next(4) as usize],
                    vendored: next(2) == 0,
                    optional,
                    defaults: next(2) == 0,
                    on_by_default: optional && next(2) == 0,
                };
                edges.push(edge);
                match plain.last_mut() {
                    Some((f, run)) if *f == from => {
                        if !run.contains(&edge) {
                            run.push(edge);
                        }
                    }
                    _ => plain.push((from, vec![edge])),
                }
            }
            edges.finish();
            for from in 0..302 {
                let want: Vec<Edge> = plain.iter().filter(|(f, _)| *f == from).flat_map(|(_, r)| r.clone()).collect();
                assert_eq!(edges.of(from).collect::<Vec<_>>(), want, "dependent {from}, {stay}% contiguous");
            }
            assert_eq!(edges.len(), plain.iter().map(|(_, r)| r.len()).sum::<usize>());
            // Memory: one header word per run, so at most two words an edge in any order.
            assert_eq!(edges.packed.len(), edges.len() + plain.len(), "{stay}% contiguous");
        }
    }

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
