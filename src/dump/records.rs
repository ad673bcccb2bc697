//! PostgreSQL CSV records, split 64 bytes at a time with bit masks instead of byte by byte.
//!
//! The dialect is what `COPY ... TO ... CSV HEADER` writes: `,` between fields, `\n` after each
//! record (a `\r` before it is dropped), fields quoted with `"` when they need it, `""` for a quote
//! inside quotes, newlines allowed inside quotes.
//!
//! How: for each 64-byte block, one bit per byte says "is a quote", "is a comma", "is a newline"
//! (`masks`). A prefix XOR of the quote bits says which bytes lie inside quotes (a `""` escape
//! toggles twice, so it needs no special case), and the commas and newlines outside quotes are the
//! separators. Their positions go into an index; a record is the run of fields up to the next
//! newline separator. Complete records leave the reader in a [`Batch`] (their bytes and
//! separators, ready for another thread); fields are read in place from it ([`Record`]), and only
//! quoted fields containing `""` are copied, unescaped. The dump is ~1.5 GB of CSV with ~190
//! million fields, so both the bytes and the fields have to be cheap.

use std::borrow::Cow;
use std::io::{self, Read};

/// A record longer than this is an error, not a reason to buffer the rest of a table (an
/// unterminated quote in a corrupt dump would otherwise swallow everything after it).
pub const MAX_RECORD: usize = 16 << 20;

/// A CSV syntax error (as opposed to an I/O error of the stream underneath), carried inside an
/// `io::Error` so that callers can tell the two apart.
#[derive(Debug)]
pub struct CsvError(pub String);

impl std::fmt::Display for CsvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CsvError {}

fn csv_error(kind: io::ErrorKind, message: String) -> io::Error {
    io::Error::new(kind, CsvError(message))
}

/// In the separator index: the separator is a newline (else a comma).
const NEWLINE: u32 = 1 << 31;

/// One record, borrowed from its [`Batch`]. Fields are found from the
/// separator index and decoded (quotes stripped, `""` unescaped) only when asked for.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    buf: &'a [u8],
    start: usize,
    /// The separator after each field; the last one ends the record.
    seps: &'a [u32],
    line: u64,
}

impl<'a> Record<'a> {
    pub fn len(&self) -> usize {
        self.seps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seps.is_empty()
    }

    /// Field `i`: borrowed, or unescaped into a copy when it is quoted and contains `""`.
    #[inline]
    pub fn get(&self, i: usize) -> Option<Cow<'a, [u8]>> {
        let end = (*self.seps.get(i)? & !NEWLINE) as usize;
        let start = match i {
            0 => self.start,
            _ => (self.seps[i - 1] & !NEWLINE) as usize + 1,
        };
        Some(decode(&self.buf[start..end], i + 1 == self.seps.len()))
    }

    /// The record's number (1-based; the header is record 1): its line number unless a quoted field
    /// above it spans lines. Not counting newlines inside quotes keeps the scan to one pass.
    pub fn line(&self) -> u64 {
        self.line
    }

    pub fn iter(&self) -> impl Iterator<Item = Cow<'a, [u8]>> + '_ {
        (0..self.len()).map(|i| self.get(i).unwrap_or_default())
    }

    /// The fields, copied (header rows; tests).
    pub fn to_vec(&self) -> Vec<Vec<u8>> {
        self.iter().map(Cow::into_owned).collect()
    }
}

/// Complete records moved out of a [`Records`] reader: their bytes, their separators (relative to
/// `buf`) and, per record, the end of its separators.
#[derive(Debug, Default)]
pub struct Batch {
    buf: Vec<u8>,
    seps: Vec<u32>,
    ends: Vec<u32>,
    first_line: u64,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn records(&self) -> impl Iterator<Item = Record<'_>> + '_ {
        let mut start = 0;
        let mut from = 0;
        self.ends.iter().enumerate().map(move |(i, &end)| {
            let seps = &self.seps[from..end as usize];
            let rec = Record { buf: &self.buf, start, seps, line: self.first_line + i as u64 };
            from = end as usize;
            start = ((seps[seps.len() - 1] & !NEWLINE) as usize + 1).min(self.buf.len());
            rec
        })
    }
}

