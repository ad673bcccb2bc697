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
    pub name: String,
    pub version: String,
    pub checksum: String,
    pub bin_names: Vec<String>,
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
        let bin_names = set::parse(&c.bin_names).unwrap_or_default();
        let has_bins = !bin_names.is_empty();
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
            name: name.to_string(),
            version: c.version.to_string(),
            checksum: hex::encode(c.checksum),
            bin_names,
        });
    }
    funnel.selected = out.len() as u64;
    out.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    out
}
