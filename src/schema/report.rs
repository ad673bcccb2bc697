//! `failures.json`: every failed job of a fleet report with its class, first error lines and log.
//! Data only; written by `cratemill report`.

use serde::{Deserialize, Serialize};

use super::result::FailureClass;
use super::{Document, Phase, SCHEMA_VERSION};

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct FailureList {
    pub schema_version: u32,
    pub kind: String,
    pub generated_at: String,
    pub failures: Vec<FailureEntry>,
}

impl Document for FailureList {
    const KIND: &'static str = "cratemill.failures";
}

impl FailureList {
    pub fn new(failures: Vec<FailureEntry>) -> FailureList {
        FailureList {
            schema_version: SCHEMA_VERSION,
            kind: Self::KIND.into(),
            generated_at: super::now_rfc3339(),
            failures,
        }
    }
}

/// One failed (crate, version, target).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct FailureEntry {
    #[serde(rename = "crate")]
    pub crate_name: String,
    pub version: String,
    pub target: String,
    pub class: FailureClass,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// The failure message and the first evidence lines (at most [`FIRST_LINES`]).
    pub first_lines: Vec<String>,
    /// Where the build log is: the `build.log` next to the result file, as given to `report`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// The crate's repository URL, when the result recorded one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    pub finished_at: String,
}

/// How many lines of a failure `failures.json` keeps.
pub const FIRST_LINES: usize = 12;

/// `issues.json`: what `cratemill report --open-issues` did for each failing crate version (one
/// upstream issue per crate version at most).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct IssueList {
    pub schema_version: u32,
    pub kind: String,
    pub generated_at: String,
    /// `--dry-run`: nothing was created; `would-open` says what would have been.
    pub dry_run: bool,
    pub issues: Vec<IssueEntry>,
}

impl Document for IssueList {
    const KIND: &'static str = "cratemill.issues";
}

impl IssueList {
    pub fn new(dry_run: bool, issues: Vec<IssueEntry>) -> IssueList {
        IssueList {
            schema_version: SCHEMA_VERSION,
            kind: Self::KIND.into(),
            generated_at: super::now_rfc3339(),
            dry_run,
            issues,
        }
    }
}

/// One failing crate version and its upstream issue.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct IssueEntry {
    #[serde(rename = "crate")]
    pub crate_name: String,
    pub version: String,
    /// The failed targets the issue names (those of a reported class), or all failed targets when
    /// none is reported upstream.
    pub targets: Vec<String>,
    /// The failure classes of those targets.
    pub classes: Vec<FailureClass>,
    /// `OWNER/REPO` on GitHub, or the repository URL as recorded when it is not on GitHub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    pub outcome: IssueOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The issue's number (opened, or found already open).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// What happened to one crate version's upstream report.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, schemars::JsonSchema, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum IssueOutcome {
    /// Created by this run.
    Opened,
    /// `--dry-run`: would have been created.
    WouldOpen,
    /// An issue with this crate version's marker exists already (open or closed): not opened again.
    AlreadyReported,
    /// No failed target has a class worth reporting upstream (docs/report.md has the table).
    ClassNotReported,
    /// The result records no repository URL.
    NoRepository,
    /// The repository is not `https://github.com/OWNER/REPO`.
    NotOnGithub,
    /// GitHub does not know the repository (404, or search says it cannot be searched).
    RepositoryNotFound,
    /// The repository has issues turned off (410).
    IssuesDisabled,
    /// The repository is archived (read-only).
    Archived,
    /// The repository the crate names is not the one crates.io lists for the crate, and
    /// `--issues-allow` does not name it: a crate cannot point cratemill's issues at someone else.
    RepositoryUnconfirmed,
}

impl IssueOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueOutcome::Opened => "opened",
            IssueOutcome::WouldOpen => "would open",
            IssueOutcome::AlreadyReported => "already reported",
            IssueOutcome::ClassNotReported => "class not reported upstream",
            IssueOutcome::NoRepository => "no repository",
            IssueOutcome::NotOnGithub => "not on GitHub",
            IssueOutcome::RepositoryNotFound => "repository not found",
            IssueOutcome::IssuesDisabled => "issues disabled",
            IssueOutcome::Archived => "archived",
            IssueOutcome::RepositoryUnconfirmed => "repository not confirmed by crates.io",
        }
    }
}
