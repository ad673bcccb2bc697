//! One module per db-dump table we read: where its columns are, and how one row becomes a small
//! borrowed struct. A row that does not parse is an `Err(reason)`: the reader skips and counts it.

pub mod categories;
pub mod crates;
pub mod crates_categories;
pub mod dependencies;
pub mod versions;

/// The tables a plan needs, by file name inside `data/`.
pub const REQUIRED: &[&str] =
    &["categories.csv", "crates.csv", "crates_categories.csv", "versions.csv", "dependencies.csv"];
