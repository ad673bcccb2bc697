//! The last stage of the dump pipeline: decode the rows of the tables we need from the record
//! batches [`super::split`] sends, hand them to a [`Sink`], and skip and count rows that do not
//! parse. Reading stops as soon as every needed table has been read.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use anyhow::Context;

use super::columns::Header;
use super::records::{Batch, Record};
use super::split::{split_in_background, Piece, Pieces, Recycle};
use super::tables::{categories, crates, crates_categories, dependencies, versions};
use crate::error::usage;

/// Receives rows in dump order. Tables may come in any order; rows within a table too.
pub trait Sink {
    fn crate_row(&mut self, row: crates::Row<'_>);
    fn version_row(&mut self, row: versions::Row<'_>);
    fn category_row(&mut self, row: categories::Row<'_>);
    fn crate_category_row(&mut self, row: crates_categories::Row);
    fn dependency_row(&mut self, row: dependencies::Row<'_>);
    /// Asked with a `dependencies.csv` row's `version_id` before the rest of the row is decoded:
    /// `false` skips the row unread (most rows belong to versions nobody builds).
    fn wants_dependencies_of(&self, _version_id: u32) -> bool {
        true
    }
    /// Called once a table has been read completely.
    fn table_done(&mut self, _table: &'static str) {}
}

/// Rows skipped, by table and reason.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Warnings {
    /// (table, reason) -> (count, first record number).
    pub skipped: BTreeMap<(&'static str, &'static str), (u64, u64)>,
}

impl Warnings {
    fn skip(&mut self, table: &'static str, reason: &'static str, record: u64) {
        self.skipped.entry((table, reason)).or_insert((0, record)).0 += 1;
    }

    pub fn total(&self) -> u64 {
        self.skipped.values().map(|(n, _)| n).sum()
    }
}

/// What reading the dump found besides rows.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub warnings: Warnings,
    /// The folder name of the dump (`YYYY-MM-DD-HHMMSS`), when seen.
    pub dump_name: Option<String>,
    pub rows: BTreeMap<&'static str, u64>,
}

/// Read a `.tar.gz` dump file: inflate on one thread, walk the tar and split records on a second
/// ([`super::split`]), decode rows on this one.
pub fn read_file(path: &Path, sink: &mut dyn Sink) -> anyhow::Result<Report> {
    let file = std::fs::File::open(path).map_err(|e| usage(format!("cannot open dump {}: {e}", path.display())))?;
    let (reader, inflater) = super::pipeline::inflate_in_background(file);
    let result = read_stream(reader, sink);
    inflater.join().map_err(|_| anyhow::anyhow!("the inflate thread panicked"))?;
    result.with_context(|| format!("reading dump {}", path.display()))
}

/// Read an (already inflated) tar stream of a dump.
pub fn read_stream<R: Read + Send + 'static>(input: R, sink: &mut dyn Sink) -> anyhow::Result<Report> {
    let (pieces, recycle, splitter) = split_in_background(input);
    let result = consume(&pieces, &recycle, sink);
    drop(pieces); // a splitter still sending stops at its next send
    splitter.join().map_err(|_| anyhow::anyhow!("the dump split thread panicked"))?;
    result
}

fn consume(pieces: &Pieces, recycle: &Recycle, sink: &mut dyn Sink) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let mut current: Option<TableReader> = None;
    loop {
        let Ok(piece) = pieces.recv() else {
            return Err(anyhow::anyhow!("the dump split thread stopped before the end"));
        };
        match piece? {
            Piece::DumpName(name) => report.dump_name = Some(name),
            Piece::Table(table) => {
                if let Some(done) = current.replace(TableReader::new(table)) {
                    done.finish(sink, &mut report)?;
                }
            }
            Piece::Rows(batch) => {
                current.as_mut().expect("rows follow their table").rows(&batch, sink, &mut report.warnings)?;
                let _ = recycle.try_send(batch);
            }
            Piece::End => {
                if let Some(done) = current.take() {
                    done.finish(sink, &mut report)?;
                }
                return Ok(report);
            }
        }
    }
}

/// Where a table's columns are, once its header row has been read.
enum Columns {
    Crates(crates::Columns),
    Versions(versions::Columns),
    Categories(categories::Columns),
    CratesCategories(crates_categories::Columns),
    Dependencies(dependencies::Columns),
}

/// One table being read: its columns and rows so far.
struct TableReader {
    table: &'static str,
    columns: Option<Columns>,
    width: usize,
    rows: u64,
}

impl TableReader {
    fn new(table: &'static str) -> TableReader {
        TableReader { table, columns: None, width: 0, rows: 0 }
    }

    fn rows(&mut self, batch: &Batch, sink: &mut dyn Sink, warnings: &mut Warnings) -> anyhow::Result<()> {
        let table = self.table;
        let mut records = batch.records();
        if self.columns.is_none() {
            let Some(names) = records.next() else { return Ok(()) };
            let header = Header { table, names: names.to_vec() };
            self.width = header.names.len();
            self.columns = Some(match table {
                "crates.csv" => Columns::Crates(crates::Columns::locate(&header)?),
                "versions.csv" => Columns::Versions(versions::Columns::locate(&header)?),
                "categories.csv" => Columns::Categories(categories::Columns::locate(&header)?),
                "crates_categories.csv" => Columns::CratesCategories(crates_categories::Columns::locate(&header)?),
                "dependencies.csv" => Columns::Dependencies(dependencies::Columns::locate(&header)?),
                other => unreachable!("table {other} is not in tables::REQUIRED"),
            });
        }
        let (width, rows) = (self.width, &mut self.rows);
        macro_rules! each_row {
            ($cols:expr, $call:ident) => {
                each_row!($cols, $call, |_: &_, _: &Record<'_>, _: &dyn Sink| true)
            };
            ($cols:expr, $call:ident, $wanted:expr) => {{
                let cols = $cols;
                for rec in records {
                    *rows += 1;
                    if rec.len() != width {
                        warnings.skip(table, "wrong number of fields", rec.line());
                        continue;
                    }
                    if !$wanted(cols, &rec, &*sink) {
                        continue;
                    }
                    match cols.parse(&rec) {
                        Ok(row) => sink.$call(row),
                        Err(reason) => warnings.skip(table, reason, rec.line()),
                    }
                }
            }};
        }
        match self.columns.as_ref().expect("located above") {
            Columns::Crates(cols) => each_row!(cols, crate_row),
            Columns::Versions(cols) => each_row!(cols, version_row),
            Columns::Categories(cols) => each_row!(cols, category_row),
            Columns::CratesCategories(cols) => each_row!(cols, crate_category_row),
            Columns::Dependencies(cols) => {
                let wanted = |cols: &dependencies::Columns, rec: &Record<'_>, sink: &dyn Sink| {
                    cols.version_id(rec).is_none_or(|v| sink.wants_dependencies_of(v))
                };
                each_row!(cols, dependency_row, wanted)
            }
        }
        Ok(())
    }

    fn finish(self, sink: &mut dyn Sink, report: &mut Report) -> anyhow::Result<()> {
        if self.columns.is_none() {
            return Err(usage(format!("dump table {} is empty (no header row)", self.table)));
        }
        report.rows.insert(self.table, self.rows);
        sink.table_done(self.table);
        Ok(())
    }
}
