//! The reduced dump that selection and risk hints share: per crate its [`Candidate`], the
//! dependency [`Edge`]s between candidates, and the row predicates both the collector and the risk
//! walk apply ([`applies_to_linux`], [`enables_vendoring`]). Data and pure functions only; it sits
//! below [`super::collect`] (which fills it) and [`super::risk`] (which walks it), so neither imports
//! the other.

use super::features::{self, is_vendoring_feature};
use super::idmap::{IdMap, IdSet, Names};
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

/// One dependency edge of a candidate (its dependent is where it is stored: [`Edges::of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
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
            // Only an optional edge is on by default: the risk walk asks no other.
            | bit(self.optional && self.on_by_default, ON_BY_DEFAULT_BIT)
    }

    fn unpack(packed: u32) -> Edge {
        Edge {
            to: packed & MAX_CRATE_ID,
            vendored: packed & VENDORED_BIT != 0,
            optional: packed & OPTIONAL_BIT != 0,
            defaults: packed & NO_DEFAULTS_BIT == 0,
            on_by_default: packed & ON_BY_DEFAULT_BIT != 0,
        }
    }
}

/// Pushed edges wait in a batch of (dependent, edge) pairs until the batch holds this many, or
/// 1/[`BATCH_SHARE`] of the merged edges if that is more.
const MIN_BATCH: usize = 1 << 16;
const BATCH_SHARE: usize = 32;

/// The dependency edges of candidates, 4 bytes each (the dependency's crate id, flags in the top
/// bits), stored dependent after dependent (compressed sparse rows): the edges of dependent `d`
/// (a dense index, [`Candidates::slot`]) are one slice, in the order they were pushed. An edge
/// identical to one its dependent already has is not stored: the risk walk's answer for it is the
/// first one's, which comes before it.
///
/// Pushed edges wait in a small batch of (dependent, edge) pairs (8 bytes each, at most 1/32 of the
/// merged edges, or 65,536) that is merged into the slices in place when full: the slices move up
/// to make room, dependent by dependent from the last, then each waiting edge goes to the end of
/// its dependent's slice. So an edge costs 4 bytes whatever the order of `dependencies.csv`: a
/// version's rows contiguous (as crates.io writes them), scattered or shuffled. (Before: runs of
/// one dependent chained through 4-byte headers, 8 bytes an edge when each row was a run of its own;
/// the `worst` dump with its rows shuffled peaked at 142.4 MiB.) A merge moves each stored edge
/// at most twice (up, and back down over dropped duplicates): ~66 merges for 6 M edges, within
/// the noise of the CPU time on `worst` (docs/benchmarks.md).
#[derive(Debug)]
pub struct Edges {
    /// The edges of dependent `d` are `packed[start[d]..start[d + 1]]`.
    packed: Vec<u32>,
    /// One more than the dependents merged so far (empty before the first merge).
    start: Vec<u32>,
    /// (dependent, packed edge) in push order, not merged yet.
    batch: Vec<(u32, u32)>,
    min_batch: usize,
}

impl Default for Edges {
    fn default() -> Edges {
        Edges { packed: Vec::new(), start: Vec::new(), batch: Vec::new(), min_batch: MIN_BATCH }
    }
}

impl Edges {
    /// Add an edge of `dependent` (`to` at most [`MAX_CRATE_ID`]).
    pub fn push(&mut self, dependent: u32, edge: Edge) {
        debug_assert!(edge.to <= MAX_CRATE_ID);
        self.batch.push((dependent, edge.pack()));
        if self.batch.len() >= self.min_batch.max(self.packed.len() / BATCH_SHARE) {
            self.merge();
        }
    }

