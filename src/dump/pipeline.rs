//! The first stage of the dump pipeline: a background thread inflates the gzip file into byte
//! chunks, and the next stage ([`super::split`]) reads them through [`ChunkReader`]. A bounded
//! channel keeps at most a few chunks in flight, so memory stays flat whichever side is slower.

use std::io::{self, BufReader, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use flate2::read::MultiGzDecoder;

/// Bytes per chunk handed from the inflating thread to the parsing thread.
pub const CHUNK: usize = 1 << 20;
/// Chunks in flight (bounded: peak buffered data is about `(DEPTH + 2) * CHUNK`).
pub const DEPTH: usize = 4;

type Msg = Result<Vec<u8>, io::Error>;

/// The parsing side: a `Read` over the chunks the inflating thread sends.
pub struct ChunkReader {
    rx: Receiver<Msg>,
    recycle: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    done: bool,
}

/// Start inflating `input` (gzip) on a new thread.
pub fn inflate_in_background<R: Read + Send + 'static>(input: R) -> (ChunkReader, JoinHandle<()>) {
    let (tx, rx) = sync_channel::<Msg>(DEPTH);
    let (recycle, spare) = sync_channel::<Vec<u8>>(DEPTH + 2);
    let handle = std::thread::Builder::new()
        .name("dump-inflate".into())
        .spawn(move || inflate(input, tx, spare))
        .expect("spawning the inflate thread");
    (ChunkReader { rx, recycle, current: Vec::new(), pos: 0, done: false }, handle)
}

fn inflate<R: Read>(input: R, tx: SyncSender<Msg>, spare: Receiver<Vec<u8>>) {
    let mut decoder = MultiGzDecoder::new(BufReader::with_capacity(256 * 1024, input));
    loop {
        let mut buf = spare.try_recv().unwrap_or_else(|_| Vec::with_capacity(CHUNK));
        buf.resize(CHUNK, 0);
        let mut filled = 0;
        let result = loop {
            match decoder.read(&mut buf[filled..]) {
                Ok(0) => break Ok(true),
                Ok(n) => {
                    filled += n;
                    if filled == CHUNK {
                        break Ok(false);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        buf.truncate(filled);
        match result {
            Ok(eof) => {
                if !buf.is_empty() && tx.send(Ok(buf)).is_err() {
                    return; // the reader stopped early: it has what it needs
                }
                if eof {
                    return;
                }
            }
            Err(e) => {
                if !buf.is_empty() && tx.send(Ok(buf)).is_err() {
                    return;
                }
                let _ = tx.send(Err(e));
                return;
            }
        }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(next)) => {
                    let old = std::mem::replace(&mut self.current, next);
                    let _ = self.recycle.try_send(old);
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = out.len().min(self.current.len() - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn inflates_across_chunks_and_reports_corruption() {
        let data: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i % 251) as u8).collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let bytes = gz.finish().unwrap();

        let (mut reader, handle) = inflate_in_background(io::Cursor::new(bytes.clone()));
        let mut back = Vec::new();
        reader.read_to_end(&mut back).unwrap();
        handle.join().unwrap();
        assert_eq!(back, data);

        let (mut reader, handle) = inflate_in_background(io::Cursor::new(bytes[..bytes.len() / 2].to_vec()));
        let err = reader.read_to_end(&mut Vec::new()).unwrap_err();
        handle.join().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");
    }
}
