//! `cratemill matrix`: from a crates.io db-dump to a chunked job plan.

use crate::error::Exit;

#[derive(Debug, clap::Args)]
pub struct MatrixArgs {
    /// Path or URL of the crates.io db-dump.
    #[arg(long)]
    pub dump: String,
}

pub async fn run(_args: MatrixArgs) -> anyhow::Result<Exit> {
    anyhow::bail!("`cratemill matrix` is not available in this build yet")
}