    /// Merge the batch into the slices, in place (see [`Edges`]).
    fn merge(&mut self) {
        let Some(last) = self.batch.iter().map(|&(d, _)| d as usize).max() else { return };
        let merged = self.packed.len();
        assert!(merged + self.batch.len() < u32::MAX as usize, "more than 4 billion dependency edges of candidates");
        let dependents = (last + 1).max(self.start.len().saturating_sub(1));
        self.start.resize(dependents + 1, merged as u32);
        // `to[d]`: where dependent d's slice starts after the merge (its batch edges counted first).
        let mut to = vec![0u32; dependents + 1];
        for &(d, _) in &self.batch {
            to[d as usize + 1] += 1;
        }
        for d in 0..dependents {
            to[d + 1] += to[d];
        }
        for (d, at) in to.iter_mut().enumerate() {
            *at += self.start[d];
        }
        // Move the slices up, the last one first: each lands at or above where it was and below
        // where the next one landed.
        self.packed.resize(merged + self.batch.len(), 0);
        for d in (0..dependents).rev() {
            let (from, end) = (self.start[d] as usize, self.start[d + 1] as usize);
            self.packed.copy_within(from..end, to[d] as usize);
        }
        // `end[d]`: the end of dependent d's edges so far; the batch's edges go there in push order.
        let mut end: Vec<u32> = (0..dependents).map(|d| to[d] + self.start[d + 1] - self.start[d]).collect();
        let mut dropped = 0;
        for &(d, edge) in &self.batch {
            let (from, at) = (to[d as usize] as usize, end[d as usize] as usize);
            if self.packed[from..at].contains(&edge) {
                dropped += 1;
            } else {
                self.packed[at] = edge;
                end[d as usize] += 1;
            }
        }
        self.batch.clear();
        if dropped > 0 {
            // Close the gaps the dropped edges left at the ends of their slices.
            let mut at = 0;
            for d in 0..dependents {
                let (from, until) = (to[d] as usize, end[d] as usize);
                self.packed.copy_within(from..until, at);
                to[d] = at as u32;
                at += until - from;
            }
            to[dependents] = at as u32;
            self.packed.truncate(at);
        }
        self.start = to;
    }

    /// Once every edge is in: merge the rest and give back spare capacity.
    pub fn finish(&mut self) {
        self.merge();
        self.batch = Vec::new();
        self.packed.shrink_to_fit();
        self.start.shrink_to_fit();
    }

