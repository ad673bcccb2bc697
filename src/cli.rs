//! The command line: one subcommand per phase. Flags are defined once here (or in the phase's own
//! `Args` struct, flattened in) and `--help` is generated from them.

use clap::{Parser, Subcommand};

/// Build crates.io command-line crates into static, attested Linux executables.
#[derive(Debug, Parser)]
#[command(name = "cratemill", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 done, 1 the crate failed to build (see result.json), 2 bad input or usage, 3 internal or environment error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build one crate for one target into a package folder of static, smoke-tested executables;
    /// with --publish, then publish it, and with --attest, then attest it.
    Build(Box<crate::commands::BuildCommand>),
    /// Push a package folder (and its -srcbuild- source archive) to an OCI registry or local layout;
    /// with --attest, then attest it.
    Publish(crate::commands::PublishCommand),
    /// Turn a crates.io db-dump into a chunked job plan for GitHub Actions matrices.
    Matrix(crate::matrix::MatrixArgs),
    /// Merge build outcomes into the built index `matrix --built` reads; success rates and failure classes.
    Report(crate::report::ReportArgs),
    /// Simulate a plan on GitHub: runs, jobs, API requests, runner-minutes, wall clock, limits.
    Fleet(crate::fleet::FleetArgs),
    /// Sign SLSA build provenance for package folders (Sigstore keyless, a key, or unsigned).
    Attest(crate::provenance::AttestArgs),
    /// Check a file (or an image) against its Sigstore provenance bundle.
    Verify(crate::provenance::VerifyArgs),
    /// Install a crate's executables from a cratemill mirror (an OCI registry), digests checked.
    Install(crate::install::InstallArgs),
}
