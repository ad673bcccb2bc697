//! The crates.io database dump, read as a stream: gzip -> tar -> CSV by column name -> rows.
//!
//! Layers, one way: [`encoding`] (PostgreSQL's `t`/`f`, timestamps, `{a,b}` sets, `\x` hex) ->
//! [`records`] (CSV records split 64 bytes at a time with bit masks) -> [`columns`] (columns by name) -> [`tables`] (one module per table, row structs) -> [`reader`] (tar
//! walk, skipped-row counting, early stop) -> [`pipeline`] (inflate on a second thread). [`fetch`]
//! downloads the dump from a URL with a conditional-GET cache; [`synth`] writes synthetic dumps with
//! the real schema for tests and benchmarks.
//!
//! Nothing here buffers a table: rows are borrowed from the CSV read buffer and handed to a
//! [`reader::Sink`], which keeps only what it needs.

pub mod columns;
pub mod encoding;
pub mod fetch;
pub mod pipeline;
pub mod reader;
pub mod records;
pub mod split;
pub mod synth;
pub mod tables;

pub use reader::{read_file, read_stream, Report, Sink, Warnings};
