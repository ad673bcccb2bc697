//! The middle stage of the dump pipeline, on its own thread: walk the tar stream, keep the tables
//! we read, split them into CSV records and hand those over in [`Batch`]es. The parsing thread then
//! only decodes rows, so the work is spread over three threads (inflate, split, decode) instead of
//! two.

use std::io::Read;
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use super::records::{Batch, CsvError, Records};
use super::tables;
use crate::error::usage;

/// Bytes of records per batch.
const BATCH_BYTES: usize = 256 * 1024;
/// Batches in flight.
const DEPTH: usize = 4;

/// What the split stage sends, in stream order.
pub enum Piece {
    /// The dump's folder name (`YYYY-MM-DD-HHMMSS`).
    DumpName(String),
    /// The records that follow belong to this table (its header row comes first).
    Table(&'static str),
    Rows(Batch),
    /// Every table in [`tables::REQUIRED`] has been sent.
    End,
}

pub type Pieces = Receiver<anyhow::Result<Piece>>;
/// Where the reader returns batches it is done with, for their buffers to be reused.
pub type Recycle = SyncSender<Batch>;

/// Start splitting `input` (an inflated tar stream) on a new thread.
pub fn split_in_background<R: Read + Send + 'static>(input: R) -> (Pieces, Recycle, JoinHandle<()>) {
    let (tx, rx) = sync_channel(DEPTH);
    let (recycle, spares) = sync_channel(DEPTH + 2);
    let handle = std::thread::Builder::new()
        .name("dump-split".into())
        .spawn(move || {
            let mut input = input;
            let outcome = split(&mut input, &tx, &spares);
            let message = match outcome {
                Ok(true) => Ok(Piece::End),
                Ok(false) => return, // the reader hung up
                Err(e) => {
                    // Garbage from a corrupt gzip stream can look like bad CSV (or a bad tar)
                    // long before the stream's own check fails: read to the end, and blame the
                    // gzip when it is at fault.
                    match std::io::copy(&mut input, &mut std::io::sink()) {
                        Err(gzip) => Err(corrupt(&gzip)),
                        Ok(_) => Err(e),
                    }
                }
            };
            let _ = tx.send(message);
        })
        .expect("spawning the split thread");
    (rx, recycle, handle)
}

/// `Ok(true)`: all tables sent; `Ok(false)`: the receiver is gone.
fn split<R: Read>(
    input: &mut R,
    tx: &SyncSender<anyhow::Result<Piece>>,
    spares: &Receiver<Batch>,
) -> anyhow::Result<bool> {
    let mut archive = tar::Archive::new(input);
    let mut pending: Vec<&'static str> = tables::REQUIRED.to_vec();
    let mut named = false;
    for entry in archive.entries().map_err(|e| corrupt(&e))? {
        let entry = entry.map_err(|e| corrupt(&e))?;
        let path = entry.path().map_err(|e| corrupt(&e))?.into_owned();
        if !named {
            named = true;
            let name = path.components().next().map(|c| c.as_os_str().to_string_lossy().into_owned());
            if name.is_some_and(|n| tx.send(Ok(Piece::DumpName(n))).is_err()) {
                return Ok(false);
            }
        }
        let in_data = path.parent().and_then(Path::file_name).is_some_and(|p| p == "data");
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        let Some(idx) = pending.iter().position(|t| *t == name).filter(|_| in_data) else { continue };
        let table = pending.swap_remove(idx);
        if tx.send(Ok(Piece::Table(table))).is_err() {
            return Ok(false);
        }
        let mut records = Records::new(entry);
        while let Some(batch) =
            records.next_batch(BATCH_BYTES, spares.try_recv().ok()).map_err(|e| io_error(table, &e))?
        {
            if tx.send(Ok(Piece::Rows(batch))).is_err() {
                return Ok(false);
            }
        }
        if pending.is_empty() {
            return Ok(true);
        }
    }
    pending.sort_unstable();
    Err(usage(format!(
        "the dump has no data/{} table (truncated or not a crates.io db-dump?)",
        pending.join(", data/")
    )))
}

fn corrupt(e: &std::io::Error) -> anyhow::Error {
    usage(format!("the dump is not a readable gzip tar archive: {e}"))
}

fn io_error(table: &str, e: &std::io::Error) -> anyhow::Error {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<CsvError>()) {
        Some(csv) => usage(format!("dump table {table} is not valid CSV: {csv}")),
        None => usage(format!("the dump is not a readable gzip tar archive (in {table}): {e}")),
    }
}
