//! `crates_categories.csv`: which crate is in which category.

use crate::dump::records::Record;

use crate::dump::columns::{field, id, Header};

pub struct Columns {
    crate_id: usize,
    category_id: usize,
}

pub struct Row {
    pub crate_id: u32,
    pub category_id: u32,
}

impl Columns {
    pub fn locate(h: &Header) -> anyhow::Result<Columns> {
        Ok(Columns { crate_id: h.required("crate_id")?, category_id: h.required("category_id")? })
    }

    pub fn parse(&self, rec: &Record<'_>) -> Result<Row, &'static str> {
        Ok(Row {
            crate_id: id(&field(rec, self.crate_id)).ok_or("bad crate_id")?,
            category_id: id(&field(rec, self.category_id)).ok_or("bad category_id")?,
        })
    }
}
