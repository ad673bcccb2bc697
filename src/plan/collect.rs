//! The [`Sink`] that turns dump rows into what selection and risk hints need, and nothing more.
//!
//! Memory per crate: its name and one [`Candidate`] (the best non-yanked version seen so far, ~150
//! bytes), so ~30 MB at 150,000 crates whatever the number of versions. Dependency edges are kept
//! only for candidate versions (normal, Linux-relevant, optional ones flagged): 4 bytes each,
//! whatever the order of the rows ([`super::graph::Edges`]). Tables may come in any order: if `dependencies.csv` comes before `versions.csv`, its relevant edges are kept
//! keyed by version id (8 bytes each) and filtered once the candidates are known.

use crate::dump::tables::{categories, crates, crates_categories, dependencies, versions};
use crate::dump::Sink;

use super::features;
use super::graph::{
    applies_to_linux, better, enables_vendoring, Candidate, Candidates, Collected, Edge, Edges, CLI_SLUG, MAX_CRATE_ID,
};
use super::idmap::{IdMap, Names};

/// Version ids below this get a bit set (at most 8 MiB); above, the map answers.
const MAX_BITS: usize = 1 << 26;

const VENDORED_BIT: u32 = 1 << 31;
const OPTIONAL_BIT: u32 = 1 << 30;
const NO_DEFAULTS_BIT: u32 = 1 << 29;
const FLAG_BITS: u32 = VENDORED_BIT | OPTIONAL_BIT | NO_DEFAULTS_BIT;

#[derive(Default)]
pub struct Collector {
    pub names: Names,
    pub candidates: Candidates,
    categories: Vec<(u32, Box<str>)>,
    crate_categories: Vec<(u32, u32)>,
    /// version id -> slot of candidates ([`Candidates::slot`]), once versions.csv is done.
    candidate_versions: Option<IdMap<u32>>,
    /// The same version ids as a bit set, when the ids are dense enough (the map is ~10x slower
    /// and is asked once per dependency row).
    candidate_bits: Option<Vec<u64>>,
    edges: Edges,
    /// (version id, to crate id | flag bits, rename of an optional dependency) read before
    /// versions.csv.
    pending: Vec<(u32, u32, Option<Box<str>>)>,
    features: features::Scanner,
}

impl Collector {
    pub fn new() -> Collector {
        Collector::default()
    }

    pub fn finish(self) -> Collected {
        let cli_ids: Vec<u32> = self.categories.iter().filter(|(_, s)| &**s == CLI_SLUG).map(|(id, _)| *id).collect();
        let cli = self.crate_categories.iter().filter(|(_, cat)| cli_ids.contains(cat)).map(|(c, _)| *c).collect();
        let mut edges = self.edges;
        // Each dependent's edges stay in dump order (the risk walk reports the first risky path).
        edges.finish();
        // Every edge is in and knows whether it is on by default: the names are not asked again.
        let mut candidates = self.candidates;
        candidates.iter_mut().for_each(|c| c.default_on.forget_names());
        Collected { names: self.names, candidates, cli, edges }
    }

    fn add_edge(&mut self, version_id: u32, to_and_flags: u32, rename: &str) {
        let Some(&slot) = self.candidate_versions.as_ref().and_then(|m| m.get(&version_id)) else { return };
        let to = to_and_flags & !FLAG_BITS;
        let optional = to_and_flags & OPTIONAL_BIT != 0;
        let on_by_default = optional && {
            let name = if rename.is_empty() { self.names.get(&to).unwrap_or("") } else { rename };
            self.candidates.at(slot).default_on.contains(name)
        };
        self.edges.push(
            slot,
            Edge {
                to,
                vendored: to_and_flags & VENDORED_BIT != 0,
                optional,
                defaults: to_and_flags & NO_DEFAULTS_BIT == 0,
                on_by_default,
            },
        );
    }
}

impl Sink for Collector {
    fn crate_row(&mut self, row: crates::Row<'_>) {
        self.names.insert(row.id, &row.name);
    }