/// Reads records from a byte stream.
pub struct Records<R> {
    input: R,
    buf: Vec<u8>,
    /// Start of the next record in `buf`.
    pos: usize,
    /// End of the data in `buf`.
    end: usize,
    eof: bool,
    line: u64,
    /// Separators (positions in `buf`, [`NEWLINE`]-flagged) found in `buf[..scanned]`, from the
    /// one at index `next` on at or after `pos`.
    seps: Vec<u32>,
    next: usize,
    scanned: usize,
    /// All ones when `buf[scanned]` is inside quotes.
    quoted: u64,
    /// The current record: `seps[record..next]`, starting at `record_start`.
    record: usize,
    record_start: usize,
}

impl<R: Read> Records<R> {
    pub fn new(input: R) -> Records<R> {
        Records::with_capacity(input, 256 * 1024)
    }

    fn with_capacity(input: R, capacity: usize) -> Records<R> {
        Records {
            input,
            buf: vec![0; capacity.max(1)],
            pos: 0,
            end: 0,
            eof: false,
            line: 1,
            seps: Vec::new(),
            next: 0,
            scanned: 0,
            quoted: 0,
            record: 0,
            record_start: 0,
        }
    }

    /// The next records, at least one and as many as are already buffered up to about `max_bytes`,
    /// moved into a [`Batch`] that another thread can read; `None` at the end of the input.
    /// `spare`: a batch done with, whose buffers are reused.
    pub fn next_batch(&mut self, max_bytes: usize, spare: Option<Batch>) -> io::Result<Option<Batch>> {
        if !self.advance()? {
            return Ok(None);
        }
        let mut batch = spare.unwrap_or_default();
        batch.ends.clear();
        let (start, first_sep) = (self.record_start, self.record);
        batch.first_line = self.line;
        batch.ends.push((self.next - first_sep) as u32);
        self.line += 1;
        while self.pos - start < max_bytes && self.split_buffered() {
            batch.ends.push((self.next - first_sep) as u32);
            self.line += 1;
        }
        let shift = start as u32;
        batch.buf.clear();
        batch.buf.extend_from_slice(&self.buf[start..self.pos]);
        batch.seps.clear();
        batch.seps.extend(self.seps[first_sep..self.next].iter().map(|&sep| sep - shift));
        Ok(Some(batch))
    }

    /// Split the next record, reading more input as needed; `false` at the end of the input.
    fn advance(&mut self) -> io::Result<bool> {
        loop {
            if self.split_buffered() {
                return Ok(true);
            }
            if self.eof {
                if self.pos == self.end {
                    return Ok(false);
                }
                return Err(csv_error(
                    io::ErrorKind::UnexpectedEof,
                    format!("record {} has an unterminated quoted field", self.line),
                ));
            }
            self.fill()?;
        }
    }

    /// Split the next record from what is already read (indexing more of it if needed).
    fn split_buffered(&mut self) -> bool {
        loop {
            if self.split_next() {
                return true;
            }
            if self.scanned < self.end && (self.eof || self.end - self.scanned >= 64) {
                self.scan();
            } else {
                return false;
            }
        }
    }

    /// Find the end of the record at `pos` in the index and move past it, if the index holds it.
    fn split_next(&mut self) -> bool {
        let found = self.seps[self.next..].iter().position(|&sep| sep & NEWLINE != 0);
        let Some(k) = found else {
            // The input ends without a newline after its last record: once everything has been
            // scanned and no quote is open, the end of the input ends it.
            if self.eof && self.scanned == self.end && self.pos < self.end && self.quoted == 0 {
                self.seps.push(self.end as u32 | NEWLINE);
                return self.split_next();
            }
            return false;
        };
        self.record = self.next;
        self.record_start = self.pos;
        self.next += k + 1;
        // (The separator added at the end of the input is one past the data.)
        self.pos = ((self.seps[self.next - 1] & !NEWLINE) as usize + 1).min(self.end);
        true
    }

