//! Find the columns we read by name in a table's header row, so a column crates.io adds (or moves)
//! changes nothing, and a column we need that is gone is one clear error naming table and column.

use std::borrow::Cow;

use super::records::Record;

use crate::error::usage;

/// A table's header row.
pub struct Header {
    pub table: &'static str,
    pub names: Vec<Vec<u8>>,
}

impl Header {
    /// The index of a column we cannot work without.
    pub fn required(&self, name: &str) -> anyhow::Result<usize> {
        self.optional(name).ok_or_else(|| {
            usage(format!("dump table {} has no `{name}` column (crates.io changed its schema?)", self.table))
        })
    }

    /// The index of the first of several names a column has had over time (`tar_sha256`, `checksum`).
    pub fn required_any(&self, names: &[&str]) -> anyhow::Result<usize> {
        names.iter().find_map(|n| self.optional(n)).ok_or_else(|| {
            usage(format!(
                "dump table {} has none of the columns {} (crates.io changed its schema?)",
                self.table,
                names.join(", ")
            ))
        })
    }

    /// The index of a column we can do without.
    pub fn optional(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n.as_slice() == name.as_bytes())
    }
}

/// Field `i` of a record, empty when the row is short.
#[inline]
pub fn field<'a>(rec: &Record<'a>, i: usize) -> Cow<'a, [u8]> {
    rec.get(i).unwrap_or_default()
}

/// A decimal id (`u32`), `None` when it is not one.
pub fn id(field: &[u8]) -> Option<u32> {
    if field.is_empty() || field.len() > 10 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in field {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (b - b'0') as u64;
    }
    u32::try_from(n).ok()
}

/// A UTF-8 text field.
pub fn text(field: Cow<'_, [u8]>) -> Option<Cow<'_, str>> {
    match field {
        Cow::Borrowed(b) => std::str::from_utf8(b).ok().map(Cow::Borrowed),
        Cow::Owned(v) => String::from_utf8(v).ok().map(Cow::Owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_name_with_clear_errors() {
        let names = vec![b"id".to_vec(), b"shiny_new".to_vec(), b"checksum".to_vec()];
        let header = Header { table: "versions.csv", names };
        assert_eq!(header.required("id").unwrap(), 0);
        assert_eq!(header.required_any(&["tar_sha256", "checksum"]).unwrap(), 2);
        let err = header.required("num").unwrap_err().to_string();
        assert_eq!(err, "dump table versions.csv has no `num` column (crates.io changed its schema?)");
    }

    #[test]
    fn ids() {
        assert_eq!(id(b"42"), Some(42));
        assert_eq!(id(b"4294967296"), None);
        assert_eq!(id(b""), None);
        assert_eq!(id(b"-1"), None);
    }
}
