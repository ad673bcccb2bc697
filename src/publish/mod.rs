//! `cratemill publish`: push a package folder to an OCI registry or a local OCI image layout.

use crate::error::Exit;

#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The package folder written by `cratemill build`.
    pub package_dir: std::path::PathBuf,
}

pub async fn run(_args: PublishArgs) -> anyhow::Result<Exit> {
    anyhow::bail!("`cratemill publish` is not available in this build yet")
}
