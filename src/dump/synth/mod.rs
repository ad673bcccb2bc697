//! Synthetic crates.io db-dumps with the real layout, schema and encodings, at any size: the fixed
//! [`fixtures`] (each a selection rule's edge case, with hand-computable answers) plus `crates`
//! generated crates with realistic row sizes ([`random`], or [`correlated`]: sizes drawn jointly and
//! rows in publication order, as on crates.io). Tests and the full-scale benchmark share it.
//!
//! Tables are written to temporary CSV files first (a tar header needs the size up front), then
//! packed as `YYYY-MM-DD-HHMMSS/data/<table>.csv` into a gzip tar in the order asked.

pub mod correlated;
pub mod fixtures;
pub mod random;
mod tables;

use std::io::Write;
use std::path::Path;

use anyhow::Context;

pub use tables::{Tables, Version};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Generated crates on top of the fixtures.
    pub crates: usize,
    pub seed: u64,
    /// Include the hand-written edge-case crates.
    pub fixtures: bool,
    /// Add a column crates.io might add tomorrow to every table (the `db-dump` crate rejects it).
    pub extra_column: bool,
    /// Add unparseable rows (bad dates, booleans, semver, short rows) that must be skipped.
    pub garbage: bool,
    /// Add crates and versions whose names break the naming rules ([`fixtures::write_hostile`]).
    pub hostile_names: bool,
    /// The proportions of the generated crates.
    pub shape: random::Shape,
    /// Table file names in tar order (defaults to the real dump's order).
    pub order: Vec<&'static str>,
    /// Leave this table out.
    pub omit: Option<&'static str>,
}

/// The order of tables inside the real dump (foreign keys first).
pub const REAL_ORDER: &[&str] = &[
    "categories.csv",
    "crates.csv",
    "crates_categories.csv",
    "versions.csv",
    "default_versions.csv",
    "dependencies.csv",
];

impl Default for Spec {
    fn default() -> Spec {
        Spec {
            crates: 0,
            seed: 1,
            fixtures: true,
            extra_column: true,
            garbage: false,
            hostile_names: false,
            shape: random::Shape::default(),
            order: REAL_ORDER.to_vec(),
            omit: None,
        }
    }
}

/// Rows written, per table.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub crates: u64,
    pub versions: u64,
    pub dependencies: u64,
}

/// The top folder of generated dumps.
pub const DUMP_FOLDER: &str = "2026-06-01-020000";

/// Write a synthetic dump to `out` (`.tar.gz`).
pub fn write(spec: &Spec, out: &Path) -> anyhow::Result<Stats> {
    let dir = tempfile::tempdir().context("creating a temporary folder for synthetic tables")?;
    let mut tables = Tables::create(dir.path(), spec.extra_column)?;
    if spec.fixtures {
        fixtures::write(&mut tables, spec.garbage)?;
    }
    if spec.hostile_names {
        fixtures::write_hostile(&mut tables)?;
    }
    if spec.shape.correlated {
        correlated::write(&mut tables, spec.crates, spec.seed, &spec.shape)?;
    } else {
        random::write(&mut tables, spec.crates, spec.seed, &spec.shape)?;
    }
    let stats = tables.stats.clone();
    let files = tables.finish()?;

    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let gz =
        flate2::write::GzEncoder::new(std::io::BufWriter::with_capacity(1 << 20, file), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let metadata = "{\"timestamp\":\"2026-06-01T02:00:00Z\",\"crates_io_commit\":\"synthetic\"}\n";
    append_bytes(&mut tar, &format!("{DUMP_FOLDER}/metadata.json"), metadata.as_bytes())?;
    append_bytes(&mut tar, &format!("{DUMP_FOLDER}/README.md"), b"Synthetic crates.io database dump (cratemill).\n")?;
    for name in &spec.order {
        if spec.omit == Some(*name) {
            continue;
        }
        let path = files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p)
            .with_context(|| format!("no synthetic table {name}"))?;
        let mut f = std::fs::File::open(path)?;
        tar.append_file(format!("{DUMP_FOLDER}/data/{name}"), &mut f)?;
    }
    let gz = tar.into_inner()?;
    gz.finish()?.flush()?;
    Ok(stats)
}

fn append_bytes<W: Write>(tar: &mut tar::Builder<W>, path: &str, bytes: &[u8]) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(1_780_279_200);
    header.set_cksum();
    tar.append_data(&mut header, path, bytes)
}
