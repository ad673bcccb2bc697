//! `versions.csv`: one row per published version, in any order. Decodes what selection and risk
//! hints need; the rest of the ~25 columns (descriptions, licenses, ...) is never looked at.

use std::borrow::Cow;

use crate::dump::records::Record;

use crate::dump::columns::{field, id, text, Header};
use crate::dump::encoding::{boolean, hex, timestamp};
use crate::dump::names;

pub struct Columns {
    id: usize,
    crate_id: usize,
    num: usize,
    created_at: usize,
    yanked: usize,
    checksum: usize,
    bin_names: usize,
    links: Option<usize>,
    features: Option<usize>,
}

pub struct Row<'a> {
    pub id: u32,
    pub crate_id: u32,
    pub num: semver::Version,
    /// Unix seconds.
    pub created_at: i64,
    pub yanked: bool,
    /// sha256 of the `.crate`.
    pub checksum: [u8; 32],
    /// The raw `{a,b}` set of binary names (empty for versions published before crates.io kept it),
    /// well-formed and every name valid ([`names::check_bin_names`]).
    pub bin_names: Cow<'a, str>,
    /// The native library the version's build script links (`links = "..."`), if any.
    pub links: Option<Cow<'a, str>>,
    /// The raw features JSON object.
    pub features: Cow<'a, [u8]>,
}

impl Columns {
    pub fn locate(h: &Header) -> anyhow::Result<Columns> {
        Ok(Columns {
            id: h.required("id")?,
            crate_id: h.required("crate_id")?,
            num: h.required("num")?,
            created_at: h.required("created_at")?,
            yanked: h.required("yanked")?,
            checksum: h.required_any(&["tar_sha256", "checksum"])?,
            bin_names: h.required("bin_names")?,
            links: h.optional("links"),
            features: h.optional("features"),
        })
    }

    pub fn parse<'a>(&self, rec: &Record<'a>) -> Result<Row<'a>, &'static str> {
        let num = std::str::from_utf8(&field(rec, self.num))
            .ok()
            .and_then(|n| semver::Version::parse(n).ok())
            .ok_or("bad semver in num")?;
        let bin_names = text(field(rec, self.bin_names)).ok_or("bad bin_names")?;
        // A name that is not a safe file name and shell word never reaches a chunk.
        names::check_bin_names(&bin_names)?;
        Ok(Row {
            id: id(&field(rec, self.id)).ok_or("bad id")?,
            crate_id: id(&field(rec, self.crate_id)).ok_or("bad crate_id")?,
            num,
            created_at: timestamp::parse(&field(rec, self.created_at)).ok_or("bad created_at")?,
            yanked: boolean::parse(&field(rec, self.yanked)).ok_or("bad yanked")?,
            checksum: hex::parse_sha256(&field(rec, self.checksum)).ok_or("bad checksum")?,
            bin_names,
            links: match self.links.map(|i| field(rec, i)) {
                None => None,
                Some(l) if l.is_empty() => None,
                Some(l) => Some(text(l).ok_or("bad links")?),
            },
            features: self.features.map_or(Cow::Borrowed(&b""[..]), |i| field(rec, i)),
        })
    }
}