    /// Extend the separator index over whole 64-byte blocks (and the tail at the end of input).
    fn scan(&mut self) {
        while self.end - self.scanned >= 64 {
            let block: &[u8; 64] = self.buf[self.scanned..self.scanned + 64].try_into().expect("64 bytes");
            index_block(block, self.scanned, &mut self.quoted, &mut self.seps);
            self.scanned += 64;
        }
        if self.eof && self.scanned < self.end {
            let mut block = [0u8; 64];
            block[..self.end - self.scanned].copy_from_slice(&self.buf[self.scanned..self.end]);
            index_block(&block, self.scanned, &mut self.quoted, &mut self.seps);
            self.scanned = self.end;
        }
    }

    /// Move the unread bytes to the front (growing the buffer if they fill it) and read more.
    fn fill(&mut self) -> io::Result<()> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            let shift = self.pos as u32;
            self.seps.drain(..self.next);
            for sep in &mut self.seps {
                *sep -= shift;
            }
            self.next = 0;
            self.end -= self.pos;
            self.scanned -= self.pos;
            self.pos = 0;
            self.record = 0;
        }
        if self.end == self.buf.len() {
            if self.buf.len() >= MAX_RECORD {
                return Err(csv_error(
                    io::ErrorKind::InvalidData,
                    format!("record {} is longer than {} MiB (an unterminated quote?)", self.line, MAX_RECORD >> 20),
                ));
            }
            let grown = (self.buf.len() * 2).min(MAX_RECORD);
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

/// Append the separators of one 64-byte block starting at `base` to `out`; `quoted` carries the
/// inside-quotes state from block to block.
#[inline]
fn index_block(block: &[u8; 64], base: usize, quoted: &mut u64, out: &mut Vec<u32>) {
    let (quotes, commas, newlines) = masks(block);
    let inside = prefix_xor(quotes) ^ *quoted;
    *quoted = ((inside as i64) >> 63) as u64;
    let mut seps = (commas | newlines) & !inside;
    // Written to a local array first: no capacity check per separator.
    let mut found = [0u32; 64];
    let mut n = 0;
    while seps != 0 {
        let bit = seps.trailing_zeros();
        let flag = ((newlines >> bit) as u32 & 1) << 31;
        found[n & 63] = (base as u32 + bit) | flag;
        n += 1;
        seps &= seps - 1;
    }
    out.extend_from_slice(&found[..n]);
}

/// A field's value from its raw bytes: drop the `\r` of a `\r\n` line end (`last` field), strip
/// the quotes of a quoted field and unescape its `""`s. Anything between a closing quote and the
/// separator is dropped.
#[inline]
fn decode(raw: &[u8], last: bool) -> Cow<'_, [u8]> {
    let raw = match raw {
        [rest @ .., b'\r'] if last => rest,
        _ => raw,
    };
    match raw.first() {
        Some(b'"') => unquote(&raw[1..]),
        _ => Cow::Borrowed(raw),
    }
}

/// The value of a quoted field from just after its opening quote.
fn unquote(body: &[u8]) -> Cow<'_, [u8]> {
    let close = memchr::memrchr(b'"', body).unwrap_or(body.len());
    let content = &body[..close];
    if memchr::memchr(b'"', content).is_none() {
        return Cow::Borrowed(content);
    }
    let mut out = Vec::with_capacity(content.len());
    let mut rest = content;
    while let Some(q) = memchr::memchr(b'"', rest) {
        out.extend_from_slice(&rest[..=q]);
        rest = rest.get(q + 2..).unwrap_or_default();
    }
    out.extend_from_slice(rest);
    Cow::Owned(out)
}

/// Bit `i` set for each byte `i` that is `"`, `,`, `\n`.
#[inline]
fn masks(block: &[u8; 64]) -> (u64, u64, u64) {
    #[cfg(target_arch = "x86_64")]
    {
        sse2::masks(block)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        swar::masks(block)
    }
}

