//! The flags of `cratemill report`.

use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Job outcomes: `result.json` files, or folders searched for them (a `publish.json` next to a
    /// `result.json` means the package was published).
    #[arg(required = true, value_name = "RESULTS")]
    pub results: Vec<PathBuf>,
    /// The built index of earlier runs to update (what `cratemill matrix --built` reads).
    #[arg(long, value_name = "INDEX")]
    pub previous: Option<PathBuf>,
    /// Where to write the updated built index (may be the same file as --previous).
    #[arg(long, default_value = "built.json", value_name = "FILE")]
    pub out: PathBuf,
    /// Where to write the Markdown report. Default: next to --out, as report.md.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
}
