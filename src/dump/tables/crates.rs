//! `crates.csv`: crate ids and names (checked against crates.io's rules, [`crate::dump::names`]).

use std::borrow::Cow;

use crate::dump::records::Record;

use crate::dump::columns::{field, id, text, Header};

pub struct Columns {
    id: usize,
    name: usize,
}

pub struct Row<'a> {
    pub id: u32,
    /// A valid crates.io crate name.
    pub name: Cow<'a, str>,
}

impl Columns {
    pub fn locate(h: &Header) -> anyhow::Result<Columns> {
        Ok(Columns { id: h.required("id")?, name: h.required("name")? })
    }

    pub fn parse<'a>(&self, rec: &Record<'a>) -> Result<Row<'a>, &'static str> {
        let id = id(&field(rec, self.id)).ok_or("bad id")?;
        let name = text(field(rec, self.name)).ok_or("bad name")?;
        crate::dump::names::check_crate_name(&name)?;
        Ok(Row { id, name })
    }
}
