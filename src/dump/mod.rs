//! The crates.io database dump, read as a stream: gzip -> tar -> CSV by column name -> rows.
//!
//! Layers, one way: [`encoding`] (PostgreSQL's `t`/`f`, timestamps, `{a,b}` sets, `\x` hex) ->
//! [`records`] (CSV records split 64 bytes at a time with bit masks) -> [`columns`] (columns by
//! name) -> [`names`] (crates.io's naming rules) -> [`tables`] (one module per table, row structs) -> [`reader`] (rows to a [`Sink`],
//! skipped-row counting). Three threads share the work: [`pipeline`] inflates, [`split`] walks the
//! tar, keeps the tables we read and splits them into records, and the caller's thread decodes
//! rows. [`fetch`] downloads the dump from a URL with a conditional-GET cache. `synth` writes
//! synthetic dumps with the real schema for tests and benchmarks: test code, compiled only with the
//! `testkit` feature (on for tests, examples and benches; never in `cargo build`).
//!
//! Nothing here buffers a table: records travel in bounded batches of ~256 KiB, rows are borrowed
//! from them and handed to a [`reader::Sink`], which keeps only what it needs.

pub mod columns;
pub mod encoding;
pub mod fetch;
pub mod names;
pub mod pipeline;
pub mod reader;
pub mod records;
pub mod split;
#[cfg(feature = "testkit")]
pub mod synth;
pub mod tables;

pub use reader::{read_file, read_stream, Report, Sink, Warnings};
