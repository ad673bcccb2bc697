//! `cratemill build`: one crate x one target, from crates.io to a package folder.

pub mod classify;

use std::path::PathBuf;

use crate::error::Exit;

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The crate to build: `NAME` or `NAME@VERSION`.
    #[arg(value_name = "CRATE[@VERSION]")]
    pub spec: String,
    /// Rust target triple [default: the host's].
    #[arg(long)]
    pub target: Option<String>,
    /// Output folder [default: ./cratemill-out/<crate>-<version>-<target>].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub async fn run(_args: BuildArgs) -> anyhow::Result<Exit> {
    anyhow::bail!("`cratemill build` is being written")
}