/// Bit `i` of the result: the XOR of bits `0..=i` (so a byte is "inside" from an opening quote up
/// to, not including, its closing quote).
#[inline]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// SSE2 (part of every x86_64 CPU): 16 bytes per compare.
#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};

    #[inline]
    pub fn masks(block: &[u8; 64]) -> (u64, u64, u64) {
        let (mut q, mut c, mut n) = (0u64, 0u64, 0u64);
        // SAFETY: SSE2 is part of the x86_64 baseline; each load reads 16 bytes inside `block`.
        unsafe {
            let (quote, comma, newline) =
                (_mm_set1_epi8(b'"' as i8), _mm_set1_epi8(b',' as i8), _mm_set1_epi8(b'\n' as i8));
            for k in 0..4 {
                let v = _mm_loadu_si128(block.as_ptr().add(16 * k).cast::<__m128i>());
                let bits = |m| u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, m)) as u16) << (16 * k);
                q |= bits(quote);
                c |= bits(comma);
                n |= bits(newline);
            }
        }
        (q, c, n)
    }
}

/// Portable: 8 bytes per step in a `u64`.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
mod swar {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const ONES: u64 = 0x0101_0101_0101_0101;

    /// One bit per byte of `word` equal to `byte` (bit `k` for byte `k`).
    #[inline]
    fn eq_bits(word: u64, byte: u8) -> u64 {
        let x = word ^ (ONES * u64::from(byte));
        // High bit of each byte set exactly when that byte of `x` is zero (no borrow across bytes).
        let zero = !(((x & LOW7) + LOW7) | x | LOW7);
        // Gather the eight high bits into the low byte.
        (zero >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
    }

    pub fn masks(block: &[u8; 64]) -> (u64, u64, u64) {
        let (mut q, mut c, mut n) = (0u64, 0u64, 0u64);
        for (k, chunk) in block.chunks_exact(8).enumerate() {
            let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            q |= eq_bits(word, b'"') << (8 * k);
            c |= eq_bits(word, b',') << (8 * k);
            n |= eq_bits(word, b'\n') << (8 * k);
        }
        (q, c, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every record, one per batch.
    fn all(text: &[u8], buffer: usize) -> Vec<Vec<String>> {
        let mut records = Records::with_capacity(text, buffer);
        let mut out = Vec::new();
        while let Some(batch) = records.next_batch(1, None).unwrap() {
            assert_eq!(batch.len(), 1);
            out.extend(
                batch.records().map(|rec| rec.iter().map(|f| String::from_utf8_lossy(&f).into_owned()).collect()),
            );
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
        for size in [4096, 65, 64, 63, 7, 3, 2, 1] {
            assert_eq!(all(text.as_bytes(), size), want, "buffer {size}");
        }
        assert_eq!(all(b"a,b\n", 64), vec![vec!["a", "b"]], "a final newline adds no record");
        assert!(all(b"", 64).is_empty());
    }

    #[test]
    fn batches_hold_the_same_records() {
        let text = "id,name,features\n1,a,\"{\"\"std\"\"\n:[]}\"\r\n2,,\n3,\"x,y\",\"\"\n4,é,last";
        for (size, max) in [(1, 1), (7, 10), (64, 1), (64, 1000), (4096, 16), (4096, 1 << 20)] {
            let mut records = Records::with_capacity(text.as_bytes(), size);
            let mut got = Vec::new();
            while let Some(batch) = records.next_batch(max, None).unwrap() {
                assert!(!batch.is_empty());
                for rec in batch.records() {
                    got.push((
                        rec.line(),
                        rec.iter().map(|f| String::from_utf8_lossy(&f).into_owned()).collect::<Vec<_>>(),
                    ));
                }
            }
            let want: Vec<(u64, Vec<String>)> =
                all(text.as_bytes(), 4096).into_iter().zip(1..).map(|(r, n)| (n, r)).collect();
            assert_eq!(got, want, "buffer {size}, batch {max}");
        }
        let mut open = Records::new(&b"a\n\"b"[..]);
        assert_eq!(open.next_batch(100, None).unwrap().unwrap().len(), 1);
        assert_eq!(open.next_batch(100, None).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn records_are_numbered() {
        let mut records = Records::new(&b"h\n\"a\nb\"\nc\n"[..]);
        let batch = records.next_batch(1 << 20, None).unwrap().unwrap();
        assert_eq!(batch.records().map(|rec| rec.line()).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(records.next_batch(1 << 20, None).unwrap().is_none());
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        let mut records = Records::new(&b"a,\"open"[..]);
        assert_eq!(records.next_batch(64, None).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn an_endless_record_stops_at_the_limit() {
        // An unterminated quote followed by more than MAX_RECORD bytes.
        let input = io::Read::chain(&b"a,\"b\n"[..], io::repeat(b'x').take(MAX_RECORD as u64 + 1));
        let mut records = Records::new(input);
        let err = records.next_batch(64, None).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("longer than 16 MiB"), "{err}");
    }

    #[test]
    fn portable_masks_match_sse2() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..2000 {
            let mut block = [0u8; 64];
            for b in &mut block {
                *b = *rng.choice(&[b'"', b',', b'\n', b'a', 0x80 | b'"', 0xff, 0, b'\r']).unwrap();
            }
            let want = (0..64).fold((0u64, 0u64, 0u64), |(q, c, n), i| {
                let bit = |ch| u64::from(block[i] == ch) << i;
                (q | bit(b'"'), c | bit(b','), n | bit(b'\n'))
            });
            assert_eq!(swar::masks(&block), want);
            assert_eq!(masks(&block), want);
        }
    }

    /// Random PostgreSQL-style CSV (quoted fields with `""`, commas, newlines, `\r\n`, unicode),
    /// checked against the `csv` crate at many buffer sizes.
    #[test]
    fn agrees_with_the_csv_crate_on_random_tables() {
        let mut rng = fastrand::Rng::with_seed(42);
        let long = "long-field-".repeat(9);
        let pieces = ["a", "", "é", "x y", "{\"k\":[\"v\"]}", "1,2", "line\nbreak", "\"", &long];
        for round in 0..300 {
            let width = rng.usize(1..6);
            let mut text = String::new();
            let mut want = Vec::new();
            for _ in 0..rng.usize(1..30) {
                let row: Vec<String> =
                    (0..width).map(|_| (0..rng.usize(0..3)).map(|_| *rng.choice(&pieces).unwrap()).collect()).collect();
                let cells: Vec<String> = row
                    .iter()
                    .map(|f| {
                        if f.contains(['"', ',', '\n']) || (f.is_empty() && rng.bool()) {
                            format!("\"{}\"", f.replace('"', "\"\""))
                        } else {
                            f.clone()
                        }
                    })
                    .collect();
                text.push_str(&cells.join(","));
                text.push_str(if rng.u8(..4) == 0 { "\r\n" } else { "\n" });
                want.push(row);
            }
            let reference: Vec<Vec<String>> = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(text.as_bytes())
                .records()
                .map(|r| r.unwrap().iter().map(str::to_string).collect())
                .collect();
            // The csv crate reads a record that is one empty field as no record at all.
            let ours: Vec<Vec<String>> = all(text.as_bytes(), 4096).into_iter().filter(|r| r != &[""]).collect();
            let reference: Vec<Vec<String>> = reference.into_iter().filter(|r| r != &[""]).collect();
            assert_eq!(ours, reference, "round {round}: {text:?}");
            let want: Vec<Vec<String>> = want.into_iter().filter(|r| r != &[""]).collect();
            assert_eq!(ours, want, "round {round}");
            for size in [1, 5, 64, 100] {
                assert_eq!(all(text.as_bytes(), size), all(text.as_bytes(), 4096), "round {round}, buffer {size}");
            }
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..500 {
            let bytes: Vec<u8> = (0..rng.usize(0..300)).map(|_| *rng.choice(b"\",\n\rab\xff").unwrap()).collect();
            let mut records = Records::with_capacity(&bytes[..], rng.usize(1..80));
            while let Ok(Some(batch)) = records.next_batch(rng.usize(1..100), None) {
                batch.records().for_each(|rec| drop(rec.to_vec()));
            }
        }
    }
}
