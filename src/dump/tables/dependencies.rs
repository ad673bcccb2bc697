//! `dependencies.csv`: one row per dependency of one version (`version_id` depends on the crate
//! `crate_id`). Only what risk hints need is decoded: kind, optional, default_features, features, target,
//! explicit_name.

use std::borrow::Cow;

use crate::dump::records::Record;

use crate::dump::columns::{field, id, Header};
use crate::dump::encoding::boolean;

pub struct Columns {
    version_id: usize,
    crate_id: usize,
    optional: usize,
    default_features: Option<usize>,
    kind: usize,
    features: usize,
    target: Option<usize>,
    explicit_name: Option<usize>,
}

/// The largest dependency crate id accepted (28 bits: the plan packs an edge's flags beside it);
/// crates.io's ids are below one million.
pub const MAX_CRATE_ID: u32 = (1 << 28) - 1;

/// `kind` column values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Normal,
    Build,
    Dev,
}

pub struct Row<'a> {
    pub version_id: u32,
    pub crate_id: u32,
    pub optional: bool,
    /// The dependent keeps the dependency's default features (true when the column is absent).
    pub default_features: bool,
    pub kind: Kind,
    /// The raw `{a,b}` feature set the dependent enables (bytes: decoded only when needed).
    pub features: Cow<'a, [u8]>,
    /// A `cfg(...)` or triple the dependency is limited to; empty for all platforms.
    pub target: Cow<'a, [u8]>,
    /// The name the dependent uses when it renames the dependency; empty otherwise.
    pub explicit_name: Cow<'a, [u8]>,
}

impl Columns {
    pub fn locate(h: &Header) -> anyhow::Result<Columns> {
        Ok(Columns {
            version_id: h.required("version_id")?,
            crate_id: h.required("crate_id")?,
            optional: h.required("optional")?,
            default_features: h.optional("default_features"),
            kind: h.required("kind")?,
            features: h.required("features")?,
            target: h.optional("target"),
            explicit_name: h.optional("explicit_name"),
        })
    }

    /// Only the `version_id` (`None` when it is not an id: `parse` then says why).
    #[inline]
    pub fn version_id(&self, rec: &Record<'_>) -> Option<u32> {
        id(&field(rec, self.version_id))
    }

    pub fn parse<'a>(&self, rec: &Record<'a>) -> Result<Row<'a>, &'static str> {
        let kind = match &*field(rec, self.kind) {
            b"0" | b"" => Kind::Normal,
            b"1" => Kind::Build,
            b"2" => Kind::Dev,
            _ => return Err("bad kind"),
        };
        Ok(Row {
            version_id: id(&field(rec, self.version_id)).ok_or("bad version_id")?,
            crate_id: id(&field(rec, self.crate_id)).ok_or("bad crate_id").and_then(|id| {
                if id > MAX_CRATE_ID {
                    Err("crate_id over 2^28")
                } else {
                    Ok(id)
                }
            })?,
            optional: boolean::parse(&field(rec, self.optional)).ok_or("bad optional")?,
            default_features: match self.default_features {
                Some(i) => boolean::parse(&field(rec, i)).ok_or("bad default_features")?,
                None => true,
            },
            kind,
            features: field(rec, self.features),
            target: self.target.map_or(Cow::Borrowed(&b""[..]), |i| field(rec, i)),
            explicit_name: self.explicit_name.map_or(Cow::Borrowed(&b""[..]), |i| field(rec, i)),
        })
    }
}