    fn version_row(&mut self, row: versions::Row<'_>) {
        if row.yanked {
            return;
        }
        if self.candidates.is_empty() {
            // One candidate per crate at most: sized once (when crates.csv came first) instead of
            // growing, which holds the old and the new table at once (~60 MB at full scale).
            self.candidates.reserve(self.names.len());
        }
        if let Some(current) = self.candidates.get(&row.crate_id) {
            if !better(&row.num, &current.version) {
                return;
            }
        }
        let facts = self.features.facts(&row.features);
        let candidate = Candidate {
            version: row.num,
            version_id: row.id,
            created_at: row.created_at,
            checksum: row.checksum,
            bin_names: row.bin_names.into(),
            links: row.links.map(Into::into),
            offers_vendoring: facts.offers_vendoring,
            forwards_vendoring: facts.forwards_vendoring,
            default_on: facts.default_on,
        };
        self.candidates.insert(row.crate_id, candidate);
    }

    fn category_row(&mut self, row: categories::Row<'_>) {
        self.categories.push((row.id, row.slug.into()));
    }

    fn crate_category_row(&mut self, row: crates_categories::Row) {
        self.crate_categories.push((row.crate_id, row.category_id));
    }

    fn dependency_row(&mut self, row: dependencies::Row<'_>) {
        if row.kind != dependencies::Kind::Normal || !applies_to_linux(&row.target) || row.crate_id > MAX_CRATE_ID {
            return;
        }
        let flag = |on: bool, bit: u32| if on { bit } else { 0 };
        let to = row.crate_id
            | flag(enables_vendoring(&row.features), VENDORED_BIT)
            | flag(row.optional, OPTIONAL_BIT)
            | flag(!row.default_features, NO_DEFAULTS_BIT);
        let rename = std::str::from_utf8(&row.explicit_name).unwrap_or("");
        if self.candidate_versions.is_some() {
            self.add_edge(row.version_id, to, rename);
        } else {
            let rename = (row.optional && !rename.is_empty()).then(|| rename.into());
            self.pending.push((row.version_id, to, rename));
        }
    }

    fn wants_dependencies_of(&self, version_id: u32) -> bool {
        match (&self.candidate_bits, &self.candidate_versions) {
            (Some(bits), _) => bits.get(version_id as usize / 64).is_some_and(|w| w >> (version_id % 64) & 1 != 0),
            (None, Some(map)) => map.contains_key(&version_id),
            (None, None) => true,
        }
    }

    fn table_done(&mut self, table: &'static str) {
        if table != "versions.csv" {
            return;
        }
        let slots = self.candidates.iter().enumerate().map(|(slot, (_, c))| (c.version_id, slot as u32));
        self.candidate_versions = Some(slots.collect());
        let max = self.candidates.iter().map(|(_, c)| c.version_id).max().unwrap_or(0) as usize;
        if max < MAX_BITS {
            let mut bits = vec![0u64; max / 64 + 1];
            for (_, c) in self.candidates.iter() {
                bits[c.version_id as usize / 64] |= 1 << (c.version_id % 64);
            }
            self.candidate_bits = Some(bits);
        }
        for (version_id, to, rename) in std::mem::take(&mut self.pending) {
            self.add_edge(version_id, to, rename.as_deref().unwrap_or(""));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use semver::Version;
    use std::borrow::Cow;

    fn version(id: u32, crate_id: u32, num: &str) -> versions::Row<'static> {
        versions::Row {
            id,
            crate_id,
            num: Version::parse(num).unwrap(),
            created_at: 0,
            yanked: false,
            checksum: [0; 32],
            bin_names: Cow::Borrowed(""),
            links: None,
            features: Cow::Borrowed(&b"{}"[..]),
        }
    }

    /// Dependency rows are wanted only for candidate versions once versions.csv is done (all of
    /// them before: the table may come first), through the bit set or, for huge ids, the map.
    #[test]
    fn dependency_rows_are_wanted_for_candidates_only() {
        for (low, high) in [(7, 9), (MAX_BITS as u32 + 7, MAX_BITS as u32 + 9)] {
            let mut c = Collector::new();
            assert!(c.wants_dependencies_of(low) && c.wants_dependencies_of(high));
            c.version_row(version(low, 1, "1.0.0"));
            c.version_row(version(high, 1, "1.1.0"));
            c.version_row(version(3, 2, "0.1.0"));
            c.table_done("versions.csv");
            assert_eq!(c.candidate_bits.is_some(), high < MAX_BITS as u32);
            assert!(c.wants_dependencies_of(high) && c.wants_dependencies_of(3));
            assert!(!c.wants_dependencies_of(low) && !c.wants_dependencies_of(4) && !c.wants_dependencies_of(u32::MAX));
        }
    }
}
