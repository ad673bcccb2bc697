//! `cratemill build`: one crate x one target, from crates.io to a package folder of static,
//! smoke-tested executables with licenses, checksums, build log, source archive and result.json.
//!
//! Pipeline (each step its own module): resolve + fetch + verify + unpack (`crates_io`) ->
//! [`prepare`] -> attempts ([`attempts`], [`backend`], [`env`], [`runner`], [`log`], [`classify`]) ->
//! [`collect`] + `inspect` + `smoke` -> `license` -> `srcbuild` + `package`. [`job`] runs them in order
//! and always writes result.json.

pub mod args;
pub mod job;
pub mod summary;
pub mod attempts;
pub mod classify;
pub mod backend;
pub mod collect;
pub mod env;
pub mod log;
pub mod manifest;
pub mod prepare;
pub mod runner;
pub mod toolchain;

pub use args::BuildArgs;

use crate::error::Exit;

pub async fn run(args: BuildArgs) -> anyhow::Result<Exit> {
    job::run(args).await
}
