//! Selection, exactly as specified: a crate is selected when its candidate (highest non-yanked
//! version, stable beating pre-release) has non-empty `bin_names` or the crate is in
//! `command-line-utilities`, and the candidate was created on or after `since`.

use super::graph::Collected;
use crate::dump::encoding::set;
use crate::schema::plan::Funnel;

/// One selected crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub crate_id: u32,
    pub name: Box<str>,
    pub version: Box<str>,
    /// The `.crate`'s sha256 (written as hex in the jobs).
    pub checksum: [u8; 32],
    /// The raw `{a,b}` set of executable names, parsed when a job is made (one allocation per
    /// crate here instead of one per name: the plan keeps every selected crate until it is written).
    pub bin_names: Box<str>,
}

impl Selected {
    /// The executable names.
    pub fn bin_names(&self) -> Vec<String> {
        set::parse(&self.bin_names).unwrap_or_default()
    }
}

/// Select crates, filling the crate-level counts of `funnel`. Sorted by name.
pub fn select(collected: &Collected, since: i64, funnel: &mut Funnel) -> Vec<Selected> {
    funnel.crates = collected.names.len() as u64;
    let mut out = Vec::new();
    for (crate_id, c) in collected.candidates.iter() {
        let Some(name) = collected.names.get(&crate_id) else { continue };
        funnel.with_candidate += 1;
        // Well-formed and valid: rows with a malformed set or an unsafe name were skipped and
        // counted when read (`dump::names`), so this never drops a crate silently.
        let has_bins = set::parse(&c.bin_names).is_some_and(|names| !names.is_empty());
        let cli = collected.cli.contains(&crate_id);
        funnel.with_binaries += u64::from(has_bins);
        funnel.cli_category += u64::from(cli);
        if !(has_bins || cli) {
            continue;
        }
        funnel.binaries_or_cli += 1;
        if c.created_at < since {
            continue;
        }
        out.push(Selected {
            crate_id,
            name: name.into(),
            version: c.version.to_string().into_boxed_str(),
            checksum: c.checksum,
            bin_names: c.bin_names.clone(),
        });
    }
    funnel.selected = out.len() as u64;
    out.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    out
}
