//! `categories.csv`: category ids and slugs (`command-line-utilities`).

use std::borrow::Cow;

use crate::dump::records::Record;

use crate::dump::columns::{field, id, text, Header};

pub struct Columns {
    id: usize,
    slug: usize,
}

pub struct Row<'a> {
    pub id: u32,
    pub slug: Cow<'a, str>,
}

impl Columns {
    pub fn locate(h: &Header) -> anyhow::Result<Columns> {
        Ok(Columns { id: h.required("id")?, slug: h.required("slug")? })
    }

    pub fn parse<'a>(&self, rec: &Record<'a>) -> Result<Row<'a>, &'static str> {
        Ok(Row { id: id(&field(rec, self.id)).ok_or("bad id")?, slug: text(field(rec, self.slug)).ok_or("bad slug")? })
    }
}
