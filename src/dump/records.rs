//! PostgreSQL CSV records, split with SIMD searches (`memchr`) instead of a byte-at-a-time state
//! machine: the dump's rows are dominated by long quoted fields (features JSON, descriptions) that
//! a vectorised search skips at memory speed.
//!
//! The dialect is what `COPY ... TO ... CSV HEADER` writes: `,` between fields, `\n` after each
//! record (a `\r` before it is dropped), fields quoted with `"` when they need it, `""` for a quote
//! inside quotes, newlines allowed inside quotes.

use std::io::{self, Read};

/// One record: its raw bytes copied once, field ranges into them, and the unescaped text of the
/// (rare) quoted fields that contain `""` appended after the raw bytes.
#[derive(Debug, Default, Clone)]
pub struct Record {
    bytes: Vec<u8>,
    ranges: Vec<(u32, u32)>,
    /// Unescaped quoted fields while the record is being split.
    scratch: Vec<u8>,
    line: u64,
}

/// Marks a range into the unescaped tail rather than the raw bytes (fixed up when the record ends).
const TAIL: u32 = 1 << 31;

impl Record {
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let &(start, end) = self.ranges.get(i)?;
        self.bytes.get(start as usize..end as usize)
    }

    /// The record's number (1-based; the header is record 1): its line number unless a quoted field
    /// above it spans lines. Not counting newlines keeps the scan to one pass.
    pub fn line(&self) -> u64 {
        self.line
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len()).map(|i| self.get(i).unwrap_or_default())
    }

    /// A record from fields (tests).
    pub fn from_fields<'a>(fields: impl IntoIterator<Item = &'a [u8]>) -> Record {
        let mut r = Record::default();
        for f in fields {
            let start = r.bytes.len() as u32;
            r.bytes.extend_from_slice(f);
            r.ranges.push((start, r.bytes.len() as u32));
        }
        r
    }
}

/// Reads records from a byte stream.
pub struct Records<R> {
    input: R,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    eof: bool,
    line: u64,
}

enum Step {
    Done(usize),
    NeedMore,
}

impl<R: Read> Records<R> {
    pub fn new(input: R) -> Records<R> {
        Records { input, buf: vec![0; 256 * 1024], pos: 0, end: 0, eof: false, line: 1 }
    }

