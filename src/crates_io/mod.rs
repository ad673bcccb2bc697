//! crates.io as a source: parse a crate spec, read a sparse registry index, pick a version,
//! download the `.crate` with checksum verification, and unpack it safely.
//!
//! Layers, one-way: [`spec`] and [`select`] are pure ([`select`] also holds the version order,
//! [`newer`], that install and report share); [`index`] reads the sparse index over HTTP;
//! [`download`] streams a `.crate` to disk and verifies it; [`unpack`] turns a verified `.crate`
//! into a source folder, refusing anything that could escape it. Every request goes through
//! [`crate::net`] (timeouts, retries, redirects, size caps, exit codes).

mod download;
mod index;
mod select;
mod spec;
mod unpack;

pub use download::Downloaded;
pub use index::{index_path, Index, IndexDep, IndexVersion, CRATES_IO_INDEX, DEFAULT_MAX_INDEX_BYTES};
pub use select::{newer, select_version};
pub use spec::CrateSpec;
pub use unpack::{unpack, UnpackLimits};