    /// The edges of `dependent`, in push order ([`Edges::finish`] first).
    pub fn of(&self, dependent: u32) -> impl Iterator<Item = Edge> + '_ {
        debug_assert!(self.batch.is_empty(), "edges read before they were finished");
        let d = dependent as usize;
        let slice = match (self.start.get(d), self.start.get(d + 1)) {
            (Some(&from), Some(&end)) => &self.packed[from as usize..end as usize],
            _ => &[],
        };
        slice.iter().map(|&p| Edge::unpack(p))
    }

    /// Stored edges (after [`Edges::finish`]).
    pub fn len(&self) -> usize {
        self.packed.len() + self.batch.len()
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

    /// The slot of `crate_id`'s candidate: dense from 0, in order of the first candidate of each
    /// crate, and the same for a candidate that replaces it.
    pub fn slot(&self, crate_id: &u32) -> Option<u32> {
        self.slots.get(crate_id).copied()
    }

    /// The candidate in `slot` ([`Candidates::slot`]).
    pub fn at(&self, slot: u32) -> &Candidate {
        &self.list[slot as usize].1
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

    /// (crate id, candidate), in slot order ([`Candidates::slot`]).
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
    pub names: Names,
    pub candidates: Candidates,
    /// Crate ids in the CLI category.
    pub cli: IdSet,
    /// Finished ([`Edges::finish`]), by candidate slot ([`Candidates::slot`]).
    pub edges: Edges,
}

impl Collected {
    /// The dependency edges of `crate_id`'s candidate, in dump order.
    pub fn edges_of(&self, crate_id: u32) -> impl Iterator<Item = Edge> + '_ {
        let slot = self.candidates.slot(&crate_id);
        slot.into_iter().flat_map(|slot| self.edges.of(slot))
    }
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
        let e = |to, optional| Edge { to, vendored: to % 2 == 0, optional, defaults: true, on_by_default: optional };
        let mut edges = Edges::default();
        for (dependent, edge) in
            [(5, e(7, false)), (5, e(3, true)), (2, e(MAX_CRATE_ID, false)), (5, e(7, false)), (5, e(9, false))]
        {
            edges.push(dependent, edge);
        }
        edges.finish();
        assert_eq!(edges.len(), 4, "the repeated 5 -> 7 is stored once");
        assert_eq!(edges.of(5).collect::<Vec<_>>(), [e(7, false), e(3, true), e(9, false)]);
        assert_eq!(edges.of(2).collect::<Vec<_>>(), [e(MAX_CRATE_ID, false)]);
        assert_eq!(edges.of(3).count(), 0);
        assert_eq!(edges.of(6).count(), 0, "past the last dependent");
    }

    /// The merged slices against the simple version: one list per dependent, an edge appended
    /// unless the list already has it. Rows contiguous per dependent, shuffled, and in between; a
    /// batch of 1 (a merge per edge), small batches (many merges, some holding one dependent's
    /// edges twice) and the default (one merge, at the end).
    #[test]
    fn merged_slices_equal_a_plain_list_per_dependent_in_any_row_order() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move |n: u32| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            ((seed >> 33) % u64::from(n)) as u32
        };
        for (stay, min_batch) in
            [(0, 1), (0, 7), (0, 64), (50, 64), (95, 7), (95, 64), (100, 64), (0, MIN_BATCH), (95, MIN_BATCH)]
        {
            let mut edges = Edges { min_batch, ..Edges::default() };
            let mut plain = vec![Vec::<Edge>::new(); 302];
            let mut dependent = 1;
            for _ in 0..5_000 {
                if next(100) >= stay {
                    dependent = 1 + next(300);
                }
                let optional = next(2) == 0;
                let edge = Edge {
                    to: [0, 1, MAX_CRATE_ID, next(40)][next(4) as usize],
                    vendored: next(2) == 0,
                    optional,
                    defaults: next(2) == 0,
                    on_by_default: optional && next(2) == 0,
                };
                edges.push(dependent, edge);
                let list = &mut plain[dependent as usize];
                if !list.contains(&edge) {
                    list.push(edge);
                }
            }
            edges.finish();
            for (dependent, want) in plain.iter().enumerate() {
                let got: Vec<Edge> = edges.of(dependent as u32).collect();
                assert_eq!(&got, want, "dependent {dependent}, {stay}% contiguous, batches of {min_batch}");
            }
            // Memory: 4 bytes an edge in any order, nothing else per edge once finished.
            let stored = plain.iter().map(Vec::len).sum::<usize>();
            assert_eq!((edges.len(), edges.packed.len(), edges.batch.capacity()), (stored, stored, 0));
            let last = plain.iter().rposition(|list| !list.is_empty()).unwrap();
            assert_eq!(edges.start.len(), last + 2, "one start per dependent up to the last, and the end");
        }
    }

    /// A candidate's edges are found by its crate id through its slot.
    #[test]
    fn collected_edges_are_found_by_crate_id() {
        let candidate = |version_id| Candidate {
            version: semver::Version::new(1, 0, 0),
            version_id,
            created_at: 0,
            checksum: [0; 32],
            bin_names: "{}".into(),
            links: None,
            offers_vendoring: false,
            forwards_vendoring: false,
            default_on: Default::default(),
        };
        let mut c = Collected {
            names: Names::default(),
            candidates: Candidates::default(),
            cli: IdSet::default(),
            edges: Edges::default(),
        };
        c.candidates.insert(900, candidate(1));
        c.candidates.insert(40, candidate(2));
        c.candidates.insert(900, candidate(3));
        let e = |to| Edge { to, vendored: false, optional: false, defaults: true, on_by_default: false };
        c.edges.push(c.candidates.slot(&40).unwrap(), e(900));
        c.edges.push(c.candidates.slot(&900).unwrap(), e(40));
        c.edges.finish();
        assert_eq!((c.candidates.slot(&900), c.candidates.slot(&40)), (Some(0), Some(1)));
        assert_eq!(c.candidates.at(0).version_id, 3);
        assert_eq!(c.edges_of(40).collect::<Vec<_>>(), [e(900)]);
        assert_eq!(c.edges_of(900).collect::<Vec<_>>(), [e(40)]);
        assert_eq!(c.edges_of(7).count(), 0, "no candidate");
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