    /// Read the next record into `rec`; `false` at the end of the input.
    pub fn read(&mut self, rec: &mut Record) -> io::Result<bool> {
        loop {
            if self.pos == self.end && self.eof {
                return Ok(false);
            }
            rec.scratch.clear();
            rec.ranges.clear();
            rec.line = self.line;
            match parse(&self.buf[self.pos..self.end], self.eof, rec)? {
                Step::Done(used) => {
                    self.line += 1;
                    self.pos += used;
                    return Ok(true);
                }
                Step::NeedMore => self.fill()?,
            }
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        if self.end == self.buf.len() {
            let grown = self.buf.len() * 2;
            self.buf.resize(grown, 0);
        }
        loop {
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// The first `,` or `\n`. Most fields are short (ids, booleans): a plain loop over the first bytes
/// beats setting up a vector search.
#[inline]
fn find_separator(data: &[u8]) -> Option<usize> {
    const SHORT: usize = 24;
    let head = &data[..data.len().min(SHORT)];
    if let Some(i) = head.iter().position(|&b| b == b',' || b == b'\n') {
        return Some(i);
    }
    if data.len() <= SHORT {
        return None;
    }
    memchr::memchr2(b',', b'\n', &data[SHORT..]).map(|i| i + SHORT)
}

/// Parse one record from the start of `data`. `eof`: no more data will come after `data`.
/// Field ranges point into `data`; on success `data[..used]` is copied into the record at once.
fn parse(data: &[u8], eof: bool, rec: &mut Record) -> io::Result<Step> {
    if data.len() >= TAIL as usize {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "CSV record larger than 2 GiB"));
    }
    let mut p = 0;
    loop {
        let (start, end);
        if data.get(p) == Some(&b'"') {
            p += 1;
            let content = p;
            let mut escaped = false;
            loop {
                let Some(q) = memchr::memchr(b'"', &data[p..]) else {
                    return if eof { Err(io::Error::new(io::ErrorKind::UnexpectedEof, "unterminated quoted CSV field")) } else { Ok(Step::NeedMore) };
                };
                p += q + 1;
                match data.get(p) {
                    Some(b'"') => {
                        escaped = true;
                        p += 1;
                    }
                    Some(_) => break,
                    None if eof => break,
                    None => return Ok(Step::NeedMore),
                }
            }
            let closing = p - 1;
            // Anything between the closing quote and the separator is dropped.
            match find_separator(&data[p..]) {
                Some(r) => p += r,
                None if eof => p = data.len(),
                None => return Ok(Step::NeedMore),
            }
            if escaped {
                let tail = rec.scratch.len() as u32;
                unescape(&data[content..closing], &mut rec.scratch);
                (start, end) = (TAIL | tail, TAIL | rec.scratch.len() as u32);
            } else {
                (start, end) = (content as u32, closing as u32);
            }
        } else {
            let from = p;
            match find_separator(&data[p..]) {
                Some(r) => p += r,
                None if eof => p = data.len(),
                None => return Ok(Step::NeedMore),
            }
            let to = if data.get(p) != Some(&b',') && p > from && data[p - 1] == b'\r' { p - 1 } else { p };
            (start, end) = (from as u32, to as u32);
        }
        rec.ranges.push((start, end));
        if data.get(p) == Some(&b',') {
            p += 1;
            continue;
        }
        let used = (p + 1).min(data.len());
        // Move the unescaped tail behind the raw bytes and fix its ranges.
        rec.bytes.clear();
        rec.bytes.extend_from_slice(&data[..used]);
        rec.bytes.extend_from_slice(&rec.scratch);
        for r in &mut rec.ranges {
            if r.0 & TAIL != 0 {
                *r = ((r.0 & !TAIL) + used as u32, (r.1 & !TAIL) + used as u32);
            }
        }
        return Ok(Step::Done(used));
    }
}

/// `a""b` -> `a"b`.
fn unescape(quoted: &[u8], out: &mut Vec<u8>) {
    let mut rest = quoted;
    while let Some(q) = memchr::memchr(b'"', rest) {
        out.extend_from_slice(&rest[..=q]);
        rest = rest.get(q + 2..).unwrap_or_default();
    }
    out.extend_from_slice(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &[u8], buffer: usize) -> Vec<Vec<String>> {
        let mut records = Records::new(text);
        records.buf = vec![0; buffer];
        let mut rec = Record::default();
        let mut out = Vec::new();
        while records.read(&mut rec).unwrap() {
            out.push(rec.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect());
        }
        out
    }

    #[test]
    fn postgres_csv_at_any_buffer_size() {
        let text = "id,name,features\n1,a,\"{\"\"std\"\"\n:[]}\"\r\n2,,\n3,\"x,y\",\"\"\n4,é,last";
        let want = vec![
            vec!["id", "name", "features"],
            vec!["1", "a", "{\"std\"\n:[]}"],
            vec!["2", "", ""],
            vec!["3", "x,y", ""],
            vec!["4", "é", "last"],
        ];
        for size in [1, 2, 3, 7, 64, 4096] {
            assert_eq!(all(text.as_bytes(), size), want, "buffer {size}");
        }
    }

    #[test]
    fn records_are_numbered() {
        let mut records = Records::new(&b"h\n\"a\nb\"\nc\n"[..]);
        let mut rec = Record::default();
        let lines: Vec<u64> = std::iter::from_fn(|| records.read(&mut rec).unwrap().then(|| rec.line())).collect();
        assert_eq!(lines, [1, 2, 3]);
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        let mut records = Records::new(&b"a,\"open"[..]);
        assert_eq!(records.read(&mut Record::default()).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }
}
