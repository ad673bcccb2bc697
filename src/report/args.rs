//! The flags of `cratemill report`.

use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Job outcomes: `result.json` files, or folders searched for them (a `publish.json` next to a
    /// `result.json` means the package was published).
    #[arg(required = true, value_name = "RESULTS")]
    pub results: Vec<PathBuf>,
    /// The built index of earlier runs to update (what `cratemill matrix --built` reads). It must
    /// exist unless --previous-optional is given.
    #[arg(long, value_name = "INDEX")]
    pub previous: Option<PathBuf>,
    /// Start a new index when the --previous file does not exist yet (a first run).
    #[arg(long, requires = "previous")]
    pub previous_optional: bool,
    /// Where to write the updated built index (may be the same file as --previous).
    #[arg(long, default_value = "index.json", value_name = "FILE")]
    pub out: PathBuf,
    /// Where to write the Markdown report. Default: next to --out, as report.md.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Where to write the failed jobs (class, first error lines, log). Default: next to --out, as failures.json.
    #[arg(long, value_name = "FILE")]
    pub failures: Option<PathBuf>,
    /// Also write a static site (GitHub Pages-ready) into DIR: charts and a searchable crate table.
    #[arg(long, value_name = "DIR")]
    pub html: Option<PathBuf>,
    /// Registry prefix shown in the site's install commands (`cratemill install CRATE --from REGISTRY`).
    /// Default: taken from the published references.
    #[arg(long, value_name = "REGISTRY")]
    pub registry: Option<String>,
    /// The repository whose workflow signed the attestations (`OWNER/NAME`), added as `--repo` to the
    /// site's install commands of attested crates (`install` verifies against a named signer).
    #[arg(long, value_name = "OWNER/NAME", env = "GITHUB_REPOSITORY")]
    pub signer_repo: Option<String>,
    /// Also push the built index as an OCI artifact to this reference (`host/repository:tag`), with
    /// the registry credentials publish uses (CRATEMILL_REGISTRY_USER/TOKEN, else GITHUB_ACTOR/TOKEN).
    #[arg(long, value_name = "REF")]
    pub push_index: Option<String>,
    /// Talk plain HTTP to the --push-index registry (a loopback or test registry).
    #[arg(long, requires = "push_index")]
    pub insecure_http: bool,
    /// Open one issue per failing crate version on its GitHub repository (only failure classes that
    /// are the crate's to fix; searched first, so never twice). Needs a token (--github-token-env);
    /// GITHUB_API_URL sets the API root.
    #[arg(long)]
    pub open_issues: bool,
    /// With --open-issues: search, print what would be opened, create nothing.
    #[arg(long, requires = "open_issues")]
    pub dry_run: bool,
    /// The environment variable holding the token for --open-issues (a personal access token with
    /// Issues: write).
    #[arg(long, default_value = "GITHUB_TOKEN", value_name = "VAR", requires = "open_issues")]
    pub github_token_env: String,
    /// With --open-issues: a repository (`OWNER/REPO`) issues may be opened on although crates.io
    /// does not list it for the crate (repeatable). Without it, an issue is opened only on the
    /// repository the crate's own metadata and crates.io's record of the crate agree on.
    #[arg(long, value_name = "OWNER/REPO", requires = "open_issues")]
    pub issues_allow: Vec<String>,
    /// With --open-issues: the crates.io API that confirms a crate's repository.
    #[arg(long, value_name = "URL", default_value = crate::report::upstream::CRATES_IO_API,
          env = "CRATEMILL_CRATES_IO_API", requires = "open_issues")]
    pub crates_io_api: String,
    /// Where --open-issues records what it opened or found. Default: next to --out, as issues.json.
    #[arg(long, value_name = "FILE", requires = "open_issues")]
    pub issues: Option<PathBuf>,
    /// Refuse the whole report (exit 2, nothing written) when any result file cannot be read.
    #[arg(long)]
    pub strict: bool,
}
