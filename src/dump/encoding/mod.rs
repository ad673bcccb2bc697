//! The odd encodings of the crates.io db-dump (PostgreSQL `COPY ... CSV` output), one tiny module
//! each, so a change in one of them touches one file.

pub mod boolean;
pub mod hex;
pub mod set;
pub mod timestamp;
