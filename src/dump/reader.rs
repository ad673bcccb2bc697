//! Walk the dump's tar stream, hand each row of the tables we need to a [`Sink`], skip and count rows
//! that do not parse, and stop as soon as every needed table has been read.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use anyhow::Context;

use super::columns::Header;
use super::records::{Record, Records};
use super::tables::{self, categories, crates, crates_categories, dependencies, versions};
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

/// Read a `.tar.gz` dump file: inflate on a second thread, parse on this one.
pub fn read_file(path: &Path, sink: &mut dyn Sink) -> anyhow::Result<Report> {
    let file = std::fs::File::open(path).map_err(|e| usage(format!("cannot open dump {}: {e}", path.display())))?;
    let (mut reader, inflater) = super::pipeline::inflate_in_background(file);
    let mut result = read_tar(&mut reader, sink);
    if result.is_err() {
        // Garbage from a corrupt gzip stream can look like bad CSV long before the stream's own
        // check fails: read to the end, and blame the gzip when it is at fault.
        if let Err(e) = std::io::copy(&mut reader, &mut std::io::sink()) {
            result = Err(corrupt(&e));
        }
    }
    drop(reader);
    inflater.join().map_err(|_| anyhow::anyhow!("the inflate thread panicked"))?;
    result.with_context(|| format!("reading dump {}", path.display()))
}

/// Read an (already inflated) tar stream of a dump.
pub fn read_tar<R: Read>(input: R, sink: &mut dyn Sink) -> anyhow::Result<Report> {
    let mut archive = tar::Archive::new(input);
    let mut report = Report::default();
    let mut pending: Vec<&'static str> = tables::REQUIRED.to_vec();
    let entries = archive.entries().map_err(|e| corrupt(&e))?;
    for entry in entries {
        let entry = entry.map_err(|e| corrupt(&e))?;
        let path = entry.path().map_err(|e| corrupt(&e))?.into_owned();
        if report.dump_name.is_none() {
            report.dump_name = path.components().next().map(|c| c.as_os_str().to_string_lossy().into_owned());
        }
        let in_data = path.parent().and_then(Path::file_name).is_some_and(|p| p == "data");
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        let Some(idx) = pending.iter().position(|t| *t == name).filter(|_| in_data) else { continue };
        let table = pending.swap_remove(idx);
        let rows = read_table(table, entry, sink, &mut report.warnings)?;
        report.rows.insert(table, rows);
        sink.table_done(table);
        if pending.is_empty() {
            return Ok(report);
        }
    }
    pending.sort_unstable();
    Err(usage(format!("the dump has no data/{} table (truncated or not a crates.io db-dump?)", pending.join(", data/"))))
}

fn corrupt(e: &std::io::Error) -> anyhow::Error {
    usage(format!("the dump is not a readable gzip tar archive: {e}"))
}

fn read_table<R: Read>(table: &'static str, input: R, sink: &mut dyn Sink, warnings: &mut Warnings) -> anyhow::Result<u64> {
    let mut records = Records::new(input);
    let Some(names) = records.next_record().map_err(|e| io_error(table, &e))? else {
        return Err(usage(format!("dump table {table} is empty (no header row)")));
    };
    let header = Header { table, names: names.to_vec() };
    let width = header.names.len();
    let mut rows = 0u64;
    macro_rules! each_row {
        ($cols:expr, $call:ident) => {
            each_row!($cols, $call, |_: &_, _: &Record<'_>, _: &dyn Sink| true)
        };
        ($cols:expr, $call:ident, $wanted:expr) => {{
            let cols = $cols;
            while let Some(rec) = records.next_record().map_err(|e| io_error(table, &e))? {
                rows += 1;
                if rec.len() != width {
                    warnings.skip(table, "wrong number of fields", rec.line());
                    continue;
                }
                if !$wanted(&cols, &rec, &*sink) {
                    continue;
                }
                match cols.parse(&rec) {
                    Ok(row) => sink.$call(row),
                    Err(reason) => warnings.skip(table, reason, rec.line()),
                }
            }
        }};
    }
    match table {
        "crates.csv" => each_row!(crates::Columns::locate(&header)?, crate_row),
        "versions.csv" => each_row!(versions::Columns::locate(&header)?, version_row),
        "categories.csv" => each_row!(categories::Columns::locate(&header)?, category_row),
        "crates_categories.csv" => each_row!(crates_categories::Columns::locate(&header)?, crate_category_row),
        "dependencies.csv" => {
            let wanted = |cols: &dependencies::Columns, rec: &Record<'_>, sink: &dyn Sink| cols.version_id(rec).is_none_or(|v| sink.wants_dependencies_of(v));
            each_row!(dependencies::Columns::locate(&header)?, dependency_row, wanted)
        }
        other => unreachable!("table {other} is not in tables::REQUIRED"),
    }
    Ok(rows)
}

fn io_error(table: &str, e: &std::io::Error) -> anyhow::Error {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<super::records::CsvError>()) {
        Some(csv) => usage(format!("dump table {table} is not valid CSV: {csv}")),
        None => usage(format!("the dump is not a readable gzip tar archive (in {table}): {e}")),
    }
}
